/**
 * Ending an instance's processes, and measuring them.
 *
 * An instance is a process group (it is spawned `detached`), but a service may fork, leave the
 * group (`setsid`) or run inside bubblewrap (whose inner processes sit in their own session).
 * So "the instance" is: its root process while it is still the same process (pid + start time),
 * the root's group and descendants, and every process carrying its GANTRY_INSTANCE_KEY. The
 * group is used only while the root is alive: a group id can be reused once it is empty.
 *
 * A soft stop (the service's stop signal) spares the bwrap processes of a sandboxed instance:
 * bwrap does not forward signals, and killing it first would report the instance gone while the
 * service inside is still draining; bwrap exits by itself, with the service's status, when the
 * service does.
 */
import { setTimeout as delay } from 'node:timers/promises';
import {
  CLOCK_TICKS_PER_SECOND,
  isLive,
  isSameProcess,
  listProcesses,
  processesWithEnv,
  readStat,
  rssBytesOf,
  treeOf,
  type ProcStat,
} from '../platform/proc.ts';

/** Every process of an instance carries this variable; its value is unique per data dir and instance. */
export const INSTANCE_KEY_VAR = 'GANTRY_INSTANCE_KEY';

export interface InstanceProcessRef {
  pid: number;
  startTime: string;
  envKey: string;
  sandboxed: boolean;
}

const POLL_MS = 20;
/** How long to wait for SIGKILLed processes to vanish (uninterruptible sleep can delay it). */
const KILL_WAIT_MS = 5000;

/** The live processes of an instance (see the module comment). */
export function instanceProcesses(ref: InstanceProcessRef): Set<number> {
  const procs = listProcesses();
  const rootAlive = isSameProcess(ref.pid, ref.startTime);
  const keyed = processesWithEnv(INSTANCE_KEY_VAR, ref.envKey, procs);
  return treeOf(rootAlive ? [ref.pid, ...keyed] : keyed, procs, rootAlive ? ref.pid : null);
}

/**
 * Sends `signal` to every process of the instance, waits up to `graceMs` for all of them to be
 * gone, then SIGKILLs what is left (including processes forked meanwhile). Resolves once they
 * are gone. Idempotent: on an instance already gone it returns at once.
 */
export async function terminateInstance(ref: InstanceProcessRef, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  const first = instanceProcesses(ref);
  if (first.size === 0) return;
  if (signal !== 'SIGKILL') {
    for (const pid of first) {
      if (ref.sandboxed && readStat(pid)?.comm === 'bwrap') continue;
      send(pid, signal);
    }
    await waitGone(first, graceMs);
  }
  const survivors = new Set([...first, ...instanceProcesses(ref)].filter(alive));
  for (const pid of survivors) send(pid, 'SIGKILL');
  await waitGone(survivors, KILL_WAIT_MS);
}

/**
 * SIGKILLs what an instance left behind after its root process ended (background jobs, daemons)
 * so that the next process gets a free port and no duplicate keeps serving. Returns their pids.
 */
export async function killLeftovers(envKey: string): Promise<number[]> {
  const pids = processesWithEnv(INSTANCE_KEY_VAR, envKey);
  for (const pid of pids) send(pid, 'SIGKILL');
  await waitGone(new Set(pids), KILL_WAIT_MS);
  return pids;
}

function send(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

function alive(pid: number): boolean {
  return isLive(readStat(pid));
}

async function waitGone(pids: Set<number>, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (![...pids].some(alive)) return true;
    if (performance.now() >= deadline) return false;
    await delay(POLL_MS);
  }
}

export interface TreeSample {
  /** null on the first sample of a process (no earlier counter to compare with). */
  cpuPercent: number | null;
  rssBytes: number;
}

/**
 * CPU and RSS of an instance's tree (root, group, descendants; the environment scan is skipped
 * here because sampling runs every few seconds for every instance). CPU is the growth of each
 * process's utime+stime since the previous sample; a process that appeared meanwhile counts
 * with all its ticks, one that ended is dropped. The shared /proc scan only says which processes
 * are in the tree: their ticks are read again at `atMs`, since a scan of a busy machine can take
 * longer than the interval and its counters would be older than the time they are divided by.
 */
export class TreeSampler {
  #ticks = new Map<string, number>();
  #lastAt: number | null = null;

  /** `procs`: one /proc scan shared by all the instances sampled in the same tick. */
  sample(rootPid: number, atMs: number, procs: readonly ProcStat[] = listProcesses()): TreeSample {
    const pids = treeOf([rootPid], procs, rootPid);
    const byPid = new Map(procs.map((p) => [p.pid, p]));
    const ticks = new Map<string, number>();
    let deltaTicks = 0;
    let rssBytes = 0;
    for (const pid of pids) {
      if (!byPid.has(pid)) continue;
      const p = readStat(pid);
      if (!isLive(p)) continue;
      const key = `${pid}:${p.startTime}`;
      ticks.set(key, p.cpuTicks);
      deltaTicks += Math.max(0, p.cpuTicks - (this.#ticks.get(key) ?? 0));
      rssBytes += rssBytesOf(pid) ?? 0;
    }
    const elapsedMs = this.#lastAt === null ? 0 : atMs - this.#lastAt;
    this.#ticks = ticks;
    this.#lastAt = atMs;
    const cpuPercent = elapsedMs > 0 ? Math.round((deltaTicks / CLOCK_TICKS_PER_SECOND / (elapsedMs / 1000)) * 1000) / 10 : null;
    return { cpuPercent, rssBytes };
  }
}
