/**
 * The composition root of `gantry up`. `buildServer` opens the store and wires every service
 * with plain constructor arguments, without listening (in-process API tests use it as it is);
 * `startServer` then listens, starts what needs the server's address (hooks, polling, cron,
 * environments, roll-ups) and resumes what a previous process left. `close()` shuts down in
 * reverse.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { type Clock, systemClock, type TimerHandle } from '../core/clock.ts';
import { GantryError } from '../core/errors.ts';
import { GANTRY_VERSION } from '../core/version.ts';
import { SlotPool } from '../engine/slot-pool.ts';
import { jobDir } from '../engine/run-paths.ts';
import type { RunJob } from '../executor/ports.ts';
import { runJob as defaultRunJob } from '../executor/job-runner.ts';
import type { RouteTable } from '../proxy/index.ts';
import { openStore } from '../store/index.ts';
import type { EventEnvironment, Project, Store } from '../store/ports.ts';
import { ADMIN_TOKEN_FILE, SERVER_INFO_FILE } from '../core/data-files.ts';
import { prepareLogPump, SecretSet } from '../executor/index.ts';
import { createLogger, type LogDestination, type Logger } from '../platform/logger.ts';
import { createApp } from './app.ts';
import { IngestTokens, otlpEnvironment, TraceService } from './traces/index.ts';
import { ensureAdminToken, OidcClient, SecretBox, SessionService } from './auth/index.ts';
import {
  AutoRelease,
  DeliveryController,
  environmentLogBudget,
  PrometheusSource,
  ProxyProcesses,
  type ProxyControl,
  ReleaseService,
  RollupRecorder,
  SupervisedInstances,
} from './delivery/index.ts';
import { EventScopes, LiveHub, RemoteChanges } from './events/index.ts';
import { LeaseKeeper } from './leases/index.ts';
import { newId } from '../core/ids.ts';
import {
  commitStateOf,
  FORGE_STATUS_SENT,
  FORGE_TOKEN_SECRET,
  ForgeStatusReporter,
  ProjectService,
  resendLostStatuses,
} from './projects/index.ts';
import { pullJobFiles, RunService, shipJobFiles, shipJobLog, storedLogPath, writingJobLog } from './runs/index.ts';
import { readFilesAtCommit } from './repos/index.ts';
import { EXPERIMENTS_DIR, isExperimentFile } from '../pipeline/experiment-files.ts';
import { AgentDispatcher } from './agents/index.ts';
import { AgentPlacement, PlacedInstances, PlacedProxies, PlacementLookup, ReleaseTrees } from './placement/index.ts';
import { SloService, storeSloTargets } from './slo/index.ts';
import { Notifier } from './notifications/index.ts';
import { runGit } from '../platform/git.ts';
import { IncidentService } from './incidents/index.ts';
import { SecurityService } from './security/index.ts';
import { ChaosService } from './chaos/index.ts';
import { DeployProtection } from './approvals/index.ts';
import { instanceLogDir, LogBudgetKeeper, LokiForwarder, SERVICE_LOGS_DROPPED_EVENT, ServiceLogs } from './logs/index.ts';
import { SearchIndexer, serviceLogSource } from './search/index.ts';
import { KubernetesTargets } from './kubernetes/index.ts';
import type { ServerOptions } from './server-options.ts';

export interface RunningServer {
  url: string;
  app: FastifyInstance;
  store: Store;
  runs: RunService;
  /** Dashboard sign-in: `createLoginLink(url)` for a one-time link. */
  sessions: SessionService;
  /** Set when this start created the admin token (first start). */
  createdAdminToken: boolean;
  resumedRuns: number;
  /** The server's logger (component `server`): the CLI logs beside it, with the same format and masking. */
  log: Logger;
  /**
   * Settles when this server lost the lease over the background loops while it lived (several
   * servers on PostgreSQL); it has closed itself by then, and `gantry up` exits non-zero.
   */
  leaseLost: Promise<void>;
  close(): Promise<void>;
}

/** The wired server before it listens. */
export interface ServerParts {
  app: FastifyInstance;
  store: Store;
  runs: RunService;
  projects: ProjectService;
  delivery: DeliveryController;
  sessions: SessionService;
  log: Logger;
  /** What every event records about this process. */
  eventEnv(): EventEnvironment;
  /** Set when this build created the admin token (first start). */
  createdAdminToken: boolean;
  /**
   * Starts what needs the server's address — git hooks, polling, cron, environments, roll-ups —
   * and resumes the runs a previous process left. Returns how many runs it resumed. On
   * PostgreSQL those loops run on one server at a time, the holder of the `background-loops`
   * lease: this waits for the first claim, and a server that is refused takes them over later,
   * when their owner is gone (docs/decisions/0037).
   */
  start(url: string): Promise<number>;
  /** See RunningServer.leaseLost. */
  leaseLost: Promise<void>;
  /** From the first call every request answers 503; stops in reverse start order. Idempotent. */
  close(): Promise<void>;
}

