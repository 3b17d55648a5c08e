/** The event log over HTTP: pages of it (each event with its project and environment) and a live stream. */
import { z } from 'zod';
import type { Project, Store } from '../../store/ports.ts';
import { openEventStream, rereadOnChange, type RouteTable } from '../http/index.ts';
import { EventScopes, type ScopedEvent } from './event-scope.ts';
import type { LiveHub } from './live-hub.ts';

export interface EventRouteDeps {
  store: Store;
  hub: LiveHub;
  /** A project by id or name, or NOT_FOUND. */
  requireProject(idOrName: string): Promise<Project>;
}

const eventQuery = z.object({
  after: z.coerce.number().int().min(0).optional(),
  before: z.coerce.number().int().min(0).optional(),
  order: z.enum(['asc', 'desc']).optional(),
  type: z.string().optional(),
  subject: z.string().optional(),
  project: z.string().optional(),
  environment: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(10_000).optional(),
});
type EventQuery = z.output<typeof eventQuery>;

export function registerEventRoutes(routes: RouteTable, deps: EventRouteDeps): void {
  const { store } = deps;
  const scopes = new EventScopes(store);

  /** Events with their project and environment; filtered by them when asked (pages on until `limit` match). */
  const listEvents = async (query: EventQuery, cursor: { after?: number; before?: number }, limit: number): Promise<ScopedEvent[]> => {
    const projectId = query.project ? (await deps.requireProject(query.project)).id : undefined;
    const out: ScopedEvent[] = [];
    const newestFirst = query.order === 'desc';
    let { after, before } = cursor;
    for (;;) {
      const page = await store.events.list({
        afterId: after,
        beforeId: before,
        newestFirst,
        type: query.type,
        subjectPrefix: query.subject,
        limit: Math.max(limit, 200),
      });
      for (const event of page) {
        const scope = await scopes.scope(event);
        if (projectId && scope.projectId !== projectId) continue;
        if (query.environment && scope.environment !== query.environment) continue;
        out.push({ ...event, scope });
        if (out.length === limit) return out;
      }
      if (page.length < Math.max(limit, 200) || (!projectId && !query.environment)) return out;
      const last = page.at(-1)!.id;
      if (newestFirst) before = last;
      else after = last;
    }
  };

  routes.add({
    method: 'GET',
    url: '/api/events',
    summary:
      'The event log, oldest first (`after` an id to page; `order=desc` with `before` for history); each event with its project and environment',
    auth: 'admin',
    permission: 'read',
    query: eventQuery,
    handler: async ({ query }) => ({ events: await listEvents(query, { after: query.after, before: query.before }, query.limit ?? 500) }),
  });
  routes.add({
    method: 'GET',
    url: '/api/events/stream',
    summary: 'Server-sent events of the event log; resumes after Last-Event-ID',
    auth: 'admin',
    permission: 'read',
    query: eventQuery,
    produces: 'text/event-stream',
    handler: async ({ query, reply, request }) => {
      if (query.project) await deps.requireProject(query.project);
      reply.hijack();
      const stream = openEventStream(reply.raw);
      const lastHeader = Number(request.headers['last-event-id']);
      let after = Number.isFinite(lastHeader) && request.headers['last-event-id'] !== undefined ? lastHeader : (query.after ?? 0);
      const filtered = Boolean(query.project || query.environment);
      const read = async () => {
        // Filtered streams skip what does not match: remember how far the log was read.
        const newest = filtered ? ((await store.events.list({ newestFirst: true, limit: 1 }))[0]?.id ?? after) : after;
        const events = await listEvents({ ...query, order: 'asc' }, { after }, 1000);
        for (const event of events) stream.send('event', event, event.id);
        after = events.length === 1000 ? events.at(-1)!.id : Math.max(after, newest, events.at(-1)?.id ?? 0);
        return events.length === 1000;
      };
      await rereadOnChange(stream, { subscribe: (onChange) => deps.hub.subscribe('*', onChange), read }).idle();
      return undefined;
    },
  });
}
