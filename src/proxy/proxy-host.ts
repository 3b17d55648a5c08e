/**
 * The main of an environment's proxy process: one `TrafficProxy` on the environment's port and a
 * control API on a Unix socket (mode 0600, in a 0700 directory: only the server's user can steer
 * traffic). It lives apart from the server so that traffic keeps flowing by the last route table
 * while the server is busy, restarting or killed; `ProxyClient` starts or adopts it.
 *
 * Started as `node proxy-host-main.ts --dir D --key K --label L --host H --port P`. At start it loads
 * `routes.json`, so a proxy process that crashed and was started again routes by the last table
 * at once. Every accepted table is written to that file (temp file, fsync, rename) before it is
 * applied. It exits on `POST /shutdown` or SIGTERM (graceful: stops accepting, lets in-flight
 * requests finish), and by itself when its directory is removed (nothing could adopt it any more).
 *
 * Control API (JSON over HTTP):
 * - `GET /health` → `ProxyHostRecord`
 * - `PUT /routes` (RouteTable) → 204; 400 `{ error: { code, message } }` when invalid (old table kept)
 * - `GET /routes` → the current table
 * - `GET /drained?upstream=&timeoutMs=` → `{ drained }`
 * - `GET /window?since=&until=&version=&pool=` → WindowStats
 * - `GET /rollups` → RollupBatch: the roll-ups not yet acknowledged (reading does not consume)
 * - `POST /rollups/ack?through=` → `{ acknowledged }`: forgets those up to `through` (stored)
 * - `POST /rollups/drain` → Rollup[], read and acknowledged at once (for servers that predate ack)
 * - `GET /metrics` → Prometheus text
 * - `PUT /faults/callers` (FaultCallersRequest) → 204: the set's service-edge faults take their
 *   callers' instances as they are now, counts and deadline kept; 409 when that set is not in force.
 * - `PUT /faults` (FaultSetRequest) → 204: a chaos experiment's faults until its deadline, which
 *   this process enforces on its own timer (the server may be gone by then)
 * - `DELETE /faults?experiment=` → FaultReport | null: clears them (idempotent) and reports
 * - `GET /faults` → FaultReport | null: the current experiment's counts, or how the last one ended
 * - `GET /runtime?reset=1` → RuntimeReport: the process's GC and event-loop pauses since the last
 *   resetting read (watched from the first read on), the upstream connections opened so far and
 *   the requests that waited for one (counts and total since the start, longest since the last reset)
 * - `POST /shutdown` → 202, then the process exits
 *
 * Fencing (several servers, docs/decisions/0037): the commands that change what the proxy does
 * (`PUT /routes`, the faults' `PUT`/`DELETE`, `POST /rollups/ack`, `POST /shutdown`) may carry the
 * sender's background-loops lease token in `x-gantry-fence`. The process keeps the highest token
 * it obeyed (`fence.json`, written before the command is carried out, so a restarted process
 * remembers it) and refuses a lower one with 409 `PROXY_FENCED`: a server paused past its lease
 * that wakes with a command under way cannot undo what the new owner told the proxy. A command
 * without a token (one server, agents) is obeyed and leaves the highest as it was.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import type { Server } from 'node:http';
import { createHttpServer } from '../platform/node-http.ts';
import { connect } from 'node:net';
import { join } from 'node:path';
import { GantryError, InputError } from '../core/errors.ts';
import { createLogger, logSettingsFromEnv, type Logger } from '../platform/logger.ts';
import { FENCE_HEADER, PROXY_FILES, processStartTime, type ProxyHostRecord } from './proxy-client.ts';
import { answerMeasurement, numberParam, send } from './measurement-api.ts';
import { ROLLUP_MS } from './request-metrics.ts';
import { validateRouteTable, type RouteTable } from './route-table.ts';
import { parseFaultCallers, parseFaultSet } from './chaos-faults.ts';
import { RuntimePauses, type RuntimeReport } from './runtime-pauses.ts';
import { readBody } from './read-body.ts';
import { TrafficProxy } from './traffic-proxy.ts';

/** Options of `runProxyHost`. */
export interface ProxyHostOptions {
  dir: string;
  environmentKey: string;
  label: string;
  host: string;
  port: number;
  /** Default: the process's `proxy` logger (JSON lines on stdout, which the client points at `host.log`). */
  log?: Logger;
}

/** A running proxy host; `done` settles when it has shut down. */
export interface ProxyHost {
  record: ProxyHostRecord;
  done: Promise<void>;
  shutdown(): Promise<void>;
}

const MAX_BODY = 4 * 1024 * 1024;
/** The control routes that change what the proxy does: fenced. Reads are not (acting on one means a command). */
const FENCED_ROUTES = new Set([
  'PUT /routes',
  'PUT /faults',
  'PUT /faults/callers',
  'DELETE /faults',
  'POST /rollups/ack',
  'POST /shutdown',
]);
const DIR_CHECK_MS = 1000;

