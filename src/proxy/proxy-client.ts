/**
 * The server's side of an environment's proxy process (proxy-host.ts). The traffic proxy runs in
 * its own detached process so that traffic keeps flowing by its last route table while the server
 * is busy, restarting or killed (issue 3, §3–§4); this client starts that process or adopts the
 * one already running, and steers it over a control socket only the server's user can open.
 *
 * Files, under `<dataDir>/proxies/<sha256(environmentKey)[0..16]>/` (mode 0700; a hash keeps the
 * socket path well under the 107 bytes Unix sockets allow):
 * - `host.json`: pid, start time (field 22 of /proc/<pid>/stat: pids are reused), key, address.
 * - `routes.json`: the last route table, written (atomic rename) before it is applied.
 * - `control.sock`: JSON over HTTP, mode 0600.
 * - `fence.json`: the highest lease token the process obeyed (several servers: see proxy-host.ts).
 * - `host.log`: the process's stdout and stderr.
 */
import type { FaultCallersRequest, FaultReport, FaultSetRequest } from './chaos-faults.ts';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync } from 'node:fs';
import type { Agent } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GantryError, InputError } from '../core/errors.ts';
import type { ErrorCode } from '../core/error-codes.ts';
import { childEnv } from '../platform/child-env.ts';
import { HttpAgent, httpRequest } from '../platform/node-http.ts';
import { startTimeOf } from '../platform/proc.ts';
import type { Pool, RollupBatch, WindowStats } from './request-metrics.ts';
import type { RouteTable } from './route-table.ts';
import type { RuntimeReport } from './runtime-pauses.ts';

/** Stable code of every failure to reach or steer a proxy process. */
export const PROXY_CONTROL_UNAVAILABLE = 'PROXY_CONTROL_UNAVAILABLE' satisfies ErrorCode;
/** Stable code of a proxy process that exited before it was ready (port taken, …). */
export const PROXY_START_FAILED = 'PROXY_START_FAILED' satisfies ErrorCode;
/** Stable code of a command the proxy refused because it carried an older lease token than one it obeyed. */
export const PROXY_FENCED = 'PROXY_FENCED' satisfies ErrorCode;
/** The control request header carrying the sender's background-loops lease token. */
export const FENCE_HEADER = 'x-gantry-fence';

/** The control socket did not answer (in time) or answered nonsense: the proxy keeps its last table. */
export class ProxyControlError extends GantryError {
  constructor(message: string, details?: unknown) {
    super(PROXY_CONTROL_UNAVAILABLE, message, details);
  }
}

/**
 * The proxy refused a command: another server holding a newer lease token already steered it, so
 * this one was taken over (paused past its lease). The proxy keeps the newer owner's table.
 */
export class ProxyFencedError extends GantryError {
  constructor(message: string, details?: unknown) {
    super(PROXY_FENCED, message, details);
  }
}

/** The proxy process could not start; `message` carries its own reason (e.g. `listen EADDRINUSE`). */
export class ProxyStartError extends GantryError {
  constructor(message: string, details?: unknown) {
    super(PROXY_START_FAILED, message, details);
  }
}

/** What identifies a running proxy process (`host.json`, and `GET /health`). */
export interface ProxyHostRecord {
  pid: number;
  startTime: string;
  environmentKey: string;
  label: string;
  host: string;
  port: number;
}

/** Where an environment's proxy process keeps its files. */
export function proxyDir(dataDir: string, environmentKey: string): string {
  return join(dataDir, 'proxies', createHash('sha256').update(environmentKey).digest('hex').slice(0, 16));
}

/** File names inside `proxyDir`. */
export const PROXY_FILES = {
  host: 'host.json',
  routes: 'routes.json',
  socket: 'control.sock',
  log: 'host.log',
  fence: 'fence.json',
} as const;

/** Start time of a live process (field 22 of /proc/<pid>/stat), null when gone or a zombie. */
export const processStartTime = startTimeOf;

