/**
 * Shared plumbing of the progressive-delivery benchmarks (issue 3 §5), black-box only: a real
 * `gantry up`, a local git repository holding a tiny HTTP service (test/e2e/fixtures/service.js)
 * whose gantry.yaml the benchmark writes, releases made the way users make them (commit → push
 * pipeline → automatic release), deploys and rollbacks through the REST API, and an open-loop
 * HTTP load generator that records every request's outcome.
 *
 * Nothing here imports server internals: the benchmarks must keep measuring the product while
 * its insides move (the proxy is about to become its own process).
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { stringify } from 'yaml';
import {
  epochMs,
  gitEnv,
  percentile,
  progress,
  REPO_ROOT,
  round,
  runOk,
  startServer,
  tempDir,
  tempRepo,
  waitFor,
  type ServerHandle,
} from './lib.ts';

// ---------------------------------------------------------------- the API's shapes (as read here)

/** The rollout phases a rollout never leaves. */
export const FINAL_PHASES: ReadonlySet<string> = new Set(['succeeded', 'rolled-back', 'aborted', 'failed']);

/** A decision of the rollout, from its persisted state (`at` in ms since the epoch, server clock). */
export interface HistoryEntry {
  at: number;
  event: string;
  phase: string;
  data: Record<string, unknown>;
}

/** GET /api/projects/:p/environments/:env/rollout, the fields the benchmarks read. */
export interface RolloutView {
  rollout: {
    id: string;
    phase: string;
    releaseId: string;
    state: {
      reason: string | null;
      weights: { stable: number; canary: number };
      history: HistoryEntry[];
      waitingFor: unknown;
      lastAnalysis: unknown;
    };
  } | null;
  environment: { currentReleaseId: string | null; previousReleaseId: string | null } | null;
  live: {
    port: number | null;
    weights: { stable: number; canary: number };
    instances: { id: string; state: string; pool: string; releaseId: string }[];
  };
}

export interface Release {
  id: string;
  number: number;
  sha: string;
}

/** One event of GET /api/events. */
export interface GantryEvent {
  id: number;
  type: string;
  at: string;
  subject: string;
  data: Record<string, unknown>;
}

// ---------------------------------------------------------------- the service and its gantry.yaml

/**
 * What a release's instances do: answer their VERSION, fail a random FAIL_RATE of requests with
 * 500, wait SLOW_MS plus a random delay of JITTER_MS mean (exponential).
 */
export interface ReleaseSpec {
  version: string;
  failRate?: number;
  slowMs?: number;
  jitterMs?: number;
}

/** Service settings common to every release of a benchmark. */
export interface ServiceOptions {
  /** Instances per environment (default 1). */
  instances?: number;
  /** How long a stopped instance may drain (default 5s). */
  drainTimeout?: string;
  /** `environments:` of gantry.yaml as users write it (kebab-case keys, `1%`, `10s`). */
  environments: Record<string, unknown>;
  /** `slos:` of gantry.yaml as users write it (none when absent). */
  slos?: Record<string, unknown>;
}

/** gantry.yaml of one release: a one-step pipeline on pushes to main, the service, the environments. */
export function gantryYaml(spec: ReleaseSpec, o: ServiceOptions): string {
  return stringify({
    pipeline: { on: { push: { branches: ['main'] } }, jobs: { build: { steps: ['node --check server.js'] } } },
    service: {
      run: 'node server.js',
      instances: o.instances ?? 1,
      env: {
        VERSION: spec.version,
        FAIL_RATE: String(spec.failRate ?? 0),
        SLOW_MS: String(spec.slowMs ?? 0),
        JITTER_MS: String(spec.jitterMs ?? 0),
      },
      health: { path: '/healthz', readiness: { interval: '100ms' } },
      stop: { 'drain-timeout': o.drainTimeout ?? '5s' },
    },
    environments: o.environments,
    ...(o.slos === undefined ? {} : { slos: o.slos }),
  });
}