/** WARN and ERROR messages of the proxy process: static, data beside them. */
export const LOG = {
  routesUnusable: 'the persisted route table is unusable; starting without one',
  controlFailed: 'control request failed',
  usage: 'usage: proxy-host --dir D --key K --label L --host H --port P',
  startFailed: 'cannot start the proxy',
} as const;

/**
 * The proxy process's logger: the server's logger and line format, always JSON (its output is
 * `host.log`, which the server reads back for the reason of a failed start). The proxy holds
 * no secrets, so only the credential paths are redacted. `GANTRY_LOG_LEVEL` is passed down.
 */
export function processLogger(): Logger {
  return createLogger({
    component: 'proxy',
    destination: process.stdout,
    format: 'json',
    level: logSettingsFromEnv().level ?? 'info',
    base: { pid: process.pid },
  });
}

/** Writes `file` so that a crash leaves either the old content or the new one, never a mix. */
function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

function loadRoutes(file: string, log: Logger): RouteTable | null {
  try {
    const table = parseTable(JSON.parse(readFileSync(file, 'utf8')));
    validateRouteTable(table);
    return table;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') log.error(LOG.routesUnusable, { file, err: error });
    return null;
  }
}

/** The shape check the validator relies on (it checks values, not that arrays are arrays). */
function parseTable(body: unknown): RouteTable {
  const t = body as Partial<RouteTable> | null;
  if (
    typeof t !== 'object' ||
    t === null ||
    !Array.isArray(t.upstreams) ||
    typeof t.weights !== 'object' ||
    t.weights === null ||
    !(t.match === undefined || Array.isArray(t.match))
  ) {
    throw new InputError('invalid route table: expected { upstreams: [...], weights: { stable, canary }, match: [...] }');
  }
  if (t.upstreams.some((u) => typeof u !== 'object' || u === null))
    throw new InputError('invalid route table: every upstream must be an object');
  return { upstreams: t.upstreams, weights: t.weights, match: t.match ?? [] };
}

/** The highest lease token obeyed so far, as persisted (0: none yet). */
function loadFence(file: string): number {
  try {
    const fence = (JSON.parse(readFileSync(file, 'utf8')) as { fence?: unknown }).fence;
    return typeof fence === 'number' && Number.isSafeInteger(fence) ? fence : 0;
  } catch {
    return 0;
  }
}

/** The token a command carries: null when absent, InputError when not a whole number. */
function fenceOf(header: string | string[] | undefined): number | null {
  if (header === undefined) return null;
  const fence = Number(Array.isArray(header) ? header[0] : header);
  if (!Number.isSafeInteger(fence) || fence < 0) throw new InputError(`${FENCE_HEADER} must be a lease token (a whole number)`);
  return fence;
}

