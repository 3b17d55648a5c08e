/**
 * Instance faults as processes feel them: SIGKILL, SIGSTOP until a deadline, and CPU or memory
 * pressure beside an instance until a deadline. Each fault that lasts leaves a helper process
 * (chaos-helper.ts) that ends it by itself at the deadline, so no pause and no pressure outlives
 * its experiment even when the server is killed; `revertInstanceFault` ends it at once.
 *
 * Pressure helpers carry the instance's GANTRY_INSTANCE_KEY, so they count as the instance's
 * processes: a stop or restart of the instance ends them too. They do not run inside the
 * instance's bubblewrap namespaces (joining them needs privileges Gantry does not have); CPU and
 * memory are shared by the host either way, so the pressure the service feels is the same
 * (docs/decisions/0035).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ProcessMark } from '../core/chaos-config.ts';
import { childEnv } from '../platform/child-env.ts';
import { isSameProcess, readStat, startTimeOf } from '../platform/proc.ts';
import { INSTANCE_KEY_VAR, instanceProcesses, terminateInstance, type InstanceProcessRef } from './process-control.ts';

const HELPER_FILE = new URL(`./chaos-helper.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url);

/** What a lasting fault left in place, enough for anyone (this server or the next) to revert it. */
export interface LastingFault {
  /** Processes stopped by a pause. */
  paused: ProcessMark[];
  /** Helper processes: the resume at the deadline, or the pressure workers. */
  helpers: ProcessMark[];
}

/** A running instance as the supervisor hands it to a fault (Supervisor.faultable). */
export interface FaultableInstance {
  ref: InstanceProcessRef;
  /** The graceful restart: out of traffic, the stop signal, drained, started again. */
  restart(reason: string): void;
}

export type { ProcessMark };

export type PressureSpec = { kind: 'cpu'; workers: number } | { kind: 'memory'; bytes: number };

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

/** Starts pressure helpers beside the instance, each ending by itself at `deadlineAt`. */
export async function pressInstance(ref: InstanceProcessRef, spec: PressureSpec, deadlineAt: number): Promise<LastingFault> {
  const env = { [INSTANCE_KEY_VAR]: ref.envKey };
  const argv =
    spec.kind === 'cpu' ? ['cpu', '--until', String(deadlineAt)] : ['memory', '--until', String(deadlineAt), '--bytes', String(spec.bytes)];
  const count = spec.kind === 'cpu' ? spec.workers : 1;
  const helpers = await Promise.all(Array.from({ length: count }, () => startHelper(argv, env)));
  return { paused: [], helpers };
}

/** Ends a lasting fault now: resumes what it paused and kills its helpers. Idempotent; safe after the deadline. */
export function revertInstanceFault(fault: LastingFault): void {
  for (const m of fault.paused) signal(m, 'SIGCONT');
  for (const m of fault.helpers) signal(m, 'SIGKILL');
}

/** Whether anything of a lasting fault is still in place (a paused process, a live helper). */
export function lastingFaultInPlace(fault: LastingFault): boolean {
  const stopped = fault.paused.some((m) => isSameProcess(m.pid, m.startTime) && readStat(m.pid)?.state === 'T');
  return stopped || fault.helpers.some((m) => isSameProcess(m.pid, m.startTime));
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