export interface StartOverrides {
  runJob?: RunJob;
  /** Wraps the opened store (tests inject faults at a port this way). */
  wrapStore?(store: Store): Store;
  /** Also answer 503 while this returns true (tests of the shutdown path). */
  isClosing?(): boolean;
  /** Also receives what reached the HTTP layer as an internal error. */
  onInternalError?(error: Error): void;
  /** Where the server's log goes (default: stderr); it is masked and formatted as in production. */
  logDestination?: LogDestination;
  /**
   * Receives each log entry instead of a stream (tests that want silence pass `() => undefined`).
   * Entries are masked first, as on any destination.
   */
  log?: (level: 'info' | 'warn', message: string, data?: Record<string, unknown>) => void;
  /** The clock protected environments read their deploy windows by (tests move it); default the system's. */
  clock?: Clock;
  /** How often the proxies' roll-ups are stored (default ROLLUP_RECORD_EVERY_MS); tests shorten it to wait less. */
  rollupRecordEveryMs?: number;
  /** How often the SLOs are evaluated (default 2 s); tests shorten it to see alerts and budgets sooner. */
  sloEvaluateEveryMs?: number;
  /** How long after a period's end Kubernetes proxy pods' roll-ups are taken (default 5 s of clock skew); tests on one host shorten it. */
  kubernetesRollupLagMs?: number;
  /**
   * Called with each route table just before the server sends it to a local proxy process: the
   * fencing test stops the server there (SIGSTOP), with a table under way, to let another take over.
   */
  beforeRoutes?(table: RouteTable): void;
}

/** How many agents' jobs may be dispatched at once, all runs together (the agents' own capacity is the real bound). */
const AGENT_JOBS_AT_ONCE = 100_000;

/** WARN and ERROR messages of the composition root: static, the data goes beside them. */
const LOG = {
  kubernetesFieldsTaken: 'took over Kubernetes fields another field manager held',
  autoReleaseFailed: 'automatic release failed',
  jobCouldNotRun: 'the executor threw while running a job',
  internalError: 'internal error',
  requestFailed: 'request failed on the server side',
  logBudgetFailed: 'service log budget pass failed',
  searchIndexFailed: 'the search index could not catch up with the event log',
  jobFilesShippingFailed: "copying a job's files into the store failed",
  leaseLost: 'this server lost the lease over the background loops: it stops so that only the new owner runs them',
  serverLeaseLost: 'this server lost its own lease (another took it for dead and resumes its runs): it stops',
  recoveryFailed: 'resuming the runs of servers that are gone failed',
} as const;

/** The lease whose holder runs the loops that must run once across servers. */
export const BACKGROUND_LEASE = 'background-loops';

/** A server's own lease: held while it lives; another server resumes its runs once it expired. */
function serverLeaseName(serverId: string): string {
  return `server:${serverId}`;
}

