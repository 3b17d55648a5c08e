/**
 * The platform as code end to end: the real `gantry platform plan|apply|adopt` against a real
 * server on loopback, authenticated as a pipeline would be (GANTRY_URL and a service token scoped
 * to server.read and server.admin). Apply is idempotent; a change made by hand through the API is
 * reported as drift, reverted by apply or adopted into the files; a folder naming a project the
 * server does not know applies nothing; a bad file is refused at its FILE:LINE:COL.
 * `plan --detailed-exitcode` answers a pipeline as Terraform does: 0 nothing to do, 2 changes, 1 error.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken, newToken } from '../../src/server/auth/index.ts';
import { runCli } from '../support/cli.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const SHOP = `# The shop's platform: reviewed like code.
projects:
  shop:
    members:
      user:alice: maintainer
      group:developers: developer
    secrets: [DATABASE_URL]
    environments:
      staging:
      production:
        approvals: { count: 2, group: release-managers }
        windows:
          timezone: Europe/Paris
          deny: [{ days: [fri], from: "16:00", to: "24:00" }]
`;
const GROUPS = `groups:
  release-managers: [alice, bob]
`;

describe('gantry platform', () => {
  let server: TestServer;
  let dir: string;
  let env: Record<string, string>;
  const gantry = (...args: string[]) => runCli(dir, ['platform', ...args], { env });

  beforeAll(async () => {
    server = await startTestServer();
    dir = await mkdtemp(join(tmpdir(), 'gantry-platform-'));
    await writeFile(join(dir, 'shop.yaml'), SHOP);
    await writeFile(join(dir, 'groups.yaml'), GROUPS);
    await server.store.projects.create({ name: 'shop', source: { kind: 'local', path: '/nowhere' }, webhookSecret: 'w' });
    await server.store.access.createUser({ name: 'platform-bot', kind: 'service', displayName: 'platform pipeline' });
    await server.store.access.grant({ subject: 'user:platform-bot', role: 'admin', project: null, environment: null, createdBy: 'test' });
    const token = newToken();
    await server.store.tokens.create({
      name: 'platform-ci',
      hash: hashToken(token),
      owner: 'platform-bot',
      scopes: ['server.read', 'server.admin'],
    });
    env = { GANTRY_URL: server.url, GANTRY_TOKEN: token };
  });
  afterAll(async () => {
    await server?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('plans, applies once, and finds nothing to do the second time', async () => {
    const plan = await gantry('plan', '.');
    expect(plan.stderr).toBe('');
    expect(plan.stdout).toContain('+ group release-managers: [] → [alice, bob]');
    expect(plan.stdout).toContain('+ shop: member user:alice none → maintainer');
    expect(plan.stdout).toContain('+ shop/production: protection\n      approvals: none → 2 from release-managers\n');
    expect(plan.stdout).toContain('! shop: secret DATABASE_URL has no value: `gantry secret set shop DATABASE_URL`');
    expect(plan.stdout).toContain('Plan: 4 to create, 0 to update, 0 to delete.');
    expect(plan.code).toBe(0);
    expect((await gantry('plan', '.', '--detailed-exitcode')).code).toBe(2);

    const apply = await gantry('apply', '.');
    expect(apply.code).toBe(0);
    expect(apply.stdout).toContain('Applied 4 changes.');
    const protection = await server.api<{ protection: unknown }>('GET', '/api/projects/shop/environments/production/protection');
    expect(protection.body.protection).toEqual({
      approvals: { count: 2, group: 'release-managers' },
      windows: { timezone: 'Europe/Paris', deny: [{ days: ['fri'], from: '16:00', to: '24:00' }] },
    });
    const [event] = await server.store.events.list({ type: 'platform.applied' });
    expect(event).toMatchObject({ actor: 'user:platform-bot', data: { created: 4, updated: 0, deleted: 0 } });

    const again = await gantry('apply', '.');
    expect(again.stdout).toContain('No changes: the server matches the platform folder.');
    expect(await server.store.events.list({ type: 'platform.applied' })).toHaveLength(1);
    expect((await gantry('plan', '.', '--detailed-exitcode')).code).toBe(0);
  });

  it('reports a change made by hand as drift; apply reverts it, adopt writes it into the files', async () => {
    await server.api('PUT', '/api/projects/shop/environments/production/protection', {
      protection: { approvals: { count: 1, group: 'release-managers' } },
    });
    const drift = await gantry('plan', '.');
    expect(drift.stdout).toContain('~ shop/production: protection   (drift: changed on the server since the last apply)');
    expect(drift.stdout).toContain('approvals: 1 from release-managers → 2 from release-managers');
    expect((await gantry('apply', '.')).stdout).toContain('Applied 1 change.');
    expect(
      (await server.api<{ protection: { approvals: unknown } }>('GET', '/api/projects/shop/environments/production/protection')).body
        .protection.approvals,
    ).toEqual({ count: 2, group: 'release-managers' });

    await server.api('PUT', '/api/projects/shop/environments/production/protection', {
      protection: { approvals: { count: 3, group: 'release-managers' } },
    });
    const adopt = await gantry('adopt', '.');
    expect(adopt.stdout).toContain('Adopted 1 change into shop.yaml.');
    const written = await readFile(join(dir, 'shop.yaml'), 'utf8');
    expect(written).toContain("# The shop's platform: reviewed like code.");
    expect(written).toContain('approvals: { count: 3, group: release-managers }');
    expect(written).not.toContain('windows:');
    expect((await gantry('plan', '.')).stdout).toContain('No changes');
  });

  it('applies nothing when the folder names a project the server does not know, and refuses a bad file at its place', async () => {
    await writeFile(join(dir, 'ghost.yaml'), 'projects:\n  ghost: {}\n  shop-extra:\n    members: { user:erin: viewer }\n');
    await writeFile(join(dir, 'groups.yaml'), 'groups:\n  release-managers: [alice, bob, erin]\n');
    const refused = await gantry('apply', '.');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('declares ghost, shop-extra, which the server does not know');
    expect((await server.store.access.membersOf('release-managers')).sort()).toEqual(['alice', 'bob']);

    await writeFile(join(dir, 'ghost.yaml'), 'projects:\n  ghost:\n    environments:\n      production: { aprovals: 2 }\n');
    const invalid = await gantry('plan', '.');
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain("ghost.yaml:4:21: unknown key 'aprovals' (did you mean 'approvals'?)");
    // A pipeline reading --detailed-exitcode must not take an error for "there are changes".
    const invalidDetailed = await gantry('plan', '.', '--detailed-exitcode');
    expect(invalidDetailed.code).toBe(1);
    expect(invalidDetailed.stderr).toContain('ghost.yaml:4:21: unknown key');
  });
});
