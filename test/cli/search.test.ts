/** `gantry search` and `gantry events export` as processes against a real server on loopback. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SearchAnswer } from '../../src/server/index.ts';
import { runCli } from '../support/cli.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const ENV = { gantryVersion: 'test', nodeVersion: process.version, host: 'test' };
const SHA = '0123456789abcdef0123456789abcdef01234567';

describe('gantry search, gantry events export', () => {
  let server: TestServer;
  let env: Record<string, string>;

  beforeAll(async () => {
    server = await startTestServer();
    env = { GANTRY_URL: server.url, GANTRY_TOKEN: server.token };
    const shop = (await server.store.projects.create({ name: 'shop', source: { kind: 'local', path: '/srv/shop' }, webhookSecret: 'w' }))
      .id;
    const at = (h: number) => new Date(Date.now() - h * 3_600_000).toISOString();
    await server.store.events.append({
      type: 'run.created',
      subject: 'run:R1',
      actor: 'api:alice',
      at: at(3),
      data: { runId: 'R1', number: 4, projectId: shop, sha: SHA },
      env: { ...ENV, commit: SHA },
    });
    await server.store.events.append({
      type: 'run.failure',
      subject: 'run:R1',
      actor: 'server',
      at: at(2),
      data: { runId: 'R1', projectId: shop },
      env: { ...ENV, commit: SHA },
    });
    await server.store.events.append({
      type: 'job.failure',
      subject: 'job:R1/lint',
      actor: 'server',
      at: at(2),
      data: { runId: 'R1', key: 'lint', projectId: shop, reason: 'eslint found 3 errors' },
      env: { ...ENV, commit: SHA },
    });
  });
  afterAll(async () => {
    await server?.cleanup();
  });

  it('prints one line per thing with its link, or the answer as JSON', async () => {
    const text = await runCli(server.dataDir, ['search', 'commit:0123456', '--type', 'run'], { env });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/run\s+Run failure — shop \(2 records\)/);
    expect(text.stdout).toContain(`${server.url}/runs/R1`);
    const json = await runCli(server.dataDir, ['search', 'eslint', 'errors', '--json'], { env });
    const answer = JSON.parse(json.stdout) as SearchAnswer;
    expect(answer.results.map((r) => [r.kind, r.link, r.detail])).toEqual([['job', '/runs/R1/jobs/lint', 'eslint found 3 errors']]);
  }, 60_000);

  it('fails a bad query with one line naming the column', async () => {
    const bad = await runCli(server.dataDir, ['search', 'by:'], { env });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/by: needs a value \(at column 4 of the query\)/);
  }, 60_000);

  it('exports the event log of a project and a period as JSON Lines', async () => {
    const out = await runCli(server.dataDir, ['events', 'export', '--project', 'shop', '--since', '150m'], { env });
    expect(out.code, out.stderr).toBe(0);
    const events = out.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; scope: { projectId: string } });
    expect(events.map((e) => e.type)).toEqual(['run.failure', 'job.failure']);
  }, 60_000);
});
