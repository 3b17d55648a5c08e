import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runGit, tryGit } from '../../src/platform/git.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'gantry-git-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** git's own view of its environment: an alias that runs `env`. */
const envOfGit = async (env?: Record<string, string>) =>
  Object.fromEntries(
    (await runGit(['-c', 'alias.dumpenv=!env', 'dumpenv'], { cwd: dir, env }))
      .split('\n')
      .filter(Boolean)
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );

describe('runGit', () => {
  it('returns stdout', async () => {
    expect(await runGit(['--version'])).toMatch(/^git version/);
  });

  it('throws GIT_FAILED with the tail of stderr', async () => {
    await expect(runGit(['rev-parse', '--git-dir'], { cwd: dir })).rejects.toMatchObject({
      code: 'GIT_FAILED',
      message: expect.stringContaining('not a git repository'),
    });
  });

  it("never hands the server's secrets to git (or to what git runs: hooks, ssh, credential helpers)", async () => {
    process.env.GANTRY_TOKEN = 'admin-token';
    process.env.SOME_PASSWORD = 'pw';
    try {
      const env = await envOfGit({ GIT_INDEX_FILE: '/tmp/x' });
      expect(env).not.toHaveProperty('GANTRY_TOKEN');
      expect(env).not.toHaveProperty('SOME_PASSWORD');
      expect(env).toMatchObject({ GIT_INDEX_FILE: '/tmp/x', GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' });
      // The host's PATH reaches git whole (git itself may put its exec dir in front).
      expect(env.PATH?.endsWith(process.env.PATH ?? '/nonexistent')).toBe(true);
    } finally {
      delete process.env.GANTRY_TOKEN;
      delete process.env.SOME_PASSWORD;
    }
  });

  it('keeps its prompt and locale settings over the caller’s', async () => {
    expect(await envOfGit({ GIT_TERMINAL_PROMPT: '1', LC_ALL: 'fr_FR' })).toMatchObject({ GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' });
  });
});

describe('tryGit', () => {
  it('reports a failure instead of throwing', async () => {
    const result = await tryGit(['rev-parse', '--git-dir'], { cwd: dir });
    expect(result.ok).toBe(false);
    expect(result.stderr).toContain('not a git repository');
    expect(result.error).not.toBe('');
  });

  it('times out', async () => {
    const result = await tryGit(['-c', 'alias.wait=!sleep 5', 'wait'], { cwd: dir, timeoutMs: 200 });
    expect(result.ok).toBe(false);
  });
});
