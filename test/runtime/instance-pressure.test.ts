/**
 * Pressure inside an instance's sandbox, on real bubblewrap sandboxes: CPU and memory workers run
 * in the instance's PID namespace (it can see them) and end on revert, at their deadline, and with
 * the instance; a non-root server (here: the nobody user) reaches them through bwrap's nested user
 * namespaces too, and its kill -9 leaves the fault only until the deadline; disk-full fills the
 * instance's size-limited /tmp (the service sees ENOSPC) and frees it on revert and at the
 * deadline, and is refused wherever /tmp could be a real disk.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { sandboxAvailable } from '../../src/executor/index.ts';
import { readStat, rssBytesOf, startTimeOf } from '../../src/platform/proc.ts';
import {
  lastingFaultInPlace,
  pressInstance,
  revertInstanceFault,
  sandboxedProcessOf,
  type LastingFault,
} from '../../src/runtime/instance-faults.ts';
import { instanceSandboxArgv } from '../../src/runtime/instance-sandbox.ts';
import { INSTANCE_KEY_VAR, type InstanceProcessRef, terminateInstance } from '../../src/runtime/process-control.ts';
import { waitFor } from '../support/wait.ts';

const NOBODY = 65534;
const AS_NOBODY = ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--inh-caps=-all'];
const root = mkdtempSync(join(tmpdir(), 'gantry-pressure-'));
const started: ChildProcess[] = [];
const faults: LastingFault[] = [];

afterEach(() => {
  for (const f of faults.splice(0)) revertInstanceFault(f);
  for (const c of started.splice(0)) if (c.pid !== undefined) for (const target of [-c.pid, c.pid]) tryKill(target);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function tryKill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
}

/**
 * A sandboxed stand-in instance: every 50 ms it writes 64 KiB to its /tmp and records `ok` or the
 * error's code in `status` (in its own writable dir, readable from outside).
 */
