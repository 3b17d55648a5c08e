/**
 * What the dashboard's deployment page reads beyond the delivery API: chart series from the
 * stored ten-second roll-ups, and one live stream per environment — the rollout whenever it
 * changes, and the proxy's live request window every second so charts move between roll-ups.
 */
import { z } from 'zod';
import { metricSeries, windowPoint, type SeriesPoint } from '../../delivery/index.ts';
import type { Project, Store } from '../../store/ports.ts';
import type { DeliveryController } from './delivery-controller.ts';
import { openEventStream, rereadOnChange } from '../http/index.ts';
import type { RouteTable } from '../http/index.ts';
import type { LiveHub } from '../events/index.ts';
import type { ProjectService } from '../projects/index.ts';

export interface EnvironmentViewRouteDeps {
  store: Store;
  projects: ProjectService;
  delivery: DeliveryController;
  hub: LiveHub;
  /** Clock (ms); tests may pin it. */
  now?: () => number;
  /** How often the stream sends `metrics` (default 1000 ms). */
  metricsEveryMs?: number;
}

/** The span of the `metrics` event's window, as the analysis and `gantry rollout status` look at it. */
export const LIVE_WINDOW_SECONDS = 60;
/** The span behind each live chart point: a roll-up's length, so live and stored points compare. */
export const LIVE_POINT_SECONDS = 10;

const envParams = z.object({ project: z.string().min(1), env: z.string().min(1) });

export function registerEnvironmentViewRoutes(routes: RouteTable, deps: EnvironmentViewRouteDeps): void {
  const { store } = deps;
  const now = deps.now ?? Date.now;

  routes.add({
    method: 'GET',
    url: '/api/projects/:project/environments/:env/series',
    summary:
      'Chart series per release and in total (rate, error rate, p50/p95/p99, latency heatmap) over the last `seconds` (≤ 86400, default 3600) in `step`-second buckets (≥ 10, default 60)',
    auth: 'admin',
    permission: 'read',
    params: envParams,
    query: z.object({
      seconds: z.coerce.number().int().min(1).max(86_400).optional(),
      step: z.coerce.number().int().min(10).max(86_400).optional(),
    }),
    handler: async ({ params, query }) => {
      const project = await deps.projects.require(params.project);
      const untilMs = now();
      const sinceMs = untilMs - (query.seconds ?? 3600) * 1000;
      const rows = await store.metrics.query({ projectId: project.id, environment: params.env, sinceMs, untilMs });
      return {
        ...metricSeries(rows, { sinceMs, untilMs, stepSeconds: query.step ?? 60 }),
        sinceMs,
        untilMs,
        dataUntilMs: rows.reduce<number | null>((max, r) => Math.max(max ?? 0, r.endMs), null),
      };
    },
  });

  routes.add({
    method: 'GET',
    url: '/api/projects/:project/environments/:env/stream',
    summary:
      "Server-sent events: `rollout` (as GET …/rollout) at once and on every change, `metrics` (the proxy's live window) every second",
    auth: 'admin',
    permission: 'read',
    params: envParams,
    produces: 'text/event-stream',
    handler: async ({ params, reply }) => {
      const project = await deps.projects.require(params.project);
      reply.hijack();
      const stream = openEventStream(reply.raw);

      let sentRollout = '';
      const pushRollout = async () => {
        const view = JSON.stringify(await rolloutView(deps, project, params.env));
        if (view !== sentRollout && !stream.closed) {
          sentRollout = view;
          stream.send('rollout', JSON.parse(view));
        }
      };
      let measuring = false;
      const pushMetrics = async () => {
        if (measuring || stream.closed) return; // a slow proxy must not pile up reads
        measuring = true;
        try {
          stream.send('metrics', await liveMetrics(deps, project, params.env, now()));
        } catch {
          // The proxy is restarting or gone; the next second tries again.
        } finally {
          measuring = false;
        }
      };

      // Notifications come for every run and rollout of the server: coalesced into one re-read at a time.
      const rollouts = rereadOnChange(stream, { subscribe: (onChange) => deps.hub.subscribe('*', onChange), read: pushRollout });
      const timer = setInterval(() => {
        void pushMetrics();
      }, deps.metricsEveryMs ?? 1000);
      timer.unref();
      stream.onClose(() => clearInterval(timer));
      await rollouts.idle();
      void pushMetrics();
      return undefined;
    },
  });
}

/** Exactly what GET …/environments/:env/rollout answers (src/server/delivery-routes.ts). */
async function rolloutView(deps: EnvironmentViewRouteDeps, project: Project, env: string) {
  const { store } = deps;
  const rollout =
    (await store.rollouts.active(project.id, env)) ??
    (await store.rollouts.list({ projectId: project.id, environment: env, limit: 1 }))[0] ??
    null;
  return { environment: (await store.rollouts.environment(project.id, env)) ?? null, rollout, live: deps.delivery.status(project, env) };
}

interface PoolWindow {
  releaseId: string;
  requests: number;
  errors: number;
  latency?: unknown;
  [key: string]: unknown;
}

/**
 * One `metrics` event: the proxy's window of the last minute per pool (latency buckets left out:
 * the percentiles are there, and a minute of buckets per second is most of the bytes), chart
 * points of the last ten seconds per release and in total, and the instances as they are now.
 */
async function liveMetrics(deps: EnvironmentViewRouteDeps, project: Project, env: string, at: number) {
  const [minute, recent] = await Promise.all([
    deps.delivery.window(project, env, at - LIVE_WINDOW_SECONDS * 1000, at),
    deps.delivery.window(project, env, at - LIVE_POINT_SECONDS * 1000, at),
  ]);
  const pools: Record<string, unknown> = {};
  for (const [pool, value] of Object.entries(minute)) {
    const { latency: _latency, ...rest } = value as PoolWindow;
    pools[pool] = rest;
  }
  const t = at - LIVE_POINT_SECONDS * 1000;
  const releases: Record<string, SeriesPoint> = {};
  const all = { requests: 0, errors: 0, latency: [] as unknown[] };
  for (const value of Object.values(recent)) {
    const w = value as PoolWindow;
    releases[w.releaseId] = windowPoint(w, t, LIVE_POINT_SECONDS);
    all.requests += w.requests;
    all.errors += w.errors;
    if (Array.isArray(w.latency)) all.latency.push(...(w.latency as unknown[]));
  }
  return {
    at,
    seconds: LIVE_WINDOW_SECONDS,
    pools,
    points: { seconds: LIVE_POINT_SECONDS, total: windowPoint(all, t, LIVE_POINT_SECONDS), releases },
    live: deps.delivery.status(project, env),
  };
}
