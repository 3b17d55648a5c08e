/**
 * The HTTP API, built without listening (`createApp(deps)`), so tests run it in process and the
 * composition root (start.ts) decides where it listens. Errors map to HTTP once, here.
 */
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { GantryError, NotFoundError, UnauthorizedError } from '../core/errors.ts';
import type { TriggerKind } from '../core/types.ts';
import { GANTRY_VERSION } from '../core/version.ts';
import { jobReport } from '../engine/transition-records.ts';
import { resolveRef } from '../executor/workspace.ts';
import { parseConfig } from '../pipeline/load-config.ts';
import { resolveInputs } from '../pipeline/inputs.ts';
import { explainPlan } from '../pipeline/triggers.ts';
import type { JobRecord, RunRecord, Store } from '../store/ports.ts';
import { EventScopes, type ScopedEvent } from './event-scope.ts';
import { openEventStream } from './event-stream.ts';
import { parseHookBody } from './git-hooks.ts';
import { registerDeliveryRoutes, type DeliveryRouteDeps } from './delivery-routes.ts';
import { registerEnvironmentViewRoutes } from './environment-view-routes.ts';
import { requireRun } from './http/lookups.ts';
import { RouteTable } from './http/route-table.ts';
import { registerLogRoutes } from './log-routes.ts';
import { registerRunFileRoutes } from './run-file-routes.ts';
import type { LiveHub } from './live-hub.ts';
import type { ProjectService } from './project-service.ts';
import { readConfigAtCommit } from './repo-files.ts';
import type { RunService } from './run-service.ts';
import type { SecretBox } from './secret-box.ts';
import { cookieValue, csrfMatches, isSessionOrLinkToken, SESSION_COOKIE, type Session, type SessionService } from './sessions.ts';
import { hashToken } from './tokens.ts';
import { registerWebAssets } from './web-assets.ts';
import { detectProvider, parsePushPayload, verifyWebhook, webhookEventName } from './webhooks.ts';

export interface AppDeps {
  store: Store;
  /** Progressive delivery (releases, deploys, rollouts); absent in tests of the pipeline API alone. */
  delivery?: Omit<DeliveryRouteDeps, 'store' | 'projects'>;
  runs: RunService;
  projects: ProjectService;
  secretBox: SecretBox;
  hub: LiveHub;
  dataDir: string;
  sessions: SessionService;
  /** The address links should use (the one the server listens on). */
  publicUrl(): string;
  /** True once shutdown began: every request gets 503. */
  isClosing(): boolean;
}

declare module 'fastify' {
  interface FastifyRequest { rawBody?: Buffer; actor?: string; session?: Session }
}

const runIdParams = z.object({ run: z.string().min(1) });
const projectParams = z.object({ project: z.string().min(1) });
const inputsSchema = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String));

