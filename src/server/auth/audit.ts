/**
 * The audit trail: every state-changing API call by a known caller is an `api.call` event — who
 * (the actor), from where (the client address), which route with which parameters, and the answer
 * (a refusal included). What the call changed is in the domain events it appended under the same
 * actor. Bodies are never recorded: they may hold secret values.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { spanMs } from '../../core/span.ts';
import type { EventEnvironment, Store } from '../../store/ports.ts';
import type { RouteTable } from '../http/index.ts';

export function recordApiCalls(
  app: FastifyInstance,
  store: Store,
  eventEnv: () => EventEnvironment,
  onError: (error: Error) => void,
): void {
  app.addHook('onResponse', async (request, reply) => {
    if (request.method === 'GET' || request.method === 'HEAD' || request.principal === undefined) return;
    const route = request.routeOptions.url ?? '';
    await store.events
      .append({
        type: 'api.call',
        subject: 'api',
        actor: request.actor ?? request.principal.id,
        data: {
          method: request.method,
          route,
          params: (request.params ?? {}) as Record<string, string>,
          status: reply.statusCode,
          from: request.ip,
        },
        env: eventEnv(),
      })
      .catch(onError);
  });
}

const SINCE = z.string().refine((text) => spanMs(text) !== null, 'a span back from now such as 15m, 12h, 30d or 2w');

export function registerAuditRoutes(routes: RouteTable, deps: { store: Store; now(): number }): void {
  routes.add({
    method: 'GET',
    url: '/api/audit',
    summary: 'Who did what, from where: events by people and tokens, newest first',
    auth: 'admin',
    permission: 'server.admin',
    query: z.object({
      since: SINCE.optional(),
      user: z.string().optional(),
      limit: z.coerce.number().int().min(1).max(1000).default(100),
    }),
    handler: async ({ query }) => {
      const since = query.since ? new Date(deps.now() - (spanMs(query.since) ?? 0)).toISOString() : undefined;
      const actor = query.user === undefined ? undefined : query.user.includes(':') ? query.user : `user:${query.user}`;
      const events = await deps.store.events.list({
        newestFirst: true,
        limit: query.limit,
        ...(since ? { since } : {}),
        ...(actor ? { actor } : {}),
      });
      return { events: events.filter((e) => actor !== undefined || !MACHINE_ACTORS.has(e.actor)) };
    },
  });
}

/** Actors that are Gantry itself, left out of the trail unless asked for by name. */
const MACHINE_ACTORS = new Set(['server', 'system']);
