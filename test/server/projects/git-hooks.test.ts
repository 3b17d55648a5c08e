import { execFileSync } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { installGitHook, parseHookBody, uninstallGitHook } from '../../../src/server/projects/git-hooks.ts';
import { GIT_ENV, TempDirs, commit, git, initRepo } from '../repos/git-fixture.ts';

interface Received {
  url: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: string;
  /** The client closed the connection (curl gave up on a hung server). */
  clientGone: boolean;
}

/** A real server on 127.0.0.1 recording every request; `answer: false` accepts and never responds (a hung server). */
async function startServer(answer = true): Promise<{ server: Server; url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const entry: Received = {
        url: req.url ?? '',
        authorization: req.headers.authorization,
        contentType: req.headers['content-type'],
        body: Buffer.concat(chunks).toString(),
        clientGone: false,
      };
      received.push(entry);
      req.socket.once('close', () => {
        entry.clientGone = true;
      });
      if (answer) res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received };
}

const TOKEN = 'gty_0123456789abcdef';
const temp = new TempDirs();
const servers: Server[] = [];
let repo: string;

beforeEach(async () => {
  repo = await initRepo(await temp.make());
  await commit(repo, { 'README.md': 'hello\n' }, 'root');
});

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  await temp.cleanup();
});

async function serve(answer = true) {
  const s = await startServer(answer);
  servers.push(s.server);
  return s;
}

