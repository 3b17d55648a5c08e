/**
 * The engine's features through `gantry run --json`, all in one run so the suite stays fast:
 * matrix keys, artifacts and outputs handed to dependent jobs, retry, `if:` skipping, JUnit
 * counts and step timeouts.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseReport, runCli, type CliResult, type RunReportJson } from '../support/cli.ts';
import { makeRepo, type TestRepo } from '../support/repo.ts';

const JUNIT =
  '<testsuite name="unit" tests="4"><testcase name="a"/><testcase name="b"/>' +
  '<testcase name="c"><failure message="boom"/></testcase><testcase name="d"><skipped/></testcase></testsuite>';

function pipeline(counterFile: string): string {
  return `
pipeline:
  jobs:
    build:
      artifacts: out/**
      steps:
        - run: mkdir -p out && echo "from-build" > out/artifact.txt
    test:
      needs: build
      matrix:
        n: [1, 2]
      reports:
        junit: reports/*.xml
      steps:
        - id: read
          run: echo "seen=$(cat out/artifact.txt)-\${{ matrix.n }}" >> "$GANTRY_OUTPUT"
        - run: mkdir -p reports && echo '${JUNIT}' > reports/junit.xml
      outputs:
        seen: \${{ steps.read.outputs.seen }}
    flaky:
      retry: 2
      steps:
        # Fails on its first attempt only: the count lives outside the (fresh) workspace.
        - run: echo x >> ${counterFile}; test "$(wc -l < ${counterFile})" -ge 2
    manual-only:
      if: gantry.event == 'manual'
      steps: [echo never]
    on-failure:
      needs: build
      if: failure()
      steps: [echo never]
    slow:
      steps:
        - run: sleep 10
          timeout: 1s
    after-slow:
      needs: slow
      steps: [echo never]
`;
}

let repo: TestRepo;
let counterDir: string;
let result: CliResult;
let report: RunReportJson;
const job = (key: string) => {
  const found = report.jobs.find((j) => j.key === key);
  if (!found) throw new Error(`no job ${key} in ${report.jobs.map((j) => j.key).join(', ')}`);
  return found;
};

beforeAll(async () => {
  counterDir = await mkdtemp(path.join(tmpdir(), 'gantry-cli-counter-'));
  repo = await makeRepo({ 'gantry.yaml': pipeline(path.join(counterDir, 'attempts')) });
  result = await runCli(repo.dir, ['run', '--no-sandbox', '--json']);
  report = parseReport(result.stdout);
});

afterAll(async () => {
  await repo.cleanup();
  await rm(counterDir, { recursive: true, force: true });
});

describe("gantry run --json with the engine's features", () => {
  it('fails the run (exit 1) because one job timed out, and reports every job', () => {
    expect(result.code).toBe(1);
    expect(report.status).toBe('failure');
    expect(report.jobs.map((j) => j.key).sort()).toEqual([
      'after-slow',
      'build',
      'flaky',
      'manual-only',
      'on-failure',
      'slow',
      'test (1)',
      'test (2)',
    ]);
  });

  it('expands a matrix into `test (1)` and `test (2)` with their values', () => {
    expect(job('test (1)')).toMatchObject({ id: 'test', matrix: { n: 1 }, status: 'success' });
    expect(job('test (2)')).toMatchObject({ id: 'test', matrix: { n: 2 }, status: 'success' });
  });

  it('gives dependent jobs the artifacts of the jobs they need', () => {
    expect(job('test (1)').outputs).toEqual({ seen: 'from-build-1' });
    expect(job('test (2)').outputs).toEqual({ seen: 'from-build-2' });
  });

  it('counts JUnit results', () => {
    expect(job('test (1)').tests).toEqual({ passed: 2, failed: 1, skipped: 1 });
  });

  it('retries a failing job', async () => {
    expect(job('flaky')).toMatchObject({ status: 'success', attempt: 2 });
    expect((await readFile(path.join(counterDir, 'attempts'), 'utf8')).trim().split('\n')).toHaveLength(2);
  });

  it('skips jobs whose `if:` is false, and dependents of a failed job', () => {
    expect(job('manual-only')).toMatchObject({ status: 'skipped', steps: [], startedAt: null });
    expect(job('manual-only').reason).toMatch(/condition/);
    expect(job('on-failure').status).toBe('skipped');
    expect(job('after-slow').status).toBe('skipped');
  });

  it('stops a step at its timeout instead of waiting for it', () => {
    const slow = job('slow');
    expect(slow.status).toBe('failure');
    expect(slow.reason).toMatch(/timed out/);
    expect(slow.steps[0]?.status).toBe('failure');
    expect(slow.steps[0]?.durationMs).toBeLessThan(5_000);
    expect(result.durationMs).toBeLessThan(9_000);
  });
});
