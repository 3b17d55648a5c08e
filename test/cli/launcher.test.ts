/**
 * bin/gantry.js under a Node older than 22.13 (the system's /usr/bin/node here) re-runs itself
 * under the pinned Node 24. Signalling the launcher, as `kill $!` or a supervisor does, must reach
 * the real Gantry: nothing may be left holding the port or the data directory, and the launcher
 * ends as Gantry ended.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { isLive, isSameProcess, listProcesses, readStat, treeOf } from '../../src/platform/proc.ts';
import { portFree } from '../../src/platform/ports.ts';
import { cliEnv } from '../support/cli.ts';
import { makeRepo } from '../support/repo.ts';
import { waitFor } from '../support/wait.ts';

const LAUNCHER = fileURLToPath(new URL('../../bin/gantry.js', import.meta.url));
const OLD_NODE = '/usr/bin/node';

/** Whether the system node takes the launcher's re-exec path (older than 22.13). */
function systemNodeIsOld(): boolean {
  if (!existsSync(OLD_NODE)) return false;
  const [major = 0, minor = 0] = execFileSync(OLD_NODE, ['--version'], { encoding: 'utf8' }).trim().slice(1).split('.').map(Number);
  return major < 22 || (major === 22 && minor < 13);
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Launched {
  pid: number;
  stdout(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Every live process below the launcher. */
  descendants(): number[];
}

/** `gantry <args>` through the launcher under the old node. */
function launch(cwd: string, args: string[]): Launched {
  const child = spawn(OLD_NODE, [LAUNCHER, ...args], { cwd, env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = child.pid as number;
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  // Every process seen below the launcher, with its start time: one left behind (the bug this
  // file is about, or a test that failed half-way) is killed by pid, never by name.
  const seen = new Map<number, string>();
  const descendants = () => {
    const pids = [...treeOf([pid], listProcesses(), null)].filter((p) => p !== pid);
    for (const p of pids) seen.set(p, readStat(p)?.startTime ?? '');
    return pids;
  };
  cleanups.push(async () => {
    for (const [p, startTime] of seen) if (isSameProcess(p, startTime)) process.kill(p, 'SIGKILL');
    if (isLive(readStat(pid))) process.kill(pid, 'SIGKILL');
  });
  return { pid, stdout: () => stdout, exited, descendants };
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'gantry-launcher-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const gone = (pids: number[]) => pids.every((p) => !isLive(readStat(p)));

describe.skipIf(!systemNodeIsOld())('the launcher under an old node', () => {
  it('forwards SIGTERM to the server: it shuts down, frees its port, and the launcher exits with its status', async () => {
    const dataDir = await tempDir();
    const up = launch(dataDir, ['up', '--port', '0', '--data', dataDir]);
    const port = await waitFor(() => Number(/Gantry is up at http:\/\/127\.0\.0\.1:(\d+)/.exec(up.stdout())?.[1] ?? 0), {
      what: 'gantry up to be up',
      timeoutMs: 45_000,
    });
    const server = up.descendants();
    expect(server).toHaveLength(1);
    expect(await portFree(port)).toBe(false);

    process.kill(up.pid, 'SIGTERM');

    expect(await up.exited).toEqual({ code: 0, signal: null });
    await waitFor(() => gone(server), { what: `the server (pid ${server[0]}) to be gone` });
    expect(await portFree(port)).toBe(true);
  });

  it.each([
    // `gantry run` cancels the run on SIGINT and exits 1 once its step is stopped.
    ['SIGINT', { code: 1, signal: null }],
    // `gantry run` does not handle SIGHUP: it dies of it, and so does the launcher.
    ['SIGHUP', { code: null, signal: 'SIGHUP' }],
  ] as const)('forwards %s and ends as Gantry ended', async (signal, expected) => {
    const repo = await makeRepo({ 'gantry.yaml': 'pipeline:\n  jobs:\n    wait:\n      steps: [sleep 60]\n' });
    cleanups.push(() => repo.cleanup());
    const run = launch(repo.dir, ['run', '--no-sandbox']);
    const tree = await waitFor(
      () => {
        const pids = run.descendants();
        return pids.some((p) => readStat(p)?.comm === 'sleep') && pids;
      },
      { what: 'the step to be running', timeoutMs: 45_000 },
    );
    // Killed by SIGHUP, `gantry run` leaves its step behind (not the launcher's to end): the cleanup stops it.
    const gantry = tree.filter((p) => readStat(p)?.ppid === run.pid);
    expect(gantry).toHaveLength(1);

    process.kill(run.pid, signal);

    expect(await run.exited).toEqual(expected);
    await waitFor(() => gone(gantry), { what: `gantry (pid ${gantry[0]}) to be gone` });
  });
});
