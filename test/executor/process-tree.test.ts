import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isAlive, killLeftovers, spawnStep, type SpawnStepOptions } from '../../src/executor/process-tree.ts';
import { waitFor } from '../support/wait.ts';

let dir: string;
const started: number[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gantry-proc-'));
});
afterEach(() => {
  for (const pid of started.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

function step(script: string, o: Partial<SpawnStepOptions> = {}) {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const promise = spawnStep({
    argv: ['bash', '-c', script],
    cwd: dir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    signal: new AbortController().signal,
    onStdout: (c) => out.push(c),
    onStderr: (c) => err.push(c),
    ...o,
  });
  return { promise, stdout: () => Buffer.concat(out).toString(), stderr: () => Buffer.concat(err).toString() };
}

/** A script that starts background grandchildren (one in a new session) and writes their PIDs. */
function treeScript(pidFile: string): string {
  return `
    sleep 1000 &
    echo $! >> ${pidFile}
    setsid sleep 1000 &
    echo $! >> ${pidFile}
    bash -c 'sleep 1000 & echo $! >> ${pidFile}; wait' &
    echo $! >> ${pidFile}
    echo ready >> ${pidFile}.ready
    wait
  `;
}

function readPids(pidFile: string): number[] {
  const pids = readFileSync(pidFile, 'utf8').trim().split('\n').map(Number);
  started.push(...pids);
  return pids;
}

const exists = (f: string) => {
  try {
    readFileSync(f);
    return true;
  } catch {
    return false;
  }
};

describe('spawnStep', () => {
  it('reports the exit code, passes output and env, and reads stdin from /dev/null', async () => {
    const s = step('echo "out $FOO"; echo err >&2; cat; exit 3', { env: { PATH: process.env.PATH ?? '', FOO: 'bar' } });
    const result = await s.promise;
    expect(result).toMatchObject({ exitCode: 3, signal: null, timedOut: false, cancelled: false, leftovers: [] });
    expect(s.stdout()).toBe('out bar\n');
    expect(s.stderr()).toBe('err\n');
  });

  it('on cancel ends the whole tree, including a process that left the group with setsid', async () => {
    const pidFile = join(dir, 'pids');
    const controller = new AbortController();
    const s = step(treeScript(pidFile), { signal: controller.signal, killGraceMs: 2000 });
    await waitFor(() => exists(`${pidFile}.ready`), { what: 'the tree to start' });
    await waitFor(() => readFileSync(pidFile, 'utf8').trim().split('\n').length >= 4, { what: 'all pids' });
    const pids = readPids(pidFile);
    expect(pids.every(isAlive)).toBe(true);
    controller.abort();
    const result = await s.promise;
    expect(result.cancelled).toBe(true);
    expect(result.timedOut).toBe(false);
    expect(result.exitCode).toBeNull();
    await waitFor(() => !pids.some(isAlive), { what: 'the tree to be gone', timeoutMs: 3000 });
  });

  it('on timeout ends the tree and reports timedOut; SIGKILL follows when SIGTERM is ignored', async () => {
    const pidFile = join(dir, 'pids');
    const s = step(`trap '' TERM; ${treeScript(pidFile)}`, { timeoutMs: 300, killGraceMs: 200 });
    const result = await s.promise;
    expect(result.timedOut).toBe(true);
    expect(result.cancelled).toBe(false);
    expect(result.signal).toBe('SIGKILL');
    const pids = readPids(pidFile);
    await waitFor(() => !pids.some(isAlive), { what: 'the tree to be gone', timeoutMs: 3000 });
  });

  it('does not wait for background processes that keep the pipes open, and reports them as leftovers', async () => {
    const pidFile = join(dir, 'pids');
    const s = step(`sleep 1000 & echo $! > ${pidFile}; echo done`);
    const result = await s.promise;
    expect(result.exitCode).toBe(0);
    const [bg] = readPids(pidFile);
    expect(result.leftovers.map((r) => r.pid)).toEqual([bg]);
    expect(isAlive(bg as number)).toBe(true);
    await killLeftovers(result.leftovers, 2000);
    await waitFor(() => !isAlive(bg as number), { what: 'the leftover to be gone', timeoutMs: 3000 });
  });

  it('does not start when already cancelled', async () => {
    const controller = new AbortController();
    controller.abort();
    const marker = join(dir, 'ran');
    const result = await step(`touch ${marker}`, { signal: controller.signal }).promise;
    expect(result).toMatchObject({ cancelled: true, pid: null });
    expect(exists(marker)).toBe(false);
  });

  it('rejects with a coded error when the command does not exist', async () => {
    await expect(
      spawnStep({
        argv: ['/nonexistent/shell'],
        cwd: dir,
        env: {},
        signal: new AbortController().signal,
        onStdout: () => {},
        onStderr: () => {},
      }),
    ).rejects.toMatchObject({ code: 'SPAWN_FAILED' });
  });
});
