/** The delivery half of the API: releases, deploys, rollouts, environments, request metrics. */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { z } from 'zod';
import { NotFoundError } from '../../core/errors.ts';
import { parseStoredConfig } from '../../pipeline/stored-config.ts';
import type { Store } from '../../store/ports.ts';
import type { DeliveryController } from './delivery-controller.ts';
import { requirePermission } from '../auth/index.ts';
import type { RouteTable } from '../http/index.ts';
import type { ProjectService } from '../projects/index.ts';
import type { ReleaseService } from './release-service.ts';

export interface DeliveryRouteDeps {
  store: Store;
  projects: ProjectService;
  releases: ReleaseService;
  delivery: DeliveryController;
}

const projectParams = z.object({ project: z.string().min(1) });
const envParams = z.object({ project: z.string().min(1), env: z.string().min(1) });

export function registerDeliveryRoutes(routes: RouteTable, deps: DeliveryRouteDeps): void {
  const { store } = deps;

  routes.add({
    method: 'GET',
    url: '/api/projects/:project/releases',
    summary: 'Releases of a project, newest first',
    auth: 'admin',
    permission: 'read',
    params: projectParams,
    handler: async ({ params }) => ({
      releases: (await store.releases.list((await deps.projects.require(params.project)).id, 100)).map(publicRelease),
    }),
  });
  routes.add({
    method: 'POST',
    url: '/api/projects/:project/releases',
    summary: 'Make a release from a successful run (default: the newest one)',
    auth: 'admin',
    permission: 'release.create',
    params: projectParams,
    body: z.object({ run: z.string().optional() }),
    handler: async ({ params, body, request, reply }) => {
      const project = await deps.projects.require(params.project);
      const release = await deps.releases.create(project, { runId: body.run, actor: request.actor ?? 'api' });
      reply.code(201);
      return { release: publicRelease(release) };
    },
  });
  routes.add({
    method: 'GET',
    url: '/api/projects/:project/releases/:release/sbom',
    summary: "Download a release's SBOM: CycloneDX 1.6 JSON of its lockfiles, written when the release was made",
    auth: 'admin',
    permission: 'read',
    produces: 'application/vnd.cyclonedx+json',
    params: z.object({ project: z.string().min(1), release: z.string().min(1) }),
    handler: async ({ params, reply }) => {
      const project = await deps.projects.require(params.project);
      const release = await deps.releases.require(project, params.release);
      const file = deps.releases.sbomFile(release);
      const info = await stat(file).catch(() => null);
      if (!info?.isFile())
        throw new NotFoundError(`release #${release.number} of ${project.name} has no SBOM (made before releases had one)`);
      const name = `${project.name}-release-${release.number}.cdx.json`.replace(/[^A-Za-z0-9._-]/g, '_');
      return reply
        .type('application/vnd.cyclonedx+json')
        .header('content-disposition', `attachment; filename="${name}"`)
        .header('content-length', info.size)
        .header('x-content-type-options', 'nosniff')
        .send(createReadStream(file));
    },
  });
  routes.add({
    method: 'GET',
    url: '/api/projects/:project/environments',
    summary: 'Environments: current release, port, rollout under way',
    auth: 'admin',
    permission: 'read',
    params: projectParams,
    handler: async ({ params }) => {
      const project = await deps.projects.require(params.project);
      const environments = await store.rollouts.environments(project.id);
      // Environments the newest release defines but nothing was deployed to yet are listed too
      // (without a release), so the dashboard can offer the first deploy.
      const newest = (await store.releases.list(project.id, 1))[0];
      const configured = newest ? (parseStoredConfig(newest.configText).environments ?? {}) : {};
      const defined = Object.keys(configured);
      for (const name of defined) {
        if (!environments.some((e) => e.name === name))
          environments.push({
            projectId: project.id,
            name,
            currentReleaseId: null,
            previousReleaseId: null,
            port: null,
            updatedAt: newest!.createdAt,
          });
      }
      return {
        environments: await Promise.all(
          environments.map(async (e) => ({
            ...e,
            // What deploys here by itself, as the newest release's gantry.yaml says (`auto`); null when it no longer names it.
            auto: configured[e.name]?.auto ?? null,
            rollout: (await store.rollouts.active(project.id, e.name)) ?? null,
            live: deps.delivery.status(project, e.name),
          })),
        ),
      };
    },
  });
  routes.add({
    method: 'POST',
    url: '/api/projects/:project/environments/:env/deploy',
    summary: 'Deploy a release to an environment with its strategy',
    auth: 'admin',
    permission: 'deploy',
    params: envParams,
    body: z.object({
      release: z.string().min(1),
      /** Deploy although an SLO's error budget is spent (the environment's policy is block); the reason is recorded. */
      override: z.object({ reason: z.string().trim().min(1) }).optional(),
      /** Deploy although the release has new findings the security policy blocks here; the reason is recorded. */
      overrideSecurity: z.object({ reason: z.string().trim().min(1) }).optional(),
      /** Deploy outside the environment's deploy windows; the reason is recorded. */
      overrideWindow: z.object({ reason: z.string().trim().min(1) }).optional(),
    }),
    handler: async ({ params, body, request, reply }) => {
      if (body.override || body.overrideSecurity || body.overrideWindow) requirePermission(request, 'deploy.override');
      const project = await deps.projects.require(params.project);
      const release = await deps.releases.require(project, body.release);
      const rollout = await deps.delivery.deploy(
        project,
        release,
        params.env,
        request.actor ?? 'api',
        body.override,
        body.overrideSecurity,
        body.overrideWindow,
      );
      reply.code(201);
      return { rollout };
    },
  });
  routes.add({
    method: 'POST',
    url: '/api/projects/:project/environments/:env/rollback',
    summary: 'Go back to the previous release at once',
    auth: 'admin',
    permission: 'deploy',
    params: envParams,
    handler: async ({ params, request, reply }) => {
      const project = await deps.projects.require(params.project);
      const rollout = await deps.delivery.rollback(project, params.env, request.actor ?? 'api');
      reply.code(201);
      return { rollout };
    },
  });
  routes.add({
    method: 'GET',
    url: '/api/projects/:project/environments/:env/rollout',
    summary: 'The rollout under way (or the last one): phase, step, weights, analysis, instances',
    auth: 'admin',
    permission: 'read',
    params: envParams,
    handler: async ({ params }) => {
      const project = await deps.projects.require(params.project);
      const rollout =
        (await store.rollouts.active(project.id, params.env)) ??
        (await store.rollouts.list({ projectId: project.id, environment: params.env, limit: 1 }))[0] ??
        null;
      return {
        environment: (await store.rollouts.environment(project.id, params.env)) ?? null,
        rollout,
        live: deps.delivery.status(project, params.env),
      };
    },
  });
  routes.add({
    method: 'POST',
    url: '/api/projects/:project/environments/:env/rollout/:action',
    summary: 'promote, pause, resume, abort or approve the rollout under way',
    auth: 'admin',
    permission: 'deploy',
    params: z.object({ project: z.string(), env: z.string(), action: z.enum(['promote', 'pause', 'resume', 'abort', 'approve']) }),
    handler: async ({ params, request }) => {
      const project = await deps.projects.require(params.project);
      return { rollout: await deps.delivery.act(project, params.env, params.action, request.actor ?? 'api') };
    },
  });
  routes.add({
    method: 'PUT',
    url: '/api/projects/:project/environments/:env/port',
    summary: 'Expose an environment on a port (its proxy listener)',
    auth: 'admin',
    permission: 'deploy',
    params: envParams,
    body: z.object({ port: z.number().int().min(1).max(65_535) }),
    handler: async ({ params, body, request }) => {
      const project = await deps.projects.require(params.project);
      return { environment: await deps.delivery.expose(project, params.env, body.port, request.actor ?? 'api') };
    },
  });
  routes.add({
    method: 'POST',
    url: '/api/projects/:project/environments/:env/stop',
    summary:
      'Stop an environment: end its rollout, drain and stop its instances, shut its proxy down; the record and its releases stay, and a deploy starts it again',
    auth: 'admin',
    permission: 'deploy',
    params: envParams,
    handler: async ({ params, request }) => {
      const project = await deps.projects.require(params.project);
      return { environment: await deps.delivery.stopEnvironment(project, params.env, request.actor ?? 'api') };
    },
  });
  routes.add({
    method: 'GET',
    url: '/api/projects/:project/environments/:env/metrics',
    summary: 'Request metrics per release over the last `seconds` (default 60), from the proxy',
    auth: 'admin',
    permission: 'read',
    params: envParams,
    query: z.object({ seconds: z.coerce.number().int().min(1).max(300).optional() }),
    handler: async ({ params, query }) => {
      const project = await deps.projects.require(params.project);
      const seconds = query.seconds ?? 60;
      const until = Date.now();
      const rows = await store.metrics.query({
        projectId: project.id,
        environment: params.env,
        sinceMs: until - seconds * 1000,
        untilMs: until,
      });
      return { live: await deps.delivery.window(project, params.env, until - seconds * 1000, until), rollups: rows };
    },
  });
  routes.add({
    method: 'GET',
    url: '/metrics',
    summary: 'Request metrics of every environment, Prometheus text format',
    auth: 'admin',
    permission: 'server.read',
    produces: 'text/plain',
    handler: async ({ reply }) => reply.type('text/plain; version=0.0.4').send(await deps.delivery.prometheus()),
  });
}

function publicRelease(r: {
  id: string;
  number: number;
  runId: string | null;
  sha: string;
  ref: string;
  configHash: string;
  createdBy: string;
  createdAt: string;
}) {
  return {
    id: r.id,
    number: r.number,
    runId: r.runId,
    sha: r.sha,
    ref: r.ref,
    configHash: r.configHash,
    createdBy: r.createdBy,
    createdAt: r.createdAt,
  };
}
