/**
 * `gantry agent`: a build agent (docs/decisions/0036). It connects out to the server and never
 * listens: it long-polls for jobs its labels cover, runs each with the executor exactly as the
 * server would, ships the log as it grows, sends the job's files by content hash and reports the
 * result under the job's fencing token.
 *
 * Never the same job twice at once: the agent renews every lease at a third of the lease time
 * and stops a job itself once two renewals in a row have failed (measured on its own monotonic
 * clock from when the last good renewal was sent, which is before the server received it), with
 * a kill grace short enough that the job is gone before the server can let the lease expire and
 * grant the job to another agent. A job the server says is lost (fenced, cancelled) is stopped at
 * once. The same deadline is also kept outside the agent's process, by a watchdog that kills the
 * job's processes even while the agent is stalled (lease-watchdog.ts).
 */
import { type FileHandle, mkdir, open, rm } from 'node:fs/promises';
import path from 'node:path';
import { type Assignment, type JobRef, pollResponseSchema, renewResponseSchema } from '../agents/index.ts';
import type { JobResult, PlannedJob } from '../core/types.ts';
import { BlobFolder, indexTree, materializeTree } from '../executor/content-addressed.ts';
import { type JobContext, prepareLogPump, runJob as defaultRunJob, type RunJob } from '../executor/index.ts';
import { type AgentTransport, bodyToFile, uploadBlob } from './blob-transfer.ts';
import { LeaseWatchdog } from './lease-watchdog.ts';
import { ServerCache } from './server-cache.ts';
import { delay } from './abortable-delay.ts';

export interface AgentOptions {
  /** The server's base URL, e.g. http://10.0.0.1:7700 */
  server: string;
  token: string;
  labels: readonly string[];
  /** Jobs at once. */
  capacity: number;
  /** Workspaces, the blob cache and the job cache live here. */
  workDir: string;
  /** What the agent says about itself (its log). */
  log(message: string, data?: Record<string, unknown>): void;
  runJob?: RunJob;
  /** How long a poll waits on the server for work, ms. */
  pollWaitMs?: number;
}

interface RunningJob {
  ref: JobRef;
  leaseMs: number;
  controller: AbortController;
  /** performance.now() before the last renewal the server answered `held` was sent. */
  heldSince: number;
  /**
   * performance.now() when the poll's answer granting the job arrived. A long poll is sent up to
   * 25 s before the grant, so the watchdog's first deadline counts from here: the server answers
   * the moment it grants, and the last sixth of the lease is left for that answer's way.
   */
  grantedBy: number;
  /** The attempt's name for the lease watchdog. */
  watchId: string;
}

/** Tried again after this long when the server cannot be reached. */
const RETRY_MS = 1000;
/** How often the log is shipped while a job runs. */
const LOG_SHIP_MS = 250;
/** At most this much of the log goes with the result rather than in a `log` request of its own. */
const LAST_PIECE_BYTES = 1024 * 1024;
/**
 * Past this fraction of the lease after the last good renewal was sent, the watchdog SIGKILLs the
 * job: when the agent's own stop (two thirds, then a sixth of grace) has had its time, and a sixth
 * of the lease before the server could let the lease expire and grant the job elsewhere.
 */
const HARD_DEADLINE_OF_LEASE = 5 / 6;

interface LogPiece {
  offset: number;
  /** base64 */
  data: string;
}

