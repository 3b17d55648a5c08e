/**
 * What Gantry reads from /proc (the executor's process trees, the supervisor's instances, the
 * proxies' host processes). Pids are reused, so a process is identified by
 * (pid, start time) — field 22 of /proc/<pid>/stat, in clock ticks since boot — which is what
 * instance records persist and what adoption compares. Trees follow parent links and process
 * groups; instance processes that left both (`setsid` daemons) are still found by the
 * GANTRY_INSTANCE_KEY variable every one of them inherits.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcStat {
  pid: number;
  ppid: number;
  pgrp: number;
  /** One letter: R, S, D, Z (zombie), X (dead), … */
  state: string;
  /** The executable's name (`bash`, `node`, `bwrap`), at most 15 characters. */
  comm: string;
  startTime: string;
  /** utime + stime, in clock ticks. */
  cpuTicks: number;
  /** cutime + cstime: the CPU of the children it has waited for, in clock ticks. */
  childrenCpuTicks: number;
}

/** Linux reports CPU times in USER_HZ ticks, which is 100 on every architecture Node runs on. */
export const CLOCK_TICKS_PER_SECOND = 100;

export function readStat(pid: number): ProcStat | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  // The command name may hold spaces and parentheses: the fields start after the LAST ')'.
  const close = stat.lastIndexOf(')');
  const fields = stat.slice(close + 2).split(' ');
  return {
    pid,
    comm: stat.slice(stat.indexOf('(') + 1, close),
    state: fields[0] ?? '',
    ppid: Number(fields[1]),
    pgrp: Number(fields[2]),
    cpuTicks: Number(fields[11]) + Number(fields[12]),
    childrenCpuTicks: Number(fields[13]) + Number(fields[14]),
    startTime: fields[19] ?? '',
  };
}

/** The pids in /proc/<pid>/task/<pid>/children: the children its main thread forked (or adopted, as a subreaper). */
export function childrenOf(pid: number): number[] {
  try {
    const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1').trim();
    return text === '' ? [] : text.split(' ').map(Number);
  } catch {
    return [];
  }
}

/** Alive and not a zombie (a zombie is dead; it only waits to be reaped). */
export function isLive(info: ProcStat | null): info is ProcStat {
  return info !== null && info.state !== 'Z' && info.state !== 'X';
}

/** The start time of a live process, or null when `pid` is gone. */
export function startTimeOf(pid: number): string | null {
  const info = readStat(pid);
  return isLive(info) ? info.startTime : null;
}

/** Whether `pid` is still the process that had `startTime` (not gone, not reused). */
export function isSameProcess(pid: number, startTime: string): boolean {
  return startTimeOf(pid) === startTime;
}

/** One pass over /proc; processes vanishing meanwhile are skipped. */
export function listProcesses(): ProcStat[] {
  const out: ProcStat[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const name of entries) {
    const code = name.charCodeAt(0);
    if (code < 48 || code > 57) continue;
    const info = readStat(Number(name));
    if (isLive(info)) out.push(info);
  }
  return out;
}

/** The roots, the members of group `pgid` (when given), and all their descendants. */
export function treeOf(roots: readonly number[], procs: readonly ProcStat[], pgid: number | null): Set<number> {
  const children = new Map<number, number[]>();
  for (const p of procs) {
    const list = children.get(p.ppid);
    if (list) list.push(p.pid);
    else children.set(p.ppid, [p.pid]);
  }
  const live = new Set(procs.map((p) => p.pid));
  const queue = roots.filter((r) => live.has(r));
  if (pgid !== null) queue.push(...procs.filter((p) => p.pgrp === pgid).map((p) => p.pid));
  const found = new Set<number>();
  while (queue.length > 0) {
    const pid = queue.pop() as number;
    if (found.has(pid)) continue;
    found.add(pid);
    for (const child of children.get(pid) ?? []) queue.push(child);
  }
  return found;
}

/** Pids of live processes whose environment holds `name=value` (only our own user's are readable). */
export function processesWithEnv(name: string, value: string, procs: readonly ProcStat[] = listProcesses()): number[] {
  const want = `${name}=${value}`;
  const found: number[] = [];
  for (const p of procs) {
    let environ: string;
    try {
      environ = readFileSync(`/proc/${p.pid}/environ`, 'latin1');
    } catch {
      continue;
    }
    if (environ.split('\0').includes(want)) found.push(p.pid);
  }
  return found;
}

/** Resident memory of a process from /proc/<pid>/status (VmRSS is in kB whatever the page size). */
export function rssBytesOf(pid: number): number | null {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'latin1');
  } catch {
    return null;
  }
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  // Kernel threads and zombies have no VmRSS line: they hold no user memory.
  return match ? Number(match[1]) * 1024 : 0;
}
