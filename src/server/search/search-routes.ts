/** `GET /api/search`: one search over runs, jobs, deploys, releases, incidents, alerts, events and service logs. */
import { z } from 'zod';
import type { RouteTable } from '../http/index.ts';
import { DEFAULT_SEARCH_LIMIT, MAX_SEARCH_LIMIT, type SearchAnswer, type SearchService } from './search-service.ts';

export interface SearchRouteDeps {
  search: SearchService;
}

/**
 * The flags of `gantry search` are the filters of the language: `since=7d&type=deploy,run` is
 * the query with `since:7d type:deploy type:run` added, so both are parsed (and fail) alike.
 */
export function queryWithFlags(q: string, flags: { since?: string; until?: string; type?: string }): string {
  const parts = [q.trim()];
  if (flags.since) parts.push(`since:${quoteIfSpaced(flags.since)}`);
  if (flags.until) parts.push(`until:${quoteIfSpaced(flags.until)}`);
  for (const type of (flags.type ?? '').split(',')) if (type.trim() !== '') parts.push(`type:${quoteIfSpaced(type.trim())}`);
  return parts.filter((p) => p !== '').join(' ');
}

function quoteIfSpaced(value: string): string {
  return /\s/.test(value) ? `"${value}"` : value;
}

export function registerSearchRoutes(routes: RouteTable, deps: SearchRouteDeps): void {
  routes.add({
    method: 'GET',
    url: '/api/search',
    summary:
      'Search the records (runs, jobs, deploys, releases, incidents, alerts, events, service logs): `q` in the query language of docs/search.md (words, "phrases", word*, commit:, release:, by:, type:, project:, env:, since:, until:); `since`, `until` and `type` (comma-separated) add those filters. One result per thing, newest first, each with a dashboard link',
    auth: 'admin',
    permission: 'read',
    query: z.object({
      q: z.string().max(1000).default(''),
      since: z.string().max(40).optional(),
      until: z.string().max(40).optional(),
      type: z.string().max(200).optional(),
      limit: z.coerce.number().int().min(1).max(MAX_SEARCH_LIMIT).default(DEFAULT_SEARCH_LIMIT),
    }),
    handler: async ({ query }): Promise<SearchAnswer> => deps.search.search(queryWithFlags(query.q, query), query.limit),
  });
}
