import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

describe('gantry open', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server.cleanup();
  });

  it('prints a one-time sign-in link for the local server', async () => {
    const result = await runCli(server.dataDir, ['--data', server.dataDir, 'open', '--no-browser']);
    expect(result.code, result.stderr).toBe(0);
    const link = /^(http:\/\/\S+)$/m.exec(result.stdout)?.[1];
    expect(link?.startsWith(`${server.url}/auth/login?token=gnl_`)).toBe(true);
    expect(result.stdout).toContain('valid for 10 minutes');
    expect((await fetch(link!)).headers.get('set-cookie')).toMatch(/^gantry_session=/);
    expect((await fetch(link!)).status).toBe(401);
  });

  it('says how to start a server when none runs', async () => {
    const result = await runCli(server.dataDir, ['--data', `${server.dataDir}/nothing-here`, 'open', '--no-browser']);
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/gantry up/);
  });
});
