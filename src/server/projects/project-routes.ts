/** Projects over HTTP: registration, secrets, manual triggers and plans, and the two push inlets (git hook, webhooks). */
import { z } from 'zod';
import { GantryError, NotFoundError, UnauthorizedError } from '../../core/errors.ts';
import type { TriggerKind } from '../../core/types.ts';
import { resolveRef } from '../../executor/workspace.ts';
import { resolveInputs } from '../../pipeline/inputs.ts';
import { parseCommitConfig } from '../../pipeline/stored-config.ts';
import { explainPlan } from '../../pipeline/triggers.ts';
import type { EventEnvironment, Store } from '../../store/ports.ts';
import { callerMay, type SecretBox } from '../auth/index.ts';
import { bearer, type RouteTable } from '../http/index.ts';
import { readConfigAtCommit } from '../repos/index.ts';
import type { RunService } from '../runs/index.ts';
import { parseHookBody } from './git-hooks.ts';
import type { ProjectService } from './project-service.ts';
import { forgeTargetOf } from './forge-status.ts';
import { detectProvider, parsePullRequestPayload, parsePushPayload, verifyWebhook, webhookEventName } from './webhooks.ts';

export interface ProjectRouteDeps {
  store: Store;
  projects: ProjectService;
  runs: RunService;
  secretBox: SecretBox;
  eventEnv(): EventEnvironment;
}

const projectParams = z.object({ project: z.string().min(1) });
const inputsSchema = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String));

