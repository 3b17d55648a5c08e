/**
 * Instance faults as processes feel them: SIGKILL, SIGSTOP until a deadline, and CPU, memory or
 * disk-full pressure until a deadline. Each fault that lasts leaves a process that ends it by
 * itself at the deadline (chaos-helper.ts resumes a pause; a pressure worker, pressure-process.ts,
 * exits), so no pause and no pressure outlives its experiment even when the server is killed;
 * `revertInstanceFault` ends it at once.
 *
 * Pressure workers run inside a sandboxed instance's PID and mount namespaces (the service sees
 * them, and they end when its sandbox does), beside an unsandboxed one, and beside a sandboxed one
 * whose namespaces cannot be joined (the record says which). They carry the instance's
 * GANTRY_INSTANCE_KEY, so a stop or restart of the instance ends them too. Disk-full only ever
 * fills a size-limited tmpfs the instance was given (`service.tmp-size`): never a real disk
 * (docs/decisions/0045).
 */
import { spawn } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ProcessMark } from '../core/chaos-config.ts';
import { GantryError } from '../core/errors.ts';
import { childEnv } from '../platform/child-env.ts';
import { isSameProcess, readStat, startTimeOf } from '../platform/proc.ts';
import { NamespaceEntryError, startPressureWorker, type PressureWork } from './pressure-process.ts';
import { INSTANCE_KEY_VAR, instanceProcesses, terminateInstance, type InstanceProcessRef } from './process-control.ts';

const HELPER_FILE = new URL(`./chaos-helper.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url);

/** What a lasting fault left in place, enough for anyone (this server or the next) to revert it. */
export interface LastingFault {
  /** Processes stopped by a pause. */
  paused: ProcessMark[];
  /** Helper processes: the resume at the deadline, or the pressure workers. */
  helpers: ProcessMark[];
  /** For pressure: whether the workers run inside the instance's sandbox (its PID and mount namespaces) or beside it. */
  inside?: boolean;
  /** For disk-full: the bytes it took to fill the instance's /tmp. */
  filledBytes?: number;
}

/** A running instance as the supervisor hands it to a fault (Supervisor.faultable). */
export interface FaultableInstance {
  ref: InstanceProcessRef;
  /** The size of its /tmp when that is a tmpfs in its sandbox (service.tmp-size); null when /tmp is on disk. */
  tmpSizeBytes: number | null;
  /** The graceful restart: out of traffic, the stop signal, drained, started again. */
  restart(reason: string): void;
}

export type { ProcessMark };

export type PressureSpec =
  | { kind: 'cpu'; workers: number }
  | { kind: 'memory'; bytes: number }
  | { kind: 'disk-full'; tmpSizeBytes: number | null };

/** Where a disk-full fault writes, as the instance sees it: its private /tmp (a tmpfs of `service.tmp-size`). */
export const DISK_FULL_PATH = '/tmp';

/** SIGKILLs every process of the instance; its supervisor restarts it as after a crash. Returns how many were killed. */
export async function killInstance(ref: InstanceProcessRef): Promise<number> {
  const pids = instanceProcesses(ref);
  await terminateInstance(ref, 'SIGKILL', 0);
  return pids.size;
}

/**
 * SIGSTOPs every process of the instance and starts the helper that SIGCONTs them at
 * `deadlineAt`. The helper is started first: a pause is never in place without its end.
 */
export async function pauseInstance(ref: InstanceProcessRef, deadlineAt: number): Promise<LastingFault> {
  const marks = marksOf([...instanceProcesses(ref)]);
  const helper = await startHelper([
    'resume',
    '--until',
    String(deadlineAt),
    '--pids',
    marks.map((m) => `${m.pid}:${m.startTime}`).join(','),
  ]);
  for (const m of marks) signal(m, 'SIGSTOP');
  return { paused: marks, helpers: [helper] };
}

/**
 * Starts pressure workers inside the instance's sandbox (beside it when it has none, or when its
 * namespaces cannot be joined), each ending by itself at `deadlineAt`. Resolves once the pressure
 * is in place. A disk-full is refused (CHAOS_DISK_FULL_UNSAFE) unless its worker can run inside
 * and the instance's /tmp there is a size-limited tmpfs.
 */
export async function pressInstance(ref: InstanceProcessRef, spec: PressureSpec, deadlineAt: number): Promise<LastingFault> {
  const env = { [INSTANCE_KEY_VAR]: ref.envKey };
  const insidePid = ref.sandboxed ? sandboxedProcessOf(ref) : null;
  if (spec.kind === 'disk-full') {
    if (insidePid === null)
      throw new GantryError('CHAOS_DISK_FULL_UNSAFE', 'disk-full needs a sandboxed instance: without bubblewrap its /tmp is the host disk');
    const size = tmpfsSizeOf(insidePid, DISK_FULL_PATH);
    // The size the service asked for (the kernel rounds it up to whole pages): anything else may be a disk, or all of the RAM.
    if (size === null || spec.tmpSizeBytes === null || size > Math.ceil(spec.tmpSizeBytes / 4096) * 4096)
      throw new GantryError(
        'CHAOS_DISK_FULL_UNSAFE',
        `the instance's ${DISK_FULL_PATH} is not a size-limited tmpfs (set service.tmp-size and deploy again): filling it would fill a real disk`,
      );
    const worker = await startPressureWorker({ kind: 'disk', path: DISK_FULL_PATH }, deadlineAt, { insidePid, env }).catch(
      (error: unknown) => {
        if (error instanceof NamespaceEntryError)
          throw new GantryError('CHAOS_DISK_FULL_UNSAFE', `disk-full cannot reach the instance's sandbox: ${error.message}`);
        throw error;
      },
    );
    return { paused: [], helpers: [worker.mark], inside: true, filledBytes: worker.bytes };
  }
  const work: PressureWork = spec.kind === 'cpu' ? { kind: 'cpu' } : { kind: 'memory', bytes: spec.bytes };
  const count = spec.kind === 'cpu' ? spec.workers : 1;
  const helpers: ProcessMark[] = [];
  let inside = insidePid !== null;
  try {
    for (let i = 0; i < count; i++) {
      const worker = await startPressureWorker(work, deadlineAt, { insidePid: inside ? insidePid : null, env }).catch((error: unknown) => {
        // Namespaces that cannot be joined (an unusual setup): the same pressure, from beside the sandbox.
        if (!(error instanceof NamespaceEntryError)) throw error;
        inside = false;
        return startPressureWorker(work, deadlineAt, { insidePid: null, env });
      });
      helpers.push(worker.mark);
    }
  } catch (error) {
    for (const m of helpers) signal(m, 'SIGKILL');
    throw error;
  }
  return { paused: [], helpers, inside };
}

