/**
 * The HTTP API, built without listening (`createApp(deps)`), so tests run it in process and the
 * composition root (start.ts) decides where it listens. Each context registers its own routes
 * into one route table; the HTTP shell maps errors and authenticates once, by the table.
 */
import type { FastifyInstance } from 'fastify';
import { ROLLOUT_FINISHED_EVENT } from '../core/rollout-phase.ts';
import { GANTRY_VERSION } from '../core/version.ts';
import { systemClock } from '../core/clock.ts';
import { createLogger } from '../platform/logger.ts';
import type { GantryEvent, Store } from '../store/ports.ts';
import type { GroupRole } from '../access/index.ts';
import {
  authenticator,
  authorizer,
  OpenRequests,
  registerAccessRoutes,
  recordApiCalls,
  registerAuditRoutes,
  registerSessionRoutes,
  registerOidcRoutes,
  autoSignInTarget,
  type OidcClient,
  type SecretBox,
  type SessionService,
} from './auth/index.ts';
import { registerDeliveryRoutes, registerEnvironmentViewRoutes, type DeliveryRouteDeps } from './delivery/index.ts';
import { EventScopes, registerEventExportRoute, registerEventRoutes, type LiveHub } from './events/index.ts';
import { createHttpApp, registerWebAssets, RouteTable, webRoot } from './http/index.ts';
import { registerProjectRoutes, type ProjectService } from './projects/index.ts';
import { registerRunRoutes, type RunService } from './runs/index.ts';
import { registerSloHistoryRoutes, registerSloRoutes, type SloService } from './slo/index.ts';
import { DEFAULT_EVENTS, type Notifier, registerNotificationRoutes } from './notifications/index.ts';
import { type IncidentService, registerIncidentRoutes } from './incidents/index.ts';
import { registerDoraRoutes } from './dora/index.ts';
import { registerSecurityRoutes, type SecurityService } from './security/index.ts';
import { registerImpactRoutes } from './impact/index.ts';
import { registerKubernetesRoutes } from './kubernetes/index.ts';
import { type IngestTokens, registerTraceRoutes, type TraceService } from './traces/index.ts';
import { type ChaosService, registerChaosRoutes } from './chaos/index.ts';
import { type DeployProtection, registerApprovalRoutes } from './approvals/index.ts';
import { EstateService, registerEstateRoutes } from './estate/index.ts';
import { registerTemplateRoutes } from './templates/index.ts';
import { registerServiceLogRoutes, type ServiceLogs } from './logs/index.ts';
import { type AgentDispatcher, registerAgentCacheRoutes, registerAgentRoutes } from './agents/index.ts';
import { type AgentPlacement, type ReleaseTrees, registerPlacementRoutes } from './placement/index.ts';
import { registerSearchRoutes, SearchIndexer, type SearchSource, SearchService } from './search/index.ts';

export interface AppDeps {
  store: Store;
  /** SLO evaluation; absent in tests of the pipeline API alone. */
  slos?: SloService;
  /** Notifications; absent in tests of the pipeline API alone. */
  notifier?: Notifier;
  /** Incidents; absent in tests of the pipeline API alone. */
  incidents?: IncidentService;
  /** Security findings, suppressions, policy, advisories; absent in tests of the pipeline API alone. */
  security?: SecurityService;
  /** Chaos experiments; absent in tests of the pipeline API alone. */
  chaos?: ChaosService;
  /** Progressive delivery (releases, deploys, rollouts); absent in tests of the pipeline API alone. */
  delivery?: Omit<DeliveryRouteDeps, 'store' | 'projects'>;
  /** Protected environments: the deploy gate, approvals; absent in tests of the pipeline API alone. */
  protection?: DeployProtection;
  /** Traces (OTLP in, the sample per environment); absent in tests of the pipeline API alone. */
  traces?: { service: TraceService; tokens: IngestTokens };
  /** Service logs (search, follow); absent in tests of the pipeline API alone. */
  serviceLogs?: { logs: ServiceLogs; releaseNumber(releaseId: string): Promise<number | null> };
  /** Keeps the search index in step with the event log; one per store (start.ts shares it with shutdown). Default: a new one. */
  searchIndexer?: SearchIndexer;
  /** Search results from elsewhere than the event log (service logs). */
  searchSources?: readonly SearchSource[];
  /** Build agents (`runs-on` jobs); absent in tests of the pipeline API alone. */
  agents?: AgentDispatcher;
  /** Environments placed on agents (their instances and proxies); absent in tests of the pipeline API alone. */
  placement?: { placement: AgentPlacement; trees: ReleaseTrees; rolloutDriver?: () => Promise<string | null> };
  runs: RunService;
  projects: ProjectService;
  secretBox: SecretBox;
  hub: LiveHub;
  dataDir: string;
  sessions: SessionService;
  /** Dashboard sign-in through an identity provider; absent when not configured. */
  oidc?: {
    client: OidcClient;
    groupRoles: readonly GroupRole[];
    /** A browser without a session opening a page goes straight to the provider (GANTRY_OIDC_AUTO_SIGN_IN). */
    autoSignIn?: boolean;
    /** Whether the dashboard is reached over https (the redirect URL says so): cookies get `Secure`. */
    https(): boolean;
  };
  /** The address links should use (the one the server listens on). */
  publicUrl(): string;
  /** True once shutdown began: every request gets 503. */
  isClosing(): boolean;
  /** An answer of 5xx: a bug of ours (the client sees INTERNAL) or a coded server-side failure. Default: an `http` logger on stderr. */
  onInternalError?(error: Error): void;
}

