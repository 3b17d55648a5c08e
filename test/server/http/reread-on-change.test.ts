import { describe, expect, it } from 'vitest';
import type { EventStream } from '../../../src/server/http/event-stream.ts';
import { rereadOnChange } from '../../../src/server/http/reread-on-change.ts';

/** An in-memory EventStream: the port the helper uses. */
function fakeStream() {
  const handlers: (() => void)[] = [];
  const sent: unknown[] = [];
  const stream: EventStream & { sent: unknown[] } = {
    sent,
    closed: false,
    send: (_event, data) => {
      if (!stream.closed) sent.push(data);
    },
    close: () => {
      if (stream.closed) return;
      (stream as { closed: boolean }).closed = true;
      for (const fn of handlers.splice(0)) fn();
    },
    onClose: (fn) => {
      if (stream.closed) fn();
      else handlers.push(fn);
    },
  };
  return stream;
}

/** A notification source with one listener at most. */
function fakeSource() {
  let listener: (() => void) | null = null;
  return {
    subscribe: (fn: () => void) => {
      listener = fn;
      return () => {
        listener = null;
      };
    },
    fire: () => listener?.(),
    get subscribed() {
      return listener !== null;
    },
  };
}

/** A read whose calls wait until released, one by one. */
function gatedRead() {
  const gates: (() => void)[] = [];
  let calls = 0;
  return {
    read: async () => {
      calls++;
      await new Promise<void>((resolve) => gates.push(resolve));
    },
    release: async () => {
      gates.shift()?.();
      await new Promise((resolve) => setImmediate(resolve));
    },
    get calls() {
      return calls;
    },
  };
}

describe('rereadOnChange', () => {
  it('subscribes and reads once at once', async () => {
    const stream = fakeStream();
    const source = fakeSource();
    let reads = 0;
    const r = rereadOnChange(stream, { subscribe: source.subscribe, read: async () => void reads++ });
    await r.idle();
    expect(reads).toBe(1);
    expect(source.subscribed).toBe(true);
  });

  it('coalesces any number of notifications during a read into exactly one more read', async () => {
    const stream = fakeStream();
    const source = fakeSource();
    const gate = gatedRead();
    const r = rereadOnChange(stream, { subscribe: source.subscribe, read: gate.read });
    expect(gate.calls).toBe(1);
    source.fire();
    source.fire();
    source.fire();
    expect(gate.calls).toBe(1); // one read at a time
    await gate.release();
    expect(gate.calls).toBe(2);
    await gate.release();
    await r.idle();
    expect(gate.calls).toBe(2);
    source.fire(); // idle again: a notification reads at once
    expect(gate.calls).toBe(3);
    await gate.release();
  });

  it('reads again at once while read returns true (paging)', async () => {
    const stream = fakeStream();
    const pages = [true, true, false];
    let reads = 0;
    const r = rereadOnChange(stream, { subscribe: fakeSource().subscribe, read: async () => pages[reads++] });
    await r.idle();
    expect(reads).toBe(3);
  });

  it('stops reading and unsubscribes when the stream closes, even with a read owed', async () => {
    const stream = fakeStream();
    const source = fakeSource();
    const gate = gatedRead();
    const r = rereadOnChange(stream, { subscribe: source.subscribe, read: gate.read });
    source.fire();
    stream.close();
    expect(source.subscribed).toBe(false);
    await gate.release();
    await r.idle();
    expect(gate.calls).toBe(1);
    r.notify();
    expect(gate.calls).toBe(1);
  });

  it('a read may close the stream itself; no read follows', async () => {
    const stream = fakeStream();
    let reads = 0;
    const r = rereadOnChange(stream, {
      subscribe: fakeSource().subscribe,
      read: async () => {
        reads++;
        stream.close();
        return true;
      },
    });
    await r.idle();
    expect(reads).toBe(1);
  });

  it('a read that throws goes to onError, without an unhandled rejection, and the owed read still runs', async () => {
    const stream = fakeStream();
    const source = fakeSource();
    const errors: unknown[] = [];
    let reads = 0;
    let releaseFirst: () => void = () => {};
    const r = rereadOnChange(stream, {
      subscribe: source.subscribe,
      read: async () => {
        reads++;
        if (reads === 1) {
          await new Promise<void>((resolve) => (releaseFirst = resolve));
          throw new Error('store busy');
        }
      },
      onError: (e) => errors.push(e),
    });
    source.fire();
    releaseFirst();
    await r.idle();
    expect(reads).toBe(2);
    expect(errors).toEqual([new Error('store busy')]);
    expect(stream.closed).toBe(false);
  });

  it('a notification that comes after the last read returned but before the loop ended is not lost', async () => {
    const stream = fakeStream();
    const source = fakeSource();
    let reads = 0;
    const r = rereadOnChange(stream, {
      subscribe: source.subscribe,
      read: async () => {
        reads++;
        // Fires in a microtask after this read resolves, while the loop is winding down.
        if (reads === 1)
          void Promise.resolve()
            .then(() => Promise.resolve())
            .then(source.fire);
      },
    });
    await r.idle();
    await new Promise((resolve) => setImmediate(resolve));
    await r.idle();
    expect(reads).toBe(2);
  });
});
