/**
 * Live data through the server's server-sent event streams — no polling loops. EventSource
 * reconnects by itself (and sends Last-Event-ID where the stream has ids); `onOpen` runs on
 * every (re)connection so a page can catch up on what it missed while disconnected. A stream
 * that ends on purpose sends `end`: then the source is closed instead of reconnecting.
 */
import { useEffect, useRef, useState } from 'react';

export type Connection = 'connecting' | 'live' | 'reconnecting' | 'ended';

export type Handlers = Record<string, (data: unknown) => void> & { onOpen?: never };

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
    const source = new EventSource(url, { withCredentials: true });
    const names = new Set(Object.keys(latest.current.handlers));
    names.add('end');
    for (const name of names) {
      source.addEventListener(name, (message) => {
        const data = JSON.parse((message as MessageEvent<string>).data) as unknown;
        latest.current.handlers[name]?.(data);
        if (name === 'end') { source.close(); setState('ended'); }
      });
    }
    source.onopen = () => { setState('live'); latest.current.onOpen?.(); };
    source.onerror = () => { if (source.readyState !== EventSource.CLOSED) setState('reconnecting'); };
    return () => source.close();
  }, [url]);
  return state;
}
