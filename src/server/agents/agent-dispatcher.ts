/**
 * Jobs with `runs-on` go to build agents instead of the embedded executor (docs/decisions/0036).
 * `runJob` is the executor's port (executor/ports.ts): the run driver cannot tell the two apart.
 *
 * The lease book of src/agents decides; this shell carries its commands out: a grant is stored as
 * an attempt (with its fencing token) before the agent hears of it, an expired lease ends its
 * attempt and the job waits for another agent, and every report is checked against the book
 * first, so an agent that lost a job can neither log into it nor finish it. One server holds the
 * book (in memory): a restarted server retries its running jobs (RunService.recover) under
 * higher tokens read from the store, and agents still running them are fenced out.
 */
import { appendFile, mkdir, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  type Assignment,
  EMPTY_LEASE_BOOK,
  type FinishRequest,
  type JobRef,
  type LeaseBook,
  type LeaseCommand,
  type LeaseEvent,
  reduceLeases,
} from '../../agents/index.ts';
import type { Clock, TimerHandle } from '../../core/clock.ts';
import { ConflictError, GantryError, NotFoundError } from '../../core/errors.ts';
import type { JobResult, StepResult, TestCounts } from '../../core/types.ts';
import { BlobFolder, indexTree, materializeTree, type TreeIndex } from '../../executor/content-addressed.ts';
import type { JobSpec } from '../../executor/index.ts';
import type { AgentStore } from '../../store/ports.ts';

export interface AgentDispatcherDeps {
  agents: AgentStore;
  dataDir: string;
  clock: Clock;
  /** How long a lease lasts without renewal (agents renew at a third of it). */
  leaseMs: number;
  /** Something about a run changed (a log grew): live streams look again. */
  notify(runId: string): void;
  info(message: string, data: Record<string, unknown>): void;
  warn(message: string, data: Record<string, unknown>): void;
}

/** WARN messages: static, the data beside them. */
const LOG = {
  attemptNotStored: 'an agent attempt could not be stored',
  leaseExpired: 'an agent lost its lease on a job',
} as const;

/** How often an agent's last-seen time is written at most. */
const TOUCH_EVERY_MS = 5000;

interface PendingJob {
  spec: JobSpec;
  runId: string;
  jobKey: string;
  /** The fencing token of the current grant (0 while never granted). */
  fence: number;
  /** Bytes of the current attempt's log already written to `spec.logFile`. */
  logBytes: number;
  /** Resolves once the current grant is stored as an attempt. */
  stored: Promise<boolean>;
  resolve(result: JobResult): void;
}

interface AgentPresence {
  /** Clock ms of its last poll or renewal. */
  heardAt: number;
  capacity: number;
  labels: string[];
}

export class AgentDispatcher {
  readonly #deps: AgentDispatcherDeps;
  #book: LeaseBook = EMPTY_LEASE_BOOK;
  readonly #pending = new Map<string, PendingJob>();
  /** How many of each run's jobs are pending here. */
  readonly #pendingPerRun = new Map<string, number>();
  /** Agents waiting in a long poll: wake them when they were granted something. */
  readonly #wake = new Map<string, () => void>();
  /** Jobs granted to each agent and not yet handed over in a poll's answer. */
  readonly #granted = new Map<string, string[]>();
  /** Trees offered to agents, by folder: a run's source, needed jobs' artifacts. */
  readonly #trees = new Map<string, Promise<TreeIndex>>();
  /** sha256 → files on this host with that content (from the trees above; runs share content). */
  readonly #blobs = new Map<string, string[]>();
  readonly #uploads: BlobFolder;
  /** When each agent's last-seen time was last written (a write per poll would be most of a poll's cost). */
  readonly #touched = new Map<string, number>();
  /** What each agent said of itself when last heard from (this server's memory: the dashboard's agents page). */
  readonly #presence = new Map<string, AgentPresence>();
  #ticker: TimerHandle | undefined;
  #stopped = false;

  constructor(deps: AgentDispatcherDeps) {
    this.#deps = deps;
    this.#uploads = new BlobFolder(path.join(deps.dataDir, 'agents', 'blobs'));
  }

  get leaseMs(): number {
    return this.#deps.leaseMs;
  }

