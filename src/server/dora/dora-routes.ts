/**
 * The DORA API: a project's (or every project's) four keys and rework rate over a window, with
 * tiers, trend buckets and the rollouts and incidents behind each number. Computed on each request
 * from the event log (src/dora): nothing is stored, so a store rebuilt from the log answers the same.
 */
import { z } from 'zod';
import {
  DEFAULT_SINCE,
  DORA_2024_CLUSTERS,
  DORA_DEFINITIONS,
  DORA_EVENT_TYPES,
  type DoraReport,
  doraReport,
  parseSince,
  TIER_RULES,
  toDoraEvents,
} from '../../dora/index.ts';
import type { Project, Store } from '../../store/ports.ts';
import type { RouteTable } from '../http/index.ts';

export interface DoraRouteDeps {
  store: Store;
  requireProject(idOrName: string): Promise<Project>;
  /** The end of the window: now. */
  now(): number;
}

/** DORA's default environment: the four keys are about production. */
export const DEFAULT_DORA_ENVIRONMENT = 'production';

export interface DoraAnswer {
  reports: (DoraReport & { projectName: string })[];
  definitions: typeof DORA_DEFINITIONS;
  clusters: typeof DORA_2024_CLUSTERS;
  tierRules: typeof TIER_RULES;
}

export function registerDoraRoutes(routes: RouteTable, deps: DoraRouteDeps): void {
  routes.add({
    method: 'GET',
    url: '/api/dora',
    summary:
      'DORA: deployment frequency, lead time for changes, change failure rate, failed deployment recovery time and rework rate of a project (or of every project) in an environment (production by default) over a window (`since`: 7d, 30d, 90d, a duration or a date; 30d by default), with 2024 tiers, the trend and the rollouts and incidents behind each number (docs/dora.md)',
    auth: 'admin',
    permission: 'read',
    query: z.object({
      project: z.string().min(1).optional(),
      env: z.string().min(1).max(200).optional(),
      since: z.string().min(1).max(40).optional(),
    }),
    handler: async ({ query }): Promise<DoraAnswer> => {
      const window = parseSince(query.since ?? DEFAULT_SINCE, deps.now());
      const projects = query.project === undefined ? await deps.store.projects.list() : [await deps.requireProject(query.project)];
      const events = toDoraEvents(await deps.store.events.list({ types: DORA_EVENT_TYPES }));
      const environment = query.env ?? DEFAULT_DORA_ENVIRONMENT;
      return {
        reports: projects.map((p) => ({ projectName: p.name, ...doraReport(events, p.id, environment, window) })),
        definitions: DORA_DEFINITIONS,
        clusters: DORA_2024_CLUSTERS,
        tierRules: TIER_RULES,
      };
    },
  });
}
