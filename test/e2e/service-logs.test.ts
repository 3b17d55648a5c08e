/**
 * Service logs end to end: a real service deployed by a real server writes JSON and plain lines;
 * they are found through the API and `gantry env logs` (filters, --json, --follow), and the
 * files sit where the ADR says, per environment, release and instance.
 */
import { lineKey } from '../../src/core/line-key.ts';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceLogAnswer, ServiceLogLine } from '../../src/server/index.ts';
import { runCli, startCli } from '../support/cli.ts';
import { makeRepo, type TestRepo } from '../support/repo.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

const SERVICE = readFileSync(join(import.meta.dirname, 'fixtures', 'log-service.js'), 'utf8');
const YAML = `
pipeline:
  on: { push: { branches: [main] } }
  jobs:
    build: { steps: ["node --check server.js"] }
service:
  run: node server.js
  env: { VERSION: v1 }
  health: { path: /say, readiness: { interval: 100ms } }
  stop: { drain-timeout: 1s }
environments:
  staging:
    auto: true
`;

describe('service logs', () => {
  let server: TestServer;
  let repo: TestRepo;
  let port = 0;
  const say = (level: string, msg: string) =>
    fetch(`http://127.0.0.1:${port}/say?${new URLSearchParams({ level, msg })}`).then((r) => r.text());
  const logs = async (query: string) => {
    const answer = await server.api<ServiceLogAnswer>('GET', `/api/projects/shop/environments/staging/logs?${query}`);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    return answer.body;
  };
  const gantry = (...args: string[]) => runCli(repo.dir, ['--data', server.dataDir, ...args]);

  beforeAll(async () => {
    server = await startTestServer();
    repo = await makeRepo({ 'server.js': SERVICE, 'gantry.yaml': YAML });
    expect((await server.api('POST', '/api/projects', { path: repo.dir, name: 'shop' })).status).toBe(201);
    await repo.commit({ 'README.md': 'v1\n' }, 'v1');
    port = await waitFor(
      async () => {
        const view = await server.api<{ live: { port: number | null }; rollout: { phase: string } | null }>(
          'GET',
          '/api/projects/shop/environments/staging/rollout',
        );
        return view.body.rollout?.phase === 'succeeded' ? (view.body.live.port ?? undefined) : undefined;
      },
      { what: 'release 1 live in staging', timeoutMs: 60_000 },
    );
  }, 90_000);
  afterAll(async () => {
    await server?.cleanup();
    await repo?.cleanup();
  });

  it('finds lines by text, regex and JSON field, per release and instance, with links', async () => {
    await say('info', 'order 17 accepted');
    await say('error', 'order 18 declined');
    const found = await waitFor(async () => ((await logs('grep=order%2018')).lines.length === 2 ? logs('grep=order%2018') : undefined), {
      what: 'the lines of order 18',
      timeoutMs: 10_000,
    });
    const [json, plain] = found.lines as [ServiceLogLine, ServiceLogLine];
    expect(json).toMatchObject({
      project: 'shop',
      environment: 'staging',
      release: 1,
      stream: 'stdout',
      fields: { level: 'error', msg: 'order 18 declined' },
    });
    expect(plain).toMatchObject({ stream: 'stderr', text: 'plain error: order 18 declined', release: 1, instance: json.instance });
    expect(json.instance).toMatch(/^shop\.staging\.r1\./);
    expect(json.link).toBe(
      `/projects/shop/environments/staging/logs?instance=${json.instance}&at=${encodeURIComponent(json.time)}&line=${lineKey(json.text)}`,
    );

    expect((await logs('where=level%3Derror')).lines.map((l) => l.fields?.msg)).toEqual(['order 18 declined']);
    expect((await logs('where=level%3Dinfo&text=order')).lines.map((l) => l.fields?.msg)).toEqual(['order 17 accepted']);
    expect((await logs('stream=system&grep=%5Cbready')).lines.length).toBeGreaterThan(0);
    expect((await logs(`release=1&instance=${json.instance}&since=10m&text=order`)).lines).toHaveLength(3);
    const noRelease = await server.api<{ error: { code: string } }>('GET', '/api/projects/shop/environments/staging/logs?release=9');
    expect(noRelease.body.error.code).toBe('NOT_FOUND');
    const bad = await server.api<{ error: { code: string; message: string } }>(
      'GET',
      '/api/projects/shop/environments/staging/logs?grep=%28',
    );
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('INVALID_LOG_QUERY');

    // Where the ADR says: per environment, release and instance, outside the instance's own dir.
    const project = (await server.api<{ project: { id: string } }>('GET', '/api/projects/shop')).body.project;
    const release = (await server.api<{ releases: { id: string }[] }>('GET', '/api/projects/shop/releases')).body.releases[0];
    expect(existsSync(join(server.dataDir, 'service-logs', project.id, 'staging', release?.id ?? '?', json.instance, 'instance.log'))).toBe(
      true,
    );
  });

  it('gantry env logs: filters, --json, one-line errors, and --follow prints new lines', async () => {
    await say('warn', 'disk 91% full');
    await waitFor(async () => (await logs('text=disk%2091')).lines.length === 1, { what: 'the warning stored', timeoutMs: 10_000 });
    const text = await gantry('env', 'logs', 'shop', 'staging', '--where', 'level=warn');
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^\S+Z shop\.staging\.r1\.\S+ \{"level":"warn","msg":"disk 91% full"\}\n$/);
    const json = await gantry('env', 'logs', 'shop', 'staging', '--grep', 'disk \\d+%', '--json', '--release', '1', '--since', '1h');
    expect(json.code, json.stderr).toBe(0);
    expect(
      json.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as ServiceLogLine).fields),
    ).toEqual([{ level: 'warn', msg: 'disk 91% full' }]);
    const bad = await gantry('env', 'logs', 'shop', 'staging', '--since', 'yesterday');
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim()).toMatch(/^gantry: since "yesterday" is neither a duration back from now/);

    const follow = startCli(repo.dir, [
      '--data',
      server.dataDir,
      'env',
      'logs',
      'shop',
      'staging',
      '--follow',
      '--text',
      'followed',
      '--limit',
      '1',
    ]);
    try {
      await say('info', 'followed 1');
      await waitFor(() => follow.stdout().includes('followed 1'), { what: 'the first followed line', timeoutMs: 15_000 });
      await say('info', 'followed 2');
      await waitFor(() => follow.stdout().includes('followed 2'), { what: 'a line written while following', timeoutMs: 15_000 });
    } finally {
      if (follow.child.pid) process.kill(follow.child.pid, 'SIGINT');
      await follow.result.catch(() => undefined);
    }
    expect(follow.stdout().match(/followed 2/g)).toHaveLength(1);
  });
});
