/** The delivery commands of the CLI against a running `gantry up`. */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../support/net.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killInstances } from '../support/instances.ts';
import { runCli, startCli, type RunningCli } from '../support/cli.ts';
import { waitFor } from '../support/wait.ts';
import { makeRepo, type TestRepo } from '../support/repo.ts';

const SERVICE = readFileSync(join(import.meta.dirname, 'fixtures', 'service.js'), 'utf8');
const yaml = (version: string) => `
pipeline:
  on: { push: { branches: [main] } }
  jobs:
    build: { steps: ["node --check server.js"] }
service:
  run: node server.js
  env: { VERSION: ${version} }
  health: { path: /healthz, readiness: { interval: 100ms } }
  stop: { drain-timeout: 1s }
environments:
  production:
    strategy:
      canary:
        steps: [{ weight: 50, pause: until-promoted }]
`;

describe('gantry delivery commands', () => {
  let repo: TestRepo;
  let dataDir: string;
  let server: RunningCli;
  const gantry = (...args: string[]) => runCli(repo.dir, ['--data', dataDir, ...args]);
  const body = async (port: number) => (await (await fetch(`http://127.0.0.1:${port}/`)).text()).trim();

  beforeAll(async () => {
    repo = await makeRepo({ 'server.js': SERVICE, 'gantry.yaml': yaml('v1') });
    dataDir = await mkdtemp(join(tmpdir(), 'gantry-cli-delivery-'));
    server = startCli(repo.dir, ['--data', dataDir, 'up', '--port', '0'], { env: { GANTRY_SANDBOX: 'off' }, timeoutMs: 180_000 });
    await waitFor(() => server.stdout().includes('Gantry is up at'), { what: 'gantry up', timeoutMs: 20_000 });
    expect((await gantry('project', 'add', '.', '--name', 'web')).code).toBe(0);
  });
  afterAll(async () => {
    if (server?.child.pid) process.kill(server.child.pid, 'SIGTERM');
    await server?.result.catch(() => undefined);
    killInstances(dataDir);
    await repo?.cleanup();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('releases, exposes, deploys, promotes a canary by hand and rolls back', async () => {
    const count = async () => (JSON.parse((await gantry('release', 'list', 'web', '--json')).stdout) as unknown[]).length;
    await repo.commit({ 'a.txt': '1' }, 'v1');
    await waitFor(async () => (await count()) === 1, { what: 'release #1', timeoutMs: 30_000 });
    const port = await freePort();
    const exposed = await gantry('env', 'expose', 'web', 'production', '--port', String(port));
    expect(exposed.code, exposed.stderr).toBe(0);

    const first = await gantry('deploy', 'web', '1', '--env', 'production', '--follow');
    expect(first.code, first.stderr).toBe(0);
    expect(await body(port)).toBe('v1');

    await repo.commit({ 'gantry.yaml': yaml('v2') }, 'v2');
    await waitFor(async () => (await count()) === 2, { what: 'release #2', timeoutMs: 30_000 });
    const second = await gantry('deploy', 'web', '#2', '--env', 'production');
    expect(second.code, second.stderr).toBe(0);
    type Status = { rollout: { phase: string; strategy: string; step: number }; weights: { stable: number; canary: number } };
    let status: Status | undefined;
    await waitFor(
      async () => {
        status = JSON.parse((await gantry('rollout', 'status', 'web', '--env', 'production', '--json')).stdout) as Status;
        return status.weights.canary === 50;
      },
      { what: 'the canary to take half the traffic', timeoutMs: 30_000 },
    );
    if (!status) throw new Error('no status');
    expect(status.rollout.strategy).toBe('canary');
    expect(status.weights).toEqual({ stable: 50, canary: 50 });
    const bodies = new Set(await Promise.all(Array.from({ length: 20 }, () => body(port))));
    expect(bodies).toEqual(new Set(['v1', 'v2']));
    const text = await gantry('rollout', 'status', 'web', '--env', 'production');
    expect(text.stdout).toMatch(/traffic: stable 50% .* canary 50%/);

    expect((await gantry('rollout', 'promote', 'web', '--env', 'production')).code).toBe(0);
    await waitFor(async () => (await body(port)) === 'v2' && (await body(port)) === 'v2', { what: 'v2 everywhere', timeoutMs: 30_000 });

    const back = await gantry('rollback', 'web', '--env', 'production', '--follow');
    expect(back.code, back.stderr).toBe(0);
    expect(await body(port)).toBe('v1');
    const envs = await gantry('env', 'list', 'web');
    expect(envs.stdout).toMatch(new RegExp(`production\\s+port ${port}`));
  });

  it('says what is wrong in one line', async () => {
    const missing = await gantry('deploy', 'web', '42', '--env', 'production');
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toMatch(/^gantry: release 42 of web does not exist/);
    const noEnv = await gantry('deploy', 'web', '1');
    expect(noEnv.code).toBe(2);
  });
});
