import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { listArtifacts, restoreArtifacts, saveArtifacts } from '../../src/executor/artifacts.ts';
import { matchFiles } from '../../src/executor/globs.ts';
import { tempDirs, writeTree } from './fixtures.ts';

const temp = tempDirs();
afterEach(() => temp.cleanup());

const read = (file: string): string => readFileSync(file, 'utf8');

describe('saveArtifacts', () => {
  it('stores matched files at their relative paths, keeping modes and links', async () => {
    const ws = temp.make('ws');
    writeTree(ws, {
      'dist/app.js': 'app',
      'dist/app.js.map': 'map!',
      'dist/bin/cli': { text: 'cli', mode: 0o755 },
      'dist/latest': { link: 'app.js' },
      'coverage/lcov.info': 'lcov',
      'src/a.ts': 'src',
    });
    const dest = path.join(temp.make('store'), 'runs', 'r1', 'build');
    expect(await saveArtifacts({ workspaceDir: ws, patterns: ['dist', '!**/*.map', 'coverage/*.info'], destDir: dest })).toEqual({
      files: 4,
      bytes: 3 + 3 + 4,
    });
    expect(await matchFiles(dest, ['**'])).toEqual(['coverage/lcov.info', 'dist/app.js', 'dist/bin/cli', 'dist/latest']);
    expect(lstatSync(path.join(dest, 'dist/bin/cli')).mode & 0o777).toBe(0o755);
    expect(readlinkSync(path.join(dest, 'dist/latest'))).toBe('app.js');
  });

  it('saves nothing when nothing matches', async () => {
    const ws = temp.make('ws');
    writeTree(ws, { 'a.txt': 'a' });
    const dest = path.join(temp.make('store'), 'out');
    expect(await saveArtifacts({ workspaceDir: ws, patterns: ['dist/**'], destDir: dest })).toEqual({ files: 0, bytes: 0 });
    expect(await listArtifacts(dest)).toEqual([]);
  });
});

describe('restoreArtifacts', () => {
  it('merges several artifact directories into the workspace, later ones winning', async () => {
    const first = temp.make('a1');
    writeTree(first, { 'dist/app.js': 'from build', 'dist/only-first.txt': '1' });
    const second = temp.make('a2');
    writeTree(second, { 'dist/app.js': 'from rebuild', 'reports/r.xml': '<x/>' });
    const ws = temp.make('ws');
    writeTree(ws, { 'src/a.ts': 'source', 'dist/app.js': 'stale' });

    expect(await restoreArtifacts([first, path.join(first, 'missing'), second], ws)).toEqual({ files: 4 });
    expect(read(path.join(ws, 'dist/app.js'))).toBe('from rebuild');
    expect(await matchFiles(ws, ['**'])).toEqual(['dist/app.js', 'dist/only-first.txt', 'reports/r.xml', 'src/a.ts']);
  });

  it('does not write through a symbolic link in the workspace', async () => {
    const from = temp.make('a');
    writeTree(from, { 'dist/app.js': 'artifact', 'top.txt': 'artifact' });
    const outside = temp.make('outside');
    writeTree(outside, { 'top.txt': 'precious' });
    const ws = temp.make('ws');
    writeTree(ws, { dist: { link: outside }, 'top.txt': { link: path.join(outside, 'top.txt') } });
    await expect(restoreArtifacts([from], ws)).rejects.toThrow(/symbolic link/);
    expect(readdirSync(outside)).toEqual(['top.txt']);
    expect(read(path.join(outside, 'top.txt'))).toBe('precious');
  });
});

describe('listArtifacts', () => {
  it('lists stored files with their sizes, sorted', async () => {
    const dir = temp.make('store');
    writeTree(dir, { 'z.txt': '12345', 'a/b.bin': '12', 'a/link': { link: 'b.bin' } });
    expect(await listArtifacts(dir)).toEqual([
      { path: 'a/b.bin', bytes: 2 },
      { path: 'a/link', bytes: 0 },
      { path: 'z.txt', bytes: 5 },
    ]);
    expect(await listArtifacts(path.join(dir, 'missing'))).toEqual([]);
  });
});
