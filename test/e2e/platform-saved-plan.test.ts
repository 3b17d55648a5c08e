/**
 * `gantry platform plan DIR --out FILE` then `apply DIR --plan FILE` (Terraform's saved plan),
 * through the real CLI and a real server on loopback: the reviewed plan is applied as shown, and
 * refused, with nothing applied, when another request changed the server in between or the folder
 * changed since.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const SHOP = `projects:
  shop:
    members: { user:alice: maintainer }
    environments:
      production:
        approvals: { count: 2, group: release-managers }
groups:
  release-managers: [alice, bob]
`;

describe('gantry platform apply --plan', () => {
  let server: TestServer;
  let dir: string;
  let env: Record<string, string>;
  const gantry = (...args: string[]) => runCli(dir, ['platform', ...args], { env });
  const planFile = () => join(dir, 'reviewed.plan');

  beforeAll(async () => {
    server = await startTestServer();
    dir = await mkdtemp(join(tmpdir(), 'gantry-platform-plan-'));
    await writeFile(join(dir, 'shop.yaml'), SHOP);
    await server.store.projects.create({ name: 'shop', source: { kind: 'local', path: '/nowhere' }, webhookSecret: 'w' });
    env = { GANTRY_URL: server.url, GANTRY_TOKEN: server.token };
  });
  afterAll(async () => {
    await server?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('refuses a saved plan when another request changed the server since, and applies a fresh one as shown', async () => {
    const plan = await gantry('plan', '.', '--out', planFile());
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain(`Saved the plan to ${planFile()}`);
    expect(JSON.parse(await readFile(planFile(), 'utf8'))).toMatchObject({
      format: 'gantry-platform-plan/1',
      plan: { changes: expect.any(Array) },
    });

    // Someone else changes what the plan was made against.
    expect((await server.api('PUT', '/api/projects/shop/members', { subject: 'user:alice', role: 'viewer' })).status).toBe(200);
    const stale = await gantry('apply', '.', '--plan', planFile());
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain("the server's state changed since the saved plan was made; nothing was applied");
    expect(await server.store.access.membersOf('release-managers')).toEqual([]);
    expect(await server.store.events.list({ type: 'platform.applied' })).toEqual([]);

    const fresh = await gantry('plan', '.', '--out', planFile());
    expect(fresh.stdout).toContain('~ shop: member user:alice viewer → maintainer');
    const applied = await gantry('apply', '.', '--plan', planFile());
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain('Applied 3 changes.');
    expect((await server.store.access.membersOf('release-managers')).sort()).toEqual(['alice', 'bob']);
  });

  it('refuses a saved plan when the folder changed since, and a file that is no plan', async () => {
    await writeFile(join(dir, 'shop.yaml'), SHOP.replace('count: 2', 'count: 1'));
    expect((await gantry('plan', '.', '--out', planFile())).stdout).toContain(
      'approvals: 2 from release-managers → 1 from release-managers',
    );
    await writeFile(join(dir, 'shop.yaml'), SHOP.replace('count: 2', 'count: 3'));
    const stale = await gantry('apply', '.', '--plan', planFile());
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain('the platform folder changed since the saved plan was made; nothing was applied');
    expect(
      (await server.api<{ protection: { approvals: unknown } }>('GET', '/api/projects/shop/environments/production/protection')).body
        .protection.approvals,
    ).toEqual({ count: 2, group: 'release-managers' });

    await writeFile(planFile(), '{"changes": []}');
    const invalid = await gantry('apply', '.', '--plan', planFile());
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain('is not a plan saved by `gantry platform plan DIR --out FILE`');
  });
});