export async function buildServer(options: ServerOptions, overrides: StartOverrides = {}): Promise<ServerParts> {
  // Every secret value the server handles is registered here before it could reach a log line.
  const secrets = new SecretSet();
  const storePassword = storeUrlPassword(options.store);
  if (storePassword) secrets.add(storePassword);
  const log = serverLogger(options, overrides, secrets.mask);
  const runsLog = log.child({ component: 'runs' });
  const deliveryLog = log.child({ component: 'delivery' });
  await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  await chmod(options.dataDir, 0o700);
  const opened = await openStore({ url: options.store });
  const store = overrides.wrapStore ? overrides.wrapStore(opened) : opened;
  // The background loops write through this view: once this server has held the lease, each of
  // their transactions commits only while its token is still current, so an owner paused past its
  // lease cannot write over the next owner's work when it wakes (docs/decisions/0037).
  let loopToken: number | null = null;
  const loopStore = store.fenced({ lease: BACKGROUND_LEASE, token: () => loopToken });
  // Several servers: this server's own lease says it is alive; the runs it drives are stored
  // through a view fenced by it, so once a survivor has claimed it (this server was taken for
  // dead) nothing this server still had under way about those runs lands.
  const serverId = `${hostname()}:${process.pid}:${newId()}`;
  let serverToken: number | null = null;
  const runStore = store.fenced({ lease: serverLeaseName(serverId), token: () => serverToken });
  const secretBox = await SecretBox.open(options.dataDir, { onReveal: (plaintext) => secrets.add(plaintext) });
  const createdAdminToken = await ensureAdminToken(store, options.dataDir);
  secrets.add((await readFile(join(options.dataDir, ADMIN_TOKEN_FILE), 'utf8')).trim());
  const hub = new LiveHub();
  const eventEnv = (): EventEnvironment => ({ gantryVersion: GANTRY_VERSION, nodeVersion: process.version, host: hostname() });
  let closing = false;
  let started: { rollups: RollupRecorder } | null = null;
  const sloLog = log.child({ component: 'slo' });
  const agentsLog = log.child({ component: 'agents' });
  const agents = new AgentDispatcher({
    agents: store.agents,
    dataDir: options.dataDir,
    clock: systemClock,
    leaseMs: options.agentLeaseMs,
    notify: (runId) => hub.notify(runId),
    info: (message, data) => agentsLog.info(message, data),
    warn: (message, data) => agentsLog.warn(message, data),
  });
  // The address the server listens on, once it does: links, git hooks and instances' OTLP endpoint.
  let url = '';
  const forgeLog = log.child({ component: 'forge' });
  const forgeStatus = new ForgeStatusReporter({
    token: async (projectId) => {
      const sealed = (await store.secrets.all(projectId))[FORGE_TOKEN_SECRET];
      return sealed === undefined ? undefined : secretBox.decrypt(sealed);
    },
    runUrl: (runId) => `${url}/runs/${runId}`,
    warn: (message, data) => forgeLog.warn(message, data),
    recordSent: async (runId, state) => {
      await store.events.append({
        type: FORGE_STATUS_SENT,
        subject: `run:${runId}`,
        actor: 'server',
        data: { runId, state },
        env: eventEnv(),
      });
    },
  });
  const runs = new RunService({
    store: runStore,
    loopStore,
    ...(store.dialect === 'postgres'
      ? {
          ownership: {
            self: serverId,
            claimIfDead: async (owner: string) => {
              const name = serverLeaseName(owner);
              const nowMs = systemClock.now();
              const lease = await store.leases.get(name);
              if (lease !== null && lease.expiresAtMs > nowMs) return lease.holder === serverId;
              return (await store.leases.claim({ name, holder: serverId, holderUrl: url, nowMs, ttlMs: options.leaseMs })).granted;
            },
          },
        }
      : {}),
    dataDir: options.dataDir,
    logCapBytes: options.logCapBytes,
    sandbox: options.sandbox,
    passEnv: options.passEnv,
    interruptedRetries: options.interruptedRetries,
    slots: new SlotPool(options.parallel),
    // Agents' jobs wait in the lease book, not for this host's slots: the agents' capacity bounds them.
    agentSlots: new SlotPool(AGENT_JOBS_AT_ONCE),
    runJob: loggedRunJob(
      sharedJobFiles((spec) => (spec.job.config.runsOn ? agents.runJob(spec) : (overrides.runJob ?? defaultRunJob)(spec)), store, runsLog),
      runsLog,
    ),
    secrets: async (projectId) => {
      const sealed = await store.secrets.all(projectId);
      return Object.fromEntries(Object.entries(sealed).map(([name, value]) => [name, secretBox.decrypt(value)]));
    },
    eventEnv,
    notify: (runId) => hub.notify(runId),
    clock: systemClock,
    securityJob:
      options.securityScans === 'on'
        ? {
            gantry: gantryCommand(),
            // Read per run: the operator's database when named, else what `gantry advisories import` put in the store.
            get advisories() {
              return options.advisories ?? security.advisoryFile();
            },
          }
        : null,
    onRunCreated: (run) => void forgeStatus.report(run, 'pending'),
    onRunFinished: (run, status) => {
      void forgeStatus.report(run, commitStateOf(status));
      if (status === 'success')
        void autoRelease
          .onSuccessfulRun(run)
          .catch((error: unknown) => deliveryLog.warn(LOG.autoReleaseFailed, { runId: run.id, err: error }));
    },
  });
  // Environments with `placement` run their instances and proxy on agents; the others here, as always.
  const placementLog = log.child({ component: 'placement' });
  const releaseTrees = new ReleaseTrees();
  const placementLookup = new PlacementLookup(store);
  const placement = new AgentPlacement({
    clock: systemClock,
    lostAfterMs: options.agentLeaseMs,
    trees: releaseTrees,
    registeredLabels: async (name) => (await store.agents.findByName(name))?.labels ?? [],
    placementOf: (spec) => placementLookup.ofRelease(spec.releaseId, splitEnvironmentKey(spec.environment)[1]),
    placementOfEnvironment: (key) => placementLookup.ofEnvironment(key),
    // Agents heard from in the last ten minutes are waited for when the server starts (up to the lost time).
    expectedAgents: async () =>
      (await store.agents.list())
        .filter((a) => a.revokedAt === null && a.lastSeenAt !== null && systemClock.now() - Date.parse(a.lastSeenAt) < 600_000)
        .map((a) => a.name),
    info: (message, data) => placementLog.info(message, data),
  });
  const localSupervisor = new SupervisedInstances({
    dataDir: options.runtimeDir,
    passEnv: options.passEnv,
    secretCodec: secretBox,
    lockFence: () => loopToken,
    logger: log.child({ component: 'supervisor' }),
    // Logs outlive instances, grouped by environment and release; the budget keeper deletes (server/logs).
    log: {
      keep: Number.POSITIVE_INFINITY,
      dirOf: (spec) => instanceLogDir(options.runtimeDir, ...splitEnvironmentKey(spec.environment), spec.releaseId, spec.id),
    },
  });
  const supervisor = new PlacedInstances(localSupervisor, placement, placementLookup);
  const serviceLogs = new ServiceLogs({ dataDir: options.runtimeDir, projects: store.projects, releases: store.releases });
  const logsLog = log.child({ component: 'service-logs' });
  const releaseNumber = async (releaseId: string) => (await store.releases.get(releaseId))?.number ?? null;
  const logBudget = new LogBudgetKeeper({
    dataDir: options.runtimeDir,
    budget: { maxBytes: options.serviceLogBytes, maxAgeMs: options.serviceLogDays * 86_400_000 },
    budgetOf: async ({ projectId, environment }) => {
      const live = (await store.rollouts.environment(projectId, environment))?.currentReleaseId;
      const release = live ? await store.releases.get(live) : undefined;
      return (release && environmentLogBudget(release, environment)) ?? {};
    },
    clock: systemClock,
    isLive: (instance) => supervisor.list().some((s) => s.id === instance && s.state !== 'stopped' && s.state !== 'failed'),
    onDrop: async (drop) => {
      logsLog.info('service logs dropped to stay within the budget', { ...drop });
      await loopStore.events.append({
        type: SERVICE_LOGS_DROPPED_EVENT,
        subject: `environment:${drop.projectId}/${drop.environment}`,
        actor: 'server',
        data: { ...drop },
        env: eventEnv(),
      });
    },
    onError: (error) => logsLog.warn(LOG.logBudgetFailed, { err: error }),
  });
  const loki = options.lokiUrl
    ? new LokiForwarder({
        url: options.lokiUrl,
        dataDir: options.runtimeDir,
        clock: systemClock,
        projectName: async (projectId) => (await store.projects.get(projectId))?.name ?? projectId,
        releaseNumber,
        warn: (message, data) => logsLog.warn(message, data),
      })
    : null;
  // Several servers on PostgreSQL: a job another server ran has its files copied here before they are read.
  const jobFiles =
    store.dialect === 'postgres'
      ? (runId: string, jobKey: string) => pullJobFiles(store.jobFiles, runId, jobKey, jobDir(options.dataDir, runId, jobKey))
      : undefined;
  const releases = new ReleaseService({
    store,
    dataDir: options.dataDir,
    runtimeDir: options.runtimeDir,
    ...(jobFiles ? { jobFiles } : {}),
    eventEnv,
    checkout: (project, sha, dest) => runs.checkout(project, sha, dest),
    commitsBetween: (project, from, to) => runs.commitsBetween(project, from, to),
  });
  // One client for canary checks and Prometheus SLIs alike.
  const prometheus = options.prometheusUrl ? new PrometheusSource({ baseUrl: options.prometheusUrl }) : null;
  // Several servers on PostgreSQL: the lease whose holder runs the background loops and drives
  // rollouts, and this server's own (its runs are its own while it holds it).
  let lease: LeaseKeeper | null = null;
  let serverLease: LeaseKeeper | null = null;
  // Null on the server that drives rollouts (and on SQLite); else whom deploys and agents' placement polls go to.
  const rolloutDriver = async (): Promise<string | null> => {
    if (lease === null || lease.phase === 'owning') return null;
    return (await store.leases.get(BACKGROUND_LEASE))?.holderUrl || 'the server holding the background-loops lease';
  };
  const ingestTokens = new IngestTokens(options.dataDir);
  const protection = new DeployProtection({ store, clock: overrides.clock ?? systemClock, eventEnv });
  const traces = new TraceService();
  const delivery: DeliveryController = new DeliveryController({
    store: loopStore,
    supervisor,
    // Each command to a proxy carries the loops' token: a proxy refuses a server paused past its lease (docs/decisions/0037).
    proxies: new PlacedProxies(
      observedRoutes(new ProxyProcesses(options.runtimeDir, { fence: () => loopToken }), overrides.beforeRoutes),
      placement,
      placementLookup,
    ),
    secretBox,
    dataDir: options.runtimeDir,
    host: options.host,
    sandbox: options.sandbox,
    prometheus,
    eventEnv,
    notify: (rolloutId) => hub.notify(rolloutId),
    warn: (message, data) => deliveryLog.warn(message, data),
    clock: systemClock,
    targets: new KubernetesTargets({
      now: () => systemClock.now(),
      onConflict: (environment, outcome) => deliveryLog.warn(LOG.kubernetesFieldsTaken, { environment, ...outcome }),
      rollupCompletionLagMs: overrides.kubernetesRollupLagMs,
    }),
    // Before the server listens (tests that never do) there is nowhere to send traces.
    telemetryEnv: async (projectId, environment, releaseId) =>
      url === ''
        ? {}
        : otlpEnvironment({ publicUrl: url, token: await ingestTokens.token({ projectId, environment }), releaseId, environment }),
    exhaustedBudgets: (projectId, environment) =>
      slos
        .status(projectId, environment)
        .filter((s) => s.evaluated && s.budget.total > 0 && s.budget.remaining <= 0)
        .map((s) => ({ slo: s.slo.name, remaining: s.budget.remaining })),
    checkSecurity: (project, release, environment, actor, override) => security.checkDeploy(project, release, environment, actor, override),
    checkProtection: (project, release, environment, actor, override) => protection.check(project, release, environment, actor, override),
    rolloutDriver,
  });
  const slos: SloService = new SloService({
    store: loopStore,
    clock: systemClock,
    targets: storeSloTargets(store),
    traffic: (projectId, environment, sinceMs, untilMs) => delivery.traffic(projectId, environment, sinceMs, untilMs),
    ...(prometheus === null ? {} : { prometheus: (query: string, atMs: number) => prometheus.query(query, new Date(atMs)) }),
    eventEnv,
    changed: (projectId, environment) => hub.notify(`environment:${projectId}/${environment}`),
    warn: (message, data) => sloLog.warn(message, data),
    intervalMs: overrides.sloEvaluateEveryMs,
  });
  const notifyLog = log.child({ component: 'notify' });
  const scopes = new EventScopes(store);
  const notifier = new Notifier({
    store: loopStore,
    clock: systemClock,
    scope: (event) => scopes.scope(event),
    decrypt: (ciphertext) => secretBox.decrypt(ciphertext),
    publicUrl: () => url,
    warn: (message, data) => notifyLog.warn(message, data),
    firstRetryMs: options.notifyRetryMs,
  });
  const chaos: ChaosService = new ChaosService({
    store: loopStore,
    clock: systemClock,
    target: (projectId, environment) => delivery.chaosTarget(projectId, environment),
    budgets: (projectId, environment) =>
      slos
        .status(projectId, environment)
        .filter((s) => s.evaluated && s.budget.total > 0)
        .map((s) => ({ slo: s.slo.name, remaining: s.budget.remaining })),
    eventEnv,
    instanceKeys: (projectId, environment) => delivery.instanceKeys(projectId, environment),
    onInstanceChange: (listener) => supervisor.onChange(() => listener()),
    experimentFiles: async (projectId, sha) => {
      const project = await store.projects.get(projectId);
      return project === undefined ? [] : readFilesAtCommit(runs.gitDir(project), sha, EXPERIMENTS_DIR, isExperimentFile);
    },
    changed: (projectId) => hub.notify(`project:${projectId}`),
    warn: (message, data) => log.child({ component: 'chaos' }).warn(message, data),
  });
  const incidents = new IncidentService({
    store: loopStore,
    clock: systemClock,
    experimentIn: (projectId, environment) => chaos.activeIn(projectId, environment),
    scope: (event) => scopes.scope(event),
    eventEnv,
    impact: (projectId, environment, fromMs, toMs) => slos.impact(projectId, environment, fromMs, toMs),
    changed: (projectId) => hub.notify(`project:${projectId}`),
    warn: (message, data) => log.child({ component: 'incidents' }).warn(message, data),
  });
  // The default branch is the repository's HEAD (a URL project's mirror keeps its remote's).
  const defaultRef = async (project: Project) => (await runGit(['-C', runs.gitDir(project), 'symbolic-ref', '-q', 'HEAD'])).trim();
  const security: SecurityService = new SecurityService({
    store: loopStore,
    ...(jobFiles ? { jobFiles } : {}),
    clock: systemClock,
    dataDir: options.dataDir,
    defaultRef,
    eventEnv,
    changed: (projectId) => hub.notify(`project:${projectId}`),
    warn: (message, data) => log.child({ component: 'security' }).warn(message, data),
  });
  const autoRelease = new AutoRelease({ store, releases, delivery, defaultRef, warn: (message, data) => deliveryLog.warn(message, data) });
  const projectsLog = log.child({ component: 'projects' });
  const projects = new ProjectService({
    store: loopStore,
    runs,
    secretBox,
    dataDir: options.dataDir,
    pollIntervalMs: options.pollIntervalMs,
    clock: systemClock,
    eventEnv,
    warn: (message, data) => projectsLog.warn(message, data),
  });
  const sessions = new SessionService(store);
  if (options.oidcClientSecret) secrets.add(options.oidcClientSecret);
  const oidcRedirectUrl = () => options.oidcRedirectUrl ?? `${url.replace(/\/$/, '')}/auth/oidc/callback`;
  const oidc =
    options.oidcIssuer !== null && options.oidcClientId !== null
      ? {
          client: new OidcClient({
            issuer: options.oidcIssuer,
            clientId: options.oidcClientId,
            clientSecret: options.oidcClientSecret,
            redirectUrl: oidcRedirectUrl,
            groupsClaim: options.oidcGroupsClaim,
          }),
          groupRoles: options.oidcRoles,
          autoSignIn: options.oidcAutoSignIn,
          https: () => oidcRedirectUrl().startsWith('https:'),
        }
      : undefined;
  const searchIndexer = new SearchIndexer(loopStore);
  const httpLog = log.child({ component: 'http' });
  const app = createApp({
    store,
    runs,
    projects,
    secretBox,
    hub,
    dataDir: options.dataDir,
    isClosing: () => closing || (overrides.isClosing?.() ?? false),
    delivery: { releases, delivery },
    protection,
    traces: { service: traces, tokens: ingestTokens },
    slos,
    notifier,
    incidents,
    security,
    chaos,
    serviceLogs: { logs: serviceLogs, releaseNumber },
    sessions,
    ...(oidc ? { oidc } : {}),
    searchIndexer,
    agents,
    placement: { placement, trees: releaseTrees, rolloutDriver },
    // Service logs in the global search; a log query's times are ISO there, milliseconds here.
    searchSources: [
      serviceLogSource(
        ({ since, until, ...rest }) =>
          serviceLogs.searchServiceLogs({
            ...rest,
            ...(since ? { since: Date.parse(since) } : {}),
            ...(until ? { until: Date.parse(until) } : {}),
          }),
        async (id) => (await store.projects.get(id))?.name ?? null,
      ),
    ],
    publicUrl: () => url,
    onInternalError: (error) => {
      // A coded failure is ours to report but not a bug; anything else is.
      if (error instanceof GantryError) httpLog.warn(LOG.requestFailed, { code: error.code, err: error });
      else httpLog.error(LOG.internalError, { err: error });
      overrides.onInternalError?.(error);
    },
  });

  let remoteChanges: RemoteChanges | null = null;
  let markLeaseLost = () => {};
  const leaseLostPromise = new Promise<void>((resolve) => {
    markLeaseLost = resolve;
  });
  let background: Promise<unknown> | null = null;

  /** The loops that must run once across servers (all of them on SQLite); resumes runs; returns how many. */
  const startBackground = async (): Promise<number> => {
    const starting = (async () => {
      await projects.start(url);
      await delivery.start();
      started = {
        rollups: new RollupRecorder(loopStore, delivery, (message, data) => deliveryLog.warn(message, data), overrides.rollupRecordEveryMs),
      };
      await slos.start();
      await chaos.start();
      notifier.start();
      incidents.start();
      security.start();
      void security
        .refreshAdvisoryFile()
        .catch((error: unknown) => log.child({ component: 'security' }).warn('writing the advisory file failed', { err: error }));
      logBudget.start();
      loki?.start();
      // A store from before search, or one whose index was dropped, is indexed from the event log
      // in the background; a search meanwhile waits for the catch-up.
      searchIndexer.catchUp().catch((error: unknown) => log.child({ component: 'search' }).warn(LOG.searchIndexFailed, { err: error }));
      agents.start();
      placement.watch();
      const resumed = await runs.recover();
      if (resumed > 0) runsLog.info('resuming runs left by the previous server', { runs: resumed });
      // Several servers: a server that dies later leaves runs too; they are resumed here once its lease expired.
      if (store.dialect === 'postgres') recoverLater();
      return resumed;
    })();
    background = starting.catch(() => undefined);
    return starting;
  };

  let recovery: TimerHandle | null = null;
  const recoverLater = () => {
    recovery = systemClock.setTimeout(() => {
      void runs
        .recover()
        .then((resumed) => {
          if (resumed > 0) runsLog.info('resuming runs of a server that is gone', { runs: resumed });
        })
        .catch((error: unknown) => runsLog.warn(LOG.recoveryFailed, { err: error }))
        .finally(() => {
          if (!closing) recoverLater();
        });
    }, options.leaseMs);
  };

  const close = async (): Promise<void> => {
    if (closing) return;
    closing = true;
    if (recovery !== null) systemClock.clearTimeout(recovery);
    log.info('server stopping', { drainMs: options.drainMs });
    await background;
    if (started) {
      await loki?.stop();
      await logBudget.stop();
      await projects.stop();
      await security.stop();
      await chaos.stop();
      await incidents.stop();
      await notifier.stop();
      await slos.stop();
      await searchIndexer.stop();
      await started.rollups.stop();
      await delivery.stop();
    }
    await runs.shutdown(options.drainMs);
    // Agents waiting in a long poll hear "nothing" now rather than when the socket is cut.
    agents.stop();
    placement.close();
    // Released only now that nothing of the loops runs here: the next owner starts at its next claim.
    await lease?.stop();
    // Released once its runs are detached: a survivor resumes them at its next look.
    await serverLease?.stop();
    await remoteChanges?.stop();
    await app.close();
    await store.events
      .append({ type: 'server.stopped', subject: 'server', actor: 'server', data: {}, env: eventEnv() })
      .catch(() => undefined);
    await sessions.settled();
    await store.close();
    log.info('server stopped');
  };

  return {
    app,
    store,
    runs,
    projects,
    delivery,
    sessions,
    log,
    eventEnv,
    createdAdminToken,
    start: async (address) => {
      url = address;
      // Final statuses a crash kept from the forge: the runs that ended in the last day.
      void resendLostStatuses(store, forgeStatus).catch((error: unknown) =>
        forgeLog.warn('resending commit statuses failed', { err: error }),
      );
      // The provider's discovery and keys, read before the first person signs in (not awaited: a provider down now is retried then).
      void oidc?.client.warmUp();
      if (store.dialect === 'sqlite') return startBackground();
      // Other servers on the same PostgreSQL: their changes reach this one's streams, and the
      // background loops run where the lease is held.
      remoteChanges = new RemoteChanges({
        announcements: store.announcements,
        events: store.events,
        hub,
        warn: (message, data) => log.child({ component: 'events' }).warn(message, data),
      });
      await remoteChanges.start();
      serverLease = new LeaseKeeper({
        leases: store.leases,
        clock: systemClock,
        name: serverLeaseName(serverId),
        holder: serverId,
        holderUrl: url,
        ttlMs: options.leaseMs,
        onAcquired: async (token) => {
          serverToken = token;
        },
        // Its run writes are fenced by its token: lost only once a survivor really claimed it.
        loseAtDeadline: false,
        onLost: () => {
          log.error(LOG.serverLeaseLost, { lease: serverLeaseName(serverId) });
          void close().finally(markLeaseLost);
        },
        warn: (message, data) => log.child({ component: 'leases' }).warn(message, data),
      });
      await serverLease.start();
      let resumed = 0;
      lease = new LeaseKeeper({
        leases: store.leases,
        clock: systemClock,
        name: BACKGROUND_LEASE,
        holder: serverId,
        holderUrl: url,
        ttlMs: options.leaseMs,
        onAcquired: async (token) => {
          loopToken = token;
          log.info('this server runs the background loops', { lease: BACKGROUND_LEASE, token });
          await store.events.append({
            type: 'server.lease.acquired',
            subject: 'server',
            actor: 'server',
            data: { lease: BACKGROUND_LEASE, token, url },
            env: eventEnv(),
          });
          resumed = await startBackground();
        },
        onLost: () => {
          log.error(LOG.leaseLost, { lease: BACKGROUND_LEASE });
          void close().finally(markLeaseLost);
        },
        warn: (message, data) => log.child({ component: 'leases' }).warn(message, data),
      });
      await lease.start();
      return resumed;
    },
    close,
    leaseLost: leaseLostPromise,
  };
}

