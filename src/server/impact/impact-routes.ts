/**
 * Before and after each deploy, as the API shows it: every rollout of an environment (production
 * by default) with the comparison of the windows around it (src/impact). Computed on each request
 * from the stored ten-second roll-ups: nothing is stored, so a verdict is never stale.
 */
import { z } from 'zod';
import { NotFoundError } from '../../core/errors.ts';
import { DEFAULT_IMPACT_WINDOW_MS, type DeployImpact, deployImpact } from '../../impact/index.ts';
import type { Project, RolloutRecord, Store } from '../../store/ports.ts';
import type { RouteTable } from '../http/index.ts';

export interface ImpactRouteDeps {
  store: Store;
  requireProject(idOrName: string): Promise<Project>;
  /** Now, ms since the epoch. */
  now(): number;
}

/** One rollout with its before/after comparison: a row of the deploys page. */
export interface DeployWithImpact {
  rolloutId: string;
  environment: string;
  releaseId: string;
  previousReleaseId: string | null;
  /** The rollout's strategy (canary, blue-green, rolling, recreate). */
  strategy: string | null;
  phase: string;
  createdBy: string;
  startedAt: number;
  finishedAt: number | null;
  impact: DeployImpact;
}

export interface DeploysAnswer {
  environment: string;
  windowMs: number;
  deploys: DeployWithImpact[];
}

/** Deploys are about production unless asked otherwise, as DORA's numbers are. */
export const DEFAULT_IMPACT_ENVIRONMENT = 'production';

const windowQuery = z.coerce
  .number()
  .int()
  .min(1)
  .max(24 * 60)
  .optional()
  .describe('minutes in each window (default 15)');

export function registerImpactRoutes(routes: RouteTable, deps: ImpactRouteDeps): void {
  routes.add({
    method: 'GET',
    url: '/api/projects/:project/deploys',
    summary:
      "The environment's rollouts (production by default), newest first, each with request rate, error rate and p50/p95/p99 over the same length of time before it began and after it finished (`window` minutes, 15 by default), the differences and whether each is significant, and a verdict line",
    auth: 'admin',
    permission: 'read',
    params: z.object({ project: z.string().min(1) }),
    query: z.object({
      env: z.string().min(1).max(200).optional(),
      limit: z.coerce.number().int().min(1).max(200).optional(),
      window: windowQuery,
    }),
    handler: async ({ params, query }): Promise<DeploysAnswer> => {
      const project = await deps.requireProject(params.project);
      const environment = query.env ?? DEFAULT_IMPACT_ENVIRONMENT;
      const windowMs = query.window === undefined ? DEFAULT_IMPACT_WINDOW_MS : query.window * 60_000;
      const rollouts = await deps.store.rollouts.list({ projectId: project.id, environment, limit: query.limit ?? 50 });
      const deploys: DeployWithImpact[] = [];
      for (const rollout of rollouts) deploys.push(await withImpact(deps, rollout, windowMs));
      return { environment, windowMs, deploys };
    },
  });

  routes.add({
    method: 'GET',
    url: '/api/projects/:project/deploys/:rollout',
    summary: 'One rollout with its before/after comparison (as in GET …/deploys)',
    auth: 'admin',
    permission: 'read',
    params: z.object({ project: z.string().min(1), rollout: z.string().min(1) }),
    query: z.object({ window: windowQuery }),
    handler: async ({ params, query }): Promise<DeployWithImpact> => {
      const project = await deps.requireProject(params.project);
      const rollout = await deps.store.rollouts.get(params.rollout);
      if (!rollout || rollout.projectId !== project.id)
        throw new NotFoundError(`rollout '${params.rollout}' of project '${project.name}' does not exist`);
      return withImpact(deps, rollout, query.window === undefined ? DEFAULT_IMPACT_WINDOW_MS : query.window * 60_000);
    },
  });
}

async function withImpact(deps: ImpactRouteDeps, rollout: RolloutRecord, windowMs: number): Promise<DeployWithImpact> {
  const startedAt = Date.parse(rollout.createdAt);
  const finishedAt = rollout.finishedAt === null ? null : Date.parse(rollout.finishedAt);
  const now = deps.now();
  // Only the two windows' roll-ups: a deploy costs ~180 rows per pool, however old it is.
  const rollups =
    finishedAt === null
      ? []
      : [
          ...(await deps.store.metrics.query({
            projectId: rollout.projectId,
            environment: rollout.environment,
            sinceMs: startedAt - windowMs,
            untilMs: startedAt,
          })),
          ...(await deps.store.metrics.query({
            projectId: rollout.projectId,
            environment: rollout.environment,
            sinceMs: finishedAt,
            untilMs: Math.min(now, finishedAt + windowMs),
          })),
        ];
  return {
    rolloutId: rollout.id,
    environment: rollout.environment,
    releaseId: rollout.releaseId,
    previousReleaseId: rollout.previousReleaseId,
    strategy: strategyOf(rollout),
    phase: rollout.phase,
    createdBy: rollout.createdBy,
    startedAt,
    finishedAt,
    impact: deployImpact({ startedAt, finishedAt, now, windowMs, rollups }),
  };
}

function strategyOf(rollout: RolloutRecord): string | null {
  const strategy = rollout.state.strategy;
  if (typeof strategy !== 'object' || strategy === null || Array.isArray(strategy)) return null;
  return typeof strategy.kind === 'string' ? strategy.kind : null;
}
