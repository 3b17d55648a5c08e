import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.ts';
import { matchFiles, matchFilesSync } from '../../src/executor/globs.ts';
import { tempDirs, writeTree } from './fixtures.ts';

const temp = tempDirs();
afterEach(() => temp.cleanup());

function project(): string {
  const root = temp.make();
  writeTree(root, {
    'package.json': '{}',
    'src/a.ts': 'a',
    'src/b.js': 'b',
    'src/deep/c.ts': 'c',
    'dist/app.js': 'app',
    'dist/app.js.map': 'map',
    'dist/.hidden': 'h',
    'node_modules/x/index.js': 'x',
    'node_modules/x/keep.txt': 'k',
  });
  return root;
}

/** Both variants must agree on every case: the sync one serves hashFiles, the async one the rest. */
async function both(root: string, patterns: string[]): Promise<string[]> {
  const sync = matchFilesSync(root, patterns);
  expect(await matchFiles(root, patterns)).toEqual(sync);
  return sync;
}

describe('matchFiles', () => {
  it('matches globs and whole directories, dotfiles included, sorted', async () => {
    const root = project();
    expect(await both(root, ['**/*.ts'])).toEqual(['src/a.ts', 'src/deep/c.ts']);
    expect(await both(root, ['dist'])).toEqual(['dist/.hidden', 'dist/app.js', 'dist/app.js.map']);
    expect(await both(root, ['./dist/', 'package.json'])).toEqual(['dist/.hidden', 'dist/app.js', 'dist/app.js.map', 'package.json']);
    // As in @actions/glob, a pattern matching a directory takes everything below it.
    expect(await both(root, ['src/*'])).toEqual(['src/a.ts', 'src/b.js', 'src/deep/c.ts']);
    expect(await both(root, ['src/*.*'])).toEqual(['src/a.ts', 'src/b.js']);
  });

  it('applies negation in order: the last matching pattern wins', async () => {
    const root = project();
    expect(await both(root, ['**', '!node_modules', '!dist/*.map'])).toEqual([
      'dist/.hidden',
      'dist/app.js',
      'package.json',
      'src/a.ts',
      'src/b.js',
      'src/deep/c.ts',
    ]);
    // Re-inclusion after an exclusion of the enclosing directory.
    expect(await both(root, ['**', '!node_modules', 'node_modules/x/keep.txt', '!src', '!dist', '!package.json'])).toEqual([
      'node_modules/x/keep.txt',
    ]);
    expect(await both(root, ['!src/a.ts', 'src'])).toEqual(['src/a.ts', 'src/b.js', 'src/deep/c.ts']);
    expect(await both(root, ['!**'])).toEqual([]);
  });

  it('reports symbolic links as entries and never follows them', async () => {
    const outside = temp.make();
    writeTree(outside, { 'secret.txt': 's', 'sub/deeper.txt': 'd' });
    const root = temp.make();
    writeTree(root, { 'a.txt': 'a', escape: { link: outside }, inner: { link: 'a.txt' } });
    expect(await both(root, ['**'])).toEqual(['a.txt', 'escape', 'inner']);
    // The link itself matches (it is an entry); what it points to never does.
    expect(await both(root, ['escape/**'])).toEqual(['escape']);
    expect(await both(root, ['escape/secret.txt'])).toEqual([]);
  });

  it('ignores FIFOs, which would block a copy', async () => {
    const root = temp.make();
    writeTree(root, { 'a.txt': 'a' });
    execFileSync('mkfifo', [path.join(root, 'pipe')]);
    expect(await both(root, ['**'])).toEqual(['a.txt']);
  });

  it('matches nothing in a missing root', async () => {
    expect(await both(path.join(temp.make(), 'missing'), ['**'])).toEqual([]);
  });

  it('rejects patterns that leave the root', async () => {
    const root = project();
    for (const bad of ['../x', 'src/../../x', '/etc/passwd', '~/.npm', '!../x']) {
      expect(() => matchFilesSync(root, [bad]), bad).toThrow(InputError);
      await expect(matchFiles(root, [bad]), bad).rejects.toThrow(InputError);
    }
    expect(() => matchFilesSync(root, ['~/.npm'])).toThrow(/"~" is not supported/);
  });
});
