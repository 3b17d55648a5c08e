/**
 * The lease watchdog against real jobs of the real executor (plain and in bubblewrap): it kills
 * an attempt's processes at its deadline without the caller doing anything, spares an attempt
 * whose deadline keeps moving and every other attempt, and kills what is still armed when the
 * agent goes away (its stdin closes).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobConfig } from '../../src/core/types.ts';
import { LeaseWatchdog } from '../../src/agent/lease-watchdog.ts';
import { runJob } from '../../src/executor/job-runner.ts';
import { findJobProcesses } from '../../src/executor/orphans.ts';
import type { JobSpec } from '../../src/executor/ports.ts';
import { gantryContextOf } from '../../src/pipeline/triggers.ts';
import { hasBubblewrap, requirement } from '../support/requirements.ts';
import { waitFor } from '../support/wait.ts';

let root: string;
const watchdogs: LeaseWatchdog[] = [];

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'gantry-watchdog-'));
  mkdirSync(join(root, 'source'));
  writeFileSync(join(root, 'source', 'README'), 'source\n');
});
afterEach(() => {
  for (const w of watchdogs.splice(0)) w.stop();
  rmSync(root, { recursive: true, force: true });
});

function watchdog(): { dog: LeaseWatchdog; fired: string[] } {
  const fired: string[] = [];
  const dog = new LeaseWatchdog({ log: () => undefined, onFired: (id) => fired.push(id) });
  dog.start();
  watchdogs.push(dog);
  return { dog, fired };
}

function spec(name: string, script: string, sandbox: 'auto' | 'off'): JobSpec {
  const config: JobConfig = {
    needs: [],
    env: {},
    retry: 0,
    outputs: {},
    artifacts: [],
    reports: {},
    network: true,
    steps: [{ run: script, env: {}, continueOnError: false }],
  };
  const dir = join(root, name);
  return {
    runId: 'run1',
    job: { key: name, jobId: name, matrix: {}, needs: [], config },
    context: {
      env: {},
      inputs: {},
      secrets: {},
      needs: {},
      gantry: gantryContextOf({ kind: 'push', ref: 'refs/heads/main', sha: 'abc' }, 'run1'),
    },
    sourceDir: join(root, 'source'),
    workspaceDir: join(dir, 'workspace'),
    artifactsIn: [],
    artifactsOut: join(dir, 'artifacts'),
    cacheDir: join(root, 'cache'),
    logFile: join(dir, 'log'),
    logCapBytes: 1024 * 1024,
    sandbox,
    hiddenPaths: [],
    killGraceMs: 500,
    signal: new AbortController().signal,
  };
}

const modes: ('off' | 'auto')[] = ['off'];
if (requirement('bubblewrap', hasBubblewrap())) modes.push('auto');

describe.each(modes)('the lease watchdog (sandbox %s)', (sandbox) => {
  it('kills an attempt whose deadline passed, alone, while one renewed and another attempt of the job run on', async () => {
    const { dog, fired } = watchdog();
    const stalled = spec('stalled', 'sleep 30', sandbox);
    // Renewed every 100 ms for 2 s: it outlives its first deadline (1 s) only through the renewals.
    const renewed = spec('renewed', 'sleep 2', sandbox);
    const other = spec('other', 'sleep 1.2', sandbox);
    dog.arm('1', 300, `GANTRY_WORKSPACE=${stalled.workspaceDir}`);
    dog.arm('2', 1000, `GANTRY_WORKSPACE=${renewed.workspaceDir}`);
    const renewing = setInterval(() => dog.renew('2', 1000), 100);
    const started = Date.now();
    const [a, b, c] = await Promise.all([runJob(stalled), runJob(renewed), runJob(other)]);
    clearInterval(renewing);
    // Killed by the watchdog (SIGKILL) long before its 30 s: the step failed and the job ended.
    expect(a.status).toBe('failure');
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(fired).toEqual(['1']);
    expect(await dog.end('1')).toBe('fired');
    expect([b.status, c.status]).toEqual(['success', 'success']);
    expect(await dog.end('2')).toBe('held');
  });

  it('keeps a deadline where the agent set it, however late a stalled watchdog reads it', async () => {
    const { dog, fired } = watchdog();
    const job = spec('late', 'sleep 30', sandbox);
    const result = runJob(job);
    await waitFor(async () => (await findJobProcesses('run1', 'late')).length > 0, { what: 'the step to start' });
    // Starved like its agent: the deadline (2 s) passes while the watchdog cannot run.
    process.kill(dog.pid as number, 'SIGSTOP');
    try {
      dog.arm('1', 2000, `GANTRY_WORKSPACE=${job.workspaceDir}`);
      await new Promise((resolve) => setTimeout(resolve, 3000));
    } finally {
      process.kill(dog.pid as number, 'SIGCONT');
    }
    // At once, not 2 s after it could read the deadline.
    await waitFor(() => fired.includes('1'), { what: 'the watchdog to fire on waking', timeoutMs: 1500 });
    expect((await result).status).toBe('failure');
  });

  it('kills what is still armed when the agent goes away', async () => {
    const { dog } = watchdog();
    const job = spec('orphaned', 'sleep 30', sandbox);
    dog.arm('1', 60_000, `GANTRY_WORKSPACE=${job.workspaceDir}`);
    const result = runJob(job);
    await waitFor(async () => (await findJobProcesses('run1', 'orphaned')).length > 0, { what: 'the step to start' });
    dog.stop();
    expect((await result).status).toBe('failure');
  });
});
