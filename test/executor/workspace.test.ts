import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InputError, NotFoundError } from '../../src/core/errors.ts';
import { matchFiles } from '../../src/executor/globs.ts';
import { checkoutCommit, materializeWorkspace, resolveRef, snapshotWorkingTree } from '../../src/executor/workspace.ts';
import { commitAll, git, initRepo, tempDirs, writeTree } from './fixtures.ts';

const temp = tempDirs();
afterEach(() => temp.cleanup());

const modeOf = (file: string): number => lstatSync(file).mode & 0o777;

/** A repository whose working tree differs from HEAD in every way a snapshot must handle. */
function dirtyRepo(): { repo: string; sha: string } {
  const repo = initRepo(temp.make('repo'));
  writeTree(repo, {
    '.gitignore': 'build/\n*.log\n',
    'README.md': 'committed',
    'src/main.ts': 'main',
    'scripts/run.sh': { text: '#!/bin/sh\necho hi\n', mode: 0o755 },
    'link-to-src': { link: 'src' },
    'doomed.txt': 'to be deleted',
  });
  const sha = commitAll(repo);
  writeTree(repo, {
    'README.md': 'edited, not committed',
    'new/untracked.txt': 'untracked',
    'build/out.js': 'ignored',
    'debug.log': 'ignored',
    '.gantry/runs/1/log': 'gantry data',
  });
  rmSync(path.join(repo, 'doomed.txt'));
  return { repo, sha };
}

describe('snapshotWorkingTree', () => {
  it('copies tracked and untracked files as they are in the tree, without ignored or deleted ones', async () => {
    const { repo, sha } = dirtyRepo();
    const dest = path.join(temp.make('snap'), 'src');
    const result = await snapshotWorkingTree(repo, dest);
    expect(result).toEqual({ sha, ref: 'refs/heads/main', files: 6 });
    expect(await matchFiles(dest, ['**'])).toEqual([
      '.gitignore',
      'README.md',
      'link-to-src',
      'new/untracked.txt',
      'scripts/run.sh',
      'src/main.ts',
    ]);
    expect(readFileSync(path.join(dest, 'README.md'), 'utf8')).toBe('edited, not committed');
    expect(modeOf(path.join(dest, 'scripts/run.sh'))).toBe(0o755);
    expect(modeOf(path.join(dest, 'src/main.ts'))).toBe(0o644);
    expect(readlinkSync(path.join(dest, 'link-to-src'))).toBe('src');
    expect(existsSync(path.join(dest, '.git'))).toBe(false);
  });

  it('reports a detached HEAD without a ref and a repository without commits without either', async () => {
    const { repo, sha } = dirtyRepo();
    git(repo, 'checkout', '-q', '--detach');
    expect(await snapshotWorkingTree(repo, path.join(temp.make(), 'a'))).toMatchObject({ sha, ref: null });

    const empty = initRepo(temp.make('empty'));
    writeTree(empty, { 'a.txt': 'a' });
    expect(await snapshotWorkingTree(empty, path.join(temp.make(), 'b'))).toEqual({ sha: null, ref: null, files: 1 });
  });

  it('does not copy its destination when it lies inside the repository', async () => {
    const repo = initRepo(temp.make('repo'));
    writeTree(repo, { 'a.txt': 'a', 'out/old.txt': 'previous snapshot' });
    const result = await snapshotWorkingTree(repo, path.join(repo, 'out'));
    expect(result.files).toBe(1);
  });

  it('copies everything but .git, .gantry and node_modules outside a repository', async () => {
    const dir = temp.make('plain');
    writeTree(dir, {
      'a.txt': 'a',
      'bin/tool': { text: 'x', mode: 0o750 },
      'lib/node_modules/dep/index.js': 'dep',
      'node_modules/dep/index.js': 'dep',
      '.gantry/data': 'd',
      '.git/HEAD': 'not really',
      ln: { link: '/etc/passwd' },
    });
    const dest = path.join(temp.make('snap'), 'src');
    expect(await snapshotWorkingTree(dir, dest)).toEqual({ sha: null, ref: null, files: 3 });
    expect(await matchFiles(dest, ['**'])).toEqual(['a.txt', 'bin/tool', 'ln']);
    expect(modeOf(path.join(dest, 'bin/tool'))).toBe(0o750);
    expect(readlinkSync(path.join(dest, 'ln'))).toBe('/etc/passwd');
  });
});