/** Options of `ProxyClient.start`. */
export interface ProxyStartOptions {
  dataDir: string;
  /** Identifies the environment across restarts (the server uses `<projectId>:<environment>`). */
  environmentKey: string;
  /** Metrics label of the environment (`project/environment`). */
  label: string;
  host: string;
  /** 0: any free port, or whichever the running process has. */
  port: number;
  /** How long the process may take to answer its first ping; default 10 s. */
  startTimeoutMs?: number;
  /** Deadline of one control call (drained adds its own wait); default 5 s. */
  controlTimeoutMs?: number;
  /** Restart the process when it dies while this client is attached; default true. */
  watch?: boolean;
  /**
   * Several servers: the sender's background-loops lease token, sent with every control call
   * (null while it holds none). The proxy refuses commands carrying a lower token than one it
   * already obeyed (`ProxyFencedError`), so a server paused past its lease cannot overwrite
   * what the new owner told it.
   */
  fence?: () => number | null;
}

/**
 * V8 flags of the proxy process. A young generation of 16 MB semi-spaces from the start: the proxy
 * allocates a few KB per request that die young, and V8's default (1 MB, grown only when much
 * survives, which here it never does) scavenged every ~400 requests; at 16 MB it is every ~4,000,
 * ten times fewer pauses in the requests' path for the same work (each scavenge copies only what
 * is in flight). Costs up to ~32 MB of RSS per proxy process.
 */
export const PROXY_NODE_FLAGS = ['--min-semi-space-size=16', '--max-semi-space-size=16'] as const;

