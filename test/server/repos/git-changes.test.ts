import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { changedFiles, commitsBetween, listPushRefs } from '../../../src/server/repos/git-changes.ts';
import { GIT_ENV, TempDirs, commit, git, initRepo } from './git-fixture.ts';

const temp = new TempDirs();
const ZEROS = '0'.repeat(40);
let repo: string;
let root: string;

beforeEach(async () => {
  repo = await initRepo(await temp.make());
  root = await commit(repo, { 'README.md': 'hello\n', 'src/a.ts': 'a\n', 'src/b.ts': 'b\n' }, 'root');
});

afterEach(() => temp.cleanup());

describe('changedFiles', () => {
  it('lists every file of a root commit', async () => {
    expect((await changedFiles(repo, null, root)).sort()).toEqual(['README.md', 'src/a.ts', 'src/b.ts']);
  });

  it('lists only what the commit itself changed for a new branch', async () => {
    await git(repo, ['switch', '-q', '-c', 'feature']);
    const tip = await commit(repo, { 'src/b.ts': 'b2\n', 'docs/new.md': 'new\n' });
    expect((await changedFiles(repo, ZEROS, tip)).sort()).toEqual(['docs/new.md', 'src/b.ts']);
  });

  it('lists the union over a push of several commits, deletions and both names of a rename', async () => {
    await commit(repo, { 'src/a.ts': 'a2\n' });
    await commit(repo, { 'src/b.ts': null });
    await git(repo, ['mv', 'README.md', 'README.txt']);
    await git(repo, ['commit', '-q', '-m', 'rename']);
    const after = await git(repo, ['rev-parse', 'HEAD']);
    expect((await changedFiles(repo, root, after)).sort()).toEqual(['README.md', 'README.txt', 'src/a.ts', 'src/b.ts']);
  });

  it('handles file names with spaces and newlines', async () => {
    const after = await commit(repo, { 'with space.txt': 'x\n', 'new\nline.txt': 'y\n' });
    expect((await changedFiles(repo, root, after)).sort()).toEqual(['new\nline.txt', 'with space.txt']);
  });

  it('refuses something that is not a sha before git sees it', async () => {
    await expect(changedFiles(repo, null, '--output=/tmp/x')).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(changedFiles(repo, 'HEAD~1', root)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('reports an unknown commit as GIT_FAILED', async () => {
    await expect(changedFiles(repo, null, 'f'.repeat(40))).rejects.toMatchObject({ code: 'GIT_FAILED' });
  });
});

describe('listPushRefs', () => {
  it('reads the branches and tags of a local repository and of a file:// URL alike', async () => {
    await git(repo, ['branch', 'feature']);
    await git(repo, ['tag', 'v1']);
    const tip = await commit(repo, { 'x.txt': 'x\n' });
    await git(repo, ['tag', '-a', 'v2', '-m', 'annotated']);
    await git(repo, ['notes', 'add', '-m', 'a note']);
    // An annotated tag is its own object; ls-remote's peeled `v2^{}` line is not a ref of its own.
    const tagObject = await git(repo, ['rev-parse', 'refs/tags/v2']);
    expect(tagObject).not.toBe(tip);
    const expected = { 'refs/heads/main': tip, 'refs/heads/feature': root, 'refs/tags/v1': root, 'refs/tags/v2': tagObject };
    expect(await listPushRefs(repo)).toEqual(expected);
    expect(await listPushRefs(pathToFileURL(repo).href)).toEqual(expected);
  });

  it('refuses a location git would read as an option', async () => {
    await expect(listPushRefs('--upload-pack=touch /tmp/pwned')).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('fails with GIT_FAILED for a repository that does not exist', async () => {
    await expect(listPushRefs(pathToFileURL(`${repo}/missing`).href)).rejects.toMatchObject({ code: 'GIT_FAILED' });
  });
});

describe('commitsBetween', () => {
  const dated = async (date: string, files: Record<string, string>): Promise<string> => {
    for (const [name, content] of Object.entries(files)) await writeFile(`${repo}/${name}`, content);
    await git(repo, ['add', '-A']);
    await git(repo, ['commit', '-q', '-m', date], { ...GIT_ENV, GIT_COMMITTER_DATE: date, GIT_AUTHOR_DATE: '2001-01-01T00:00:00Z' });
    return git(repo, ['rev-parse', 'HEAD']);
  };

  it('lists the commits since the previous release with their committer dates, newest first', async () => {
    const a = await dated('2026-11-01T10:00:00Z', { 'a.txt': '1' });
    const b = await dated('2026-11-01T11:00:00Z', { 'a.txt': '2' });
    const listed = await commitsBetween(repo, root, b);
    expect(listed.truncated).toBe(false);
    expect(listed.commits.map((c) => [c.sha, Date.parse(c.at)])).toEqual([
      [b, Date.parse('2026-11-01T11:00:00Z')],
      [a, Date.parse('2026-11-01T10:00:00Z')],
    ]);
    expect((await commitsBetween(repo, null, b)).commits.map((c) => c.sha)).toEqual([b, a, root]);
    expect((await commitsBetween(repo, b, b)).commits).toEqual([]);
  });

  it('flags the list when the previous commit is unknown (a rewritten history)', async () => {
    const listed = await commitsBetween(repo, 'f'.repeat(40), root);
    expect(listed).toEqual({ commits: [{ sha: root, at: expect.any(String) }], truncated: true });
  });
});
