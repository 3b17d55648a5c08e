/**
 * `gantry run` end to end: plain lines when not on a TTY, the --json report, outputs between
 * jobs, the working tree as it is, --job, and the exit codes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { parseReport, runCli } from '../support/cli.ts';
import { jobLog, makeRepo, type TestRepo } from '../support/repo.ts';

const repos: TestRepo[] = [];
afterEach(async () => {
  await Promise.all(repos.splice(0).map((r) => r.cleanup()));
});

async function repoWith(files: Record<string, string>): Promise<TestRepo> {
  const repo = await makeRepo(files);
  repos.push(repo);
  return repo;
}

const CHAIN = `
pipeline:
  jobs:
    build:
      steps:
        - id: version
          run: echo "value=1.2.3" >> "$GANTRY_OUTPUT"
      outputs:
        version: \${{ steps.version.outputs.value }}
    test:
      needs: build
      steps:
        - id: got
          run: echo "seen=v\${{ needs.build.outputs.version }}" >> "$GANTRY_OUTPUT"
      outputs:
        seen: \${{ steps.got.outputs.seen }}
    lint:
      steps: [echo linted]
`;

const ESC = '\x1b';

describe('gantry run', () => {
  it('prints plain lines (no escape codes) when not on a TTY and exits 0 on success', async () => {
    const repo = await repoWith({ 'gantry.yaml': CHAIN });
    const result = await runCli(repo.dir, ['run', '--no-sandbox'], { env: { NO_COLOR: '' } });

    expect(result.stderr).not.toContain(ESC);
    expect(result.stdout).not.toContain(ESC);
    expect(result.code).toBe(0);
    const lines = result.stderr.trim().split('\n');
    for (const job of ['build', 'test', 'lint']) {
      expect(
        lines.some((l) => l.includes(job) && /\bsuccess\b/.test(l)),
        `a success line for ${job}`,
      ).toBe(true);
    }
    // `build` must end before `test` starts.
    const buildDone = lines.findIndex((l) => l.includes('build') && /\bsuccess\b/.test(l));
    const testRunning = lines.findIndex((l) => / test /.test(l) && /\brunning\b/.test(l));
    expect(buildDone).toBeGreaterThanOrEqual(0);
    expect(testRunning).toBeGreaterThan(buildDone);
    expect(lines.at(-1)).toMatch(/pipeline success/);
  });

  it('--json prints one JSON object with the documented fields and passes outputs between jobs', async () => {
    const repo = await repoWith({ 'gantry.yaml': CHAIN });
    const result = await runCli(repo.dir, ['run', '--no-sandbox', '--json']);

    expect(result.code).toBe(0);
    const report = parseReport(result.stdout);
    expect(report.status).toBe('success');
    expect(report.jobs.map((j) => j.id).sort()).toEqual(['build', 'lint', 'test']);
    for (const job of report.jobs) {
      expect(job.matrix).toBeNull();
      expect(job.status).toBe('success');
      expect(Date.parse(job.startedAt ?? '')).toBeLessThanOrEqual(Date.parse(job.finishedAt ?? ''));
      expect(job.tests).toBeNull();
      expect(job.steps).toHaveLength(1);
      const step = job.steps[0];
      expect(step).toMatchObject({ status: 'success', exitCode: 0 });
      expect(typeof step?.name).toBe('string');
      expect(step?.durationMs).toBeGreaterThanOrEqual(0);
    }
    const byId = new Map(report.jobs.map((j) => [j.id, j]));
    expect(byId.get('build')?.outputs).toEqual({ version: '1.2.3' });
    expect(byId.get('test')?.outputs).toEqual({ seen: 'v1.2.3' });
    expect(Date.parse(byId.get('test')?.startedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(byId.get('build')?.finishedAt ?? ''));
  });

  it('shows jobs the working tree as it is: uncommitted and untracked files, but not ignored ones', async () => {
    const repo = await repoWith({
      '.gitignore': '*.log\nbuild/\n',
      'gantry.yaml': 'pipeline:\n  jobs:\n    look:\n      steps:\n        - run: cat tracked.txt untracked.txt; ls -a; ls build || true\n',
      'tracked.txt': 'committed\n',
    });
    await repo.write({
      'tracked.txt': 'edited-not-committed\n',
      'untracked.txt': 'brand-new\n',
      'debug.log': 'ignored\n',
      'build/out.js': 'ignored\n',
    });
    const result = await runCli(repo.dir, ['run', '--no-sandbox', '--json']);

    expect(result.code).toBe(0);
    const report = parseReport(result.stdout);
    const log = await jobLog(repo, report.id, 'look');
    expect(log).toContain('edited-not-committed');
    expect(log).not.toMatch(/ o committed$/m);
    expect(log).toContain('brand-new');
    expect(log).toContain('untracked.txt');
    expect(log).not.toContain('debug.log');
    expect(log).not.toContain('out.js');
  });

  it('--job runs that job and what it needs, nothing else', async () => {
    const repo = await repoWith({ 'gantry.yaml': CHAIN });
    const result = await runCli(repo.dir, ['run', '--no-sandbox', '--json', '--job', 'test']);

    expect(result.code).toBe(0);
    const report = parseReport(result.stdout);
    expect(report.jobs.map((j) => [j.id, j.status])).toEqual([
      ['build', 'success'],
      ['test', 'success'],
    ]);
    expect(report.jobs[1]?.outputs).toEqual({ seen: 'v1.2.3' });
  });

  it("exits 1 on failure and prints the tail of the failed job's log after the table", async () => {
    const repo = await repoWith({
      'gantry.yaml':
        'pipeline:\n  jobs:\n    boom:\n      steps:\n        - run: for i in $(seq -w 1 40); do echo "line-$i"; done; exit 3\n    fine:\n      steps: [echo ok]\n',
    });
    const result = await runCli(repo.dir, ['run', '--no-sandbox']);

    expect(result.code).toBe(1);
    const err = result.stderr;
    const tableRow = err.search(/boom\s+failure/);
    expect(tableRow).toBeGreaterThanOrEqual(0);
    expect(err.indexOf('line-40')).toBeGreaterThan(tableRow);
    expect(err).toMatch(/exit code 3/);
    expect(err).not.toContain('line-01'); // a tail, not the whole log
    expect(err.trim().split('\n').at(-1)).toMatch(/pipeline failure/);
  });
});

describe('gantry run usage and config errors (exit 2, one line, no stack)', () => {
  const PIPELINE = `
pipeline:
  on:
    manual:
      inputs:
        target: { required: true }
  jobs:
    a:
      steps:
        - run: echo \${{ inputs.target }}
`;

  it.each([
    { name: 'an unknown --job', args: ['--job', 'nope', '--input', 'target=x'], pattern: /^gantry: .*'nope'/ },
    { name: 'a missing required input', args: [], pattern: /^gantry: .*'target'/ },
    { name: 'a malformed --input', args: ['--input', 'target'], pattern: /^gantry: .*--input/ },
    // There is no flag that takes a secret's value: it would end up in shell history and `ps`.
    { name: 'an unknown flag (such as a secret value)', args: ['--secret-value', 'x'], pattern: /unknown option '--secret-value'/ },
  ])('$name', async ({ args, pattern }) => {
    const repo = await repoWith({ 'gantry.yaml': PIPELINE });
    const result = await runCli(repo.dir, ['run', '--no-sandbox', ...args]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(pattern);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stdout).toBe('');
    expect(await repo.runIds()).toEqual([]); // nothing ran, nothing left behind
  });

  it('an invalid gantry.yaml: its problems as FILE:LINE:COL lines', async () => {
    const repo = await repoWith({ 'gantry.yaml': 'pipeline:\n  jobs:\n    a:\n      stepz: [echo]\n' });
    const result = await runCli(repo.dir, ['run', '--no-sandbox', '--json']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/gantry\.yaml:4:7: .*'stepz'/);
    expect(result.stdout).toBe('');
  });

  it('--debug adds the stack trace to an error', async () => {
    const repo = await repoWith({});
    const plain = await runCli(repo.dir, ['run']);
    expect(plain.code).toBe(2);
    expect(plain.stderr.trim().split('\n')).toHaveLength(1);
    expect(plain.stderr).toMatch(/^gantry: .*gantry\.yaml/);

    const debug = await runCli(repo.dir, ['--debug', 'run']);
    expect(debug.code).toBe(2);
    expect(debug.stderr).toMatch(/^gantry: /);
    expect(debug.stderr).toMatch(/\n\s+at .*\.ts:\d+/);
  });
});
