/**
 * The agent's half of placement (docs/decisions/0043): it long-polls the server for its desired
 * state — the instances it should run, each with its release's files by hash, and the proxies
 * with their last route table — and reconciles: starts what is missing with the runtime's own
 * supervisor and proxy processes (the same code the server runs for the embedded default),
 * stops what is no longer wanted, and reports every instance change at once. The server's
 * questions to a proxy arrive as calls in the poll's answer and are answered in a report.
 *
 * What the agent runs outlives it (as on the server): an agent restarted on the same work dir
 * adopts its instances and proxies, and the server's desired state says what stays.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BlobFolder, materializeTree } from '../executor/content-addressed.ts';
import {
  type CallAnswer,
  type DesiredInstance,
  type DesiredProxy,
  type ProxyCall,
  type ReportRequest,
  type SyncResponse,
  syncResponseSchema,
} from '../placement/index.ts';
import { ProxyClient, type RouteTable } from '../proxy/index.ts';
import { type InstanceSpec, type InstanceStatus, Supervisor } from '../runtime/index.ts';
import { delay } from './abortable-delay.ts';

export interface PlacementRunnerOptions {
  server: string;
  token: string;
  /** Labels announced besides the registered ones. */
  labels: readonly string[];
  /** Where this host's instances and proxy are reached by others (the proxy's listen address too). */
  address: string;
  /** Instances' state, releases and proxies live under here. */
  workDir: string;
  log(message: string, data?: Record<string, unknown>): void;
}

const RETRY_MS = 500;

export class PlacementRunner {
  readonly #o: PlacementRunnerOptions;
  readonly #stop = new AbortController();
  readonly #supervisor: Supervisor;
  readonly #blobs: BlobFolder;
  readonly #proxies = new Map<string, Promise<ProxyClient>>();
  readonly #proxyErrors = new Map<string, string>();
  /** Label and port of each proxy running here (reported, so a restarted server can adopt it). */
  readonly #proxyInfo = new Map<string, { label: string; port: number }>();
  readonly #releases = new Map<string, Promise<string>>();
  /** Instances being started (their release fetched first). */
  readonly #starting = new Set<string>();
  readonly #answers: CallAnswer[] = [];
  /** The spec the server gave each instance, kept across restarts of the agent (`specs.json`, 0600): a restarted server adopts by it. */
  #specs = new Map<string, Record<string, unknown>>();
  #specsSaved: Promise<void> = Promise.resolve();
  /** Instances that could not be started here, reported as `failed` (the rollout waiting for them fails rather than waits). */
  readonly #failedStarts = new Map<string, InstanceSpec>();
  #version = 0;
  #heartbeatMs = 1000;
  #reportTimer: ReturnType<typeof setTimeout> | undefined;
  #reporting: Promise<void> = Promise.resolve();
  /** Where placement calls go: `--server`, or the server driving rollouts that one named (several servers, docs/decisions/0043). */
  #server: string;

