/**
 * Server-sent events (live run status, logs) over a plain Node response. With fastify, call
 * `reply.hijack()` and pass `reply.raw`. Bounded memory per client is the point: a client that
 * stops reading is cut off instead of buffering without limit.
 */
import type { ServerResponse } from 'node:http';

const DEFAULT_HEARTBEAT_MS = 15_000;
const DEFAULT_MAX_QUEUED = 1_000;

/** One client's event stream. */
export interface EventStream {
  /** Queues one event (`data` as JSON on one line). After close it does nothing. */
  send(event: string, data: unknown, id?: string | number): void;
  readonly closed: boolean;
  /** Ends the stream; safe to call twice. */
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
 * client cannot balloon memory. Cleans up (timer, listeners) on close.
 */
export function openEventStream(res: ServerResponse, o: { heartbeatMs?: number; maxQueued?: number } = {}): EventStream {
  const maxQueued = o.maxQueued ?? DEFAULT_MAX_QUEUED;
  const queue: string[] = [];
  const closeHandlers: (() => void)[] = [];
  let waitingForDrain = false;
  let closed = false;

  const finish = (): void => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    queue.length = 0;
    res.off('drain', flush);
    res.off('close', finish);
    for (const fn of closeHandlers.splice(0)) {
      try {
        fn();
      } catch {
        // One failing listener must not keep the others from cleaning up.
      }
    }
  };

  function flush(): void {
    waitingForDrain = false;
    while (!closed && !waitingForDrain && queue.length > 0) write(queue.shift() ?? '');
  }

  function write(text: string): void {
    if (!res.write(text)) waitingForDrain = true;
  }

  const enqueue = (text: string): void => {
    if (closed) return;
    if (!waitingForDrain) return write(text);
    if (queue.length >= maxQueued) {
      // Ending politely would wait for the very client that is not reading.
      res.destroy();
      finish();
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
  res.on('close', finish);
  // Only an idle connection needs a heartbeat; one waiting for drain has data pending already.
  const heartbeat = setInterval(() => {
    if (!waitingForDrain) enqueue(': heartbeat\n\n');
  }, o.heartbeatMs ?? DEFAULT_HEARTBEAT_MS);
  heartbeat.unref();
  if (res.destroyed) finish();

  return {
    send(event, data, id) {
      enqueue(frame(event, data, id));
    },
    get closed() {
      return closed;
    },
    close() {
      if (closed) return;
      if (waitingForDrain) res.destroy();
      else res.end();
      finish();
    },
    onClose(fn) {
      if (closed) fn();
      else closeHandlers.push(fn);
    },
  };
}