/**
 * The analysis both delivery benchmarks run (issue "Hardening"): the bounds a team would write for
 * a service with 1 % background errors, plus ANALYSIS (JSON, gantry.yaml spelling) merged over
 * them — e.g. `ANALYSIS='{"window":"10s","confidence":"99%","min-errors":1}'` is the analysis as
 * it was before that issue.
 */
export function benchAnalysis(): Record<string, unknown> {
  return {
    'error-rate': { max: '5%', 'max-increase': '2%' },
    'latency-p99': { 'max-increase': '50ms' },
    ...(JSON.parse(process.env.ANALYSIS ?? '{}') as Record<string, unknown>),
  };
}

/** The background noise of every release in the delivery benchmarks: BASE_FAIL_RATE [0.01] random errors, JITTER_MS [20] mean extra latency. */
export function benchNoise(): { failRate: number; jitterMs: number } {
  return { failRate: Number(process.env.BASE_FAIL_RATE ?? 0.01), jitterMs: Number(process.env.JITTER_MS ?? 20) };
}

/** A canary strategy with one or more steps and an analysis, as gantry.yaml spells it. */
export function canaryStrategy(steps: { weight: number; pause: string }[], analysis: Record<string, unknown>): Record<string, unknown> {
  return { canary: { steps, analysis } };
}

// ---------------------------------------------------------------- server + project

/**
 * A running server with one registered project. Releases are made by committing a gantry.yaml
 * and waiting for the automatic release of that commit; deploys and rollbacks go through the API.
 */
export class DeliveryBench {
  readonly server: ServerHandle;
  readonly project: string;
  readonly #repo: string;
  readonly #service: ServiceOptions;

  private constructor(server: ServerHandle, project: string, repo: string, service: ServiceOptions) {
    this.server = server;
    this.project = project;
    this.#repo = repo;
    this.#service = service;
  }

  /**
   * Starts `gantry up` on a fresh data dir and registers a repo with the fixture service in it;
   * given `shared` (another bench's server), registers one more project there instead.
   */
  static async create(service: ServiceOptions, project = 'bench', shared?: ServerHandle): Promise<DeliveryBench> {
    const fixture = await readFile(join(REPO_ROOT, 'test', 'e2e', 'fixtures', 'service.js'), 'utf8');
    const repo = await tempRepo('delivery', gantryYaml({ version: 'v0' }, service), { 'server.js': fixture });
    const server = shared ?? (await startDeliveryServer());
    await server.api('POST', '/api/projects', { path: repo, name: project });
    return new DeliveryBench(server, project, repo, service);
  }