export class Agent {
  readonly #o: AgentOptions;
  readonly #running = new Map<string, RunningJob>();
  readonly #stop = new AbortController();
  readonly #blobs: BlobFolder;
  #jobEnded: (() => void) | null = null;
  #renewTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #jobs = new Set<Promise<void>>();
  readonly #watchdog: LeaseWatchdog;
  #watches = 0;
  readonly #transport: AgentTransport = {
    call: (method, url, body, o) => this.#call(method, url, body, o),
    download: (url, file) => this.#download(url, file),
  };
  readonly #sharedCache: ServerCache;

  constructor(options: AgentOptions) {
    this.#o = options;
    this.#blobs = new BlobFolder(path.join(options.workDir, 'blobs'));
    this.#sharedCache = new ServerCache(this.#transport, path.join(options.workDir, 'cache'));
    this.#watchdog = new LeaseWatchdog({
      log: options.log,
      onFired: (id) => {
        for (const job of this.#running.values()) {
          if (job.watchId !== id) continue;
          // Said even when the job is already stopping: an agent waking from a stall may hear of
          // its lost lease (a renewal's or a log shipment's answer) before it reads this line,
          // and the watchdog's kill is still what ended the job's processes.
          this.#o.log('job stopped: the watchdog ended it at its lease deadline', { ...job.ref });
          if (!job.controller.signal.aborted) job.controller.abort(new Error('the lease deadline passed'));
        }
      },
    });
  }

  /** Polls until `stop()`; resolves once every job it took has ended. */
  async run(): Promise<void> {
    await mkdir(this.#o.workDir, { recursive: true });
    prepareLogPump();
    this.#o.log('agent started', { server: this.#o.server, labels: this.#o.labels, capacity: this.#o.capacity });
    this.#watchdog.start();
    this.#scheduleRenewal(1000);
    while (!this.#stop.signal.aborted) {
      const free = this.#o.capacity - this.#running.size;
      if (free <= 0) {
        await new Promise<void>((resolve) => {
          this.#jobEnded = resolve;
        });
        continue;
      }
      let assignments: Assignment[];
      try {
        const sentAt = performance.now();
        const answer = await this.#call(
          'POST',
          '/api/agents/poll',
          { free, labels: this.#o.labels, waitMs: this.#o.pollWaitMs ?? 25_000 },
          {
            timeoutMs: (this.#o.pollWaitMs ?? 25_000) + 15_000,
          },
        );
        assignments = pollResponseSchema.parse(answer).assignments;
        const answeredAt = performance.now();
        for (const a of assignments) this.#start(a, sentAt, answeredAt);
      } catch (error) {
        if (this.#stop.signal.aborted) break;
        this.#o.log('the server could not be reached', { error: (error as Error).message });
        await delay(RETRY_MS, this.#stop.signal);
      }
    }
    for (const job of this.#running.values()) job.controller.abort(new Error('the agent is stopping'));
    await Promise.allSettled([...this.#jobs]);
    clearTimeout(this.#renewTimer);
    this.#watchdog.stop();
  }

  stop(): void {
    this.#stop.abort();
    this.#jobEnded?.();
  }

  #start(a: Assignment, sentAt: number, answeredAt: number): void {
    const ref: JobRef = { runId: a.runId, jobKey: a.jobKey, fence: a.fence };
    const running: RunningJob = {
      ref,
      leaseMs: a.leaseMs,
      controller: new AbortController(),
      heldSince: sentAt,
      grantedBy: answeredAt,
      watchId: String(++this.#watches),
    };
    const key = `${a.runId}/${a.jobKey}`;
    this.#running.set(key, running);
    this.#o.log('job taken', { ...ref });
    const work = this.#runAssignment(a, running)
      .catch((error: unknown) => this.#o.log('job could not be reported', { ...ref, error: (error as Error).message }))
      .finally(() => {
        if (this.#running.get(key) === running) this.#running.delete(key);
        this.#jobs.delete(work);
        const ended = this.#jobEnded;
        this.#jobEnded = null;
        ended?.();
      });
    this.#jobs.add(work);
  }

  async #runAssignment(a: Assignment, running: RunningJob): Promise<void> {
    const ref = running.ref;
    const dir = path.join(this.#o.workDir, 'jobs', `${a.runId}-${slug(a.jobKey)}-${a.fence}`);
    const jobFolder = path.join(dir, 'job');
    const logFile = path.join(dir, 'log');
    const workspace = path.join(dir, 'workspace');
    const fetchBlob = (sha256: string) => this.#blob(sha256);
    await rm(dir, { recursive: true, force: true });
    await mkdir(jobFolder, { recursive: true });
    // Every step carries its workspace in GANTRY_WORKSPACE, and the path holds the fencing token.
    this.#watchdog.arm(running.watchId, this.#hardDeadlineIn(running), `GANTRY_WORKSPACE=${workspace}`);
    let watchEnded = false;
    try {
      const source = path.join(dir, 'source');
      await materializeTree(source, a.source, this.#blobs, fetchBlob);
      const artifactsIn = await Promise.all(
        a.artifactsIn.map(async (manifest, i) => {
          const into = path.join(dir, 'needs', String(i));
          await mkdir(into, { recursive: true });
          await materializeTree(into, manifest, this.#blobs, fetchBlob);
          return into;
        }),
      );
      const context = a.context as unknown as JobContext;
      const shipper = this.#shipLog(ref, logFile, running.controller);
      let result: JobResult;
      let lastLog: LogPiece | undefined;
      try {
        result = await (this.#o.runJob ?? defaultRunJob)({
          runId: a.runId,
          job: a.job as unknown as PlannedJob,
          context: { ...context, gantry: { ...context.gantry, workspace } },
          sourceDir: source,
          workspaceDir: workspace,
          artifactsIn,
          artifactsOut: path.join(jobFolder, 'artifacts'),
          cacheDir: path.join(this.#o.workDir, 'cache'),
          sharedCache: this.#sharedCache,
          logFile,
          logCapBytes: a.logCapBytes,
          sandbox: a.sandbox,
          hiddenPaths: [this.#o.workDir],
          // Stopped for a lost lease, the job must be gone well before the lease runs out on the server.
          killGraceMs: Math.max(100, Math.floor(a.leaseMs / 6)),
          signal: running.controller.signal,
        });
      } finally {
        lastLog = await shipper.stop();
      }
      // Asked before reporting: a job the watchdog killed is not reported, whatever the step said.
      watchEnded = true;
      if ((await this.#watchdog.end(running.watchId)) === 'fired' && !running.controller.signal.aborted)
        running.controller.abort(new Error('the lease deadline passed'));
      if (running.controller.signal.aborted) {
        this.#o.log('job stopped', { ...ref, reason: String((running.controller.signal.reason as Error | undefined)?.message) });
        return;
      }
      const files = await indexTree(jobFolder);
      for (const entry of files.manifest) {
        const file = files.blobs.get(entry.sha256);
        if (file) await uploadBlob(this.#transport, entry.sha256, file);
      }
      await this.#call(
        'POST',
        '/api/agents/finish',
        { ...ref, result, files: files.manifest, ...(lastLog ? { log: lastLog } : {}) },
        { timeoutMs: 60_000 },
      );
      this.#o.log('job finished', { ...ref, status: result.status });
    } finally {
      if (!watchEnded) await this.#watchdog.end(running.watchId);
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  /** Sends what the log file gained since the last piece, until stopped (then once more). */
  #shipLog(ref: JobRef, logFile: string, controller: AbortController): { stop(): Promise<LogPiece | undefined> } {
    let offset = 0;
    let stopped = false;
    /** What is left once the job has ended, for the `finish` request to carry (whole, up to a MiB; the rest goes first). */
    const lastPiece = async (): Promise<LogPiece | undefined> => {
      await shipOnce(LAST_PIECE_BYTES);
      const data = await readFrom(logFile, offset);
      return data.length === 0 ? undefined : { offset, data: data.toString('base64') };
    };
    /** Sends what the file gained, leaving up to `keep` bytes at its end unsent. */
    const shipOnce = async (keep = 0) => {
      let handle: FileHandle;
      try {
        handle = await open(logFile, 'r');
      } catch {
        return;
      }
      try {
        const size = (await handle.stat()).size;
        for (;;) {
          const want = Math.min(1024 * 1024, size - keep - offset);
          if (want <= 0) return;
          const buffer = Buffer.alloc(want);
          const { bytesRead } = await handle.read(buffer, 0, want, offset);
          if (bytesRead === 0) return;
          const data = buffer.subarray(0, bytesRead).toString('base64');
          await this.#call('POST', '/api/agents/log', { ...ref, offset, data }, { timeoutMs: 30_000 });
          offset += bytesRead;
        }
      } finally {
        await handle.close();
      }
    };
    let pending: Promise<void> = Promise.resolve();
    const tick = () => {
      pending = shipOnce().catch((error: unknown) => {
        if (isLeaseLost(error)) controller.abort(new Error('the lease of the job was lost'));
      });
      void pending.then(() => {
        if (!stopped) timer = setTimeout(tick, LOG_SHIP_MS);
      });
    };
    let timer: ReturnType<typeof setTimeout> | undefined = setTimeout(tick, LOG_SHIP_MS);
    return {
      stop: async () => {
        stopped = true;
        clearTimeout(timer);
        await pending;
        return controller.signal.aborted ? undefined : await lastPiece();
      },
    };
  }

  #scheduleRenewal(ms: number): void {
    this.#renewTimer = setTimeout(() => {
      void this.#renew().finally(() => {
        if (!this.#stop.signal.aborted) this.#scheduleRenewal(this.#renewEvery());
      });
    }, ms);
  }

  /** ms from now to the job's hard deadline, kept by the watchdog. */
  #hardDeadlineIn(job: RunningJob): number {
    return Math.max(job.heldSince, job.grantedBy) + job.leaseMs * HARD_DEADLINE_OF_LEASE - performance.now();
  }

  #renewEvery(): number {
    let lease = Number.POSITIVE_INFINITY;
    for (const job of this.#running.values()) lease = Math.min(lease, job.leaseMs);
    return Number.isFinite(lease) ? Math.max(50, Math.floor(lease / 3)) : 500;
  }

  /** Renews every lease; stops the jobs the server no longer grants, and those it could not renew in time. */
  async #renew(): Promise<void> {
    const jobs = [...this.#running.values()].filter((j) => !j.controller.signal.aborted);
    if (jobs.length === 0) return;
    const sentAt = performance.now();
    try {
      const answer = await this.#call(
        'POST',
        '/api/agents/renew',
        { leases: jobs.map((j) => j.ref) },
        {
          timeoutMs: Math.max(50, Math.floor(this.#renewEvery())),
        },
      );
      for (const lease of renewResponseSchema.parse(answer).leases) {
        const job = this.#running.get(`${lease.runId}/${lease.jobKey}`);
        if (!job || job.ref.fence !== lease.fence) continue;
        if (lease.held) {
          job.heldSince = sentAt;
          this.#watchdog.renew(job.watchId, this.#hardDeadlineIn(job));
        } else job.controller.abort(new Error('the server says the lease is lost'));
      }
    } catch (error) {
      this.#o.log('leases could not be renewed', { error: (error as Error).message });
    }
    // Self-fencing: after two missed renewals the job stops, before the server could hand it on.
    const now = performance.now();
    for (const job of jobs) {
      if (now - job.heldSince >= (job.leaseMs * 2) / 3 && !job.controller.signal.aborted) {
        this.#o.log('job stopped: its lease could not be renewed', { ...job.ref });
        job.controller.abort(new Error('the lease could not be renewed'));
      }
    }
  }

  async #blob(sha256: string): Promise<Uint8Array> {
    const response = await fetch(`${this.#o.server}/api/agents/blobs/${sha256}`, {
      headers: { authorization: `Bearer ${this.#o.token}` },
      signal: AbortSignal.timeout(60_000),
    });
    if (!response.ok) throw new Error(`the server answered ${response.status} for blob ${sha256}`);
    return new Uint8Array(await response.arrayBuffer());
  }

  async #download(url: string, file: string): Promise<void> {
    const response = await fetch(`${this.#o.server}${url}`, {
      headers: { authorization: `Bearer ${this.#o.token}` },
      signal: AbortSignal.any([AbortSignal.timeout(600_000), this.#stop.signal]),
    });
    if (!response.ok) throw new AgentCallError(`HTTP_${response.status}`, await response.text());
    await bodyToFile(response.body, file);
  }

  async #call(method: string, url: string, body: unknown, o: { timeoutMs: number }): Promise<unknown> {
    const binary = body instanceof Uint8Array;
    const response = await fetch(`${this.#o.server}${url}`, {
      method,
      headers: {
        authorization: `Bearer ${this.#o.token}`,
        'content-type': binary ? 'application/octet-stream' : 'application/json',
      },
      body: binary ? Buffer.from(body) : JSON.stringify(body),
      signal: AbortSignal.any([AbortSignal.timeout(o.timeoutMs), this.#stop.signal]),
    });
    const text = await response.text();
    const parsed = text ? (JSON.parse(text) as unknown) : {};
    if (!response.ok) {
      const error = (parsed as { error?: { code?: string; message?: string } }).error;
      throw new AgentCallError(error?.code ?? `HTTP_${response.status}`, error?.message ?? text);
    }
    return parsed;
  }
}

/** A refusal from the server, with its error code. */
export class AgentCallError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(`${code}: ${message}`);
    this.code = code;
  }
}

function isLeaseLost(error: unknown): boolean {
  return error instanceof AgentCallError && error.code === 'LEASE_LOST';
}

function slug(key: string): string {
  return key.replace(/[^A-Za-z0-9_.-]+/g, '_').slice(0, 60);
}

/** The bytes of a file from `offset` to its end (none when it does not exist). */
async function readFrom(file: string, offset: number): Promise<Buffer> {
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch {
    return Buffer.alloc(0);
  }
  try {
    const size = (await handle.stat()).size;
    const buffer = Buffer.alloc(Math.max(0, size - offset));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}