export function registerProjectRoutes(routes: RouteTable, deps: ProjectRouteDeps): void {
  const { store } = deps;

  routes.add({
    method: 'GET',
    url: '/api/projects',
    summary: 'List projects',
    auth: 'admin',
    permission: 'signed-in',
    handler: async ({ request }) => ({
      projects: (await store.projects.list()).filter((p) => callerMay(request, 'read', { project: p.name })).map(publicProject),
    }),
  });
  routes.add({
    method: 'POST',
    url: '/api/projects',
    summary: 'Register a repository (local path gets git hooks; a URL is polled)',
    auth: 'admin',
    permission: 'server.admin',
    body: z.object({ path: z.string().optional(), url: z.string().optional(), name: z.string().optional() }),
    handler: async ({ body, request, reply }) => {
      const { project, webhookSecret } = await deps.projects.add(body, request.actor ?? 'api');
      reply.code(201);
      return { project: publicProject(project), webhook: { url: `/api/webhooks/${project.id}`, secret: webhookSecret } };
    },
  });
  routes.add({
    method: 'GET',
    url: '/api/projects/:project',
    summary: 'One project with its next scheduled runs',
    auth: 'admin',
    permission: 'read',
    params: projectParams,
    handler: async ({ params }) => {
      const project = await deps.projects.require(params.project);
      return { project: publicProject(project), schedules: deps.projects.schedules(project.id) };
    },
  });
  routes.add({
    method: 'DELETE',
    url: '/api/projects/:project',
    summary:
      'Unregister a project: removes the git hook Gantry installed (restoring any it chained) or the mirror it polled; `warnings` says what could not be cleaned up',
    auth: 'admin',
    permission: 'server.admin',
    params: projectParams,
    handler: async ({ params, request }) => {
      const { warnings } = await deps.projects.remove(params.project, request.actor ?? 'api');
      return { deleted: true, warnings };
    },
  });
  routes.add({
    method: 'GET',
    url: '/api/projects/:project/webhook',
    summary: 'The webhook URL and secret of a project',
    auth: 'admin',
    permission: 'project.manage',
    params: projectParams,
    handler: async ({ params }) => {
      const project = await deps.projects.require(params.project);
      return { url: `/api/webhooks/${project.id}`, secret: deps.projects.webhookSecret(project) };
    },
  });

  // ---------------------------------------------------------------- secrets
  routes.add({
    method: 'PUT',
    url: '/api/projects/:project/secrets/:name',
    summary: 'Set a secret (stored encrypted)',
    auth: 'admin',
    permission: 'secret.write',
    params: z.object({ project: z.string(), name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a secret name is letters, digits and _') }),
    query: z.object({ env: z.string().optional() }),
    body: z.object({ value: z.string().min(1, 'the secret value is empty') }),
    handler: async ({ params, query, body, request }) => {
      const project = await deps.projects.require(params.project);
      await store.secrets.set(project.id, params.name, deps.secretBox.encrypt(body.value), query.env);
      await store.events.append({
        type: 'secret.set',
        subject: `project:${project.id}`,
        actor: request.actor ?? 'api',
        data: { name: params.name, environment: query.env ?? null },
        env: deps.eventEnv(),
      });
      return { name: params.name };
    },
  });
  routes.add({
    method: 'GET',
    url: '/api/projects/:project/secrets',
    summary: "Secret names (never values); `env` for an environment's own",
    auth: 'admin',
    permission: 'read',
    params: projectParams,
    query: z.object({ env: z.string().optional() }),
    handler: async ({ params, query }) => ({
      names: await store.secrets.names((await deps.projects.require(params.project)).id, query.env),
    }),
  });
  routes.add({
    method: 'DELETE',
    url: '/api/projects/:project/secrets/:name',
    summary: 'Delete a secret',
    auth: 'admin',
    permission: 'secret.write',
    params: z.object({ project: z.string(), name: z.string() }),
    query: z.object({ env: z.string().optional() }),
    handler: async ({ params, query, request }) => {
      const project = await deps.projects.require(params.project);
      if (!(await store.secrets.delete(project.id, params.name, query.env)))
        throw new NotFoundError(`secret ${params.name} does not exist`);
      await store.events.append({
        type: 'secret.deleted',
        subject: `project:${project.id}`,
        actor: request.actor ?? 'api',
        data: { name: params.name },
        env: deps.eventEnv(),
      });
      return { deleted: true };
    },
  });

  // ---------------------------------------------------------------- triggering
  routes.add({
    method: 'POST',
    url: '/api/projects/:project/runs',
    summary: 'Trigger a run by hand (or as a webhook-kind event)',
    auth: 'admin',
    permission: 'run.trigger',
    params: projectParams,
    body: z.object({ ref: z.string().optional(), inputs: inputsSchema.optional(), kind: z.enum(['manual', 'push', 'webhook']).optional() }),
    handler: async ({ params, body, request, reply }) => {
      const project = await deps.projects.require(params.project);
      const outcome = await deps.runs.trigger(project, {
        kind: body.kind ?? 'manual',
        ref: body.ref,
        inputs: body.inputs,
        actor: request.actor ?? 'api',
      });
      if ('skipped' in outcome) return { skipped: outcome.skipped };
      reply.code(201);
      return { run: outcome.run };
    },
  });
  routes.add({
    method: 'POST',
    url: '/api/projects/:project/plan',
    summary: 'Which jobs would run for a commit and event, and why the others would not',
    auth: 'admin',
    permission: 'read',
    params: projectParams,
    body: z.object({
      ref: z.string().optional(),
      kind: z.enum(['push', 'manual', 'schedule', 'webhook']).optional(),
      inputs: inputsSchema.optional(),
      changedFiles: z.array(z.string()).optional(),
    }),
    handler: async ({ params, body }) => {
      const project = await deps.projects.require(params.project);
      const gitDir = deps.runs.gitDir(project);
      const head = await resolveRef(gitDir, body.ref ?? 'HEAD');
      const { text, file } = await readConfigAtCommit(gitDir, head.sha);
      const config = parseCommitConfig(text, file);
      const kind: TriggerKind = body.kind ?? 'push';
      return explainPlan(
        config.pipeline,
        { kind, ref: head.ref, sha: head.sha, changedFiles: body.changedFiles },
        resolveInputs(config.pipeline.on.manual?.inputs, body.inputs ?? {}),
      );
    },
  });
  routes.add({
    method: 'POST',
    url: '/api/projects/:project/git-hook',
    summary: 'Ref updates from the git hook Gantry installed (hook token)',
    auth: 'hook',
    params: projectParams,
    handler: async ({ params, request, reply }) => {
      const token = bearer(request);
      if (!token || !(await deps.projects.verifyHookToken(params.project, token))) throw new UnauthorizedError();
      const project = await deps.projects.require(params.project);
      const updates = parseHookBody(typeof request.body === 'string' ? request.body : '');
      const outcomes = await deps.projects.onRefUpdates(project, updates);
      reply.code(202);
      return { outcomes };
    },
  });
  routes.add({
    method: 'POST',
    url: '/api/webhooks/:project',
    summary: 'GitHub, GitLab and Gitea push and pull request webhooks (HMAC or token verified before anything else)',
    auth: 'signature',
    params: projectParams,
    handler: async ({ params, request, reply }) => {
      const project = await store.projects.get(params.project);
      const provider = detectProvider(request.headers);
      // The same answer for an unknown project and a bad signature: nothing leaks to a prober.
      if (
        !project ||
        !provider ||
        !request.rawBody ||
        !verifyWebhook(provider, deps.projects.webhookSecret(project), request.rawBody, request.headers)
      ) {
        throw new GantryError('BAD_SIGNATURE', 'the webhook signature does not match (check the secret from `gantry project webhook`)');
      }
      const eventName = webhookEventName(provider, request.headers);
      const push = parsePushPayload(provider, eventName, request.body);
      const pullRequest = push ? null : parsePullRequestPayload(provider, eventName, request.body);
      reply.code(202);
      if (pullRequest && 'ignored' in pullRequest) return { skipped: pullRequest.ignored };
      const forge = forgeTargetOf(provider, request.body);
      const outcome = push
        ? await deps.runs.trigger(project, {
            kind: 'push',
            ref: push.ref,
            sha: push.sha,
            changedFiles: push.changedFiles,
            forge,
            actor: `webhook:${provider}`,
          })
        : pullRequest
          ? await deps.runs.trigger(project, {
              kind: 'pull_request',
              ref: pullRequest.event.ref,
              sha: pullRequest.event.sha,
              pullRequest: pullRequest.event.pullRequest,
              forge,
              actor: `webhook:${provider}`,
            })
          : await deps.runs.trigger(project, { kind: 'webhook', actor: `webhook:${provider}:${eventName}` });
      return 'run' in outcome ? { runId: outcome.run.id } : { skipped: outcome.skipped };
    },
  });
}

function publicProject(p: { id: string; name: string; source: unknown; createdAt: string }) {
  return { id: p.id, name: p.name, source: p.source, createdAt: p.createdAt };
}
