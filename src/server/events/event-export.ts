/**
 * `GET /api/events/export`: the event log as JSON Lines (one event per line, oldest first, each
 * with its project and environment), for a period and a project, so the records outlive Gantry.
 * Streamed a page at a time: memory stays at one page whatever the period, and a slow reader
 * slows the reads (the stream's backpressure), never the server.
 */
import { Readable } from 'node:stream';
import { z } from 'zod';
import { InputError } from '../../core/errors.ts';
import { parseTimeBound } from '../../search/index.ts';
import type { GantryEvent, Project, Store } from '../../store/ports.ts';
import type { RouteTable } from '../http/index.ts';
import { EventScopes } from './event-scope.ts';

const PAGE = 1000;

export interface EventExportDeps {
  store: Store;
  requireProject(idOrName: string): Promise<Project>;
  now(): number;
}

export interface ExportWindow {
  /** ISO times, inclusive; null for the start or end of the log. */
  since: string | null;
  until: string | null;
  projectId: string | null;
}

/** The lines of an export, in id order. Starts from the search index's first id for `since` when it has one. */
export async function* exportEventLines(store: Store, window: ExportWindow): AsyncGenerator<string> {
  const scopes = new EventScopes(store);
  let after = 0;
  if (window.since !== null) {
    const first = await store.search.firstIdSince(window.since);
    after = first === null ? await store.search.lastIndexed() : first - 1;
  }
  for (;;) {
    const page = await store.events.list({ afterId: after, limit: PAGE });
    let lines = '';
    for (const event of page) {
      if (!(await inWindow(event, window, scopes))) continue;
      lines += `${JSON.stringify({ ...event, scope: await scopes.scope(event) })}\n`;
    }
    if (lines !== '') yield lines;
    if (page.length < PAGE) return;
    after = (page.at(-1) as GantryEvent).id;
  }
}

async function inWindow(event: GantryEvent, window: ExportWindow, scopes: EventScopes): Promise<boolean> {
  if (window.since !== null && event.at < window.since) return false;
  if (window.until !== null && event.at > window.until) return false;
  return window.projectId === null || (await scopes.scope(event)).projectId === window.projectId;
}

function timeBound(name: string, value: string | undefined, now: number): string | null {
  if (value === undefined) return null;
  const ms = parseTimeBound(value, now);
  if (ms === null) throw new InputError(`${name} takes a duration back from now (30m, 12h, 7d, 2w) or a date (2026-11-01), not "${value}"`);
  return new Date(ms).toISOString();
}

export function registerEventExportRoute(routes: RouteTable, deps: EventExportDeps): void {
  routes.add({
    method: 'GET',
    url: '/api/events/export',
    summary:
      'The event log as JSON Lines (`application/x-ndjson`), oldest first, each event with its project and environment; `since` and `until` (a duration back from now or a date) and `project` narrow it. Streamed: any period in bounded memory',
    auth: 'admin',
    permission: 'read',
    produces: 'application/x-ndjson',
    query: z.object({ since: z.string().max(40).optional(), until: z.string().max(40).optional(), project: z.string().optional() }),
    handler: async ({ query, reply }) => {
      const now = deps.now();
      const window: ExportWindow = {
        since: timeBound('since', query.since, now),
        until: timeBound('until', query.until, now),
        projectId: query.project === undefined ? null : (await deps.requireProject(query.project)).id,
      };
      reply.type('application/x-ndjson; charset=utf-8');
      return Readable.from(exportEventLines(deps.store, window));
    },
  });
}
