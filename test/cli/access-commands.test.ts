/**
 * `gantry user|grant|token|audit` against a real server: an admin adds a person, gives her a
 * role, mints her a token; with it the CLI can do what her role allows and is refused, in one
 * line naming the role needed, where it does not; the audit trail shows both.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

let server: TestServer;
let asAdmin: (args: string[]) => ReturnType<typeof runCli>;

beforeAll(async () => {
  server = await startTestServer();
  await server.store.projects.create({ name: 'shop', source: { kind: 'local', path: '/nonexistent' }, webhookSecret: 'w' });
  asAdmin = (args) => runCli(server.dataDir, ['--data', server.dataDir, ...args]);
});
afterAll(async () => {
  await server?.cleanup();
});

describe('gantry user, grant, token, audit', () => {
  it('gives a person a role and a token that the server holds to it', async () => {
    expect((await asAdmin(['user', 'add', 'alice', '--groups', 'dev'])).stdout).toBe('added user alice\n');
    expect((await asAdmin(['grant', 'developer', 'group:dev', '--project', 'shop'])).stdout).toBe('group:dev is developer on shop\n');
    const made = await asAdmin(['token', 'create', 'laptop', '--owner', 'alice', '--expires', '30d']);
    expect(made.code).toBe(0);
    const token = made.stdout.trim();
    expect(token).toMatch(/^gnt_/);
    expect(made.stderr).toMatch(/^token \S+ for alice, expires \S+ \(shown once; use it as GANTRY_TOKEN\):\n$/);

    const asAlice = (args: string[]) => runCli(server.dataDir, args, { env: { GANTRY_URL: server.url, GANTRY_TOKEN: token } });
    expect((await asAlice(['token', 'list'])).stdout).toContain('laptop');
    const refused = await asAlice(['user', 'add', 'mallory']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr.trim().split('\n')).toEqual(['gantry: user:alice has no role on this server; server.admin needs admin']);

    const trail = await asAdmin(['audit', '--user', 'alice']);
    expect(trail.stdout).toMatch(/user:alice POST \/api\/users → 403 from 127\.0\.0\.1/);
    const json = JSON.parse((await asAdmin(['audit', '--json', '--limit', '5'])).stdout) as { type: string }[];
    expect(json.length).toBeGreaterThan(0);
  });
});
