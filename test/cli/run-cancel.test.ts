/** SIGINT to `gantry run` cancels the run: processes stopped, status cancelled, exit 1. */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promisify } from 'node:util';
import { parseReport, startCli } from '../support/cli.ts';
import { waitFor } from '../support/wait.ts';
import { makeRepo, type TestRepo } from '../support/repo.ts';

const execFileAsync = promisify(execFile);

function pipeline(pidFile: string): string {
  return `
pipeline:
  jobs:
    long:
      steps:
        - run: sleep 60 & echo $! > ${pidFile}; wait
    later:
      needs: long
      steps: [echo never]
`;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

let scratch: string;
let repo: TestRepo;
beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'gantry-cli-cancel-'));
  repo = await makeRepo({ 'gantry.yaml': pipeline(path.join(scratch, '$GANTRY_RUN_ID.pid')) });
});
afterAll(async () => {
  await repo.cleanup();
  await rm(scratch, { recursive: true, force: true });
});

/** Starts a run, waits until its step's `sleep` runs, sends SIGINT; returns the result and that pid. */
async function interrupt(extraArgs: string[]) {
  const before = new Set(await repo.runIds());
  const cli = startCli(repo.dir, ['run', '--no-sandbox', ...extraArgs]);
  let pidFile = '';
  await waitFor(
    async () => {
      const runId = (await repo.runIds()).find((id) => !before.has(id));
      pidFile = runId ? path.join(scratch, `${runId}.pid`) : '';
      return pidFile !== '' && existsSync(pidFile) && (await readFile(pidFile, 'utf8')).endsWith('\n');
    },
    { what: 'the step to start' },
  );
  const sleepPid = Number((await readFile(pidFile, 'utf8')).trim());
  expect(alive(sleepPid)).toBe(true);
  cli.child.kill('SIGINT');
  const result = await cli.result;
  return { result, sleepPid };
}

describe('SIGINT to gantry run', () => {
  it("--json still prints the report, with status cancelled, and exits 1; the step's processes are gone", async () => {
    const { result, sleepPid } = await interrupt(['--json']);

    expect(result.code).toBe(1);
    expect(result.durationMs).toBeLessThan(20_000);
    const report = parseReport(result.stdout);
    expect(report.status).toBe('cancelled');
    const long = report.jobs.find((j) => j.key === 'long');
    expect(long?.status).toBe('cancelled');
    expect(long?.steps[0]?.status).toBe('cancelled');
    expect(['cancelled', 'skipped']).toContain(report.jobs.find((j) => j.key === 'later')?.status);
    await waitFor(() => !alive(sleepPid), { what: "the step's sleep to be killed", timeoutMs: 5_000 });
  });

  it('without --json says the pipeline was cancelled and exits 1', async () => {
    const { result, sleepPid } = await interrupt([]);

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/long\s+cancelled/);
    expect(result.stderr.trim().split('\n').at(-1)).toMatch(/pipeline cancelled/);
    await waitFor(() => !alive(sleepPid), { what: "the step's sleep to be killed", timeoutMs: 5_000 });
  });
});

describe('SIGINT while the working tree is being copied', () => {
  it('still cancels the run instead of being lost', async () => {
    const big = await makeRepo({ 'gantry.yaml': 'pipeline:\n  jobs:\n    a:\n      steps: [sleep 15]\n' });
    try {
      // Enough untracked files that the snapshot takes a moment, so the signal lands during it.
      await execFileAsync('sh', ['-c', 'mkdir many && cd many && seq 600 | xargs touch'], { cwd: big.dir });
      const cli = startCli(big.dir, ['run', '--no-sandbox', '--json']);
      await waitFor(async () => (await big.runIds()).length > 0, { what: 'the run directory' });
      cli.child.kill('SIGINT');
      const result = await cli.result;

      expect(parseReport(result.stdout).status).toBe('cancelled');
      expect(result.code).toBe(1);
      expect(result.durationMs).toBeLessThan(15_000);
    } finally {
      await big.cleanup();
    }
  });
});