const HOST_FILE = new URL(`./proxy-host-main.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url);
const WATCH_MS = 1000;

function readRecord(dir: string): ProxyHostRecord | null {
  try {
    const r = JSON.parse(readFileSync(join(dir, PROXY_FILES.host), 'utf8')) as ProxyHostRecord;
    return typeof r.pid === 'number' && typeof r.startTime === 'string' ? r : null;
  } catch {
    return null;
  }
}

function isSame(record: ProxyHostRecord): boolean {
  return processStartTime(record.pid) === record.startTime;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One environment's proxy process, as the server steers it. `setRoutes` calls are sent one at a
 * time in call order (a later table never overtakes an earlier one); calls queued behind one in
 * flight are coalesced into the newest table, which is what the proxy would end up with anyway.
 * Every control call has a deadline and fails with `ProxyControlError`, never hangs; whatever
 * fails, the process keeps routing by the last table it accepted.
 */
export class ProxyClient {
  readonly environmentKey: string;
  readonly label: string;
  readonly host: string;
  readonly port: number;
  readonly dir: string;
  /** Whether `start` found the process already running (as opposed to spawning it). */
  readonly adopted: boolean;
  #record: ProxyHostRecord;
  readonly #o: ProxyStartOptions;
  readonly #socket: string;
  readonly #timeoutMs: number;
  #agent: Agent;
  #sending: Promise<void> | null = null;
  #pending: { table: RouteTable; waiters: { resolve: () => void; reject: (e: unknown) => void }[] } | null = null;
  #lastTable: RouteTable | null = null;
  #watcher: NodeJS.Timeout | null = null;
  #respawning: Promise<void> | null = null;
  #released = false;

  private constructor(o: ProxyStartOptions, record: ProxyHostRecord, adopted: boolean) {
    this.#o = o;
    this.environmentKey = o.environmentKey;
    this.label = o.label;
    this.host = record.host;
    this.port = record.port;
    this.dir = proxyDir(o.dataDir, o.environmentKey);
    this.adopted = adopted;
    this.#record = record;
    this.#socket = join(this.dir, PROXY_FILES.socket);
    this.#timeoutMs = o.controlTimeoutMs ?? 5000;
    this.#agent = new HttpAgent({ keepAlive: true, maxSockets: 4 });
    if (o.watch ?? true) {
      this.#watcher = setInterval(() => this.#watch(), WATCH_MS);
      this.#watcher.unref();
    }
  }

  /** Pid of the proxy process (changes only if it died and was started again). */
  get pid(): number {
    return this.#record.pid;
  }

  /**
   * Adopts the environment's running proxy process (same pid and start time as recorded, and it
   * answers a ping) or spawns one, which routes by the persisted table at once. A running one on
   * another address is shut down first (the environment was exposed elsewhere).
   * Throws ProxyStartError when the process exits before it is ready, ProxyControlError when a
   * live one does not answer.
   */
  static async start(o: ProxyStartOptions): Promise<ProxyClient> {
    const dir = proxyDir(o.dataDir, o.environmentKey);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const existing = readRecord(dir);
    if (existing && isSame(existing)) {
      const health = await ping(join(dir, PROXY_FILES.socket), o.controlTimeoutMs ?? 5000, 3);
      if (health.pid !== existing.pid)
        throw new ProxyControlError(
          `the proxy of ${o.label} answering on its control socket is process ${health.pid}, not ${existing.pid}`,
        );
      if (health.host === o.host && (o.port === 0 || health.port === o.port)) return new ProxyClient(o, health, true);
      await shutdown(join(dir, PROXY_FILES.socket), health, o.controlTimeoutMs ?? 5000, o.fence?.() ?? null);
    }
    const record = await spawnHost(o, dir);
    return new ProxyClient(o, record, false);
  }

  /** Every proxy process running under `dataDir` (live, answering), as attached clients. */
  static async adoptAll(
    dataDir: string,
    o: { controlTimeoutMs?: number; watch?: boolean; fence?: () => number | null } = {},
  ): Promise<ProxyClient[]> {
    let names: string[];
    try {
      names = readdirSync(join(dataDir, 'proxies'));
    } catch {
      return [];
    }
    const out: ProxyClient[] = [];
    for (const name of names) {
      const record = readRecord(join(dataDir, 'proxies', name));
      if (!record || !isSame(record)) continue;
      const start: ProxyStartOptions = {
        dataDir,
        environmentKey: record.environmentKey,
        label: record.label,
        host: record.host,
        port: record.port,
        ...o,
      };
      if (proxyDir(dataDir, record.environmentKey) !== join(dataDir, 'proxies', name)) continue;
      const health = await ping(join(dataDir, 'proxies', name, PROXY_FILES.socket), o.controlTimeoutMs ?? 5000, 1).catch(() => null);
      if (health?.pid === record.pid) out.push(new ProxyClient(start, health, true));
    }
    return out;
  }

  /**
   * Replaces the proxy's route table; resolves once the proxy persisted and applied it (or a
   * newer one queued behind it). InputError (old table kept) for an invalid table.
   */
  setRoutes(table: RouteTable): Promise<void> {
    this.#lastTable = table;
    return new Promise((resolve, reject) => {
      if (this.#pending) {
        this.#pending.table = table;
        this.#pending.waiters.push({ resolve, reject });
      } else {
        this.#pending = { table, waiters: [{ resolve, reject }] };
      }
      this.#sending ??= this.#sendLoop();
    });
  }

  async #sendLoop(): Promise<void> {
    while (this.#pending) {
      const { table, waiters } = this.#pending;
      this.#pending = null;
      try {
        await this.#call('PUT', '/routes', { body: JSON.stringify(table) });
        for (const w of waiters) w.resolve();
      } catch (error) {
        for (const w of waiters) w.reject(error);
      }
    }
    this.#sending = null;
  }

  /** True once no request (or tunnel) is in flight to `upstreamId`, false after `timeoutMs`. */
  async drained(upstreamId: string, timeoutMs: number): Promise<boolean> {
    const q = new URLSearchParams({ upstream: upstreamId, timeoutMs: String(timeoutMs) });
    const r = await this.#call('GET', `/drained?${q}`, { timeoutMs: timeoutMs + this.#timeoutMs });
    return (JSON.parse(r) as { drained: boolean }).drained;
  }

  /** The proxy's request metrics over [sinceMs, untilMs) (see `RequestMetrics.window`). */
  async window(sinceMs: number, untilMs: number, filter: { version?: string; pool?: Pool } = {}): Promise<WindowStats> {
    const q = new URLSearchParams({ since: String(sinceMs), until: String(untilMs) });
    if (filter.version !== undefined) q.set('version', filter.version);
    if (filter.pool !== undefined) q.set('pool', filter.pool);
    return JSON.parse(await this.#call('GET', `/window?${q}`)) as WindowStats;
  }

  /**
   * The completed ten-second roll-ups the proxy still keeps: store them, then `ackRollups(through)`.
   * Until then every read returns them again. A proxy process older than acknowledgements (still
   * running from before an upgrade) hands them over once, as it always did.
   */
  async readRollups(): Promise<RollupBatch> {
    try {
      return JSON.parse(await this.#call('GET', '/rollups')) as RollupBatch;
    } catch (error) {
      if (!(error instanceof ProxyControlError && (error.details as { status?: number } | undefined)?.status === 404)) throw error;
      const rollups = JSON.parse(await this.#call('POST', '/rollups/drain')) as RollupBatch['rollups'];
      return { rollups, through: 0, dropped: 0 };
    }
  }

  /** Tells the proxy the roll-ups up to `through` are stored: it forgets them. Idempotent. */
  async ackRollups(through: number): Promise<void> {
    if (through <= 0) return;
    await this.#call('POST', `/rollups/ack?through=${through}`);
  }

  /** Sets a chaos experiment's faults; the proxy clears them by itself at `deadlineAt` (epoch ms). */
  async setFaults(set: FaultSetRequest): Promise<void> {
    await this.#call('PUT', '/faults', { body: JSON.stringify(set) });
  }

  /** Gives the service-edge faults set for an experiment their callers' instances as they are now; counts and deadline go on. */
  async followCallers(callers: FaultCallersRequest): Promise<void> {
    await this.#call('PUT', '/faults/callers', { body: JSON.stringify(callers) });
  }

  /** Clears an experiment's faults now (idempotent); the report of how far they went. */
  async clearFaults(experimentId: string): Promise<FaultReport | null> {
    return JSON.parse(await this.#call('DELETE', `/faults?${new URLSearchParams({ experiment: experimentId })}`)) as FaultReport | null;
  }

  /** The faults' report: the experiment set now, or how the last one ended. */
  async faultReport(): Promise<FaultReport | null> {
    return JSON.parse(await this.#call('GET', '/faults')) as FaultReport | null;
  }

  /** The proxy's metrics in Prometheus text format. */
  prometheus(): Promise<string> {
    return this.#call('GET', '/metrics');
  }

  /**
   * The process's GC and event-loop pauses since the previous call with `reset` (watched from the
   * first call on), and the upstream connections it opened: what its own share of a request's latency was.
   */
  async runtime(reset: boolean): Promise<RuntimeReport> {
    return JSON.parse(await this.#call('GET', `/runtime${reset ? '?reset=1' : ''}`)) as RuntimeReport;
  }

  /** Identity and address of the process, as it reports them. */
  async health(): Promise<ProxyHostRecord> {
    return JSON.parse(await this.#call('GET', '/health')) as ProxyHostRecord;
  }

  /** Stops the proxy process gracefully (in-flight requests finish) and waits until it is gone. */
  async close(): Promise<void> {
    await this.#flush();
    this.#release();
    await shutdown(this.#socket, this.#record, this.#timeoutMs, this.#o.fence?.() ?? null);
  }

  /** Leaves the proxy process running by its last table (server shutdown); sends queued tables first. */
  async detach(): Promise<void> {
    await this.#flush();
    this.#release();
  }

  async #flush(): Promise<void> {
    const sending = this.#sending;
    if (sending) await sending;
  }

  #release(): void {
    this.#released = true;
    if (this.#watcher) clearInterval(this.#watcher);
    this.#watcher = null;
    this.#agent.destroy();
  }

  /** A process that died under us is started again; it routes by its persisted table, then ours. */
  #watch(): void {
    if (this.#released || this.#respawning || isSame(this.#record)) return;
    this.#respawning = (async () => {
      try {
        this.#record = await spawnHost({ ...this.#o, host: this.host, port: this.port }, this.dir);
        this.#agent.destroy();
        this.#agent = new HttpAgent({ keepAlive: true, maxSockets: 4 });
        if (this.#lastTable && !this.#released) await this.setRoutes(this.#lastTable);
      } catch {
        // Tried again on the next tick.
      } finally {
        this.#respawning = null;
      }
    })();
  }

  #call(method: string, path: string, o: { body?: string; timeoutMs?: number } = {}): Promise<string> {
    if (this.#released) return Promise.reject(new ProxyControlError(`the proxy client of ${this.label} was closed or detached`));
    return control(this.#socket, method, path, {
      ...o,
      timeoutMs: o.timeoutMs ?? this.#timeoutMs,
      agent: this.#agent,
      label: this.label,
      fence: this.#o.fence?.() ?? null,
    });
  }
}

interface ControlOptions {
  body?: string;
  timeoutMs: number;
  agent?: Agent;
  label?: string;
  fence?: number | null;
}

/**
 * One control request; the answer's body on 2xx, InputError on 400, ProxyFencedError on a refused
 * token, ProxyControlError otherwise. Sent again once when a kept-alive connection turns out
 * closed (the proxy ends idle ones after 5 s; a server paused longer, by GC or SIGSTOP, finds them
 * dead on waking): every control call is idempotent. The second try opens a connection of its own:
 * the pool's other idle ones died in the same pause, and the client has not seen that yet.
 */
async function control(socketPath: string, method: string, path: string, o: ControlOptions): Promise<string> {
  try {
    return await controlOnce(socketPath, method, path, o);
  } catch (error) {
    const details =
      error instanceof ProxyControlError ? (error.details as { code?: string; reusedSocket?: boolean } | undefined) : undefined;
    if (!details?.reusedSocket || (details.code !== 'ECONNRESET' && details.code !== 'EPIPE')) throw error;
    return controlOnce(socketPath, method, path, { ...o, agent: undefined });
  }
}

function controlOnce(socketPath: string, method: string, path: string, o: ControlOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const what = `the proxy control socket of ${o.label ?? socketPath}`;
    const req = httpRequest(
      {
        socketPath,
        method,
        path,
        agent: o.agent ?? false,
        headers: {
          ...(o.body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(o.body) }),
          ...(o.fence === null || o.fence === undefined ? {} : { [FENCE_HEADER]: String(o.fence) }),
        },
        signal: AbortSignal.timeout(o.timeoutMs),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) => reject(new ProxyControlError(`${what} failed mid-answer: ${e.message}`)));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            resolve(text);
            return;
          }
          let message = text;
          let code: string | undefined;
          try {
            ({ message, code } = (JSON.parse(text) as { error: { message: string; code?: string } }).error);
          } catch {
            // not our JSON: keep the text
          }
          if (code === PROXY_FENCED) {
            reject(new ProxyFencedError(`${what} refused the command: ${message}`, { status }));
            return;
          }
          reject(status === 400 ? new InputError(message) : new ProxyControlError(`${what} answered ${status}: ${message}`, { status }));
        });
      },
    );
    req.on('error', (e: NodeJS.ErrnoException) => {
      const why =
        e.name === 'AbortError' || e.name === 'TimeoutError' ? `no answer within ${o.timeoutMs} ms` : `${e.code ?? e.name}: ${e.message}`;
      reject(new ProxyControlError(`${what}: ${why}`, { code: e.code, reusedSocket: req.reusedSocket }));
    });
    req.end(o.body);
  });
}

async function ping(socketPath: string, timeoutMs: number, attempts: number): Promise<ProxyHostRecord> {
  for (let i = 1; ; i++) {
    try {
      return JSON.parse(await control(socketPath, 'GET', '/health', { timeoutMs })) as ProxyHostRecord;
    } catch (error) {
      if (i >= attempts) throw error;
      await sleep(100 * i);
    }
  }
}

/** Asks the process to stop, waits for it to be gone, and kills its group if it will not. */
async function shutdown(socketPath: string, record: ProxyHostRecord, timeoutMs: number, fence: number | null = null): Promise<void> {
  try {
    await control(socketPath, 'POST', '/shutdown', { timeoutMs, fence });
  } catch (error) {
    // A newer lease holder steers this proxy: neither ask nor kill.
    if (error instanceof ProxyFencedError) throw error;
  }
  // The proxy lets in-flight requests finish for up to 5 s.
  const deadline = Date.now() + 5000 + timeoutMs;
  while (isSame(record) && Date.now() < deadline) await sleep(20);
  if (isSame(record)) {
    try {
      process.kill(-record.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    while (isSame(record)) await sleep(20);
  }
}

/** Spawns the proxy process (detached, own process group) and waits for its first answer. */
async function spawnHost(o: ProxyStartOptions, dir: string): Promise<ProxyHostRecord> {
  const socketPath = join(dir, PROXY_FILES.socket);
  if (Buffer.byteLength(socketPath) > 107)
    throw new ProxyStartError(
      `the proxy control socket path ${socketPath} is longer than Unix sockets allow (107 bytes): use a shorter data directory`,
    );
  const logFile = join(dir, PROXY_FILES.log);
  const log = openSync(logFile, 'a', 0o600);
  let exited: string | null = null;
  let child;
  try {
    child = spawn(
      process.execPath,
      [
        ...PROXY_NODE_FLAGS,
        fileURLToPath(HOST_FILE),
        '--dir',
        dir,
        '--key',
        o.environmentKey,
        '--label',
        o.label,
        '--host',
        o.host,
        '--port',
        String(o.port),
      ],
      {
        detached: true,
        stdio: ['ignore', log, log],
        cwd: dir,
        // The proxy needs no secrets of the server's environment.
        env: childEnv({ set: process.env.GANTRY_LOG_LEVEL ? { GANTRY_LOG_LEVEL: process.env.GANTRY_LOG_LEVEL } : {} }),
      },
    );
  } finally {
    closeSync(log);
  }
  child.on('error', (e) => {
    exited = e.message;
  });
  child.on('exit', (code, signal) => {
    exited = `exited with ${signal ?? `code ${code}`}`;
  });
  child.unref();
  const pid = child.pid;
  const deadline = Date.now() + (o.startTimeoutMs ?? 10_000);
  while (Date.now() < deadline) {
    if (exited !== null)
      throw new ProxyStartError(`the proxy of ${o.label} ${exited}: ${lastError(logFile) ?? 'see its log'}`, { log: logFile });
    const health = await control(socketPath, 'GET', '/health', { timeoutMs: 1000 }).then(
      (t) => JSON.parse(t) as ProxyHostRecord,
      () => null,
    );
    if (health && health.pid === pid) return health;
    await sleep(20);
  }
  if (pid !== undefined) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  throw new ProxyStartError(`the proxy of ${o.label} did not answer within ${o.startTimeoutMs ?? 10_000} ms`, { log: logFile });
}

/** The reason the host logged for failing to start (its last `error` line). */
function lastError(logFile: string): string | null {
  try {
    const lines = readFileSync(logFile, 'utf8').trim().split('\n').reverse();
    for (const line of lines) {
      try {
        const entry = JSON.parse(line) as { level?: string; msg?: string; err?: { message?: string }; error?: string };
        const why = entry.err?.message ?? entry.error;
        if (entry.level === 'error') return `${entry.msg ?? ''}${why ? `: ${why}` : ''}`;
      } catch {
        // not one of ours
      }
    }
  } catch {
    // no log
  }
  return null;
}