export function createApp(deps: AppDeps): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 8 * 1024 * 1024 });
  const routes = new RouteTable();
  const { store } = deps;

  // Keep the raw bytes: webhook signatures are computed over them, not over re-serialised JSON.
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body: Buffer, done) => {
    request.rawBody = body;
    if (body.length === 0) { done(null, {}); return; }
    try { done(null, JSON.parse(body.toString('utf8'))); } catch { done(new GantryError('INVALID_JSON', 'the request body is not valid JSON', 400), undefined); }
  });
  app.addContentTypeParser(['text/plain', 'application/x-www-form-urlencoded'], { parseAs: 'buffer' }, (request, body: Buffer, done) => {
    request.rawBody = body;
    done(null, body.toString('utf8'));
  });

  app.addHook('onRequest', async (request, reply) => {
    if (deps.isClosing()) {
      reply.code(503).header('connection', 'close').send({ error: { code: 'SHUTTING_DOWN', message: 'the server is shutting down' } });
      return reply;
    }
    const auth = routes.authOf(request.method, request.routeOptions.url);
    if (auth === 'admin') await authenticate(store, deps.sessions, request);
    return undefined;
  });

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, _request, reply) => {
    if (error instanceof GantryError) {
      void reply.code(error.httpStatus).send({ error: { code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) } });
      return;
    }
    if (error.statusCode && error.statusCode < 500) {
      void reply.code(error.statusCode).send({ error: { code: error.code ?? 'BAD_REQUEST', message: error.message } });
      return;
    }
    reply.log.error(error);
    process.stderr.write(`gantry: internal error: ${error.stack ?? error.message}\n`);
    void reply.code(500).send({ error: { code: 'INTERNAL', message: 'internal error (see the server log)' } });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({ error: { code: 'NOT_FOUND', message: `no route ${request.method} ${request.url}` } });
  });

  // ---------------------------------------------------------------- meta
  routes.add({
    method: 'GET', url: '/api/health', summary: 'Liveness (no token needed)', auth: 'none',
    handler: async () => ({ status: 'ok', version: GANTRY_VERSION, activeRuns: deps.runs.activeRuns() }),
  });
  registerSessionRoutes();
  routes.add({ method: 'GET', url: '/api/openapi.json', summary: 'This document', auth: 'admin', handler: async () => routes.openApi() });

  // ---------------------------------------------------------------- projects
  routes.add({
    method: 'GET', url: '/api/projects', summary: 'List projects', auth: 'admin',
    handler: async () => ({ projects: (await store.projects.list()).map(publicProject) }),
  });
  routes.add({
    method: 'POST', url: '/api/projects', summary: 'Register a repository (local path gets git hooks; a URL is polled)', auth: 'admin',
    body: z.object({ path: z.string().optional(), url: z.string().optional(), name: z.string().optional() }),
    handler: async ({ body, request, reply }) => {
      const { project, webhookSecret } = await deps.projects.add(body, request.actor ?? 'api');
      reply.code(201);
      return { project: publicProject(project), webhook: { url: `/api/webhooks/${project.id}`, secret: webhookSecret } };
    },
  });
  routes.add({
    method: 'GET', url: '/api/projects/:project', summary: 'One project with its next scheduled runs', auth: 'admin', params: projectParams,
    handler: async ({ params }) => {
      const project = await deps.projects.require(params.project);
      return { project: publicProject(project), schedules: deps.projects.schedules(project.id) };
    },
  });
  routes.add({
    method: 'DELETE', url: '/api/projects/:project', summary: 'Unregister a project', auth: 'admin', params: projectParams,
    handler: async ({ params, request }) => { await deps.projects.remove(params.project, request.actor ?? 'api'); return { deleted: true }; },
  });
  routes.add({
    method: 'GET', url: '/api/projects/:project/webhook', summary: 'The webhook URL and secret of a project', auth: 'admin', params: projectParams,
    handler: async ({ params }) => {
      const project = await deps.projects.require(params.project);
      return { url: `/api/webhooks/${project.id}`, secret: deps.projects.webhookSecret(project) };
    },
  });

  // ---------------------------------------------------------------- secrets
  routes.add({
    method: 'PUT', url: '/api/projects/:project/secrets/:name', summary: 'Set a secret (stored encrypted)', auth: 'admin',
    params: z.object({ project: z.string(), name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a secret name is letters, digits and _') }),
    query: z.object({ env: z.string().optional() }),
    body: z.object({ value: z.string().min(1, 'the secret value is empty') }),
    handler: async ({ params, query, body, request }) => {
      const project = await deps.projects.require(params.project);
      await store.secrets.set(project.id, params.name, deps.secretBox.encrypt(body.value), query.env);
      await store.events.append({ type: 'secret.set', subject: `project:${project.id}`, actor: request.actor ?? 'api', data: { name: params.name, environment: query.env ?? null }, env: eventEnvOf() });
      return { name: params.name };
    },
  });
  routes.add({
    method: 'GET', url: '/api/projects/:project/secrets', summary: 'Secret names (never values); `env` for an environment\'s own', auth: 'admin', params: projectParams,
    query: z.object({ env: z.string().optional() }),
    handler: async ({ params, query }) => ({ names: await store.secrets.names((await deps.projects.require(params.project)).id, query.env) }),
  });
  routes.add({
    method: 'DELETE', url: '/api/projects/:project/secrets/:name', summary: 'Delete a secret', auth: 'admin',
    params: z.object({ project: z.string(), name: z.string() }),
    query: z.object({ env: z.string().optional() }),
    handler: async ({ params, query, request }) => {
      const project = await deps.projects.require(params.project);
      if (!await store.secrets.delete(project.id, params.name, query.env)) throw new NotFoundError(`secret ${params.name} does not exist`);
      await store.events.append({ type: 'secret.deleted', subject: `project:${project.id}`, actor: request.actor ?? 'api', data: { name: params.name }, env: eventEnvOf() });
      return { deleted: true };
    },
  });

  // ---------------------------------------------------------------- triggering
  routes.add({
    method: 'POST', url: '/api/projects/:project/runs', summary: 'Trigger a run by hand (or as a webhook-kind event)', auth: 'admin', params: projectParams,
    body: z.object({ ref: z.string().optional(), inputs: inputsSchema.optional(), kind: z.enum(['manual', 'push', 'webhook']).optional() }),
    handler: async ({ params, body, request, reply }) => {
      const project = await deps.projects.require(params.project);
      const outcome = await deps.runs.trigger(project, { kind: body.kind ?? 'manual', ref: body.ref, inputs: body.inputs, actor: request.actor ?? 'api' });
      if ('skipped' in outcome) return { skipped: outcome.skipped };
      reply.code(201);
      return { run: outcome.run };
    },
  });
  routes.add({
    method: 'POST', url: '/api/projects/:project/plan', summary: 'Which jobs would run for a commit and event, and why the others would not', auth: 'admin', params: projectParams,
    body: z.object({ ref: z.string().optional(), kind: z.enum(['push', 'manual', 'schedule', 'webhook']).optional(), inputs: inputsSchema.optional(), changedFiles: z.array(z.string()).optional() }),
    handler: async ({ params, body }) => {
      const project = await deps.projects.require(params.project);
      const gitDir = deps.runs.gitDir(project);
      const head = await resolveRef(gitDir, body.ref ?? 'HEAD');
      const { text, file } = await readConfigAtCommit(gitDir, head.sha);
      const config = parseConfig(text, file);
      const kind: TriggerKind = body.kind ?? 'push';
      return explainPlan(config.pipeline, { kind, ref: head.ref, sha: head.sha, changedFiles: body.changedFiles }, resolveInputs(config.pipeline.on.manual?.inputs, body.inputs ?? {}));
    },
  });
  routes.add({
    method: 'POST', url: '/api/projects/:project/git-hook', summary: 'Ref updates from the git hook Gantry installed (hook token)', auth: 'hook', params: projectParams,
    handler: async ({ params, request, reply }) => {
      const token = bearer(request);
      if (!token || !await deps.projects.verifyHookToken(params.project, token)) throw new UnauthorizedError();
      const project = await deps.projects.require(params.project);
      const updates = parseHookBody(typeof request.body === 'string' ? request.body : '');
      const outcomes = await deps.projects.onRefUpdates(project, updates);
      reply.code(202);
      return { outcomes };
    },
  });
  routes.add({
    method: 'POST', url: '/api/webhooks/:project', summary: 'GitHub, GitLab and Gitea push webhooks (HMAC or token verified before anything else)', auth: 'signature', params: projectParams,
    handler: async ({ params, request, reply }) => {
      const project = await store.projects.get(params.project);
      const provider = detectProvider(request.headers);
      // The same answer for an unknown project and a bad signature: nothing leaks to a prober.
      if (!project || !provider || !request.rawBody || !verifyWebhook(provider, deps.projects.webhookSecret(project), request.rawBody, request.headers)) {
        throw new GantryError('BAD_SIGNATURE', 'the webhook signature does not match (check the secret from `gantry project webhook`)', 401);
      }
      const eventName = webhookEventName(provider, request.headers);
      const push = parsePushPayload(provider, eventName, request.body);
      const outcome = push
        ? await deps.runs.trigger(project, { kind: 'push', ref: push.ref, sha: push.sha, changedFiles: push.changedFiles, actor: `webhook:${provider}` })
        : await deps.runs.trigger(project, { kind: 'webhook', actor: `webhook:${provider}:${eventName}` });
      reply.code(202);
      return 'run' in outcome ? { runId: outcome.run.id } : { skipped: outcome.skipped };
    },
  });

  // ---------------------------------------------------------------- runs
  routes.add({
    method: 'GET', url: '/api/runs', summary: 'Runs, newest first', auth: 'admin',
    query: z.object({ project: z.string().optional(), limit: z.coerce.number().int().min(1).max(1000).optional() }),
    handler: async ({ query }) => {
      const projectId = query.project ? (await deps.projects.require(query.project)).id : undefined;
      return { runs: await store.runs.list({ projectId, limit: query.limit ?? 50 }) };
    },
  });
  routes.add({
    method: 'GET', url: '/api/runs/:run', summary: 'A run with its jobs (same job shape as `gantry run --json`)', auth: 'admin', params: runIdParams,
    handler: async ({ params }) => runWithJobs(await requireRun(store, params.run), await store.runs.jobs(params.run)),
  });
  routes.add({
    method: 'POST', url: '/api/runs/:run/cancel', summary: 'Cancel a run (its running jobs are stopped)', auth: 'admin', params: runIdParams,
    handler: async ({ params, request }) => ({ run: await deps.runs.cancel(params.run, request.actor ?? 'api') }),
  });
  routes.add({
    method: 'POST', url: '/api/runs/:run/rerun', summary: 'Run again: all jobs, or only the failed ones and what depends on them', auth: 'admin', params: runIdParams,
    body: z.object({ failed: z.boolean().optional() }),
    handler: async ({ params, body, request, reply }) => {
      const run = await deps.runs.rerun(params.run, body.failed ? 'failed' : 'all', request.actor ?? 'api');
      reply.code(201);
      return { run };
    },
  });
  routes.add({
    method: 'GET', url: '/api/runs/:run/stream', summary: 'Server-sent events: `run` snapshots then `job` changes', auth: 'admin', params: runIdParams, produces: 'text/event-stream',
    handler: async ({ params, reply }) => {
      await requireRun(store, params.run);
      reply.hijack();
      const stream = openEventStream(reply.raw);
      const sent = new Map<string, string>();
      let sentRun = '';
      let pending: Promise<void> | null = null;
      let again = false;
      const push = async () => {
        const run = await store.runs.get(params.run);
        if (!run) return;
        const jobs = await store.runs.jobs(params.run);
        for (const job of jobs) {
          const report = JSON.stringify(jobReport(job));
          if (sent.get(job.key) !== report) { sent.set(job.key, report); stream.send('job', JSON.parse(report)); }
        }
        const runJson = JSON.stringify(run);
        if (runJson !== sentRun) { sentRun = runJson; stream.send('run', run); }
        if (run.status !== 'queued' && run.status !== 'running') { stream.send('end', { status: run.status }); stream.close(); }
      };
      const schedule = () => {
        if (pending) { again = true; return; }
        pending = push().catch(() => undefined).finally(() => { pending = null; if (again && !stream.closed) { again = false; schedule(); } });
      };
      const unsubscribe = deps.hub.subscribe(params.run, schedule);
      stream.onClose(unsubscribe);
      schedule();
      return undefined;
    },
  });
  registerLogRoutes(routes, { store, dataDir: deps.dataDir });
  registerRunFileRoutes(routes, { store, dataDir: deps.dataDir });

  // ---------------------------------------------------------------- events
  const scopes = new EventScopes(store);
  const eventQuery = z.object({
    after: z.coerce.number().int().min(0).optional(),
    before: z.coerce.number().int().min(0).optional(),
    order: z.enum(['asc', 'desc']).optional(),
    type: z.string().optional(), subject: z.string().optional(),
    project: z.string().optional(), environment: z.string().optional(),
    limit: z.coerce.number().int().min(1).max(10_000).optional(),
  });
  type EventQuery = z.output<typeof eventQuery>;
  /** Events with their project and environment; filtered by them when asked (pages on until `limit` match). */
  const listEvents = async (query: EventQuery, cursor: { after?: number; before?: number }, limit: number): Promise<ScopedEvent[]> => {
    const projectId = query.project ? (await deps.projects.require(query.project)).id : undefined;
    const out: ScopedEvent[] = [];
    const newestFirst = query.order === 'desc';
    let { after, before } = cursor;
    for (;;) {
      const page = await store.events.list({ afterId: after, beforeId: before, newestFirst, type: query.type, subjectPrefix: query.subject, limit: Math.max(limit, 200) });
      for (const event of page) {
        const scope = await scopes.scope(event);
        if (projectId && scope.projectId !== projectId) continue;
        if (query.environment && scope.environment !== query.environment) continue;
        out.push({ ...event, scope });
        if (out.length === limit) return out;
      }
      if (page.length < Math.max(limit, 200) || (!projectId && !query.environment)) return out;
      const last = page.at(-1)!.id;
      if (newestFirst) before = last; else after = last;
    }
  };
  routes.add({
    method: 'GET', url: '/api/events', summary: 'The event log, oldest first (`after` an id to page; `order=desc` with `before` for history); each event with its project and environment', auth: 'admin', query: eventQuery,
    handler: async ({ query }) => ({ events: await listEvents(query, { after: query.after, before: query.before }, query.limit ?? 500) }),
  });
  routes.add({
    method: 'GET', url: '/api/events/stream', summary: 'Server-sent events of the event log; resumes after Last-Event-ID', auth: 'admin', query: eventQuery, produces: 'text/event-stream',
    handler: async ({ query, reply, request }) => {
      if (query.project) await deps.projects.require(query.project);
      reply.hijack();
      const stream = openEventStream(reply.raw);
      const lastHeader = Number(request.headers['last-event-id']);
      let after = Number.isFinite(lastHeader) && request.headers['last-event-id'] !== undefined ? lastHeader : (query.after ?? 0);
      const filtered = Boolean(query.project || query.environment);
      let busy = false;
      let again = false;
      const pump = async () => {
        if (busy) { again = true; return; }
        busy = true;
        try {
          do {
            again = false;
            // Filtered streams skip what does not match: remember how far the log was read.
            const newest = filtered ? (await store.events.list({ newestFirst: true, limit: 1 }))[0]?.id ?? after : after;
            const events = await listEvents({ ...query, order: 'asc' }, { after }, 1000);
            for (const event of events) stream.send('event', event, event.id);
            after = events.length === 1000 ? events.at(-1)!.id : Math.max(after, newest, events.at(-1)?.id ?? 0);
            if (events.length === 1000) again = true;
          } while (again && !stream.closed);
        } finally { busy = false; }
      };
      const unsubscribe = deps.hub.subscribe('*', () => { void pump(); });
      stream.onClose(unsubscribe);
      await pump();
      return undefined;
    },
  });

  if (deps.delivery) {
    registerDeliveryRoutes(routes, { store, projects: deps.projects, ...deps.delivery });
    registerEnvironmentViewRoutes(routes, { store, projects: deps.projects, delivery: deps.delivery.delivery, hub: deps.hub });
  }

  routes.register(app);
  registerWebAssets(app);
  return app;

  function registerSessionRoutes(): void {
    routes.add({
      method: 'POST', url: '/api/login-links', summary: 'A one-time link (10 minutes) that signs a browser in to the dashboard', auth: 'admin',
      handler: async ({ request, reply }) => {
        const link = await deps.sessions.createLoginLink(deps.publicUrl());
        await store.events.append({ type: 'session.link-created', subject: 'server', actor: request.actor ?? 'api', data: { expiresAt: link.expiresAt }, env: eventEnvOf() });
        reply.code(201);
        return link;
      },
    });
    routes.add({
      method: 'GET', url: '/api/session', summary: 'Who is signed in, and the CSRF token for state-changing calls', auth: 'admin',
      handler: async ({ request }) => ({ actor: request.actor, csrf: request.session?.csrf ?? '', expiresAt: request.session?.expiresAt ?? null }),
    });
    routes.add({
      method: 'GET', url: '/auth/login', summary: 'Trades a one-time login link for a session cookie (HttpOnly, SameSite=Strict)', auth: 'none', produces: 'text/html',
      query: z.object({ token: z.string().optional() }),
      handler: async ({ query, request, reply }) => {
        void reply.type('text/html; charset=utf-8').header('referrer-policy', 'no-referrer').header('cache-control', 'no-store')
          .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'");
        const redeemed = query.token ? await deps.sessions.redeem(query.token) : null;
        if (!redeemed) {
          return reply.code(401).send(authPage('This sign-in link is not valid', 'Links work once and for 10 minutes. Run <code>gantry open</code> for a new one.'));
        }
        const secure = request.protocol === 'https' ? '; Secure' : '';
        await store.events.append({ type: 'session.started', subject: 'server', actor: 'dashboard', data: {}, env: eventEnvOf() });
        // An HTML page that moves on by itself, not a redirect: the next request is then a
        // same-site navigation, so the SameSite=Strict cookie goes with it whatever opened the link.
        return reply.header('set-cookie', `${SESSION_COOKIE}=${redeemed.cookie}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${redeemed.maxAgeSeconds}${secure}`)
          .header('refresh', '0; url=/')
          .send(authPage('Signed in', '<a href="/">Continue to the dashboard</a>'));
      },
    });
    routes.add({
      method: 'POST', url: '/auth/logout', summary: 'Ends the dashboard session', auth: 'admin',
      handler: async ({ request, reply }) => {
        if (request.session) await deps.sessions.end(request.session);
        return reply.header('set-cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`).send({ signedOut: true });
      },
    });
  }

  function eventEnvOf() { return deps.runs.eventEnv(); }
}

/**
 * A bearer token (scripts, the CLI) or the dashboard's session cookie. A cookie alone never
 * changes anything: POST, PUT and DELETE also need the session's CSRF header, and a cross-site
 * Origin is refused outright (SameSite=Strict already keeps the cookie off cross-site requests).
 */
async function authenticate(store: Store, sessions: SessionService, request: FastifyRequest): Promise<void> {
  const token = bearer(request);
  if (token) {
    const record = await store.tokens.findByHash(hashToken(token));
    if (!record || record.name.startsWith('hook:') || isSessionOrLinkToken(record.name)) throw new UnauthorizedError('the API token is not valid');
    request.actor = `api:${record.name}`;
    return;
  }
  const cookie = cookieValue(request.headers.cookie, SESSION_COOKIE);
  const session = cookie ? await sessions.find(cookie) : null;
  if (!session) throw new UnauthorizedError(cookie ? 'the session has expired: run `gantry open` to sign in again' : undefined);
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    const origin = request.headers.origin;
    if (origin && origin !== `http://${request.headers.host}` && origin !== `https://${request.headers.host}`) throw new GantryError('CSRF', 'cross-site request refused', 403);
    if (!csrfMatches(session, headerValue(request.headers['x-gantry-csrf']))) throw new GantryError('CSRF', 'missing or wrong x-gantry-csrf header (reload the page)', 403);
  }
  request.session = session;
  request.actor = session.actor;
}

function authPage(title: string, body: string): string {
  return `<!doctype html><html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${title} · Gantry</title>`
    + `<body style="font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem"><h1>${title}</h1><p>${body}</p></body></html>`;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function bearer(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (!header?.startsWith('Bearer ')) return null;
  return header.slice(7).trim() || null;
}

function runWithJobs(run: RunRecord, jobs: JobRecord[]) {
  const { configText: _configText, ...summary } = run;
  return { run: summary, id: run.id, status: run.status, jobs: jobs.map(jobReport) };
}

function publicProject(p: { id: string; name: string; source: unknown; createdAt: string }) {
  return { id: p.id, name: p.name, source: p.source, createdAt: p.createdAt };
}