export async function startServer(options: ServerOptions, overrides: StartOverrides = {}): Promise<RunningServer> {
  const parts = await buildServer(options, overrides);
  const { app, store, log } = parts;
  prepareLogPump();
  const address = await app.listen({ host: options.host, port: options.port });
  const url = address.replace('[::1]', 'localhost');
  const infoFile = join(options.dataDir, SERVER_INFO_FILE);
  await writeFile(infoFile, `${JSON.stringify({ url, pid: process.pid, version: GANTRY_VERSION })}\n`, { mode: 0o600 });
  log.info('server listening', { url, store: store.dialect, version: GANTRY_VERSION });
  await store.events.append({
    type: 'server.started',
    subject: 'server',
    actor: 'server',
    data: { url, store: store.dialect },
    env: parts.eventEnv(),
  });
  const resumedRuns = await parts.start(url);
  return {
    url,
    app,
    store,
    runs: parts.runs,
    sessions: parts.sessions,
    createdAdminToken: parts.createdAdminToken,
    resumedRuns,
    log,
    leaseLost: parts.leaseLost,
    close: async () => {
      await parts.close();
      await rm(infoFile, { force: true });
    },
  };
}

/** The proxies, with `beforeRoutes` told of each table before it is sent (tests only). */
function observedRoutes(control: ProxyControl, beforeRoutes: ((table: RouteTable) => void) | undefined): ProxyControl {
  if (!beforeRoutes) return control;
  return {
    open: async (options) => {
      const proxy = await control.open(options);
      const send = proxy.setRoutes.bind(proxy);
      proxy.setRoutes = (table) => {
        beforeRoutes(table);
        return send(table);
      };
      return proxy;
    },
    closeAbandoned: (keys) => control.closeAbandoned(keys),
  };
}