  /** Starts looking for expired leases (every quarter lease, at most every second). */
  start(): void {
    const every = Math.max(50, Math.min(1000, Math.floor(this.#deps.leaseMs / 4)));
    const loop = () => {
      if (this.#stopped) return;
      this.#apply({ type: 'tick', at: this.#deps.clock.now() });
      this.#ticker = this.#deps.clock.setTimeout(loop, every);
    };
    this.#ticker = this.#deps.clock.setTimeout(loop, every);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#ticker) this.#deps.clock.clearTimeout(this.#ticker);
    for (const wake of this.#wake.values()) wake();
  }

  /** The executor's port for a job with `runs-on`: resolves when an agent holding its lease reports the result. */
  async runJob(spec: JobSpec): Promise<JobResult> {
    const runId = spec.runId;
    const jobKey = spec.job.key;
    const jobId = jobIdOf(runId, jobKey);
    const fence = await this.#deps.agents.lastFence(runId, jobKey);
    await mkdir(path.dirname(spec.logFile), { recursive: true });
    await writeFile(spec.logFile, '');
    return new Promise<JobResult>((resolve) => {
      const pending: PendingJob = { spec, runId, jobKey, fence, logBytes: 0, stored: Promise.resolve(true), resolve };
      this.#pending.set(jobId, pending);
      this.#pendingPerRun.set(runId, (this.#pendingPerRun.get(runId) ?? 0) + 1);
      const cancel = () => {
        if (this.#pending.get(jobId) !== pending) return;
        this.#pending.delete(jobId);
        this.#forgetTreesOf(runId);
        this.#apply({ type: 'withdraw', jobId });
        resolve(cancelledResult(String((spec.signal.reason as Error | undefined)?.message ?? 'cancelled')));
      };
      if (spec.signal.aborted) {
        cancel();
        return;
      }
      spec.signal.addEventListener('abort', cancel, { once: true });
      this.#apply({ type: 'offer', jobId, runsOn: spec.job.config.runsOn ?? [], fence, at: this.#deps.clock.now() });
    });
  }

  /**
   * An agent's long poll: the jobs granted to it, or none once `waitMs` has passed. Each grant
   * is stored as an attempt before it is handed over.
   */
  async poll(agentId: string, labels: readonly string[], free: number, waitMs: number): Promise<Assignment[]> {
    this.#touch(agentId);
    const holding = Object.values(this.#book.leases).filter((l) => l.agentId === agentId).length;
    this.#presence.set(agentId, { heardAt: this.#deps.clock.now(), capacity: free + holding, labels: [...labels] });
    // A second poll of the same agent replaces the first (the first answers empty).
    this.#wake.get(agentId)?.();
    this.#apply({ type: 'poll', agentId, labels, free, at: this.#deps.clock.now() });
    if (!this.#granted.has(agentId) && waitMs > 0 && !this.#stopped) {
      await new Promise<void>((resolve) => {
        const timer = this.#deps.clock.setTimeout(() => wake(), waitMs);
        const wake = () => {
          this.#deps.clock.clearTimeout(timer);
          if (this.#wake.get(agentId) === wake) this.#wake.delete(agentId);
          resolve();
        };
        this.#wake.set(agentId, wake);
      });
    }
    const jobIds = this.#granted.get(agentId) ?? [];
    this.#granted.delete(agentId);
    if (jobIds.length === 0) this.#apply({ type: 'poll-ended', agentId });
    const assignments: Assignment[] = [];
    for (const jobId of jobIds) {
      const pending = this.#pending.get(jobId);
      if (!pending || !(await pending.stored)) continue;
      const assignment = await this.#assignment(pending);
      // The lease counts from the hand-over, not the grant: building the assignment (the source's
      // index, the attempt's row) can take a while on a big tree or a busy server, and the agent
      // counts its own deadlines from the answer. A lease that ran out meanwhile is not handed
      // over at all: the job has moved on, and its holder would have run it beside the next one.
      const renewed = this.#apply({ type: 'renew', jobId, agentId, fence: pending.fence, at: this.#deps.clock.now() });
      if (renewed.some((c) => c.type === 'accepted') && this.#pending.get(jobId) === pending) assignments.push(assignment);
    }
    return assignments;
  }

  /** Renews each lease the agent still holds; the others it must stop. */
  renew(agentId: string, leases: readonly JobRef[]): (JobRef & { held: boolean })[] {
    const at = this.#deps.clock.now();
    const presence = this.#presence.get(agentId);
    if (presence) presence.heardAt = at;
    return leases.map((ref) => {
      const commands = this.#apply({ type: 'renew', jobId: jobIdOf(ref.runId, ref.jobKey), agentId, fence: ref.fence, at });
      return { ...ref, held: commands.some((c) => c.type === 'accepted') };
    });
  }

  /** Appends a piece of the job's log at `offset` (a piece already written is ignored: the agent may send it again). */
  async log(agentId: string, ref: JobRef, offset: number, data: Buffer): Promise<void> {
    await this.#appendLog(this.#holding(agentId, ref), ref, offset, data);
  }

  async #appendLog(pending: PendingJob, ref: JobRef, offset: number, data: Buffer): Promise<void> {
    if (offset + data.length <= pending.logBytes) return;
    if (offset !== pending.logBytes)
      throw new ConflictError(`the log of ${ref.jobKey} has ${pending.logBytes} bytes; this piece starts at ${offset}`);
    pending.logBytes += data.length;
    await appendFile(pending.spec.logFile, data);
    this.#deps.notify(ref.runId);
  }

  /** Where a blob an agent asks for is on this host (only blobs of trees offered to agents). */
  blobFile(sha256: string): string {
    const file = this.#blobs.get(sha256)?.[0];
    if (!file) throw new NotFoundError(`no file with sha256 ${sha256} was offered to agents`);
    return file;
  }

  /** Keeps a blob an agent sends (checked against its hash). */
  async putBlob(sha256: string, data: Uint8Array): Promise<void> {
    await this.#uploads.put(sha256, data);
  }

  /**
   * The agent's result: its files are written into the job's folder from the blobs it sent, and
   * the job ends, if the agent still holds its lease once they are (LEASE_LOST otherwise).
   */
  async finish(agentId: string, request: FinishRequest): Promise<void> {
    const pending = this.#holding(agentId, request);
    if (request.log) await this.#appendLog(pending, request, request.log.offset, Buffer.from(request.log.data, 'base64'));
    const jobFolder = path.dirname(pending.spec.artifactsOut);
    await materializeTree(jobFolder, request.files, this.#uploads, async (sha256) => {
      throw new GantryError('NOT_FOUND', `the agent did not send the blob ${sha256} (PUT /api/agents/blobs/${sha256} first)`);
    });
    const jobId = jobIdOf(request.runId, request.jobKey);
    const commands = this.#apply({ type: 'finish', jobId, agentId, fence: request.fence });
    if (!commands.some((c) => c.type === 'accepted')) throw leaseLost(request);
    this.#pending.delete(jobId);
    this.#forgetTreesOf(request.runId);
    await this.#deps.agents.endAttempt(request.runId, request.jobKey, request.fence, 'finished', this.#nowIso());
    const { result } = request;
    pending.resolve({
      status: result.status,
      outputs: result.outputs,
      steps: result.steps as unknown as StepResult[],
      tests: result.tests as unknown as TestCounts | null,
      logTruncated: result.logTruncated,
      ...(result.error === undefined ? {} : { error: result.error }),
    });
  }

  /** An agent revoked: its leases end now and its jobs go to other agents. */
  dropAgent(agentId: string): void {
    this.#wake.get(agentId)?.();
    this.#apply({ type: 'agent-gone', agentId, at: this.#deps.clock.now() });
  }

  /**
   * How an agent looks from here: `connected` while it waits in a poll or was heard from within a
   * lease (a renewal at least every third of one), `lost` otherwise; its capacity and labels as
   * its last poll gave them (free slots + jobs it held), null before this server heard from it.
   */
  presenceOf(agentId: string): { connected: boolean; capacity: number | null; labels: string[]; heardAt: string | null } {
    const presence = this.#presence.get(agentId);
    if (!presence) return { connected: false, capacity: null, labels: [], heardAt: null };
    const connected = this.#wake.has(agentId) || this.#deps.clock.now() - presence.heardAt <= this.#deps.leaseMs;
    return { connected, capacity: presence.capacity, labels: presence.labels, heardAt: new Date(presence.heardAt).toISOString() };
  }

  /** Who holds what, for `GET /api/agents`. */
  leases(): { agentId: string; runId: string; jobKey: string; fence: number; expiresAt: string }[] {
    return Object.values(this.#book.leases).map((l) => {
      const [runId = '', jobKey = ''] = splitJobId(l.jobId);
      return { agentId: l.agentId, runId, jobKey, fence: l.fence, expiresAt: new Date(l.expiresAt).toISOString() };
    });
  }

  #holding(agentId: string, ref: JobRef): PendingJob {
    const jobId = jobIdOf(ref.runId, ref.jobKey);
    const commands = this.#apply({ type: 'report', jobId, agentId, fence: ref.fence });
    const pending = this.#pending.get(jobId);
    if (!pending || !commands.some((c) => c.type === 'accepted')) throw leaseLost(ref);
    return pending;
  }

  #apply(event: LeaseEvent): LeaseCommand[] {
    const step = reduceLeases(this.#book, event, { leaseMs: this.#deps.leaseMs });
    this.#book = step.book;
    for (const command of step.commands) this.#carryOut(command);
    return step.commands;
  }

  #carryOut(command: LeaseCommand): void {
    switch (command.type) {
      case 'grant': {
        const pending = this.#pending.get(command.jobId);
        if (!pending) return;
        pending.fence = command.fence;
        pending.logBytes = 0;
        pending.stored = this.#deps.agents
          .beginAttempt({
            runId: pending.runId,
            jobKey: pending.jobKey,
            fence: command.fence,
            agentId: command.agentId,
            startedAt: this.#nowIso(),
          })
          // A new attempt's log starts empty: what a lost agent sent belongs to the attempt that ended.
          .then(() => truncate(pending.spec.logFile, 0))
          .then(
            () => true,
            (error: unknown) => {
              this.#deps.warn(LOG.attemptNotStored, { jobId: command.jobId, fence: command.fence, err: error });
              return false;
            },
          );
        const list = this.#granted.get(command.agentId) ?? [];
        list.push(command.jobId);
        this.#granted.set(command.agentId, list);
        return;
      }
      case 'answer-poll':
        this.#wake.get(command.agentId)?.();
        return;
      case 'expired': {
        this.#deps.warn(LOG.leaseExpired, { jobId: command.jobId, agentId: command.agentId, fence: command.fence });
        const [runId = '', jobKey = ''] = splitJobId(command.jobId);
        void this.#deps.agents.endAttempt(runId, jobKey, command.fence, 'lease-lost', this.#nowIso()).catch(() => undefined);
        return;
      }
      case 'revoked': {
        const [runId = '', jobKey = ''] = splitJobId(command.jobId);
        void this.#deps.agents.endAttempt(runId, jobKey, command.fence, 'withdrawn', this.#nowIso()).catch(() => undefined);
        return;
      }
      case 'accepted':
      case 'fenced':
        return;
    }
  }

  async #assignment(pending: PendingJob): Promise<Assignment> {
    const { spec } = pending;
    await spec.sourceReady;
    const source = await this.#tree(spec.sourceDir);
    const artifactsIn = await Promise.all(spec.artifactsIn.map((dir) => this.#tree(dir)));
    return {
      runId: pending.runId,
      jobKey: pending.jobKey,
      fence: pending.fence,
      leaseMs: this.#deps.leaseMs,
      job: { ...spec.job },
      // The workspace is the agent's: it fills `gantry.workspace` in itself.
      context: { ...spec.context, gantry: { ...spec.context.gantry, workspace: '' } },
      source: source.manifest,
      artifactsIn: artifactsIn.map((t) => t.manifest),
      logCapBytes: spec.logCapBytes,
      sandbox: spec.sandbox,
    };
  }

  #tree(dir: string): Promise<TreeIndex> {
    let tree = this.#trees.get(dir);
    if (!tree) {
      tree = indexTree(dir).then((index) => {
        for (const [sha256, file] of index.blobs) this.#blobs.set(sha256, [...(this.#blobs.get(sha256) ?? []), file]);
        return index;
      });
      this.#trees.set(dir, tree);
      tree.catch(() => this.#trees.delete(dir));
    }
    return tree;
  }

  #touch(agentId: string): void {
    const now = this.#deps.clock.now();
    if (now - (this.#touched.get(agentId) ?? Number.NEGATIVE_INFINITY) < TOUCH_EVERY_MS) return;
    this.#touched.set(agentId, now);
    void this.#deps.agents.touch(agentId, this.#nowIso()).catch(() => undefined);
  }

  /** Once no job of the run waits for an agent, its trees (and their blobs) are no longer offered. */
  #forgetTreesOf(runId: string): void {
    const left = (this.#pendingPerRun.get(runId) ?? 1) - 1;
    if (left > 0) {
      this.#pendingPerRun.set(runId, left);
      return;
    }
    this.#pendingPerRun.delete(runId);
    const marker = `${path.sep}${runId}${path.sep}`;
    for (const dir of this.#trees.keys()) if (dir.includes(marker)) this.#trees.delete(dir);
    for (const [sha256, files] of this.#blobs) {
      const kept = files.filter((file) => !file.includes(marker));
      if (kept.length === 0) this.#blobs.delete(sha256);
      else this.#blobs.set(sha256, kept);
    }
  }

  #nowIso(): string {
    return new Date(this.#deps.clock.now()).toISOString();
  }
}

function jobIdOf(runId: string, jobKey: string): string {
  return `${runId}/${jobKey}`;
}

/** Run ids have no `/`; job keys may (matrix values), so split at the first. */
function splitJobId(jobId: string): [string, string] {
  const slash = jobId.indexOf('/');
  return [jobId.slice(0, slash), jobId.slice(slash + 1)];
}

function leaseLost(ref: JobRef): GantryError {
  return new GantryError('LEASE_LOST', `fencing token ${ref.fence} no longer holds ${ref.runId}/${ref.jobKey}: stop the job`);
}

function cancelledResult(reason: string): JobResult {
  return { status: 'cancelled', outputs: {}, steps: [], tests: null, logTruncated: false, error: reason };
}
