/**
 * The event log, live: the newest events once, then the server's event stream from there
 * (EventSource resumes after the last id it saw when it reconnects, so nothing is missed).
 */
import { useEffect, useRef, useState } from 'react';
import { getJson } from './api.ts';
import { useEventStream, type Connection } from './live.ts';
import type { GantryEvent } from './types.ts';

export type ScopedEvent = GantryEvent & { scope: { projectId: string | null; environment: string | null } };

export interface EventFilter {
  project?: string;
  environment?: string;
  type?: string;
}

export function eventQuery(filter: EventFilter): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(filter)) if (value) params.set(key, value);
  return params.toString();
}

/**
 * Calls `onEvent` for every event that happens after mount (matching `filter`). Returns the
 * connection state. `onReconnect` runs after a reconnection, for pages that re-read state.
 */
export function useLiveEvents(filter: EventFilter, onEvent: (event: ScopedEvent) => void, onReconnect?: () => void): Connection {
  const key = eventQuery(filter);
  const [after, setAfter] = useState<number | null>(null);
  useEffect(() => {
    let cancelled = false;
    setAfter(null);
    getJson<{ events: ScopedEvent[] }>('/api/events?order=desc&limit=1').then(
      ({ events }) => {
        if (!cancelled) setAfter(events[0]?.id ?? 0);
      },
      () => {
        if (!cancelled) setAfter(0);
      },
    );
    return () => {
      cancelled = true;
    };
  }, []);
  const opened = useRef(false);
  return useEventStream(after === null ? null : `/api/events/stream?${key}${key ? '&' : ''}after=${after}`, { event: onEvent }, () => {
    if (opened.current) onReconnect?.();
    opened.current = true;
  });
}
