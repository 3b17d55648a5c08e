/** The chaos API: the experiments declared, run (or dry-run) one, the runs, one run's record, abort. */
import { z } from 'zod';
import type { Project } from '../../store/ports.ts';
import { requirePermission } from '../auth/index.ts';
import type { RouteTable } from '../http/index.ts';
import type { ChaosService } from './chaos-service.ts';

export interface ChaosRouteDeps {
  chaos: ChaosService;
  requireProject(idOrName: string): Promise<Project>;
}

const project = z.object({ project: z.string().min(1) });
const oneRun = z.object({ project: z.string().min(1), id: z.string().min(1) });

export function registerChaosRoutes(routes: RouteTable, deps: ChaosRouteDeps): void {
  const { chaos } = deps;
  routes.add({
    method: 'GET',
    url: '/api/projects/:project/experiments',
    summary: "The experiments the environments' running releases declare, and the runs, newest first",
    auth: 'admin',
    permission: 'read',
    params: project,
    query: z.object({ env: z.string().min(1).optional(), limit: z.coerce.number().int().min(1).max(1000).optional() }),
    handler: async ({ params, query }) => {
      const p = await deps.requireProject(params.project);
      const declared = (await chaos.declared(p)).filter((d) => query.env === undefined || d.environment === query.env);
      return { experiments: declared, runs: await chaos.runs(p, { environment: query.env, limit: query.limit }) };
    },
  });
  routes.add({
    method: 'POST',
    url: '/api/projects/:project/experiments/:name/run',
    summary: 'Start an experiment (guard → steady state before → faults → watch → revert → after), or say what it would do (dryRun)',
    auth: 'admin',
    permission: 'experiment.run',
    params: z.object({ project: z.string().min(1), name: z.string().min(1) }),
    body: z.object({ env: z.string().min(1).optional(), dryRun: z.boolean().optional() }).optional(),
    handler: async ({ params, body, request, reply }) => {
      const p = await deps.requireProject(params.project);
      const environment = body?.env ?? (await chaos.declared(p)).find((d) => d.name === params.name)?.environment;
      requirePermission(request, 'experiment.run', environment);
      const result = await chaos.run(p, params.name, { environment: body?.env, dryRun: body?.dryRun, actor: request.actor ?? 'api' });
      if (!('dryRun' in result)) reply.code(201);
      return { experiment: 'dryRun' in result ? result : { ...result, experimentId: result.id } };
    },
  });
  routes.add({
    method: 'GET',
    url: '/api/projects/:project/experiment-runs/:id',
    summary:
      'One experiment run: live while it runs, its record (faults, blast radius, numbers before/during/after, verdict) once finished',
    auth: 'admin',
    permission: 'read',
    params: oneRun,
    handler: async ({ params }) => ({ run: await chaos.show(await deps.requireProject(params.project), params.id) }),
  });
  routes.add({
    method: 'POST',
    url: '/api/projects/:project/experiment-runs/:id/abort',
    summary: 'Abort a running experiment: its faults come out at once; recorded with who aborted it',
    auth: 'admin',
    permission: 'experiment.run',
    params: oneRun,
    handler: async ({ params, request }) => {
      const project = await deps.requireProject(params.project);
      const { environment } = await chaos.show(project, params.id);
      requirePermission(request, 'experiment.run', typeof environment === 'string' ? environment : undefined);
      const state = await chaos.abort(project, params.id, request.actor ?? 'api');
      return { run: { experimentId: state.id, phase: state.phase, verdict: state.verdict, reason: state.reason } };
    },
  });
}