describe('installGitHook', () => {
  it('makes a commit POST its branch update to the server with the token', async () => {
    const { url, received } = await serve();
    const { hookPath } = await installGitHook(repo, { serverUrl: `${url}/`, token: TOKEN, projectId: 'proj 1' });
    expect(hookPath).toBe(path.join(repo, '.git', 'hooks', 'reference-transaction'));
    expect((await stat(hookPath)).mode & 0o777).toBe(0o700);

    const before = await git(repo, ['rev-parse', 'HEAD']);
    const after = await commit(repo, { 'a.txt': 'a\n' });

    await vi.waitFor(() => expect(received).toHaveLength(1), { timeout: 5000, interval: 20 });
    const [request] = received;
    expect(request?.url).toBe('/api/projects/proj%201/git-hook');
    expect(request?.authorization).toBe(`Bearer ${TOKEN}`);
    expect(request?.contentType).toBe('text/plain');
    expect(parseHookBody(request?.body ?? '')).toEqual([{ before, after, ref: 'refs/heads/main' }]);
  });

  it('reports a new branch with before = null', async () => {
    const { url, received } = await serve();
    await installGitHook(repo, { serverUrl: url, token: TOKEN, projectId: 'p' });
    const head = await git(repo, ['rev-parse', 'HEAD']);
    await git(repo, ['branch', 'feature']);
    await vi.waitFor(() => expect(received).toHaveLength(1), { timeout: 5000, interval: 20 });
    expect(parseHookBody(received[0]?.body ?? '')).toEqual([{ before: null, after: head, ref: 'refs/heads/feature' }]);
  });

  it('reports a new tag, lightweight or annotated, with what the tag ref points to', async () => {
    const { url, received } = await serve();
    await installGitHook(repo, { serverUrl: url, token: TOKEN, projectId: 'p' });
    const head = await git(repo, ['rev-parse', 'HEAD']);
    await git(repo, ['tag', 'v1']);
    await vi.waitFor(() => expect(received).toHaveLength(1), { timeout: 5000, interval: 20 });
    expect(parseHookBody(received[0]?.body ?? '')).toEqual([{ before: null, after: head, ref: 'refs/tags/v1' }]);

    await git(repo, ['tag', '-a', 'v2', '-m', 'release 2']);
    await vi.waitFor(() => expect(received).toHaveLength(2), { timeout: 5000, interval: 20 });
    const tagObject = await git(repo, ['rev-parse', 'refs/tags/v2']);
    expect(tagObject).not.toBe(head);
    expect(parseHookBody(received[1]?.body ?? '')).toEqual([{ before: null, after: tagObject, ref: 'refs/tags/v2' }]);
  });

  it('keeps an existing hook, runs it first with the same input, and keeps its exit code', async () => {
    const { url, received } = await serve();
    const hooks = path.join(repo, '.git', 'hooks');
    const log = path.join(repo, 'chained.log');
    const original = `#!/bin/sh\necho "state=$1" >> '${log}'\ncat >> '${log}'\nif [ -f '${path.join(repo, 'veto')}' ] && [ "$1" = prepared ]; then exit 1; fi\n`;
    await writeFile(path.join(hooks, 'reference-transaction'), original, { mode: 0o755 });

    await installGitHook(repo, { serverUrl: url, token: TOKEN, projectId: 'p' });
    expect(await readFile(path.join(hooks, 'reference-transaction.pre-gantry'), 'utf8')).toBe(original);

    const after = await commit(repo, { 'b.txt': 'b\n' });
    const logged = await readFile(log, 'utf8');
    expect(logged).toContain('state=prepared');
    expect(logged).toContain('state=committed');
    expect(logged).toContain(` ${after} refs/heads/main`);
    await vi.waitFor(() => expect(received).toHaveLength(1), { timeout: 5000, interval: 20 });

    // The chained hook vetoes the "prepared" state: the commit must fail and the branch stay put.
    await writeFile(path.join(repo, 'veto'), '');
    await writeFile(path.join(repo, 'c.txt'), 'c\n');
    await git(repo, ['add', 'c.txt']);
    await expect(git(repo, ['commit', '-q', '-m', 'vetoed'])).rejects.toThrow();
    expect(await git(repo, ['rev-parse', 'HEAD'])).toBe(after);
  });

  it('is idempotent: re-installing replaces only Gantry’s part', async () => {
    const hooks = path.join(repo, '.git', 'hooks');
    await writeFile(path.join(hooks, 'reference-transaction'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    await installGitHook(repo, { serverUrl: 'http://127.0.0.1:1', token: 'old-token', projectId: 'p' });
    const { hookPath } = await installGitHook(repo, { serverUrl: 'http://127.0.0.1:2', token: 'new-token', projectId: 'p' });
    const script = await readFile(hookPath, 'utf8');
    expect(script).toContain('new-token');
    expect(script).not.toContain('old-token');
    expect(await readFile(path.join(hooks, 'reference-transaction.pre-gantry'), 'utf8')).toBe('#!/bin/sh\nexit 0\n');
  });

  it('uninstalls and puts the chained hook back', async () => {
    const hookPath = path.join(repo, '.git', 'hooks', 'reference-transaction');
    await writeFile(hookPath, '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    await installGitHook(repo, { serverUrl: 'http://127.0.0.1:1', token: TOKEN, projectId: 'p' });
    await uninstallGitHook(repo);
    expect(await readFile(hookPath, 'utf8')).toBe('#!/bin/sh\nexit 0\n');
    await uninstallGitHook(repo);
    expect(await readFile(hookPath, 'utf8')).toBe('#!/bin/sh\nexit 0\n');
  });

  it('uninstalls with outcomes, puts back a chained hook the user stranded, and never touches a foreign one', async () => {
    const hooks = path.join(repo, '.git', 'hooks');
    const hookPath = path.join(hooks, 'reference-transaction');
    expect((await uninstallGitHook(repo)).outcome).toBe('absent');
    await installGitHook(repo, { serverUrl: 'http://127.0.0.1:1', token: TOKEN, projectId: 'p' });
    expect((await uninstallGitHook(repo)).outcome).toBe('removed');
    expect(existsSync(hookPath)).toBe(false);
    expect((await uninstallGitHook(repo)).outcome).toBe('absent');

    await writeFile(hookPath, '#!/bin/sh\nexit 0\n', { mode: 0o710 });
    await installGitHook(repo, { serverUrl: 'http://127.0.0.1:1', token: TOKEN, projectId: 'p' });
    await rm(hookPath); // the user deleted Gantry's hook; theirs is still kept aside
    expect((await uninstallGitHook(repo)).outcome).toBe('restored');
    expect(await readFile(hookPath, 'utf8')).toBe('#!/bin/sh\nexit 0\n');
    expect((await stat(hookPath)).mode & 0o777).toBe(0o710);
    expect(existsSync(path.join(hooks, 'reference-transaction.pre-gantry'))).toBe(false);

    await writeFile(hookPath, '#!/bin/sh\n# not gantry\n');
    expect((await uninstallGitHook(repo)).outcome).toBe('foreign');
    expect(await readFile(hookPath, 'utf8')).toBe('#!/bin/sh\n# not gantry\n');
  });

  it('removes the hooks folders it created, even after a re-install, but not one the user filled', async () => {
    await git(repo, ['config', 'core.hooksPath', 'tools/git/hooks']);
    await installGitHook(repo, { serverUrl: 'http://127.0.0.1:1', token: TOKEN, projectId: 'p' });
    await installGitHook(repo, { serverUrl: 'http://127.0.0.1:2', token: TOKEN, projectId: 'p' }); // a server restart
    await uninstallGitHook(repo);
    expect(existsSync(path.join(repo, 'tools'))).toBe(false);

    await installGitHook(repo, { serverUrl: 'http://127.0.0.1:1', token: TOKEN, projectId: 'p' });
    await writeFile(path.join(repo, 'tools', 'git', 'README'), 'mine\n');
    await uninstallGitHook(repo);
    expect(existsSync(path.join(repo, 'tools', 'git', 'hooks'))).toBe(false);
    expect(await readFile(path.join(repo, 'tools', 'git', 'README'), 'utf8')).toBe('mine\n');
  });

  it('reports a push into a bare repository', async () => {
    const { url, received } = await serve();
    const bare = await initRepo(await temp.make(), true);
    await installGitHook(bare, { serverUrl: url, token: TOKEN, projectId: 'p' });
    const head = await git(repo, ['rev-parse', 'HEAD']);
    await git(repo, ['push', '-q', bare, 'main']);
    await vi.waitFor(() => expect(received).toHaveLength(1), { timeout: 5000, interval: 20 });
    expect(parseHookBody(received[0]?.body ?? '')).toEqual([{ before: null, after: head, ref: 'refs/heads/main' }]);
  });

  it('installs where core.hooksPath points', async () => {
    const { url, received } = await serve();
    await git(repo, ['config', 'core.hooksPath', '.githooks']);
    const { hookPath } = await installGitHook(repo, { serverUrl: url, token: TOKEN, projectId: 'p' });
    expect(hookPath).toBe(path.join(repo, '.githooks', 'reference-transaction'));
    const after = await commit(repo, { 'd.txt': 'd\n' });
    await vi.waitFor(() => expect(received).toHaveLength(1), { timeout: 5000, interval: 20 });
    expect(parseHookBody(received[0]?.body ?? '')[0]?.after).toBe(after);
  });

  it('does not slow a commit when the server hangs', async () => {
    const { url, received } = await serve(false);
    await installGitHook(repo, { serverUrl: url, token: TOKEN, projectId: 'p' });
    await writeFile(path.join(repo, 'e.txt'), 'e\n');
    await git(repo, ['add', 'e.txt']);
    await git(repo, ['commit', '-q', '-m', 'while the server hangs']);
    // curl gives up on this server after 2 s: had the commit waited for it, it would be gone now.
    expect(received.filter((r) => r.clientGone)).toEqual([]);
    await vi.waitFor(() => expect(received).toHaveLength(1), { timeout: 5000, interval: 20 });
  });

  it('does not fail a commit when the server is down or curl is missing', async () => {
    const { url, server } = await startServer();
    await new Promise((resolve) => server.close(resolve));
    await installGitHook(repo, { serverUrl: url, token: TOKEN, projectId: 'p' });
    await commit(repo, { 'f.txt': 'f\n' });

    // A PATH holding git but no curl.
    const bin = await temp.make();
    await symlink(execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim(), path.join(bin, 'git'));
    await writeFile(path.join(repo, 'g.txt'), 'g\n');
    await git(repo, ['add', 'g.txt'], { ...GIT_ENV, PATH: bin });
    await git(repo, ['commit', '-q', '-m', 'no curl'], { ...GIT_ENV, PATH: bin });
    expect(await git(repo, ['log', '-1', '--format=%s'])).toBe('no curl');
  });

  it('refuses a bad server URL or a token that would break the header', async () => {
    await expect(installGitHook(repo, { serverUrl: 'ftp://x', token: TOKEN, projectId: 'p' })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    });
    await expect(installGitHook(repo, { serverUrl: 'http://x', token: 'a\nX-Evil: 1', projectId: 'p' })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    });
  });

  it('refuses to clobber when both a foreign hook and a chained one exist', async () => {
    const hooks = path.join(repo, '.git', 'hooks');
    await mkdir(hooks, { recursive: true });
    await writeFile(path.join(hooks, 'reference-transaction'), '#!/bin/sh\n');
    await writeFile(path.join(hooks, 'reference-transaction.pre-gantry'), '#!/bin/sh\n');
    await chmod(path.join(hooks, 'reference-transaction'), 0o755);
    await expect(installGitHook(repo, { serverUrl: 'http://x', token: TOKEN, projectId: 'p' })).rejects.toMatchObject({ code: 'CONFLICT' });
  });
});

describe('parseHookBody', () => {
  const a = 'a'.repeat(40);
  const b = 'b'.repeat(40);
  const zero = '0'.repeat(40);

  it('keeps branch and tag updates, marks new ones, drops deletions and other refs', () => {
    const body = [
      `${a} ${b} refs/heads/main`,
      `${zero} ${b} refs/heads/new\r`,
      `${a} ${zero} refs/heads/gone`,
      `${zero} ${b} refs/tags/v1`,
      `${a} ${zero} refs/tags/v0`,
      `${a} ${b} refs/notes/commits`,
      `${a} ${b} HEAD`,
      `ref:refs/heads/main ref:refs/heads/other HEAD`,
      'garbage',
      '',
    ].join('\n');
    expect(parseHookBody(body)).toEqual([
      { before: a, after: b, ref: 'refs/heads/main' },
      { before: null, after: b, ref: 'refs/heads/new' },
      { before: null, after: b, ref: 'refs/tags/v1' },
    ]);
  });
});
