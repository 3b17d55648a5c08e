/**
 * Runs one step's process and, when it must stop early, ends everything it started.
 *
 * A step is a shell script: it forks freely, puts jobs in the background, and may even start
 * processes in a new session (`setsid`, daemons) that leave its process group. Killing only the
 * shell would leave those running on the executor forever, so a stop (timeout or cancel) does:
 *
 * 1. snapshot the tree: every process whose parent chain leads to the step (read from /proc)
 *    plus every member of the step's process group. The snapshot is taken BEFORE killing,
 *    because once a parent dies its children are re-parented to init and the link is lost;
 * 2. SIGTERM to the group and to every process of the snapshot;
 * 3. after the grace period (default 5 s), SIGKILL to whatever of the snapshot (and of a fresh
 *    snapshot, for processes forked meanwhile) is still alive.
 *
 * `spawnStep` is the plain path (one Node spawn per step), used when the step helper of
 * spawner.ts cannot run; the helper uses the same stop logic (`killProcessTree`) and leftovers.
 *
 * The step runs in its own session and process group (`detached`), with stdin on /dev/null.
 * Background processes that outlive a step that exited normally are not killed here (a step may
 * start a server for the next one); their output keeps flowing to `onStdout`/`onStderr`, and the
 * job runner ends them when the job ends with `killLeftovers`.
 */
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { GantryError } from '../core/errors.ts';
import { listProcesses, readStat, type ProcStat } from '../platform/proc.ts';

export interface SpawnStepOptions {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  /** Ends the tree after this many ms and reports `timedOut`. */
  timeoutMs?: number;
  /** Aborting ends the tree and reports `cancelled`. */
  signal: AbortSignal;
  /** Between SIGTERM and SIGKILL. Default 5000. */
  killGraceMs?: number;
  onStdout(chunk: Buffer): void;
  onStderr(chunk: Buffer): void;
}

export interface StepExit {
  /** null when the process was ended by a signal. */
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  cancelled: boolean;
  durationMs: number;
  /** The step's pid (also its process group id); null when it never started. */
  pid: number | null;
  /** Processes of the step still running after it exited normally (background jobs), for `killLeftovers`. */
  leftovers: ProcessRef[];
}

export const DEFAULT_KILL_GRACE_MS = 5000;
/**
 * After the step's process exits, how long to wait for its pipes to close. A background process
 * holding them open must not keep the step running; its output still reaches the callbacks.
 */
const STDIO_DRAIN_MS = 200;
const POLL_MS = 25;

/** Spawns a step and resolves when it exited (and, if it was stopped, when its tree is gone). */
export async function spawnStep(o: SpawnStepOptions): Promise<StepExit> {
  const started = performance.now();
  if (o.signal.aborted) {
    return { exitCode: null, signal: null, timedOut: false, cancelled: true, durationMs: 0, pid: null, leftovers: [] };
  }
  const [command, ...args] = o.argv;
  if (command === undefined) throw new GantryError('SPAWN_FAILED', 'a step needs a command line');
  const child = spawn(command, args, {
    cwd: o.cwd,
    env: o.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', o.onStdout);
  child.stderr.on('data', o.onStderr);

  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (err) => reject(new GantryError('SPAWN_FAILED', `cannot start ${command}: ${err.message}`)));
  });
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const stdioClosed = Promise.all([
    new Promise<void>((r) => child.stdout.once('close', () => r())),
    new Promise<void>((r) => child.stderr.once('close', () => r())),
  ]);
  await spawned;
  const pid = child.pid ?? null;

  const stopper = new StepStopper(o);
  if (pid !== null) stopper.attach(pid);

  try {
    const exit = await exited;
    const killed = await stopper.settle();
    const closed = await Promise.race([stdioClosed.then(() => true), delay(STDIO_DRAIN_MS, false, { ref: false })]);
    if (!closed) {
      // Pipes held by background processes must not keep this process (e.g. `gantry run`) alive.
      for (const stream of [child.stdout, child.stderr]) (stream as Readable & { unref?: () => void }).unref?.();
    }
    return {
      exitCode: exit.code,
      signal: exit.signal,
      timedOut: stopper.timedOut,
      cancelled: stopper.cancelled,
      durationMs: Math.round(performance.now() - started),
      pid,
      leftovers: killed || pid === null ? [] : leftoverProcesses(pid),
    };
  } finally {
    stopper.dispose();
  }
}

/**
 * A running step's cancel (the abort signal) and timeout: ends its whole tree once and records
 * why. The pid may arrive after a stop was asked for (the spawner reports it); the stop then
 * happens as soon as it does.
 */
export class StepStopper {
  timedOut = false;
  cancelled = false;
  #killing: Promise<void> | null = null;
  #pid: number | null = null;
  #requested: 'timeout' | 'cancel' | null = null;
  #done = false;
  readonly #signal: AbortSignal;
  readonly #graceMs: number;
  readonly #timer: NodeJS.Timeout | null;
  readonly #target: (pid: number) => number;
  readonly #onAbort = () => this.#stop('cancel');