/** A process of a sandboxed instance that is inside its namespaces (not the outer bwrap), or null. */
export function sandboxedProcessOf(ref: InstanceProcessRef): number | null {
  const outside = nsOf(ref.pid, 'pid');
  if (outside === null) return null;
  for (const pid of instanceProcesses(ref)) {
    const ns = nsOf(pid, 'pid');
    if (ns !== null && ns !== outside) return pid;
  }
  return null;
}

/** The size of the tmpfs mounted on `path` as process `pid` sees it, or null when it is anything else or has no size limit. */
export function tmpfsSizeOf(pid: number, path: string): number | null {
  let info: string;
  try {
    info = readFileSync(`/proc/${pid}/mountinfo`, 'utf8');
  } catch {
    return null;
  }
  // The last mount on the path is the one on top (what the instance sees).
  let size: number | null = null;
  for (const line of info.split('\n')) {
    const [mine, theirs] = line.split(' - ');
    if (mine?.split(' ')[4] !== path || theirs === undefined) continue;
    const [fstype, , options = ''] = theirs.split(' ');
    const kib = /(?:^|,)size=(\d+)k(?:,|$)/.exec(options);
    size = fstype === 'tmpfs' && kib !== null ? Number(kib[1]) * 1024 : null;
  }
  return size;
}

function nsOf(pid: number, kind: 'pid' | 'mnt'): string | null {
  try {
    return readlinkSync(`/proc/${pid}/ns/${kind}`);
  } catch {
    return null;
  }
}

/** Ends a lasting fault now: resumes what it paused and kills its helpers. Idempotent; safe after the deadline. */
export function revertInstanceFault(fault: LastingFault): void {
  for (const m of fault.paused) signal(m, 'SIGCONT');
  for (const m of fault.helpers) signal(m, 'SIGKILL');
}

/** Whether anything of a lasting fault is still in place (a paused process, a live helper). */
export function lastingFaultInPlace(fault: LastingFault): boolean {
  const stopped = fault.paused.some((m) => isSameProcess(m.pid, m.startTime) && readStat(m.pid)?.state === 'T');
  // A worker killed with its sandbox stays a zombie until the host's init reaps it: ended all the same.
  return stopped || fault.helpers.some((m) => isSameProcess(m.pid, m.startTime) && readStat(m.pid)?.state !== 'Z');
}

async function startHelper(argv: string[], env: Record<string, string> = {}): Promise<ProcessMark> {
  const child = spawn(process.execPath, [fileURLToPath(HELPER_FILE), ...argv], {
    detached: true,
    stdio: 'ignore',
    env: childEnv({ set: env }),
  });
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new Error('the chaos helper process could not be started');
  const startTime = startTimeOf(pid);
  if (startTime === null) throw new Error('the chaos helper process ended at once');
  return { pid, startTime };
}

function marksOf(pids: number[]): ProcessMark[] {
  const out: ProcessMark[] = [];
  for (const pid of pids) {
    const startTime = startTimeOf(pid);
    if (startTime !== null) out.push({ pid, startTime });
  }
  return out;
}

function signal(m: ProcessMark, sig: NodeJS.Signals): void {
  if (!isSameProcess(m.pid, m.startTime)) return;
  try {
    process.kill(m.pid, sig);
  } catch {
    // Gone meanwhile.
  }
}