function startSandboxed(o: { tmpSizeBytes?: number; asNobody?: boolean } = {}): { ref: InstanceProcessRef; status: () => string } {
  const dir = mkdtempSync(join(root, 'instance-'));
  const [home, tmp, work] = ['home', 'tmp', 'work'].map((d) => join(dir, d)) as [string, string, string];
  for (const d of [home, tmp, work]) mkdirSync(d);
  if (o.asNobody) for (const d of [root, dir, home, tmp, work]) chownSync(d, NOBODY, NOBODY);
  const statusFile = join(home, 'status');
  const service = `
    const fs = require('node:fs');
    setInterval(() => {
      let result = 'ok';
      try { fs.writeFileSync('/tmp/probe', Buffer.alloc(65536)); } catch (e) { result = e.code; }
      fs.rmSync('/tmp/probe', { force: true });
      fs.writeFileSync(${JSON.stringify(`${statusFile}.new`)}, result);
      fs.renameSync(${JSON.stringify(`${statusFile}.new`)}, ${JSON.stringify(statusFile)});
    }, 50);`;
  const argv = instanceSandboxArgv([process.execPath, '-e', service], {
    workDir: work,
    instanceDir: home,
    tmpDir: tmp,
    hiddenPaths: [],
    cwd: work,
    tmpSizeBytes: o.tmpSizeBytes,
  });
  const command = o.asNobody ? [...AS_NOBODY, ...argv] : argv;
  const envKey = `pressure-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const child = spawn(command[0] as string, command.slice(1), {
    detached: true,
    stdio: 'ignore',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', [INSTANCE_KEY_VAR]: envKey },
  });
  started.push(child);
  const pid = child.pid as number;
  return {
    ref: { pid, startTime: startTimeOf(pid) as string, envKey, sandboxed: true },
    status: () => {
      try {
        return readFileSync(statusFile, 'utf8');
      } catch {
        return 'none';
      }
    },
  };
}

const nsOf = (pid: number) => readlinkSync(`/proc/${pid}/ns/pid`);
/** Whether a worker is still there (a worker killed with its sandbox is a zombie until init reaps it). */
const running = (pid: number) => {
  const s = readStat(pid)?.state;
  return s !== undefined && s !== 'Z';
};
/** The worker as the instance sees it: a process in the instance's own /proc. */
const visibleInside = (instancePid: number, workerPid: number): boolean => {
  const inner = /NSpid:\s+\d+\s+(\d+)/.exec(readFileSync(`/proc/${workerPid}/status`, 'utf8'))?.[1];
  if (inner === undefined) return false;
  return readFileSync(`/proc/${instancePid}/root/proc/${inner}/status`, 'utf8').includes(`NSpid:\t${inner}`);
};

describe.skipIf(!sandboxAvailable())('pressure inside an instance sandbox', () => {
  it('runs CPU and memory workers in the instance PID namespace, ending on revert, at the deadline and with the instance', async () => {
    const { ref, status } = startSandboxed();
    await waitFor(() => status() === 'ok', { what: 'the instance to run' });
    const inside = sandboxedProcessOf(ref) as number;
    expect(nsOf(inside)).not.toBe(nsOf(process.pid));

    const cpu = await pressInstance(ref, { kind: 'cpu', workers: 2 }, Date.now() + 60_000);
    faults.push(cpu);
    expect(cpu.inside).toBe(true);
    for (const w of cpu.helpers) {
      expect(nsOf(w.pid)).toBe(nsOf(inside));
      expect(visibleInside(inside, w.pid)).toBe(true);
    }
    revertInstanceFault(cpu);
    await waitFor(() => !lastingFaultInPlace(cpu), { what: 'the CPU workers to end on revert' });

    const memory = await pressInstance(ref, { kind: 'memory', bytes: 32 * 1024 * 1024 }, Date.now() + 4000);
    faults.push(memory);
    const worker = memory.helpers[0]?.pid as number;
    expect(memory.inside).toBe(true);
    expect(nsOf(worker)).toBe(nsOf(inside));
    expect(rssBytesOf(worker) ?? 0).toBeGreaterThanOrEqual(32 * 1024 * 1024);
    await waitFor(() => !lastingFaultInPlace(memory), { what: 'the memory worker to end at its deadline', timeoutMs: 15_000 });

    const last = await pressInstance(ref, { kind: 'cpu', workers: 1 }, Date.now() + 60_000);
    faults.push(last);
    await terminateInstance(ref, 'SIGKILL', 0);
    await waitFor(() => !running(last.helpers[0]?.pid as number), { what: 'the worker to end with the instance sandbox' });
  }, 60_000);

  it('fills a size-limited /tmp until the service sees ENOSPC, and frees it on revert and at the deadline', async () => {
    const { ref, status } = startSandboxed({ tmpSizeBytes: 1024 * 1024 });
    await waitFor(() => status() === 'ok', { what: 'the instance to write to its /tmp' });
    const full = await pressInstance(ref, { kind: 'disk-full', tmpSizeBytes: 1024 * 1024 }, Date.now() + 60_000);
    faults.push(full);
    expect(full.inside).toBe(true);
    expect(full.filledBytes).toBeGreaterThan(512 * 1024);
    await waitFor(() => status() === 'ENOSPC', { what: 'the service to see ENOSPC' });
    revertInstanceFault(full);
    await waitFor(() => status() === 'ok', { what: 'the space to come back on revert' });

    const deadlineAt = Date.now() + 3000;
    const timed = await pressInstance(ref, { kind: 'disk-full', tmpSizeBytes: 1024 * 1024 }, deadlineAt);
    faults.push(timed);
    await waitFor(() => status() === 'ENOSPC', { what: 'the service to see ENOSPC again' });
    await waitFor(() => status() === 'ok', { what: 'the space to come back at the deadline', timeoutMs: 15_000 });
    expect(Date.now()).toBeGreaterThanOrEqual(deadlineAt - 50);
  }, 60_000);

  it('refuses disk-full where /tmp could be a real disk', async () => {
    const onDisk = startSandboxed();
    await waitFor(() => onDisk.status() === 'ok', { what: 'the instance to run' });
    await expect(pressInstance(onDisk.ref, { kind: 'disk-full', tmpSizeBytes: 1024 * 1024 }, Date.now() + 60_000)).rejects.toMatchObject({
      code: 'CHAOS_DISK_FULL_UNSAFE',
    });
    // A tmpfs, but larger than the service asked for: not what the service agreed to lose.
    const bigger = startSandboxed({ tmpSizeBytes: 4 * 1024 * 1024 });
    await waitFor(() => bigger.status() === 'ok', { what: 'the second instance to run' });
    await expect(pressInstance(bigger.ref, { kind: 'disk-full', tmpSizeBytes: 1024 * 1024 }, Date.now() + 60_000)).rejects.toMatchObject({
      code: 'CHAOS_DISK_FULL_UNSAFE',
    });
    const unsandboxed = { ...onDisk.ref, sandboxed: false };
    await expect(pressInstance(unsandboxed, { kind: 'disk-full', tmpSizeBytes: 1024 * 1024 }, Date.now() + 60_000)).rejects.toMatchObject({
      code: 'CHAOS_DISK_FULL_UNSAFE',
    });
    expect(onDisk.status()).toBe('ok');
  }, 60_000);

  it.skipIf(process.getuid?.() !== 0)(
    'as a non-root server, joins the sandbox through its nested user namespaces, and a kill -9 of the server leaves the fault only until the deadline',
    async () => {
      const { ref, status } = startSandboxed({ tmpSizeBytes: 1024 * 1024, asNobody: true });
      await waitFor(() => status() === 'ok', { what: 'the instance to run as nobody' });
      const inside = sandboxedProcessOf(ref) as number;
      // The sandbox's PID namespace belongs to a user namespace no process is in: a plain nsenter fails.
      expect(readlinkSync(`/proc/${inside}/ns/user`)).not.toBe(readlinkSync('/proc/self/ns/user'));
      const faultsFile = fileURLToPath(new URL('../../src/runtime/instance-faults.ts', import.meta.url));
      const server = spawn(
        AS_NOBODY[0] as string,
        [
          ...AS_NOBODY.slice(1),
          process.execPath,
          '--input-type=module',
          '-e',
          // The deadline from the server's start: a loaded machine may take seconds to get here.
          `const f = await import(${JSON.stringify(faultsFile)});
           const deadlineAt = Date.now() + 4000;
           const cpu = await f.pressInstance(${JSON.stringify(ref)}, { kind: 'cpu', workers: 1 }, deadlineAt);
           const disk = await f.pressInstance(${JSON.stringify(ref)}, { kind: 'disk-full', tmpSizeBytes: 1048576 }, deadlineAt);
           console.log(JSON.stringify({ deadlineAt, faults: [cpu, disk] })); setInterval(() => {}, 1000);`,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'], detached: true },
      );
      started.push(server);
      let out = '';
      server.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
      });
      const set = await waitFor(
        () => (out.includes('\n') ? (JSON.parse(out) as { deadlineAt: number; faults: LastingFault[] }) : undefined),
        { what: 'the non-root server to set the faults', timeoutMs: 30_000 },
      );
      const [cpu, disk] = set.faults;
      faults.push(cpu as LastingFault, disk as LastingFault);
      expect([cpu?.inside, disk?.inside]).toEqual([true, true]);
      const workers = [...(cpu?.helpers ?? []), ...(disk?.helpers ?? [])].map((m) => m.pid);
      for (const w of workers) {
        expect(nsOf(w)).toBe(nsOf(inside));
        expect(statSync(`/proc/${w}`).uid).toBe(NOBODY);
      }
      await waitFor(() => status() === 'ENOSPC', { what: 'the service to see ENOSPC' });
      server.kill('SIGKILL');
      await waitFor(() => server.exitCode !== null || server.signalCode !== null, { what: 'the server to die' });
      expect(workers.every(running)).toBe(true);
      await waitFor(() => status() === 'ok' && !workers.some(running), {
        what: 'the faults to end at their deadline without the server',
        timeoutMs: 15_000,
      });
      expect(Date.now()).toBeGreaterThanOrEqual(set.deadlineAt - 50);
    },
    60_000,
  );
});