/**
 * The executor, with a line per finished job in the server's log (a failed job is state, so
 * `info`; the executor itself throwing is ours, so `warn` before the driver records the failure).
 */
function loggedRunJob(runJob: RunJob, log: Logger): RunJob {
  return async (spec) => {
    const jobLog = log.child({ runId: spec.runId, jobId: spec.job.key });
    jobLog.debug('job started');
    try {
      const result = await runJob(spec);
      jobLog.info('job finished', { status: result.status, ...(result.error ? { reason: result.error } : {}) });
      return result;
    } catch (error) {
      jobLog.warn(LOG.jobCouldNotRun, { err: error });
      throw error;
    }
  };
}

/**
 * Several servers on PostgreSQL: each job's log is copied into the store as it is written, and its
 * other files (artifacts, tests, SARIF) when it ends, for the other servers to serve.
 */
function sharedJobFiles(runJob: RunJob, store: Store, log: Logger): RunJob {
  if (store.dialect !== 'postgres') return runJob;
  return async (spec) => {
    const warn = (error: unknown) => log.warn(LOG.jobFilesShippingFailed, { runId: spec.runId, jobId: spec.job.key, err: error });
    // Each attempt's log apart: a retry after a crash starts a log of its own.
    const attempt = (await store.runs.jobs(spec.runId)).find((j) => j.key === spec.job.key)?.attempt ?? 1;
    await writingJobLog(spec.logFile);
    const shipping = shipJobLog(store.jobFiles, spec.runId, spec.job.key, spec.logFile, warn, storedLogPath(attempt));
    try {
      return await runJob(spec);
    } finally {
      await shipping.finish();
      await shipJobFiles(store.jobFiles, spec.runId, spec.job.key, dirname(spec.logFile)).catch(warn);
    }
  };
}