describe('checkoutCommit', () => {
  function history(): { repo: string; first: string; second: string } {
    const repo = initRepo(temp.make('origin'));
    writeTree(repo, {
      'a.txt': 'v1',
      'tool.sh': { text: 'echo', mode: 0o755 },
      link: { link: 'a.txt' },
      '.gitattributes': 'secret.txt export-ignore\n',
      'secret.txt': 'still checked out',
    });
    const first = commitAll(repo, 'first');
    writeTree(repo, { 'a.txt': 'v2', 'b.txt': 'new' });
    const second = commitAll(repo, 'second');
    return { repo, first, second };
  }

  it('extracts the tree of any commit through a mirror, without .git', async () => {
    const { repo, first, second } = history();
    const work = temp.make('server');
    const mirror = path.join(work, 'mirrors', 'repo.git');
    const dest = path.join(work, 'src1');
    await checkoutCommit(repo, first, dest, mirror);
    expect(await matchFiles(dest, ['**'])).toEqual(['.gitattributes', 'a.txt', 'link', 'secret.txt', 'tool.sh']);
    expect(readFileSync(path.join(dest, 'a.txt'), 'utf8')).toBe('v1');
    expect(modeOf(path.join(dest, 'tool.sh'))).toBe(0o755);
    expect(readlinkSync(path.join(dest, 'link'))).toBe('a.txt');
    expect(existsSync(path.join(mirror, 'HEAD'))).toBe(true);

    const dest2 = path.join(work, 'src2');
    await checkoutCommit(repo, second.slice(0, 12), dest2, mirror);
    expect(readFileSync(path.join(dest2, 'a.txt'), 'utf8')).toBe('v2');
    expect(readFileSync(path.join(dest2, 'b.txt'), 'utf8')).toBe('new');
  });

  it("keeps git's index beside the destination, so a checkout killed midway leaves nothing in the system's temp dir", async () => {
    const { repo, first } = history();
    const work = temp.make('server');
    const dest = path.join(work, 'runs', 'r1', 'source.partial');
    const systemTemp = process.env.TMPDIR;
    // A temp dir that does not exist: a checkout that put anything there would fail.
    process.env.TMPDIR = path.join(work, 'no-such-tmp');
    try {
      await checkoutCommit(repo, first, dest, path.join(work, 'm.git'));
    } finally {
      if (systemTemp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = systemTemp;
    }
    expect(readFileSync(path.join(dest, 'a.txt'), 'utf8')).toBe('v1');
    expect(readdirSync(path.dirname(dest))).toEqual(['source.partial']);
  });

  it('fetches commits pushed after the mirror was made', async () => {
    const { repo, first } = history();
    const mirror = path.join(temp.make('server'), 'm.git');
    await checkoutCommit(repo, first, path.join(temp.make(), 'x'), mirror);
    writeTree(repo, { 'c.txt': 'third' });
    const third = commitAll(repo, 'third');
    const dest = path.join(temp.make(), 'y');
    await checkoutCommit(repo, third, dest, mirror);
    expect(readFileSync(path.join(dest, 'c.txt'), 'utf8')).toBe('third');
  });

  it('lets concurrent callers share a mirror that does not exist yet', async () => {
    const { repo, first, second } = history();
    const server = temp.make('server');
    const mirror = path.join(server, 'm.git');
    await Promise.all([first, second, first, second].map((sha, i) => checkoutCommit(repo, sha, path.join(server, `ws${i}`), mirror)));
    expect(readFileSync(path.join(server, 'ws3', 'b.txt'), 'utf8')).toBe('new');
    expect(readFileSync(path.join(server, 'ws2', 'a.txt'), 'utf8')).toBe('v1');
  });

  it('throws NotFoundError for an unknown commit and InputError for something else', async () => {
    const { repo } = history();
    const mirror = path.join(temp.make('server'), 'm.git');
    const dest = path.join(temp.make(), 'x');
    await expect(checkoutCommit(repo, 'deadbeef'.repeat(5), dest, mirror)).rejects.toThrow(NotFoundError);
    await expect(checkoutCommit(repo, '--upload-pack=touch', dest, mirror)).rejects.toThrow(InputError);
    await expect(checkoutCommit(path.join(repo, 'missing'), 'abcdef12', dest, path.join(temp.make(), 'n.git'))).rejects.toThrow(
      NotFoundError,
    );
  });
});

describe('resolveRef', () => {
  it('resolves branch names, full refs, tags and shas', async () => {
    const repo = initRepo(temp.make('repo'));
    writeTree(repo, { 'a.txt': 'a' });
    const first = commitAll(repo);
    git(repo, 'tag', '-a', 'v1', '-m', 'release');
    git(repo, 'checkout', '-q', '-b', 'feature');
    writeTree(repo, { 'b.txt': 'b' });
    const second = commitAll(repo);

    expect(await resolveRef(repo, 'main')).toEqual({ sha: first, ref: 'refs/heads/main' });
    expect(await resolveRef(repo, 'refs/heads/feature')).toEqual({ sha: second, ref: 'refs/heads/feature' });
    expect(await resolveRef(repo, 'v1')).toEqual({ sha: first, ref: 'refs/tags/v1' });
    expect(await resolveRef(repo, first)).toEqual({ sha: first, ref: first });
    expect(await resolveRef(repo, first.slice(0, 10))).toEqual({ sha: first, ref: first });
    expect(await resolveRef(repo, 'HEAD')).toEqual({ sha: second, ref: 'refs/heads/feature' });
    const mirror = path.join(temp.make('server'), 'm.git');
    git(path.dirname(mirror), 'clone', '-q', '--mirror', repo, mirror);
    expect(await resolveRef(mirror, 'main')).toEqual({ sha: first, ref: 'refs/heads/main' });
    git(repo, 'checkout', '-q', '--detach');
    expect(await resolveRef(repo, 'HEAD')).toEqual({ sha: second, ref: second });
    await expect(resolveRef(repo, 'nope')).rejects.toThrow(NotFoundError);
    await expect(resolveRef(repo, '--all')).rejects.toThrow(InputError);
    await expect(resolveRef(temp.make('plain'), 'main')).rejects.toThrow(InputError);
  });
});

describe('materializeWorkspace', () => {
  it('replaces the workspace with a copy of the source, modes and links included', async () => {
    const source = temp.make('source');
    writeTree(source, { 'a.txt': 'a', 'bin/x': { text: 'x', mode: 0o755 }, l: { link: 'a.txt' }, 'empty/.keep': '' });
    mkdirSync(path.join(source, 'really-empty'));
    const ws = path.join(temp.make('ws'), 'jobs', 'build');
    mkdirSync(ws, { recursive: true });
    writeFileSync(path.join(ws, 'stale.txt'), 'from a previous attempt');

    await materializeWorkspace(source, ws);
    expect(await matchFiles(ws, ['**'])).toEqual(['a.txt', 'bin/x', 'empty/.keep', 'l']);
    expect(lstatSync(path.join(ws, 'really-empty')).isDirectory()).toBe(true);
    expect(modeOf(path.join(ws, 'bin/x'))).toBe(0o755);
    expect(readlinkSync(path.join(ws, 'l'))).toBe('a.txt');
    // A copy, not links: the job may modify its files freely.
    writeFileSync(path.join(ws, 'a.txt'), 'changed');
    expect(readFileSync(path.join(source, 'a.txt'), 'utf8')).toBe('a');
    expect(lstatSync(path.join(ws, 'bin/x')).nlink).toBe(1);
  });

  // Its speed (≤ 3 × fs.cpSync + 50 ms) is measured by bench/test-timings.ts, not asserted here.
  it('copies a 200-file tree', async () => {
    const source = temp.make('source');
    const spec: Record<string, string> = {};
    for (let d = 0; d < 20; d++) for (let f = 0; f < 10; f++) spec[`d${d}/sub${d % 3}/f${f}.ts`] = 'x'.repeat(2000 + f * 500);
    writeTree(source, spec);
    const root = temp.make('ws');
    await materializeWorkspace(source, path.join(root, 'ws'));
    expect((await matchFiles(path.join(root, 'ws'), ['**'])).length).toBe(200);
    expect(readFileSync(path.join(root, 'ws', 'd19', 'sub1', 'f9.ts'), 'utf8')).toBe('x'.repeat(2000 + 9 * 500));
  });
});