  constructor(options: PlacementRunnerOptions) {
    this.#o = options;
    this.#server = options.server;
    this.#blobs = new BlobFolder(path.join(options.workDir, 'blobs'));
    this.#supervisor = new Supervisor({
      dataDir: path.join(options.workDir, 'runtime'),
      onChange: () => this.#reportSoon(),
    });
  }

  /** Polls until `stop()`. What runs keeps running (the next start adopts it). */
  async run(): Promise<void> {
    await mkdir(path.join(this.#o.workDir, 'releases'), { recursive: true });
    this.#specs = await readSpecs(this.#specsFile);
    await this.#supervisor.adopt();
    for (const proxy of await ProxyClient.adoptAll(path.join(this.#o.workDir, 'runtime'))) {
      this.#proxies.set(proxy.environmentKey, Promise.resolve(proxy));
      this.#proxyInfo.set(proxy.environmentKey, { label: proxy.label, port: proxy.port });
    }
    while (!this.#stop.signal.aborted) {
      try {
        const waitMs = this.#heartbeatMs;
        const answer = syncResponseSchema.parse(
          await this.#call('/api/agents/placement/sync', { ...this.#report(true), version: this.#version, waitMs }, waitMs + 10_000),
        );
        this.#heartbeatMs = answer.heartbeatMs;
        this.#answerCalls(answer.calls);
        if (answer.version !== this.#version) await this.#reconcile(answer);
      } catch (error) {
        if (this.#stop.signal.aborted) break;
        this.#o.log('placement: the server could not be reached', { error: (error as Error).message });
        await delay(RETRY_MS, this.#stop.signal);
      }
    }
    clearTimeout(this.#reportTimer);
    await this.#supervisor.detach();
    await Promise.allSettled([...this.#proxies.values()].map(async (p) => (await p).detach()));
  }

  stop(): void {
    this.#stop.abort();
  }

  /** Runs what the server wants here and nothing else. */
  async #reconcile(desired: SyncResponse): Promise<void> {
    this.#version = desired.version;
    const wanted = new Map(desired.instances.map((i) => [String(i.spec.id), i]));
    let forgotten = false;
    for (const id of this.#failedStarts.keys()) if (!wanted.has(id)) this.#failedStarts.delete(id);
    for (const id of [...this.#specs.keys()]) {
      if (wanted.has(id)) continue;
      this.#specs.delete(id);
      forgotten = true;
    }
    if (forgotten) await this.#saveSpecs();
    for (const status of this.#supervisor.list()) {
      if (status.state === 'stopped' || status.state === 'stopping') continue;
      if (!wanted.has(status.id)) {
        this.#o.log('placement: stopping an instance the server no longer wants here', { instance: status.id });
        void this.#supervisor.stop(status.id).catch(() => undefined);
      }
    }
    for (const [id, instance] of wanted) {
      const known = this.#supervisor.status(id);
      if ((known && known.state !== 'stopped') || this.#starting.has(id)) continue;
      if (known) this.#supervisor.forget(id);
      void this.#startInstance(id, instance);
    }
    const proxies = new Map(desired.proxies.map((p) => [p.environmentKey, p]));
    for (const [key, proxy] of this.#proxies) {
      if (proxies.has(key)) continue;
      this.#proxies.delete(key);
      this.#proxyInfo.delete(key);
      this.#o.log('placement: closing a proxy the server no longer wants here', { environment: key });
      void proxy.then((p) => p.close()).catch(() => undefined);
    }
    for (const [key, proxy] of proxies) if (!this.#proxies.has(key)) this.#startProxy(proxy);
    this.#reportSoon();
  }

  async #startInstance(id: string, instance: DesiredInstance): Promise<void> {
    this.#starting.add(id);
    this.#failedStarts.delete(id);
    try {
      const spec = instance.spec as unknown as InstanceSpec;
      const workDir = await this.#release(spec.releaseId, instance);
      this.#specs.set(id, instance.spec);
      await this.#saveSpecs();
      await this.#supervisor.start({ ...spec, workDir });
      this.#o.log('placement: instance started', { instance: id });
    } catch (error) {
      this.#o.log('placement: an instance could not start', { instance: id, error: (error as Error).message });
      this.#failedStarts.set(id, instance.spec as unknown as InstanceSpec);
      this.#reportSoon();
    } finally {
      this.#starting.delete(id);
    }
  }

  get #specsFile(): string {
    return path.join(this.#o.workDir, 'specs.json');
  }

  /** Specs of the instances the server still wants here (the others are forgotten); one write at a time. */
  #saveSpecs(): Promise<void> {
    const file = this.#specsFile;
    const write = this.#specsSaved.then(async () => {
      await writeFile(`${file}.tmp`, JSON.stringify(Object.fromEntries(this.#specs)), { mode: 0o600 });
      await rename(`${file}.tmp`, file);
    });
    this.#specsSaved = write.catch(() => undefined);
    return write;
  }

  /** The release's files here, fetched once by hash and verified (a partial copy is never used). */
  #release(releaseId: string, instance: DesiredInstance): Promise<string> {
    let ready = this.#releases.get(releaseId);
    if (!ready) {
      const dir = path.join(this.#o.workDir, 'releases', releaseId.replace(/[^A-Za-z0-9_-]/g, '_'));
      ready = (async () => {
        const partial = `${dir}.partial`;
        await rm(partial, { recursive: true, force: true });
        await rm(dir, { recursive: true, force: true });
        await materializeTree(partial, instance.release, this.#blobs, (sha256) => this.#blob(sha256));
        await rename(partial, dir);
        return dir;
      })();
      ready.catch(() => this.#releases.delete(releaseId));
      this.#releases.set(releaseId, ready);
    }
    return ready;
  }

  #startProxy(desired: DesiredProxy): void {
    const started = ProxyClient.start({
      dataDir: path.join(this.#o.workDir, 'runtime'),
      environmentKey: desired.environmentKey,
      label: desired.label,
      host: this.#o.address,
      port: desired.port,
    }).then(async (proxy) => {
      // Moved here from a lost agent: it routes by the last table at once.
      if (desired.routes !== null) await proxy.setRoutes(desired.routes as unknown as RouteTable);
      this.#o.log('placement: proxy started', { environment: desired.label, port: desired.port });
      return proxy;
    });
    this.#proxies.set(desired.environmentKey, started);
    started.then(
      (proxy) => {
        this.#proxyErrors.delete(desired.environmentKey);
        this.#proxyInfo.set(desired.environmentKey, { label: proxy.label, port: proxy.port });
        this.#reportSoon();
      },
      (error: unknown) => {
        this.#o.log('placement: a proxy could not start', { environment: desired.label, error: (error as Error).message });
        if (this.#proxies.get(desired.environmentKey) === started) this.#proxies.delete(desired.environmentKey);
        this.#proxyErrors.set(desired.environmentKey, (error as Error).message);
        this.#reportSoon();
      },
    );
  }

  /** Each call runs on its proxy in the order given (route tables stay in order); answers go in the next report. */
  #answerCalls(calls: ProxyCall[]): void {
    for (const call of calls) {
      const proxy = this.#proxies.get(call.environmentKey);
      const work = proxy
        ? proxy.then((p) => (p[call.method] as (...args: unknown[]) => Promise<unknown>).apply(p, call.args))
        : Promise.reject(new Error(`no proxy of ${call.environmentKey} runs here`));
      work.then(
        (result) => this.#answer({ id: call.id, ok: true, result: result ?? null }),
        (error: unknown) => this.#answer({ id: call.id, ok: false, error: (error as Error).message }),
      );
    }
  }

  #answer(answer: CallAnswer): void {
    this.#answers.push(answer);
    this.#reportSoon(0);
  }

  #report(withSpecs = false): Omit<ReportRequest, 'answers'> & { answers: CallAnswer[]; labels: string[] } {
    const instances = this.#supervisor.list().flatMap((s: InstanceStatus) => {
      const labels = this.#supervisor.labels(s.id);
      if (!labels) return [];
      const { id, pid, port, state, restarts, startedAt, lastExit, cpuPercent, rssBytes, logFile, sandboxed } = s;
      const { environment, releaseId, pool } = labels;
      const spec = withSpecs ? this.#specs.get(id) : undefined;
      const base = {
        id,
        environment,
        releaseId,
        pool,
        pid,
        port,
        state,
        restarts,
        startedAt,
        lastExit,
        cpuPercent,
        rssBytes,
        logFile,
        sandboxed,
      };
      return [spec === undefined ? base : { ...base, spec }];
    });
    for (const [id, spec] of this.#failedStarts) {
      if (this.#supervisor.status(id)) continue;
      instances.push({
        id,
        environment: spec.environment,
        releaseId: spec.releaseId,
        pool: spec.pool,
        pid: null,
        port: 0,
        state: 'failed',
        restarts: 0,
        startedAt: null,
        lastExit: null,
        cpuPercent: null,
        rssBytes: null,
        logFile: '',
        sandboxed: false,
      });
    }
    const proxies = [
      ...[...this.#proxies.keys()]
        .filter((key) => !this.#proxyErrors.has(key))
        .map((environmentKey) => ({ environmentKey, ...this.#proxyInfo.get(environmentKey) })),
      ...[...this.#proxyErrors].map(([environmentKey, error]) => ({ environmentKey, error })),
    ];
    return { address: this.#o.address, labels: [...this.#o.labels], instances, proxies, answers: this.#answers.splice(0) };
  }

  /** Sends a report soon (changes come in bursts), one at a time; answers that fail to go are sent again. */
  #reportSoon(ms = 20): void {
    if (this.#reportTimer !== undefined || this.#stop.signal.aborted) return;
    this.#reportTimer = setTimeout(() => {
      this.#reportTimer = undefined;
      this.#reporting = this.#reporting.then(async () => {
        const report = this.#report();
        try {
          const { labels: _labels, ...body } = report;
          await this.#call('/api/agents/placement/report', body, 10_000);
        } catch (error) {
          this.#answers.unshift(...report.answers);
          if (!this.#stop.signal.aborted) {
            this.#o.log('placement: a report could not be sent', { error: (error as Error).message });
            this.#reportSoon(RETRY_MS);
          }
        }
      });
    }, ms);
  }

  async #blob(sha256: string): Promise<Uint8Array> {
    const response = await fetch(`${this.#server}/api/agents/placement/blobs/${sha256}`, {
      headers: { authorization: `Bearer ${this.#o.token}` },
      signal: AbortSignal.any([AbortSignal.timeout(60_000), this.#stop.signal]),
    });
    if (!response.ok) throw new Error(`the server answered ${response.status} for blob ${sha256}`);
    return new Uint8Array(await response.arrayBuffer());
  }

  async #call(url: string, body: unknown, timeoutMs: number, redirected = false): Promise<unknown> {
    const server = this.#server;
    const response = await fetch(`${server}${url}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.#o.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), this.#stop.signal]),
    }).catch((error: unknown) => {
      // The driver it was sent to is gone: ask `--server` again, which names the next one (or is it).
      this.#server = this.#o.server;
      throw error;
    });
    const text = await response.text();
    const driver = response.ok || redirected ? null : rolloutDriverOf(text);
    if (driver !== null && driver !== server) {
      this.#server = driver;
      return this.#call(url, body, timeoutMs, true);
    }
    if (!response.ok) throw new Error(`the server answered ${response.status}: ${text.slice(0, 300)}`);
    return text ? (JSON.parse(text) as unknown) : {};
  }
}

/** The URL a server not driving rollouts names in its NOT_ROLLOUT_DRIVER answer, else null. */
function rolloutDriverOf(text: string): string | null {
  try {
    const { error } = JSON.parse(text) as { error?: { code?: string; details?: { driver?: unknown } } };
    const driver = error?.details?.driver;
    return error?.code === 'NOT_ROLLOUT_DRIVER' && typeof driver === 'string' && /^https?:\/\//.test(driver) ? driver : null;
  } catch {
    return null;
  }
}

async function readSpecs(file: string): Promise<Map<string, Record<string, unknown>>> {
  try {
    return new Map(Object.entries(JSON.parse(await readFile(file, 'utf8')) as Record<string, Record<string, unknown>>));
  } catch {
    return new Map();
  }
}
