/**
 * Live data through the server's server-sent event streams — no polling loops. EventSource
 * reconnects by itself (and sends Last-Event-ID where the stream has ids); `onOpen` runs on
 * every (re)connection so a page can catch up on what it missed while disconnected. A stream
 * that ends on purpose sends `end`: then the source is closed instead of reconnecting.
 */
import { useEffect, useRef, useState } from 'react';
import { checkSession } from './api.ts';

export type Connection = 'connecting' | 'live' | 'reconnecting' | 'ended';

/**
 * Subscribes to `url` (null: nothing) while the component is mounted. Handlers may change on
 * every render; the latest ones are called. `end` events close the stream.
 */
export function useEventStream(url: string | null, handlers: Record<string, (data: any) => void>, onOpen?: () => void): Connection {
  const latest = useRef({ handlers, onOpen });
  latest.current = { handlers, onOpen };
  const [state, setState] = useState<Connection>('connecting');
  useEffect(() => {
    if (!url) return undefined;
    setState('connecting');
    let source: EventSource | null = null;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let failures = 0;
    let ended = false;
    const connect = () => {
      const current = new EventSource(url, { withCredentials: true });
      source = current;
      const names = new Set(Object.keys(latest.current.handlers));
      names.add('end');
      for (const name of names) {
        current.addEventListener(name, (message) => {
          const data = JSON.parse((message as MessageEvent<string>).data) as unknown;
          latest.current.handlers[name]?.(data);
          if (name === 'end') {
            ended = true;
            current.close();
            setState('ended');
          }
        });
      }
      current.onopen = () => {
        failures = 0;
        setState('live');
        latest.current.onOpen?.();
      };
      current.onerror = () => {
        if (ended) return;
        setState('reconnecting');
        // EventSource retries a dropped connection by itself, but gives up for good on an HTTP
        // error (a server answering 503 while it shuts down): then reconnect here, backing off.
        if (current.readyState === EventSource.CLOSED) {
          // Refused, perhaps because the session was revoked: the shell then says so.
          void checkSession();
          failures += 1;
          retry = setTimeout(connect, Math.min(30_000, 500 * 2 ** Math.min(failures, 6)));
        }
      };
    };
    connect();
    return () => {
      ended = true;
      clearTimeout(retry);
      source?.close();
    };
  }, [url]);
  return state;
}
