/**
 * Hearing of events other processes committed (EventAnnouncements of ./ports.ts). PostgreSQL: a
 * dedicated connection LISTENs on `gantry_events`, which migration 0017's trigger notifies with
 * each inserted event's id at commit. A dropped connection is re-opened with a capped backoff;
 * what was committed meanwhile is not announced, so `onReconnect` tells the listener to read
 * from its own cursor (it never relied on the ids anyway). SQLite: one server per file, so there
 * is nobody else to hear from.
 */
import pg from 'pg';
import type { EventAnnouncements } from './ports.ts';

export const silentAnnouncements: EventAnnouncements = {
  listen: async () => async () => undefined,
};

export function pgAnnouncements(url: string): EventAnnouncements {
  return {
    async listen(onEvent, onReconnect) {
      let client: pg.Client | null = null;
      let closed = false;
      let retryMs = 100;
      let retry: ReturnType<typeof setTimeout> | undefined;
      const connect = async (): Promise<void> => {
        const next = new pg.Client({ connectionString: url });
        // A connection that drops emits 'error' and 'end'; both lead to one reconnect.
        next.on('error', () => undefined);
        next.on('end', () => {
          if (closed || client !== next) return;
          client = null;
          schedule();
        });
        next.on('notification', (message) => {
          const id = Number(message.payload);
          if (Number.isSafeInteger(id)) onEvent(id);
        });
        await next.connect();
        await next.query('LISTEN gantry_events');
        if (closed) {
          await next.end().catch(() => undefined);
          return;
        }
        client = next;
      };
      const schedule = () => {
        if (closed) return;
        retry = setTimeout(() => {
          connect()
            .then(() => {
              retryMs = 100;
              onReconnect();
            })
            .catch(() => {
              retryMs = Math.min(retryMs * 2, 5_000);
              schedule();
            });
        }, retryMs);
        retry.unref();
      };
      await connect();
      return async () => {
        closed = true;
        clearTimeout(retry);
        await client?.end().catch(() => undefined);
        client = null;
      };
    },
  };
}
