/**
 * `gantry project remove` leaves the repository as `project add` found it: Gantry's hook goes, a
 * hook it chained comes back byte for byte with its mode, core.hooksPath is respected, and a URL
 * project's mirror under the data directory is deleted. Real git repositories, a real server.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../support/cli.ts';
import { makeRepo } from '../../support/repo.ts';
import { startTestServer, type TestServer } from '../../support/server.ts';

/** Every entry under `dir` (recursively): relative path → mode and a hash of the bytes; null when `dir` does not exist. */
async function snapshot(dir: string): Promise<Map<string, { mode: number; sha256: string }> | null> {
  if (!existsSync(dir)) return null;
  const out = new Map<string, { mode: number; sha256: string }>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const full = join(entry.parentPath, entry.name);
    const info = await stat(full);
    out.set(relative(dir, full), {
      mode: info.mode,
      sha256: entry.isFile()
        ? createHash('sha256')
            .update(await readFile(full))
            .digest('hex')
        : '',
    });
  }
  return out;
}

const PIPELINE = { 'gantry.yaml': 'pipeline:\n  jobs:\n    hello: { steps: [echo hi] }\n' };
const HOOK = 'reference-transaction';

describe('removing a project', () => {
  let server: TestServer;
  const cleanups: (() => Promise<unknown>)[] = [];
  let names = 0;
  const newRepo = async () => {
    const repo = await makeRepo(PIPELINE);
    cleanups.push(() => repo.cleanup());
    return { ...repo, name: `p${++names}` };
  };
  const add = async (body: Record<string, string>) => {
    const added = await server.api<{ project: { id: string } }>('POST', '/api/projects', body);
    expect(added.status, JSON.stringify(added.body)).toBe(201);
    return added.body.project.id;
  };
  const remove = (name: string) => server.api<{ deleted: boolean; warnings: string[] }>('DELETE', `/api/projects/${name}`);

  beforeAll(async () => {
    server = await startTestServer();
    cleanups.push(() => server.cleanup());
  });
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('takes out the hook it installed: the hooks folder is as before `project add`', async () => {
    const repo = await newRepo();
    const hooks = join(repo.dir, '.git', 'hooks');
    const before = await snapshot(hooks);
    await add({ path: repo.dir, name: repo.name });
    expect(existsSync(join(hooks, HOOK))).toBe(true);
    const removed = await remove(repo.name);
    expect(removed.status).toBe(200);
    expect(removed.body).toEqual({ deleted: true, warnings: [] });
    expect(await snapshot(hooks)).toEqual(before);
    expect(repo.git('status', '--porcelain')).toBe('');
    expect((await server.api('GET', `/api/projects/${repo.name}`)).status).toBe(404);
  });

  it('puts back the hook that was there before, byte for byte with its mode', async () => {
    const repo = await newRepo();
    const hooks = join(repo.dir, '.git', 'hooks');
    await writeFile(join(hooks, HOOK), '#!/bin/sh\n# the user’s own hook\r\nexit 0\n');
    await chmod(join(hooks, HOOK), 0o750);
    const before = await snapshot(hooks);
    await add({ path: repo.dir, name: repo.name });
    expect(await readFile(join(hooks, HOOK), 'utf8')).toContain('gantry-managed-hook');
    expect((await remove(repo.name)).body).toEqual({ deleted: true, warnings: [] });
    expect(await snapshot(hooks)).toEqual(before);
    expect((await stat(join(hooks, HOOK))).mode & 0o777).toBe(0o750);
  });

  it('respects core.hooksPath, and removes the hooks folder it had to create', async () => {
    const repo = await newRepo();
    repo.git('config', 'core.hooksPath', 'custom/hooks');
    const before = await snapshot(join(repo.dir, 'custom'));
    expect(before).toBeNull();
    await add({ path: repo.dir, name: repo.name });
    expect(existsSync(join(repo.dir, 'custom', 'hooks', HOOK))).toBe(true);
    expect((await remove(repo.name)).body).toEqual({ deleted: true, warnings: [] });
    expect(existsSync(join(repo.dir, 'custom'))).toBe(false);
    expect(repo.git('status', '--porcelain')).toBe('');
  });

  it('respects an existing custom hooks folder and the hook in it', async () => {
    const repo = await newRepo();
    const hooks = join(repo.dir, '.githooks');
    await mkdir(hooks);
    await writeFile(join(hooks, HOOK), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    await writeFile(join(hooks, 'pre-commit'), '#!/bin/sh\n', { mode: 0o700 });
    repo.git('config', 'core.hooksPath', '.githooks');
    const before = await snapshot(hooks);
    const defaultBefore = await snapshot(join(repo.dir, '.git', 'hooks'));
    await add({ path: repo.dir, name: repo.name });
    expect(await readFile(join(hooks, 'reference-transaction.pre-gantry'), 'utf8')).toBe('#!/bin/sh\nexit 0\n');
    expect((await remove(repo.name)).body).toEqual({ deleted: true, warnings: [] });
    expect(await snapshot(hooks)).toEqual(before);
    expect(await snapshot(join(repo.dir, '.git', 'hooks'))).toEqual(defaultBefore);
  });

  it('is fine when the user already deleted the hook, and a second remove finds no project', async () => {
    const repo = await newRepo();
    const hooks = join(repo.dir, '.git', 'hooks');
    const before = await snapshot(hooks);
    await add({ path: repo.dir, name: repo.name });
    await rm(join(hooks, HOOK));
    expect((await remove(repo.name)).body).toEqual({ deleted: true, warnings: [] });
    expect(await snapshot(hooks)).toEqual(before);
    const again = await server.api<{ error: { code: string } }>('DELETE', `/api/projects/${repo.name}`);
    expect(again.status).toBe(404);
    expect(again.body.error.code).toBe('NOT_FOUND');
    expect(await snapshot(hooks)).toEqual(before);
  });

  it('leaves a hook alone that the user put in place of Gantry’s', async () => {
    const repo = await newRepo();
    const hooks = join(repo.dir, '.git', 'hooks');
    await add({ path: repo.dir, name: repo.name });
    await writeFile(join(hooks, HOOK), '#!/bin/sh\n# mine now\n', { mode: 0o755 });
    expect((await remove(repo.name)).body).toEqual({ deleted: true, warnings: [] });
    expect(await readFile(join(hooks, HOOK), 'utf8')).toBe('#!/bin/sh\n# mine now\n');
  });

  it('removes a project whose repository is gone, with a warning', async () => {
    const repo = await newRepo();
    await add({ path: repo.dir, name: repo.name });
    await repo.cleanup();
    const removed = await remove(repo.name);
    expect(removed.status).toBe(200);
    expect(removed.body.deleted).toBe(true);
    expect(removed.body.warnings).toHaveLength(1);
    expect(removed.body.warnings[0]).toContain(repo.dir);
    expect((await server.api('GET', `/api/projects/${repo.name}`)).status).toBe(404);
  });

  it('deletes the mirror of a URL project, which never had a hook', async () => {
    const work = await newRepo();
    const bareParent = await mkdtemp(join(tmpdir(), 'gantry-bare-'));
    cleanups.push(() => rm(bareParent, { recursive: true, force: true }));
    const bare = join(bareParent, 'remote.git');
    execFileSync('git', ['clone', '-q', '--bare', work.dir, bare]);
    const before = await snapshot(join(bare, 'hooks'));
    const id = await add({ url: `file://${bare}`, name: work.name });
    const mirror = join(server.dataDir, 'mirrors', `${id}.git`);
    expect(existsSync(mirror)).toBe(true);
    expect(await snapshot(join(bare, 'hooks'))).toEqual(before);
    expect((await remove(work.name)).body).toEqual({ deleted: true, warnings: [] });
    expect(existsSync(mirror)).toBe(false);
    expect(await snapshot(join(bare, 'hooks'))).toEqual(before);
  });

  it('`gantry project remove` says what it did and prints warnings', async () => {
    const repo = await newRepo();
    const hooks = join(repo.dir, '.git', 'hooks');
    const before = await snapshot(hooks);
    await add({ path: repo.dir, name: repo.name });
    const env = { GANTRY_URL: server.url, GANTRY_TOKEN: server.token };
    const removed = await runCli(repo.dir, ['project', 'remove', repo.name], { env });
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toBe(`removed ${repo.name}\n`);
    expect(removed.stderr).toBe('');
    expect(await snapshot(hooks)).toEqual(before);

    const gone = await newRepo();
    await add({ path: gone.dir, name: gone.name });
    await gone.cleanup();
    const warned = await runCli(repo.dir, ['project', 'remove', gone.name], { env });
    expect(warned.code, warned.stderr).toBe(0);
    expect(warned.stdout).toBe(`removed ${gone.name}\n`);
    expect(warned.stderr).toMatch(/^warning: .*repository .* is gone/m);
  });
});
