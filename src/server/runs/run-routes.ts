/** Runs over HTTP: list, show, cancel, re-run and the live stream of one run; logs and files are beside. */
import { z } from 'zod';
import { jobReport } from '../../engine/transition-records.ts';
import type { JobRecord, RunRecord, Store } from '../../store/ports.ts';
import type { LiveHub } from '../events/index.ts';
import { openEventStream, rereadOnChange, type RouteTable } from '../http/index.ts';
import { registerLogRoutes } from './log-routes.ts';
import { requireRun } from './lookups.ts';
import { registerRunFileRoutes } from './run-file-routes.ts';
import type { RunService } from './run-service.ts';

export interface RunRouteDeps {
  store: Store;
  runs: RunService;
  hub: LiveHub;
  dataDir: string;
  /** A project's id from its id or name, or NOT_FOUND. */
  projectId(idOrName: string): Promise<string>;
}

const runIdParams = z.object({ run: z.string().min(1) });

export function registerRunRoutes(routes: RouteTable, deps: RunRouteDeps): void {
  const { store } = deps;
  routes.add({
    method: 'GET',
    url: '/api/runs',
    summary: 'Runs, newest first (without the gantry.yaml each ran, as GET /api/runs/:run shows a run)',
    auth: 'admin',
    permission: 'read',
    query: z.object({ project: z.string().optional(), limit: z.coerce.number().int().min(1).max(1000).optional() }),
    handler: async ({ query }) => {
      const projectId = query.project ? await deps.projectId(query.project) : undefined;
      return { runs: (await store.runs.list({ projectId, limit: query.limit ?? 50 })).map(withoutConfig) };
    },
  });
  routes.add({
    method: 'GET',
    url: '/api/runs/:run',
    summary: 'A run with its jobs (same job shape as `gantry run --json`)',
    auth: 'admin',
    permission: 'read',
    params: runIdParams,
    handler: async ({ params }) => runWithJobs(await requireRun(store, params.run), await store.runs.jobs(params.run)),
  });
  routes.add({
    method: 'POST',
    url: '/api/runs/:run/cancel',
    summary: 'Cancel a run (its running jobs are stopped)',
    auth: 'admin',
    permission: 'run.trigger',
    params: runIdParams,
    handler: async ({ params, request }) => ({ run: await deps.runs.cancel(params.run, request.actor ?? 'api') }),
  });
  routes.add({
    method: 'POST',
    url: '/api/runs/:run/rerun',
    summary: 'Run again: all jobs, or only the failed ones and what depends on them',
    auth: 'admin',
    permission: 'run.trigger',
    params: runIdParams,
    body: z.object({ failed: z.boolean().optional() }),
    handler: async ({ params, body, request, reply }) => {
      const run = await deps.runs.rerun(params.run, body.failed ? 'failed' : 'all', request.actor ?? 'api');
      reply.code(201);
      return { run };
    },
  });
  routes.add({
    method: 'GET',
    url: '/api/runs/:run/stream',
    summary: 'Server-sent events: `run` snapshots then `job` changes',
    auth: 'admin',
    permission: 'read',
    params: runIdParams,
    produces: 'text/event-stream',
    handler: async ({ params, reply }) => {
      await requireRun(store, params.run);
      reply.hijack();
      const stream = openEventStream(reply.raw);
      const sent = new Map<string, string>();
      let sentRun = '';
      const read = async () => {
        const run = await store.runs.get(params.run);
        if (!run) return;
        const jobs = await store.runs.jobs(params.run);
        for (const job of jobs) {
          const report = JSON.stringify(jobReport(job));
          if (sent.get(job.key) !== report) {
            sent.set(job.key, report);
            stream.send('job', JSON.parse(report));
          }
        }
        const runJson = JSON.stringify(run);
        if (runJson !== sentRun) {
          sentRun = runJson;
          stream.send('run', run);
        }
        if (run.status !== 'queued' && run.status !== 'running') {
          stream.send('end', { status: run.status });
          stream.close();
        }
      };
      rereadOnChange(stream, { subscribe: (onChange) => deps.hub.subscribe(params.run, onChange), read });
      return undefined;
    },
  });
  registerLogRoutes(routes, { store, dataDir: deps.dataDir });
  registerRunFileRoutes(routes, { store, dataDir: deps.dataDir });
}

function runWithJobs(run: RunRecord, jobs: JobRecord[]) {
  return { run: withoutConfig(run), id: run.id, status: run.status, jobs: jobs.map(jobReport) };
}

/** A run as the API shows it: without its gantry.yaml, which can be hundreds of KB and a list has up to 1,000 runs. */
function withoutConfig(run: RunRecord): Omit<RunRecord, 'configText'> {
  const { configText: _configText, ...summary } = run;
  return summary;
}