  /**
   * `target` picks the tree to end from the attached pid when the stop comes (by default that
   * pid's own): a step started as bubblewrap's command is stopped through the sandbox's init,
   * which lets the step's trap run, where ending bubblewrap would SIGKILL the whole sandbox.
   */
  constructor(o: { signal: AbortSignal; timeoutMs?: number; killGraceMs?: number; target?: (pid: number) => number }) {
    this.#signal = o.signal;
    this.#target = o.target ?? ((pid) => pid);
    this.#graceMs = o.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
    o.signal.addEventListener('abort', this.#onAbort, { once: true });
    this.#timer = o.timeoutMs !== undefined ? setTimeout(() => this.#stop('timeout'), Math.max(0, o.timeoutMs)) : null;
    if (o.signal.aborted) this.#stop('cancel');
  }

  /** The step's pid (its process group): a stop asked for before is carried out now. */
  attach(pid: number): void {
    this.#pid = pid;
    if (this.#requested) this.#stop(this.#requested);
  }

  /** The step ended: no more stops; waits for a kill under way. Resolves whether one happened. */
  async settle(): Promise<boolean> {
    this.#done = true;
    if (this.#killing) await this.#killing;
    return this.#killing !== null;
  }

  dispose(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#signal.removeEventListener('abort', this.#onAbort);
  }

  #stop(reason: 'timeout' | 'cancel'): void {
    if (this.#done || this.#killing) return;
    if (this.#pid === null) {
      this.#requested ??= reason;
      return;
    }
    if (reason === 'timeout') this.timedOut = true;
    else this.cancelled = true;
    this.#killing = killProcessTree(this.#target(this.#pid), this.#graceMs);
  }
}

/**
 * Ends a process tree rooted at `pid` (also the id of its process group): SIGTERM to the group
 * and every descendant found through /proc, then SIGKILL to survivors after `graceMs`. Resolves
 * when everything of the snapshot is gone or was sent SIGKILL. Only for a child that has not
 * been reaped yet (its pid cannot have been reused); for what a finished step left behind, use
 * `killLeftovers`.
 */
export async function killProcessTree(pid: number, graceMs: number): Promise<void> {
  const first = treeOf([pid], listProcesses(), pid);
  signalAll(pid, first, 'SIGTERM');
  const deadline = performance.now() + graceMs;
  while (performance.now() < deadline) {
    if (![...first].some(isAlive) && !groupAlive(pid)) return;
    await delay(POLL_MS);
  }
  const survivors = new Set([...first, ...treeOf([pid], listProcesses(), pid)].filter(isAlive));
  signalAll(pid, survivors, 'SIGKILL');
}

/** A process identified robustly: pids are reused, (pid, start time) pairs are not. */
export interface ProcessRef {
  pid: number;
  startTime: string;
}

/** The live members of a process group (what a step that exited left running in the background). */
export function leftoverProcesses(pgid: number): ProcessRef[] {
  // One syscall answers the usual case (nothing left in the group) without scanning /proc.
  if (!groupHasMembers(pgid)) return [];
  return listProcesses()
    .filter((p) => p.pgrp === pgid && p.state !== 'Z' && p.state !== 'X')
    .map((p) => ({ pid: p.pid, startTime: p.startTime }));
}

/** Refs for pids found some other way (e.g. by their environment); pids already gone are dropped. */
export function processRefs(pids: readonly number[]): ProcessRef[] {
  const refs: ProcessRef[] = [];
  for (const pid of pids) {
    const info = readStat(pid);
    if (info && info.state !== 'Z' && info.state !== 'X') refs.push({ pid, startTime: info.startTime });
  }
  return refs;
}

/**
 * Ends processes a finished step left behind, and their descendants: SIGTERM, then SIGKILL after
 * `graceMs`. A ref whose pid now belongs to another process (different start time) is ignored,
 * so a reused pid never gets another job's process killed.
 */
export async function killLeftovers(refs: readonly ProcessRef[], graceMs: number): Promise<void> {
  if (refs.length === 0) return;
  const snapshot = () => {
    const procs = listProcesses();
    const byPid = new Map(procs.map((p) => [p.pid, p]));
    const roots = refs.filter((r) => byPid.get(r.pid)?.startTime === r.startTime).map((r) => r.pid);
    return roots.length === 0 ? new Set<number>() : treeOf(roots, procs, null);
  };
  const first = snapshot();
  if (first.size === 0) return;
  signalAll(null, first, 'SIGTERM');
  const deadline = performance.now() + graceMs;
  while (performance.now() < deadline) {
    if (![...first].some(isAlive)) return;
    await delay(POLL_MS);
  }
  signalAll(null, new Set([...first, ...snapshot()].filter(isAlive)), 'SIGKILL');
}

function signalAll(pgid: number | null, pids: Iterable<number>, signal: NodeJS.Signals): void {
  if (pgid !== null) {
    try {
      process.kill(-pgid, signal);
    } catch {
      // The group is already empty.
    }
  }
  for (const p of pids) {
    try {
      process.kill(p, signal);
    } catch {
      // Already gone.
    }
  }
}

/** The roots, every member of process group `pgid` (if given), and every descendant of those by parent links. */
function treeOf(roots: number[], procs: ProcStat[], pgid: number | null): Set<number> {
  const children = new Map<number, number[]>();
  for (const p of procs) {
    const list = children.get(p.ppid);
    if (list) list.push(p.pid);
    else children.set(p.ppid, [p.pid]);
  }
  const found = new Set<number>();
  const queue = [...roots];
  if (pgid !== null) queue.push(...procs.filter((p) => p.pgrp === pgid).map((p) => p.pid));
  while (queue.length > 0) {
    const pid = queue.pop() as number;
    if (found.has(pid)) continue;
    found.add(pid);
    for (const child of children.get(pid) ?? []) queue.push(child);
  }
  return found;
}

/** Alive and not a zombie (a zombie is dead; it only waits for its parent to reap it). */
export function isAlive(pid: number): boolean {
  const info = readStat(pid);
  return info !== null && info.state !== 'Z' && info.state !== 'X';
}

function groupHasMembers(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function groupAlive(pgid: number): boolean {
  return listProcesses().some((p) => p.pgrp === pgid && p.state !== 'Z' && p.state !== 'X');
}
