/** The README's tour against a real `gantry up`: every client command as a child process. */
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_MAIN, NODE, cliEnv, runCli, startCli, type RunningCli } from '../support/cli.ts';
import { waitFor } from '../support/wait.ts';
import { makeRepo, type TestRepo } from '../support/repo.ts';

const PIPELINE = `
pipeline:
  on:
    push: { branches: [main] }
    manual:
      inputs:
        greeting: { type: string, default: hello }
  jobs:
    build:
      steps:
        - run: echo "\${{ inputs.greeting }} from build, token \${{ secrets.API_TOKEN }}"
    test:
      needs: build
      steps: [echo tested]
`;

function withStdin(cwd: string, args: string[], input: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, [CLI_MAIN, ...args], { cwd, env: cliEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

describe('gantry CLI against a running server', () => {
  let repo: TestRepo;
  let dataDir: string;
  let server: RunningCli;
  let nativeDir: string;
  const gantry = (...args: string[]) => runCli(repo.dir, ['--data', dataDir, ...args]);

  beforeAll(async () => {
    repo = await makeRepo({ 'gantry.yaml': PIPELINE });
    dataDir = await mkdtemp(join(tmpdir(), 'gantry-cli-server-'));
    nativeDir = await mkdtemp(join(tmpdir(), 'gantry-cli-native-'));
    server = startCli(repo.dir, ['--data', dataDir, 'up', '--port', '0'], {
      env: { GANTRY_SANDBOX: 'off', GANTRY_NATIVE_DIR: nativeDir },
      timeoutMs: 120_000,
    });
    await waitFor(() => server.stdout().includes('Gantry is up at'), { what: 'gantry up', timeoutMs: 20_000 });
  });
  afterAll(async () => {
    if (server?.child.pid) process.kill(server.child.pid, 'SIGTERM');
    await server?.result.catch(() => undefined);
    await repo?.cleanup();
    await rm(dataDir, { recursive: true, force: true });
    await rm(nativeDir, { recursive: true, force: true });
  });

  // Before any job: the first one after an upgrade would otherwise wait for the compiler.
  it.runIf(spawnSync('cc', ['--version'], { stdio: 'ignore' }).status === 0)('builds the native log pump as it starts', async () => {
    await waitFor(() => readdirSync(nativeDir).some((name) => /^log-pump-[0-9a-f]{16}$/.test(name)), {
      what: 'the log pump in GANTRY_NATIVE_DIR',
      timeoutMs: 30_000,
    });
  });

  it('registers a repository, stores a secret from stdin, triggers and follows a run', async () => {
    const added = await gantry('project', 'add', '.', '--name', 'tour');
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toContain('registered tour');
    const hook = await gantry('project', 'webhook', 'tour');
    expect(hook.stdout).toMatch(/^url: {4}http:\/\/127\.0\.0\.1:\d+\/api\/webhooks\/\S+\nsecret: \S+\n$/);
    expect(hook.stderr).toContain(
      'with push and pull request (merge request) events; for commit statuses on the forge, `gantry secret set tour FORGE_TOKEN`',
    );

    const noValue = await withStdin(repo.dir, ['--data', dataDir, 'secret', 'set', 'tour', 'API_TOKEN'], '');
    expect(noValue.code).toBe(2);
    expect(noValue.stderr).toMatch(/^gantry: no value on stdin/);
    const secret = await withStdin(repo.dir, ['--data', dataDir, 'secret', 'set', 'tour', 'API_TOKEN'], 's3cr3t-value\n');
    expect(secret.code, secret.stderr).toBe(0);
    expect((await gantry('secret', 'list', 'tour')).stdout.trim()).toBe('API_TOKEN');

    const triggered = await gantry('trigger', 'tour', '--input', 'greeting=hi', '--follow');
    expect(triggered.code, triggered.stderr).toBe(0);
    const runId = triggered.stdout.trim();
    expect(runId).toMatch(/^[0-9A-Z]{26}$/);
    expect(triggered.stderr).toMatch(/✔ test\s+success/);

    const shown = await gantry('runs', 'show', runId, '--json');
    const report = JSON.parse(shown.stdout) as {
      id: string;
      status: string;
      jobs: { id: string; status: string; steps: { exitCode: number }[]; matrix: null; tests: null }[];
    };
    expect(report).toMatchObject({ id: runId, status: 'success' });
    expect(report.jobs.map((j) => [j.id, j.status, j.matrix, j.tests])).toEqual([
      ['build', 'success', null, null],
      ['test', 'success', null, null],
    ]);
    expect(report.jobs[0]?.steps[0]?.exitCode).toBe(0);

    const logs = await gantry('logs', runId, '--job', 'build');
    expect(logs.stdout).toContain('hi from build, token ***');
    expect(logs.stdout).not.toContain('s3cr3t-value');

    const listed = await gantry('runs', 'list', '--project', 'tour');
    expect(listed.stdout).toContain(runId);

    const rerun = await gantry('runs', 'rerun', runId);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stdout.trim()).toMatch(/^[0-9A-Z]{26}$/);
  });

  it('starts a run on commit through the installed git hook', async () => {
    const before = (await gantry('runs', 'list', '--json')).stdout;
    const count = (JSON.parse(before) as unknown[]).length;
    await repo.commit({ 'change.txt': 'x' }, 'a change');
    await waitFor(async () => (JSON.parse((await gantry('runs', 'list', '--json')).stdout) as unknown[]).length > count, {
      what: 'the hook-triggered run',
      timeoutMs: 15_000,
    });
  });

  it('fails with one readable line and the right exit code', async () => {
    const missing = await gantry('runs', 'show', 'NOPE');
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe('gantry: run NOPE does not exist');
    const badInput = await gantry('trigger', 'tour', '--input', 'nope');
    expect(badInput.code).toBe(2);
    expect(badInput.stderr.trim()).toBe("gantry: --input expects key=value, got 'nope'");
    const noServer = await runCli(repo.dir, ['--data', join(dataDir, 'elsewhere'), 'runs', 'list']);
    expect(noServer.code).toBe(1);
    expect(noServer.stderr).toMatch(/^gantry: no Gantry server data in .*elsewhere: start one with `gantry up/);
    expect(noServer.stderr).not.toContain('    at ');
  });
});