export function createApp(deps: AppDeps): FastifyInstance {
  const routes = new RouteTable();
  const { store } = deps;
  const onInternalError = deps.onInternalError ?? defaultInternalErrorLog();
  const openRequests = new OpenRequests();
  const app = createHttpApp({
    routes,
    authenticate: authenticator(store, deps.sessions, openRequests, Date.now, deps.oidc?.groupRoles),
    authorize: authorizer(store),
    isClosing: deps.isClosing,
    onInternalError,
  });
  const eventEnv = () => deps.runs.eventEnv();

  routes.add({
    method: 'GET',
    url: '/api/health',
    summary: 'Liveness (no token needed)',
    auth: 'none',
    handler: async () => ({ status: 'ok', version: GANTRY_VERSION, activeRuns: deps.runs.activeRuns() }),
  });
  routes.add({
    method: 'GET',
    url: '/api/openapi.json',
    summary: 'This document',
    auth: 'admin',
    permission: 'signed-in',
    handler: async () => routes.openApi(),
  });
  registerSessionRoutes(routes, {
    store,
    sessions: deps.sessions,
    open: openRequests,
    oidc: deps.oidc !== undefined,
    publicUrl: deps.publicUrl,
    eventEnv,
  });
  const oidcSignIn = deps.oidc
    ? registerOidcRoutes(routes, {
        store,
        sessions: deps.sessions,
        oidc: deps.oidc.client,
        https: deps.oidc.https,
        eventEnv,
      })
    : null;
  registerAccessRoutes(routes, { store, open: openRequests, eventEnv, now: Date.now });
  registerAuditRoutes(routes, { store, now: Date.now });
  recordApiCalls(app, store, eventEnv, onInternalError);
  registerProjectRoutes(routes, { store, projects: deps.projects, runs: deps.runs, secretBox: deps.secretBox, eventEnv });
  registerRunRoutes(routes, {
    store,
    runs: deps.runs,
    hub: deps.hub,
    dataDir: deps.dataDir,
    projectId: async (p) => (await deps.projects.require(p)).id,
  });
  registerEventRoutes(routes, { store, hub: deps.hub, requireProject: (p) => deps.projects.require(p) });
  registerEventExportRoute(routes, { store, requireProject: (p) => deps.projects.require(p), now: () => Date.now() });
  const search = new SearchService({
    store,
    indexer: deps.searchIndexer ?? new SearchIndexer(store),
    requireProject: (p) => deps.projects.require(p),
    clock: systemClock,
    sources: deps.searchSources,
  });
  registerSearchRoutes(routes, { search });
  if (deps.agents) {
    const placement = deps.placement?.placement;
    registerAgentRoutes(routes, { store, dispatcher: deps.agents, eventEnv, onRevoked: (name) => placement?.dropAgent(name) });
  }
  if (deps.agents) registerAgentCacheRoutes(routes, { dataDir: deps.dataDir });
  if (deps.placement) registerPlacementRoutes(routes, { store, ...deps.placement });
  if (deps.delivery) {
    registerDeliveryRoutes(routes, { store, projects: deps.projects, ...deps.delivery });
    registerEnvironmentViewRoutes(routes, { store, projects: deps.projects, delivery: deps.delivery.delivery, hub: deps.hub });
  }

  if (deps.slos) {
    const scopes = new EventScopes(store);
    registerSloRoutes(routes, {
      slos: deps.slos,
      requireProject: (p) => deps.projects.require(p),
      resolvedAlerts: async (projectId, limit) => {
        const out = [];
        for (const event of await store.events.list({ type: 'slo.alert.resolved', newestFirst: true, limit: 1000 })) {
          const scope = await scopes.scope(event);
          if (projectId !== undefined && scope.projectId !== projectId) continue;
          out.push({ at: event.at, projectId: scope.projectId, environment: scope.environment, data: event.data });
          if (out.length >= limit) break;
        }
        return out;
      },
    });
    registerSloHistoryRoutes(routes, {
      slos: deps.slos,
      requireProject: (p) => deps.projects.require(p),
      environmentEvents: async (projectId, environment, fromMs) => {
        const out = [];
        for (const type of ['slo.alert.*', 'rollout.created', ROLLOUT_FINISHED_EVENT]) {
          for await (const event of eventsSince(store, type, fromMs)) {
            const scope = await scopes.scope(event);
            if (scope.projectId === projectId && scope.environment === environment)
              out.push({ type: event.type, atMs: Date.parse(event.at), data: event.data });
          }
        }
        return out;
      },
      clock: { now: () => Date.now() },
    });
  }
  registerDoraRoutes(routes, { store, requireProject: (p) => deps.projects.require(p), now: () => Date.now() });
  registerImpactRoutes(routes, { store, requireProject: (p) => deps.projects.require(p), now: () => Date.now() });
  registerKubernetesRoutes(routes, { store, requireProject: (p) => deps.projects.require(p) });
  if (deps.traces)
    registerTraceRoutes(routes, {
      traces: deps.traces.service,
      tokens: deps.traces.tokens,
      requireProject: (p) => deps.projects.require(p),
      publicUrl: deps.publicUrl,
    });
  if (deps.chaos) registerChaosRoutes(routes, { chaos: deps.chaos, requireProject: (p) => deps.projects.require(p) });
  if (deps.serviceLogs) {
    registerServiceLogRoutes(routes, {
      ...deps.serviceLogs,
      requireProject: (p) => deps.projects.require(p),
      releaseByNumber: (projectId, number) => store.releases.getByNumber(projectId, number),
      now: () => Date.now(),
    });
  }
  if (deps.incidents) registerIncidentRoutes(routes, { incidents: deps.incidents, requireProject: (p) => deps.projects.require(p) });
  if (deps.security && deps.delivery) {
    const releases = deps.delivery.releases;
    registerSecurityRoutes(routes, {
      store,
      security: deps.security,
      requireProject: (p) => deps.projects.require(p),
      requireRelease: (project, idOrNumber) => releases.require(project, idOrNumber),
      now: () => Date.now(),
    });
  }
  registerEstateRoutes(routes, {
    estate: new EstateService({
      store,
      eventEnv,
      encrypt: (plaintext) => deps.secretBox.encrypt(plaintext),
      decrypt: (ciphertext) => deps.secretBox.decrypt(ciphertext),
      defaultChannelEvents: DEFAULT_EVENTS,
    }),
  });
  registerTemplateRoutes(routes, { dataDir: deps.dataDir, projects: deps.projects });
  if (deps.protection && deps.delivery) {
    const releases = deps.delivery.releases;
    registerApprovalRoutes(routes, {
      protection: deps.protection,
      requireProject: (p) => deps.projects.require(p),
      requireRelease: (project, idOrNumber) => releases.require(project, idOrNumber),
    });
  }
  if (deps.notifier) {
    registerNotificationRoutes(routes, {
      store,
      notifier: deps.notifier,
      encrypt: (plaintext) => deps.secretBox.encrypt(plaintext),
      decrypt: (ciphertext) => deps.secretBox.decrypt(ciphertext),
      requireProject: (p) => deps.projects.require(p),
      clock: { now: () => Date.now() },
    });
  }

  routes.register(app);
  const autoSignIn = deps.oidc?.autoSignIn ? oidcSignIn : null;
  registerWebAssets(
    app,
    webRoot(),
    autoSignIn
      ? {
          signInFirst: (request, reply) => {
            const next = autoSignInTarget(request);
            return next === null ? null : autoSignIn.sendToProvider(request, reply, next);
          },
        }
      : {},
  );
  return app;
}

/** Events of a type (or `family.*`) at or after `fromMs`, newest first, a page at a time. */
async function* eventsSince(store: Store, type: string, fromMs: number): AsyncGenerator<GantryEvent> {
  let beforeId: number | undefined;
  for (;;) {
    const page = await store.events.list({ type, newestFirst: true, beforeId, limit: 500 });
    for (const event of page) {
      if (Date.parse(event.at) < fromMs) return;
      yield event;
    }
    if (page.length < 500) return;
    beforeId = (page.at(-1) as GantryEvent).id;
  }
}

/** Without a composition root's logger (tests of the API alone), internal errors still reach stderr as log lines. */
function defaultInternalErrorLog(): (error: Error) => void {
  const log = createLogger({ component: 'http' });
  return (error) => log.error('internal error', { err: error });
}
