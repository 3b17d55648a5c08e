/**
 * Server-sent events (live run status, logs) over a plain Node response. With fastify, call
 * `reply.hijack()` and pass `reply.raw`. Bounded memory per client is the point: a client that
 * stops reading is cut off instead of buffering without limit.
 */
import type { ServerResponse } from 'node:http';

const DEFAULT_HEARTBEAT_MS = 15_000;
const DEFAULT_MAX_QUEUED = 1_000;
/** How long close() lets queued events drain to a client before giving up on it. */
const END_DEADLINE_MS = 10_000;

/** One client's event stream. */
export interface EventStream {
  /** Queues one event (`data` as JSON on one line). After close it does nothing. */
  send(event: string, data: unknown, id?: string | number): void;
  readonly closed: boolean;
  /** Ends the stream after the queued events are written; safe to call twice. */
  close(): void;
  /** Runs `fn` once when the stream closes for any reason (client gone, close(), slow client); at once if already closed. */
  onClose(fn: () => void): void;
}

/** SSE field values are single lines: a CR or LF would start a new field (event or id injection). */
function oneLine(value: string): string {
  return value.replace(/[\r\n]+/g, ' ');
}

function frame(event: string, data: unknown, id?: string | number): string {
  let text = '';
  if (id !== undefined) text += `id: ${oneLine(String(id))}\n`;
  text += `event: ${oneLine(event)}\n`;
  // JSON.stringify escapes newlines, so the data is always one `data:` line.
  text += `data: ${JSON.stringify(data) ?? 'null'}\n\n`;
  return text;
}

/**
 * Writes SSE headers (text/event-stream, no-cache, X-Accel-Buffering: no so nginx does not
 * buffer), sends a comment heartbeat every 15 s (keeps proxies from timing the connection out),
 * and honours backpressure: once `res.write` returns false, messages wait for 'drain' in a queue
 * of at most `maxQueued` (default 1000); one more and the connection is destroyed, so a slow
 * client cannot balloon memory. close() still delivers what is queued (a final `end` event
 * matters) but gives a client that does not read 10 s before destroying the connection.
 * Cleans up (timers, listeners) on close.
 */
export function openEventStream(res: ServerResponse, o: { heartbeatMs?: number; maxQueued?: number } = {}): EventStream {
  const maxQueued = o.maxQueued ?? DEFAULT_MAX_QUEUED;
  const queue: string[] = [];
  const closeHandlers: (() => void)[] = [];
  let waitingForDrain = false;
  /** No more events are accepted; close handlers have run. */
  let closed = false;
  /** close() came while data waited for drain: end the response once the queue is written. */
  let ending = false;
  let endDeadline: NodeJS.Timeout | undefined;

  const markClosed = (): void => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    for (const fn of closeHandlers.splice(0)) {
      try {
        fn();
      } catch {
        // One failing listener must not keep the others from cleaning up.
      }
    }
  };

  /** The connection is gone (client left, ended, or destroyed): drop everything. */
  const onResponseClose = (): void => {
    queue.length = 0;
    clearTimeout(endDeadline);
    res.off('drain', flush);
    res.off('close', onResponseClose);
    markClosed();
  };

  function flush(): void {
    waitingForDrain = false;
    while (!waitingForDrain && queue.length > 0) write(queue.shift() ?? '');
    if (ending && !waitingForDrain) res.end();
  }

  function write(text: string): void {
    if (!res.write(text)) waitingForDrain = true;
  }

  const enqueue = (text: string): void => {
    if (closed) return;
    if (!waitingForDrain) {
      write(text);
      return;
    }
    if (queue.length >= maxQueued) {
      // Ending politely would wait for the very client that is not reading.
      res.destroy();
      onResponseClose();
      return;
    }
    queue.push(text);
  };

  if (!res.headersSent) {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
  }
  res.flushHeaders();
  res.on('drain', flush);
  res.on('close', onResponseClose);
  // Only an idle connection needs a heartbeat; one waiting for drain has data pending already.
  const heartbeat = setInterval(() => {
    if (!waitingForDrain) enqueue(': heartbeat\n\n');
  }, o.heartbeatMs ?? DEFAULT_HEARTBEAT_MS);
  heartbeat.unref();
  if (res.destroyed) onResponseClose();

  return {
    send(event, data, id) {
      enqueue(frame(event, data, id));
    },
    get closed() {
      return closed;
    },
    close() {
      if (closed) return;
      if (waitingForDrain) {
        ending = true;
        endDeadline = setTimeout(() => res.destroy(), END_DEADLINE_MS);
        endDeadline.unref();
      } else {
        res.end();
      }
      markClosed();
    },
    onClose(fn) {
      if (closed) fn();
      else closeHandlers.push(fn);
    },
  };
}
