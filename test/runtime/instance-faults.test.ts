/**
 * Instance faults on real processes: a pause ends at its deadline by itself even when the process
 * that set it (the server) is SIGKILLed; pressure workers beside an unsandboxed instance count as its processes, end
 * at the deadline by themselves, and at once on revert; a kill takes every process of the instance.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { readStat, rssBytesOf, startTimeOf } from '../../src/platform/proc.ts';
import { killInstance, lastingFaultInPlace, pauseInstance, pressInstance, revertInstanceFault } from '../../src/runtime/instance-faults.ts';
import { INSTANCE_KEY_VAR, instanceProcesses, type InstanceProcessRef } from '../../src/runtime/process-control.ts';
import { waitFor } from '../support/wait.ts';

const started: ChildProcess[] = [];
const helpers: number[] = [];

afterEach(() => {
  // The whole process group: the stand-in's child outlived its root in a CI run (three were left).
  for (const c of started.splice(0)) if (c.pid !== undefined) for (const target of [-c.pid, c.pid]) tryKill(target, 'SIGKILL');
  for (const pid of helpers.splice(0)) tryKill(pid, 'SIGKILL');
});

function tryKill(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone
  }
}

/** A stand-in instance: a process group whose root forks one child, both carrying the instance key. */
function startInstance(): InstanceProcessRef {
  const envKey = `test-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const child = spawn(
    process.execPath,
    [
      '-e',
      "require('node:child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' }); setInterval(() => {}, 1000)",
    ],
    { detached: true, stdio: 'ignore', env: { ...process.env, [INSTANCE_KEY_VAR]: envKey } },
  );
  started.push(child);
  const pid = child.pid as number;
  return { pid, startTime: startTimeOf(pid) as string, envKey, sandboxed: false };
}

const state = (pid: number) => readStat(pid)?.state ?? 'gone';

describe('instance faults', () => {
  it('resumes a paused instance at the deadline even after the process that paused it was killed -9', async () => {
    const ref = startInstance();
    const pids = await waitFor(() => (instanceProcesses(ref).size === 2 ? [...instanceProcesses(ref)] : undefined), {
      what: 'the instance and its child',
    });
    const deadlineAt = Date.now() + 1500;
    // The "server": a separate process that sets the pause, reports it, and is then killed -9.
    const faults = fileURLToPath(new URL('../../src/runtime/instance-faults.ts', import.meta.url));
    const server = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const f = await import(${JSON.stringify(faults)}); const r = await f.pauseInstance(${JSON.stringify(ref)}, ${deadlineAt}); console.log(JSON.stringify(r)); setInterval(() => {}, 1000);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    started.push(server);
    let out = '';
    server.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const applied = await waitFor(
      () => (out.includes('\n') ? (JSON.parse(out) as { paused: unknown[]; helpers: { pid: number }[] }) : undefined),
      {
        what: 'the pause to be set',
      },
    );
    for (const h of applied.helpers) helpers.push(h.pid);
    expect(applied.paused).toHaveLength(2);
    await waitFor(() => pids.every((p) => state(p) === 'T'), { what: 'both processes to be stopped' });
    server.kill('SIGKILL');
    await waitFor(() => server.exitCode !== null || server.signalCode !== null, { what: 'the server to die' });
    expect(pids.map(state)).toEqual(['T', 'T']); // the pause outlives the server until its deadline…
    const resumedAt = await waitFor(() => (pids.every((p) => state(p) !== 'T') ? Date.now() : undefined), {
      what: 'the helper to resume the instance at the deadline',
      timeoutMs: 10_000,
    });
    // … and not much longer (slack for a loaded machine).
    expect(resumedAt).toBeGreaterThanOrEqual(deadlineAt - 50);
    expect(resumedAt - deadlineAt).toBeLessThan(1500);
  }, 30_000);

  it('reverts a pause at once when asked', async () => {
    const ref = startInstance();
    await waitFor(() => instanceProcesses(ref).size === 2, { what: 'the instance and its child' });
    const fault = await pauseInstance(ref, Date.now() + 60_000);
    for (const h of fault.helpers) helpers.push(h.pid);
    expect(lastingFaultInPlace(fault)).toBe(true);
    revertInstanceFault(fault);
    await waitFor(() => !lastingFaultInPlace(fault), { what: 'the pause to end and its helper to go' });
    expect(fault.paused.map((m) => state(m.pid))).not.toContain('T');
  }, 30_000);

  it('runs pressure helpers as processes of the instance, ending at the deadline or on revert', async () => {
    const ref = startInstance();
    await waitFor(() => instanceProcesses(ref).size === 2, { what: 'the instance and its child' });
    const memory = await pressInstance(ref, { kind: 'memory', bytes: 64 * 1024 * 1024 }, Date.now() + 60_000);
    // Deadlines far off: on a loaded machine starting the helpers can take longer than a short one.
    const cpu = await pressInstance(ref, { kind: 'cpu', workers: 2 }, Date.now() + 60_000);
    for (const h of [...cpu.helpers, ...memory.helpers]) helpers.push(h.pid);
    expect(cpu.helpers).toHaveLength(2);
    // Counted as the instance's: a stop or restart of the instance ends them with it.
    const mine = instanceProcesses(ref);
    for (const h of [...cpu.helpers, ...memory.helpers]) expect(mine.has(h.pid)).toBe(true);
    await waitFor(() => (rssBytesOf(memory.helpers[0]?.pid as number) ?? 0) >= 64 * 1024 * 1024, { what: 'the memory to be held' });
    revertInstanceFault(cpu);
    await waitFor(() => !lastingFaultInPlace(cpu), { what: 'the CPU workers to end on revert' });
    expect(lastingFaultInPlace(memory)).toBe(true);
    const brief = await pressInstance(ref, { kind: 'memory', bytes: 1024 * 1024 }, Date.now() + 300);
    for (const h of brief.helpers) helpers.push(h.pid);
    await waitFor(() => !lastingFaultInPlace(brief), { what: 'the helper to end at its deadline', timeoutMs: 10_000 });
    expect(lastingFaultInPlace(memory)).toBe(true);
    revertInstanceFault(memory);
    await waitFor(() => !lastingFaultInPlace(memory), { what: 'the memory helper to be killed' });
  }, 30_000);

  it('kills every process of the instance', async () => {
    const ref = startInstance();
    await waitFor(() => instanceProcesses(ref).size === 2, { what: 'the instance and its child' });
    expect(await killInstance(ref)).toBe(2);
    expect(instanceProcesses(ref).size).toBe(0);
  }, 30_000);
});