/** Whether something answers on `socketPath` (a live host); a stale socket file refuses. */
function socketAnswers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(socketPath);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Starts the proxy and its control socket; resolves once both listen and `host.json` is written. */
export async function runProxyHost(o: ProxyHostOptions): Promise<ProxyHost> {
  const routesFile = join(o.dir, PROXY_FILES.routes);
  const socketPath = join(o.dir, PROXY_FILES.socket);
  const hostFile = join(o.dir, PROXY_FILES.host);
  const fenceFile = join(o.dir, PROXY_FILES.fence);
  let highestFence = loadFence(fenceFile);
  const log = (o.log ?? processLogger()).child({ environment: o.label });
  const proxy = new TrafficProxy({ environment: o.label, host: o.host, port: o.port });
  let table = loadRoutes(routesFile, log);
  if (table) proxy.setRoutes(table);
  const { port } = await proxy.listen();

  if (await socketAnswers(socketPath)) {
    await proxy.close();
    throw new GantryError('PROXY_ALREADY_RUNNING', `another proxy process answers on ${socketPath}`);
  }
  rmSync(socketPath, { force: true });
  const startTime = processStartTime(process.pid) ?? '';
  const record: ProxyHostRecord = { pid: process.pid, startTime, environmentKey: o.environmentKey, label: o.label, host: o.host, port };

  let stopping: Promise<void> | null = null;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => {
    resolveDone = r;
  });
  let control: Server | null = null;
  let dirCheck: NodeJS.Timeout | null = null;
  // Completed periods become pending roll-ups even while no server reads them (the ring keeps 5 minutes).
  const collector = setInterval(() => proxy.metrics.collectRollups(), ROLLUP_MS);
  collector.unref();
  const pauses = new RuntimePauses();
  const shutdown = (): Promise<void> => {
    stopping ??= (async () => {
      log.info('proxy shutting down');
      if (dirCheck) clearInterval(dirCheck);
      clearInterval(collector);
      pauses.close();
      await proxy.close();
      control?.close();
      control?.closeAllConnections();
      // Only our own files: a successor may already have replaced them.
      const current = (() => {
        try {
          return JSON.parse(readFileSync(hostFile, 'utf8')) as ProxyHostRecord;
        } catch {
          return null;
        }
      })();
      if (current?.pid === process.pid) {
        rmSync(hostFile, { force: true });
        rmSync(socketPath, { force: true });
      }
      resolveDone();
    })();
    return stopping;
  };

  const server = createHttpServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://proxy');
      const route = `${req.method} ${url.pathname}`;
      const q = url.searchParams;
      // Read whole before the fence is checked: no other command can slip in between check and act.
      const body = req.method === 'PUT' ? await readBody(req, MAX_BODY) : '';
      if (FENCED_ROUTES.has(route)) {
        const fence = fenceOf(req.headers[FENCE_HEADER]);
        if (fence !== null && fence < highestFence) {
          log.info('command of an older lease holder refused', { route, fence, highest: highestFence });
          return send(res, 409, {
            error: { code: 'PROXY_FENCED', message: `lease token ${fence} is older than ${highestFence}, which this proxy already obeyed` },
          });
        }
        if (fence !== null && fence > highestFence) {
          // Persisted before the command is carried out: a restarted process still refuses the older holder.
          writeAtomic(fenceFile, JSON.stringify({ fence }));
          highestFence = fence;
        }
      }
      if (answerMeasurement(proxy.metrics, route, q, res)) return;
      switch (route) {
        case 'GET /health':
          return send(res, 200, record);
        case 'PUT /routes': {
          const next = parseTable(JSON.parse(body) as unknown);
          validateRouteTable(next);
          // Persisted before applied: after a crash the file never lags what traffic saw.
          writeAtomic(routesFile, JSON.stringify(next));
          proxy.setRoutes(next);
          table = next;
          res.writeHead(204).end();
          return;
        }
        case 'GET /routes':
          return send(res, 200, table ?? { upstreams: [], weights: { stable: 100, canary: 0 }, match: [] });
        case 'GET /drained': {
          const upstream = q.get('upstream');
          if (!upstream) throw new InputError('query parameter upstream is required');
          return send(res, 200, { drained: await proxy.drained(upstream, numberParam(q, 'timeoutMs')) });
        }
        case 'PUT /faults': {
          const faults = parseFaultSet(JSON.parse(body) as unknown);
          proxy.chaos.set(faults);
          log.info('chaos faults set', { experiment: faults.experimentId, deadlineAt: faults.deadlineAt, faults: faults.faults.length });
          res.writeHead(204).end();
          return;
        }
        case 'PUT /faults/callers': {
          const callers = parseFaultCallers(JSON.parse(body) as unknown);
          proxy.chaos.followCallers(callers.experimentId, callers.callerKeys);
          log.info('chaos faults follow their callers', { experiment: callers.experimentId });
          res.writeHead(204).end();
          return;
        }
        case 'DELETE /faults': {
          const report = proxy.chaos.clear(q.get('experiment') ?? undefined);
          log.info('chaos faults cleared', { experiment: report?.experimentId, endedBy: report?.endedBy });
          return send(res, 200, report);
        }
        case 'GET /faults':
          return send(res, 200, proxy.chaos.report());
        case 'GET /runtime': {
          const reset = q.get('reset') === '1';
          const u = proxy.upstreamStats;
          const report: RuntimeReport = {
            ...pauses.read(reset),
            upstreamConnectionsOpened: u.connectionsOpened,
            upstreamWaits: { connect: { ...u.connectWaits }, pool: { ...u.poolWaits } },
          };
          if (reset) {
            u.connectWaits.maxMs = 0;
            u.poolWaits.maxMs = 0;
          }
          return send(res, 200, report);
        }
        case 'POST /shutdown':
          send(res, 202, { stopping: true });
          void shutdown();
          return;
        default:
          return send(res, 404, { error: { code: 'NOT_FOUND', message: `no control route ${route}` } });
      }
    })().catch((error: unknown) => {
      const e = error instanceof SyntaxError ? new InputError(`the body is not JSON: ${error.message}`) : error;
      const status = e instanceof GantryError ? e.httpStatus : 500;
      const code = e instanceof GantryError ? e.code : 'INTERNAL';
      if (status >= 500) log.error(LOG.controlFailed, { url: req.url, err: e });
      if (!res.headersSent) send(res, status, { error: { code, message: (e as Error).message } });
    });
  });
  control = server;
  // The socket is created 0600: there is no moment in which another user could connect.
  const umask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await proxy.close();
    throw error;
  } finally {
    process.umask(umask);
  }
  writeAtomic(hostFile, `${JSON.stringify(record)}\n`);
  dirCheck = setInterval(() => {
    if (!existsSync(o.dir)) void shutdown();
  }, DIR_CHECK_MS);
  log.info('proxy ready', { port, routes: table?.upstreams.length ?? 0 });
  return { record, done, shutdown };
}