  /** Commits gantry.yaml for `spec`, waits for the push run and its automatic release. */
  async release(spec: ReleaseSpec, timeoutMs = 60_000): Promise<Release> {
    await writeFile(join(this.#repo, 'gantry.yaml'), gantryYaml(spec, this.#service));
    await runOk(['git', 'commit', '-q', '-am', `release ${spec.version}`], { cwd: this.#repo, env: gitEnv() });
    const sha = (await runOk(['git', 'rev-parse', 'HEAD'], { cwd: this.#repo, env: gitEnv() })).stdout.trim();
    const release = await waitFor(
      `the automatic release of ${spec.version} (${sha.slice(0, 8)})`,
      async () => {
        const { releases } = await this.server.api<{ releases: Release[] }>('GET', `/api/projects/${this.project}/releases`);
        return releases.find((r) => r.sha === sha);
      },
      timeoutMs,
      100,
    );
    progress(
      `release #${release.number} = ${spec.version} (fail ${spec.failRate ?? 0}, slow ${spec.slowMs ?? 0} ms, jitter ${spec.jitterMs ?? 0} ms)`,
    );
    return release;
  }

  rollout(env: string): Promise<RolloutView> {
    return this.server.api<RolloutView>('GET', `/api/projects/${this.project}/environments/${env}/rollout`);
  }

  /** POST …/deploy; returns the new rollout's id. */
  async deploy(env: string, release: Release): Promise<string> {
    const r = await this.server.api<{ rollout: { id: string } }>('POST', `/api/projects/${this.project}/environments/${env}/deploy`, {
      release: release.id,
    });
    return r.rollout.id;
  }

  /** POST …/rollback (to the previous release); returns the new rollout's id. */
  async rollback(env: string): Promise<string> {
    const r = await this.server.api<{ rollout: { id: string } }>('POST', `/api/projects/${this.project}/environments/${env}/rollback`);
    return r.rollout.id;
  }

  /**
   * Waits until rollout `id` of `env` is final. A timeout is reported with the last view (phase,
   * what it waits for, instances) because a stuck rollout is a finding, not noise.
   */
  async settled(env: string, id: string, timeoutMs = 60_000, everyMs = 50): Promise<RolloutView> {
    let last: RolloutView | undefined;
    try {
      return await waitFor(
        `rollout ${id} in ${env} to settle`,
        async () => {
          last = await this.rollout(env);
          return last.rollout?.id === id && FINAL_PHASES.has(last.rollout.phase) ? last : undefined;
        },
        timeoutMs,
        everyMs,
      );
    } catch (error) {
      const r = last?.rollout;
      throw new Error(
        `${(error as Error).message}; last seen: phase ${r?.phase ?? '?'}, waiting for ${JSON.stringify(r?.state.waitingFor ?? null)}, weights ${JSON.stringify(last?.live.weights)}, instances ${JSON.stringify(last?.live.instances.map((i) => `${i.id}:${i.pool}:${i.state}`))}`,
        { cause: error },
      );
    }
  }

  /** The events of one rollout (GET /api/events?subject=rollout:<id>). */
  async events(rolloutId: string): Promise<GantryEvent[]> {
    return (await this.server.api<{ events: GantryEvent[] }>('GET', `/api/events?subject=${encodeURIComponent(`rollout:${rolloutId}`)}`))
      .events;
  }

  /** The environment's proxy port (known once the environment has been deployed to). */
  async port(env: string): Promise<number> {
    const port = (await this.rollout(env)).live.port;
    if (port === null) throw new Error(`${env} has no proxy port yet`);
    return port;
  }
}

/** `gantry up` on a fresh data dir, whose service instances are killed when this process exits. */
async function startDeliveryServer(): Promise<ServerHandle> {
  const dataDir = await tempDir('delivery-data');
  // Generous: on a loaded shared machine a cold start has taken over 30 s.
  const server = await startServer({ dataDir, readyTimeoutMs: 90_000 });
  // Service instances outlive `gantry up` by design (a restarted server adopts them) and the
  // API has no way to stop an environment, so at exit — after lib.ts has stopped the server,
  // also on deadline or Ctrl-C — kill every process it left under this data dir.
  process.once('exit', () => killLeftInstances(dataDir, server.pid));
  progress(`server up at ${server.url} (pid ${server.pid}) in ${round(server.readyMs)} ms`);
  return server;
}

/**
 * SIGKILLs the process trees the server started under `dataDir` (instances: bwrap, or a shell
 * whose working directory is a release dir there); synchronous, for an `exit` handler. Matches
 * only processes naming the data dir in their command line or working directory, never the
 * server itself or this process.
 */
export function killLeftInstances(dataDir: string, serverPid: number): number {
  const parents = new Map<number, number>();
  const roots: number[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid || pid === serverPid) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      parents.set(pid, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      let cwd = '';
      try {
        cwd = readlinkSync(`/proc/${pid}/cwd`);
      } catch {
        /* another user's process */
      }
      if (cmdline.includes(dataDir) || cwd.startsWith(dataDir)) roots.push(pid);
    } catch {
      // Gone meanwhile.
    }
  }
  const doomed = new Set(roots);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, ppid] of parents)
      if (!doomed.has(pid) && doomed.has(ppid)) {
        doomed.add(pid);
        grew = true;
      }
  }
  for (const pid of doomed) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  return doomed.size;
}

/** The first history entry that moved the rollout into `phase`, if any. */
export function phaseEntry(view: RolloutView, phase: string): HistoryEntry | undefined {
  return view.rollout?.state.history.find((h) => h.phase === phase);
}

// ---------------------------------------------------------------- load

/**
 * How a request ended. `app-5xx` is a 5xx the service itself produced (its body says "failed");
 * everything but `ok` and `app-5xx` is a failure Gantry is answerable for.
 */
export type Outcome = 'ok' | 'app-5xx' | 'proxy-5xx' | 'unknown-5xx' | 'other-status' | 'error';

/** One request, times in ms since the epoch (comparable with the server's `Date.now()`). */
export interface RequestRecord {
  /** When the open-loop schedule said to send it. */
  dueMs: number;
  sentMs: number;
  doneMs: number;
  status: number | null;
  /** The VERSION in the answer's body (null when none). */
  version: string | null;
  outcome: Outcome;
  /** Error code (ECONNRESET…), or the proxy's `x-gantry-proxy-error` code. */
  detail?: string;
  /** Whether the request went out on a reused keep-alive connection. */
  reusedSocket: boolean;
}

export interface LoadOptions {
  port: number;
  /** Requests per second, sent on schedule whatever the answers do (open loop). */
  rate: number;
  host?: string;
  path?: string;
  /** A request unanswered after this is an error (default 10 s). */
  timeoutMs?: number;
  /** Cap on concurrent connections (default 256; queueing beyond shows up as latency). */
  maxSockets?: number;
}

/**
 * An open-loop load generator: request i is due at start + i/rate and is sent then, on a
 * keep-alive connection, whether or not earlier ones have answered — a slow or stuck proxy does
 * not slow the load down (no coordinated omission). Latency counts from the due time.
 */
export class OpenLoopLoad {
  readonly records: RequestRecord[] = [];
  readonly #o: Required<LoadOptions>;
  readonly #agent: Agent;
  readonly #inFlight = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | null = null;
  #startedMs = 0;
  #sent = 0;
  #stopped = false;

  constructor(o: LoadOptions) {
    this.#o = { host: '127.0.0.1', path: '/', timeoutMs: 10_000, maxSockets: 256, ...o };
    this.#agent = new Agent({ keepAlive: true, maxSockets: this.#o.maxSockets });
  }

  start(): this {
    this.#startedMs = epochMs();
    this.#pump();
    return this;
  }

  /** Stops sending, waits for the requests in flight, closes the connections. */
  async stop(): Promise<RequestRecord[]> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await Promise.all([...this.#inFlight]);
    this.#agent.destroy();
    return this.records;
  }

  #pump(): void {
    if (this.#stopped) return;
    const interval = 1000 / this.#o.rate;
    const now = epochMs();
    while (this.#startedMs + this.#sent * interval <= now) {
      this.#send(this.#startedMs + this.#sent * interval);
      this.#sent += 1;
    }
    const next = this.#startedMs + this.#sent * interval;
    this.#timer = setTimeout(() => this.#pump(), Math.max(0, next - epochMs()));
  }

  #send(dueMs: number): void {
    const sentMs = epochMs();
    const p = new Promise<void>((resolve) => {
      let settled = false;
      const finish = (r: Omit<RequestRecord, 'dueMs' | 'sentMs' | 'doneMs' | 'reusedSocket'>) => {
        if (settled) return;
        settled = true;
        this.records.push({ dueMs, sentMs, doneMs: epochMs(), reusedSocket: req.reusedSocket, ...r });
        resolve();
      };
      const req = httpRequest({ host: this.#o.host, port: this.#o.port, path: this.#o.path, agent: this.#agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e: NodeJS.ErrnoException) =>
          finish({ status: res.statusCode ?? null, version: null, outcome: 'error', detail: `response ${e.code ?? e.message}` }),
        );
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const body = Buffer.concat(chunks).toString('utf8').trim();
          const proxyError = res.headers['x-gantry-proxy-error'];
          const appFailed = / failed$/.test(body);
          const version = proxyError ? null : body.replace(/ failed$/, '') || null;
          const outcome: Outcome =
            status >= 200 && status < 300
              ? 'ok'
              : status >= 500
                ? proxyError
                  ? 'proxy-5xx'
                  : appFailed
                    ? 'app-5xx'
                    : 'unknown-5xx'
                : 'other-status';
          finish({
            status,
            version,
            outcome,
            ...(proxyError
              ? { detail: `${status} ${String(proxyError)}` }
              : outcome === 'ok' || outcome === 'app-5xx'
                ? {}
                : { detail: `${status} ${body.slice(0, 80)}` }),
          });
        });
      });
      req.setTimeout(this.#o.timeoutMs, () => req.destroy(Object.assign(new Error('client timeout'), { code: 'CLIENT_TIMEOUT' })));
      req.on('error', (e: NodeJS.ErrnoException) => finish({ status: null, version: null, outcome: 'error', detail: e.code ?? e.message }));
      req.end();
    });
    this.#inFlight.add(p);
    void p.then(() => this.#inFlight.delete(p));
  }
}

/** Whether a request is one Gantry failed (a connection error, or a 5xx the app did not produce). */
export function isFailure(r: RequestRecord): boolean {
  return r.outcome !== 'ok' && r.outcome !== 'app-5xx';
}

/** Totals, failures by kind (with the first few in full) and latency from the due time. */
export function summarize(records: RequestRecord[], o: { examples?: number } = {}): Record<string, unknown> {
  const byOutcome: Record<string, number> = {};
  const failuresByKind: Record<string, number> = {};
  const versions: Record<string, number> = {};
  for (const r of records) {
    byOutcome[r.outcome] = (byOutcome[r.outcome] ?? 0) + 1;
    if (r.version) versions[r.version] = (versions[r.version] ?? 0) + 1;
    if (isFailure(r)) {
      const kind = `${r.outcome}:${r.detail ?? '?'}${r.outcome === 'error' && r.reusedSocket ? ' (reused keep-alive socket)' : ''}`;
      failuresByKind[kind] = (failuresByKind[kind] ?? 0) + 1;
    }
  }
  const latencies = records.filter((r) => r.status !== null).map((r) => r.doneMs - r.dueMs);
  const failures = records.filter(isFailure);
  // reduce, not Math.min(...xs): a long run has more records than a call may take arguments.
  const first = records.reduce((m, r) => Math.min(m, r.dueMs), Infinity);
  const last = records.reduce((m, r) => Math.max(m, r.dueMs), -Infinity);
  return {
    requests: records.length,
    achieved_rate_per_s: records.length > 1 ? round((records.length - 1) / ((last - first) / 1000), 1) : 0,
    by_outcome: byOutcome,
    failed: failures.length,
    failures_by_kind: failuresByKind,
    failure_examples: failures.slice(0, o.examples ?? 5).map((r) => ({
      at: new Date(r.sentMs).toISOString(),
      outcome: r.outcome,
      detail: r.detail,
      status: r.status,
      reused_socket: r.reusedSocket,
    })),
    versions,
    // How late the generator itself sent requests: large values mean it, not Gantry, fell behind.
    send_lag_ms:
      records.length === 0
        ? null
        : {
            p99: round(
              percentile(
                records.map((r) => r.sentMs - r.dueMs),
                99,
              ),
            ),
          },
    latency_ms:
      latencies.length === 0
        ? null
        : {
            p50: round(percentile(latencies, 50)),
            p99: round(percentile(latencies, 99)),
            p999: round(percentile(latencies, 99.9)),
            max: round(latencies.reduce((m, v) => Math.max(m, v), 0)),
          },
  };
}