/** The server's root logger: options decide format and level, `mask` redacts at the sink. */
function serverLogger(options: ServerOptions, overrides: StartOverrides, mask: (text: string) => string): Logger {
  const forward = overrides.log;
  const destination: LogDestination =
    overrides.logDestination ??
    (forward
      ? {
          write: (line: string) => {
            const { level, msg, time: _time, component: _component, ...data } = JSON.parse(line) as Record<string, unknown>;
            forward(level === 'info' || level === 'debug' ? 'info' : 'warn', String(msg), data);
          },
        }
      : process.stderr);
  return createLogger({
    component: 'server',
    destination,
    ...(forward ? { format: 'json' as const } : options.logFormat ? { format: options.logFormat } : {}),
    level: options.logLevel,
    mask,
    base: { pid: process.pid },
  });
}

/** `<projectId>:<environment>` (the supervisor's grouping key, delivery/environment-key.ts) → its two parts. */
function splitEnvironmentKey(key: string): [string, string] {
  const colon = key.indexOf(':');
  return colon === -1 ? ['', key] : [key.slice(0, colon), key.slice(colon + 1)];
}

/** The password of a `postgres://user:password@…` store URL, if any (it must never be logged). */
function storeUrlPassword(store: string): string | null {
  try {
    const password = decodeURIComponent(new URL(store).password);
    return password || null;
  } catch {
    return null;
  }
}

/**
 * How a job starts this very Gantry (the security job runs `gantry scan` in its sandbox): this
 * Node and this CLI, whether run from the bundle (its entry beside this chunk), the sources (.ts)
 * or the compiled package (.js).
 */
function gantryCommand(): string {
  const bundled = fileURLToPath(new URL('./main.js', import.meta.url));
  const cli = existsSync(bundled)
    ? bundled
    : fileURLToPath(new URL(`../cli/main${extname(fileURLToPath(import.meta.url))}`, import.meta.url));
  const quote = (word: string) => `'${word.replaceAll("'", `'\\''`)}'`;
  return `${quote(process.execPath)} ${quote(cli)}`;
}
