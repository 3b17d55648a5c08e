/**
 * `gantry new node-service hello2` end to end against a real server on loopback: the repository
 * is created and registered, its first commit runs its first pipeline through the git hook
 * (build, JUnit tests), the green run becomes a release that deploys staging by itself, and
 * `--wait` prints staging's URL once it answers as the new service.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

describe('gantry new', () => {
  let server: TestServer;
  let dir: string;
  beforeAll(async () => {
    server = await startTestServer();
    dir = await mkdtemp(join(tmpdir(), 'gantry-new-'));
  });
  afterAll(async () => {
    await server?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('creates, registers and ships a node service to staging', async () => {
    const result = await runCli(dir, ['new', 'node-service', 'hello2', '--wait', '--timeout', '150'], {
      env: { GANTRY_URL: server.url, GANTRY_TOKEN: server.token },
      timeoutMs: 170_000,
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`created hello2 in ${join(dir, 'hello2')} from node-service`);
    const url = /staging: (http:\S+)/.exec(result.stdout)?.[1];
    expect(url).toBeDefined();
    expect(await (await fetch(url as string)).json()).toEqual({ service: 'hello2', environment: 'staging' });
    const runs = await server.api<{ runs: { status: string; event: { kind: string } }[] }>('GET', '/api/runs?project=hello2');
    expect(runs.body.runs).toEqual([expect.objectContaining({ status: 'success', event: expect.objectContaining({ kind: 'push' }) })]);
  }, 180_000);
});
