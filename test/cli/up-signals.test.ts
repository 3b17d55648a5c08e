/**
 * `gantry up` stopped by a supervisor while it starts: a SIGTERM that arrives the moment the
 * server says it listens must still be a graceful stop (the server closed, exit code 0), not the
 * signal's default action killing the process.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startCli } from '../support/cli.ts';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

describe('gantry up and signals', () => {
  it('stops gracefully on a SIGTERM sent as soon as the server listens', async () => {
    const home = await mkdtemp(join(tmpdir(), 'gantry-up-signals-'));
    dirs.push(home);
    const up = startCli(home, ['--data', join(home, 'data'), 'up', '--port', '0'], { env: { GANTRY_SANDBOX: 'off' } });
    let signalled = false;
    // The first line that says it listens is the server's own log line, before `up` prints its banner.
    up.child.stderr?.on('data', () => {
      if (signalled || !up.stderr().includes('"msg":"server listening"') || up.child.pid === undefined) return;
      signalled = true;
      process.kill(up.child.pid, 'SIGTERM');
    });
    const result = await up.result;
    expect(signalled).toBe(true);
    expect({ code: result.code, signal: result.signal }).toEqual({ code: 0, signal: null });
    expect(result.stdout).toContain('shutting down…');
    expect(result.stderr).toContain('"msg":"server stopped"');
  });
});
