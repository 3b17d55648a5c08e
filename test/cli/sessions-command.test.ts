/**
 * `gantry sessions list|revoke` against a real server: a browser signed in with a `gantry open`
 * link is listed, and once revoked from the CLI its cookie is refused at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

describe('gantry sessions', () => {
  let server: TestServer;
  const gantry = (...args: string[]) => runCli(server.dataDir, ['--data', server.dataDir, 'sessions', ...args]);
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server?.cleanup();
  });

  it('lists a signed-in browser and ends its session', async () => {
    const { url } = (await server.api<{ url: string }>('POST', '/api/login-links')).body;
    const signedIn = await fetch(url, { redirect: 'manual' });
    const cookie =
      signedIn.headers
        .getSetCookie()
        .find((c) => c.startsWith('gantry_session='))
        ?.split(';')[0] ?? '';
    expect(cookie).not.toBe('');
    const asBrowser = () => fetch(`${server.url}/api/session`, { headers: { cookie } }).then((r) => r.status);
    expect(await asBrowser()).toBe(200);

    const listed = await gantry('list', '--json');
    const [session] = JSON.parse(listed.stdout) as { id: string; owner: string | null }[];
    expect(session).toMatchObject({ owner: null });
    expect((await gantry('list')).stdout).toContain(`${session?.id}  gantry open link`);

    const revoked = await gantry('revoke', session?.id ?? '');
    expect(revoked.stdout).toBe(`session ${session?.id} ended\n`);
    expect(await asBrowser()).toBe(401);
    expect((await gantry('list')).stdout).toBe('No dashboard session is signed in.\n');
    const again = await gantry('revoke', session?.id ?? '');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`no signed-in session ${session?.id}`);
  });
});
