import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.ts';
import { restoreCache, saveCache } from '../../src/executor/cache.ts';
import { matchFiles } from '../../src/executor/globs.ts';
import { tempDirs, writeTree } from './fixtures.ts';

const temp = tempDirs();
afterEach(() => temp.cleanup());

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');
const read = (file: string): string => readFileSync(file, 'utf8');

function workspace(): string {
  const ws = temp.make('ws');
  writeTree(ws, {
    'node_modules/dep/index.js': 'module.exports = 1',
    'node_modules/dep/same.js': 'shared',
    'node_modules/.bin/dep': { text: '#!/bin/sh\n', mode: 0o755 },
    'node_modules/dep-link': { link: 'dep' },
    'vendor/same.js': 'shared',
    'src/app.ts': 'not cached',
  });
  return ws;
}

/** All blob files under cacheDir/blobs, as `xx/hash` paths. */
function blobs(cacheDir: string): string[] {
  const dir = path.join(cacheDir, 'blobs');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((sub) => readdirSync(path.join(dir, sub)).map((b) => `${sub}/${b}`));
}

/** Waits for the wall clock to move so two saves get distinct `createdAt` values. */
async function nextMillisecond(): Promise<void> {
  const start = Date.now();
  while (Date.now() === start) await new Promise((resolve) => setImmediate(resolve));
}

describe('saveCache / restoreCache', () => {
  it('round-trips files, modes, links and directories through content-addressed storage', async () => {
    const cacheDir = temp.make('cache');
    const ws = workspace();
    const saved = await saveCache({ cacheDir, key: 'deps-v1', paths: ['node_modules', 'vendor/*.js'], workspaceDir: ws });
    expect(saved).toEqual({ saved: true, files: 5, bytes: 'module.exports = 1'.length + 6 + 10 + 6 });

    const manifest = JSON.parse(read(path.join(cacheDir, 'entries', `${sha256('deps-v1')}.json`))) as {
      key: string;
      createdAt: string;
      files: { path: string; blob: string; mode: number; symlink?: string }[];
    };
    expect(manifest.key).toBe('deps-v1');
    expect(Number.isNaN(Date.parse(manifest.createdAt))).toBe(false);
    expect(manifest.files.find((f) => f.path === 'node_modules/dep-link')).toMatchObject({ symlink: 'dep' });
    // Identical contents are stored once, under their hash.
    expect(blobs(cacheDir).sort()).toEqual(
      ['module.exports = 1', 'shared', '#!/bin/sh\n'].map((t) => `${sha256(t).slice(0, 2)}/${sha256(t)}`).sort(),
    );

    const target = temp.make('ws2');
    expect(await restoreCache({ cacheDir, key: 'deps-v1', restoreKeys: [], paths: ['node_modules'], workspaceDir: target })).toEqual({
      hit: 'exact',
      key: 'deps-v1',
    });
    expect(await matchFiles(target, ['**'])).toEqual([
      'node_modules/.bin/dep',
      'node_modules/dep-link',
      'node_modules/dep/index.js',
      'node_modules/dep/same.js',
      'vendor/same.js',
    ]);
    expect(read(path.join(target, 'node_modules/dep/index.js'))).toBe('module.exports = 1');
    expect(lstatSync(path.join(target, 'node_modules/.bin/dep')).mode & 0o777).toBe(0o755);
    expect(lstatSync(path.join(target, 'vendor/same.js')).mode & 0o777).toBe(0o644);
    expect(readlinkSync(path.join(target, 'node_modules/dep-link'))).toBe('dep');
    // A copy: changing it leaves the cache intact.
    expect(lstatSync(path.join(target, 'vendor/same.js')).nlink).toBe(1);
    writeFileSync(path.join(target, 'vendor/same.js'), 'modified by the job');
    const again = temp.make('ws3');
    await restoreCache({ cacheDir, key: 'deps-v1', restoreKeys: [], paths: ['node_modules'], workspaceDir: again });
    expect(read(path.join(again, 'vendor/same.js'))).toBe('shared');
  });

  it('deduplicates blobs across keys and treats saved keys as immutable', async () => {
    const cacheDir = temp.make('cache');
    const ws = workspace();
    await saveCache({ cacheDir, key: 'a', paths: ['node_modules'], workspaceDir: ws });
    const before = blobs(cacheDir).length;
    expect((await saveCache({ cacheDir, key: 'b', paths: ['node_modules'], workspaceDir: ws })).saved).toBe(true);
    expect(blobs(cacheDir).length).toBe(before);

    writeFileSync(path.join(ws, 'node_modules/dep/index.js'), 'changed');
    expect(await saveCache({ cacheDir, key: 'a', paths: ['node_modules'], workspaceDir: ws })).toEqual({
      saved: false,
      files: 0,
      bytes: 0,
    });
    const target = temp.make('ws2');
    await restoreCache({ cacheDir, key: 'a', restoreKeys: [], paths: ['node_modules'], workspaceDir: target });
    expect(read(path.join(target, 'node_modules/dep/index.js'))).toBe('module.exports = 1');
  });

  it('falls back to the newest entry matching the first restore key that matches', async () => {
    const cacheDir = temp.make('cache');
    const ws = temp.make('ws');
    for (const key of ['deps-linux-old', 'deps-linux-new', 'other-x']) {
      writeTree(ws, { 'out/which.txt': key });
      await nextMillisecond();
      await saveCache({ cacheDir, key, paths: ['out'], workspaceDir: ws });
    }
    const restore = async (key: string, restoreKeys: string[]) => {
      const target = temp.make('target');
      const result = await restoreCache({ cacheDir, key, restoreKeys, paths: ['out'], workspaceDir: target });
      return { ...result, content: existsSync(path.join(target, 'out/which.txt')) ? read(path.join(target, 'out/which.txt')) : null };
    };
    expect(await restore('deps-linux-abc', ['deps-linux-', 'deps-'])).toEqual({
      hit: 'partial',
      key: 'deps-linux-new',
      content: 'deps-linux-new',
    });
    expect(await restore('deps-mac-abc', ['deps-mac-', 'other-'])).toEqual({ hit: 'partial', key: 'other-x', content: 'other-x' });
    expect(await restore('deps-linux-old', ['deps-'])).toEqual({ hit: 'exact', key: 'deps-linux-old', content: 'deps-linux-old' });
    expect(await restore('nothing', ['nope-'])).toEqual({ hit: null, key: null, content: null });
    expect(await restore('deps-linux-abc', [])).toEqual({ hit: null, key: null, content: null });
  });

  it('skips an entry whose blobs are gone instead of restoring half of it', async () => {
    const cacheDir = temp.make('cache');
    const ws = temp.make('ws');
    writeTree(ws, { 'out/a.txt': 'old' });
    await saveCache({ cacheDir, key: 'k-1', paths: ['out'], workspaceDir: ws });
    await nextMillisecond();
    writeTree(ws, { 'out/a.txt': 'new', 'out/b.txt': 'b' });
    await saveCache({ cacheDir, key: 'k-2', paths: ['out'], workspaceDir: ws });
    rmSync(path.join(cacheDir, 'blobs', sha256('b').slice(0, 2), sha256('b')));
    const target = temp.make('target');
    expect(await restoreCache({ cacheDir, key: 'k-2', restoreKeys: ['k-'], paths: ['out'], workspaceDir: target })).toEqual({
      hit: 'partial',
      key: 'k-1',
    });
    expect(await matchFiles(target, ['**'])).toEqual(['out/a.txt']);
  });

  it('saves nothing when no path matches, and rejects paths outside the workspace', async () => {
    const cacheDir = temp.make('cache');
    const ws = workspace();
    expect(await saveCache({ cacheDir, key: 'k', paths: ['missing'], workspaceDir: ws })).toEqual({ saved: false, files: 0, bytes: 0 });
    await expect(saveCache({ cacheDir, key: 'k', paths: ['~/.npm'], workspaceDir: ws })).rejects.toThrow(/"~" is not supported/);
    await expect(saveCache({ cacheDir, key: 'k', paths: ['../up'], workspaceDir: ws })).rejects.toThrow(InputError);
    await expect(saveCache({ cacheDir, key: 'k', paths: ['/abs'], workspaceDir: ws })).rejects.toThrow(InputError);
    await expect(restoreCache({ cacheDir, key: 'k', restoreKeys: [], paths: ['~/.cache'], workspaceDir: ws })).rejects.toThrow(InputError);
    await expect(saveCache({ cacheDir, key: '', paths: ['node_modules'], workspaceDir: ws })).rejects.toThrow(InputError);
  });

  it('never writes through a symbolic link planted in the workspace', async () => {
    const cacheDir = temp.make('cache');
    const ws = workspace();
    await saveCache({ cacheDir, key: 'k', paths: ['node_modules', 'vendor'], workspaceDir: ws });

    const outside = temp.make('outside');
    writeTree(outside, { 'same.js': 'precious' });
    const byDir = temp.make('target');
    writeTree(byDir, { node_modules: { link: outside } });
    await expect(restoreCache({ cacheDir, key: 'k', restoreKeys: [], paths: ['node_modules'], workspaceDir: byDir })).rejects.toThrow(
      /symbolic link/,
    );
    expect(readdirSync(outside)).toEqual(['same.js']);

    const byFile = temp.make('target');
    writeTree(byFile, { 'vendor/same.js': { link: path.join(outside, 'same.js') } });
    await restoreCache({ cacheDir, key: 'k', restoreKeys: [], paths: ['vendor'], workspaceDir: byFile });
    expect(read(path.join(outside, 'same.js'))).toBe('precious');
    expect(lstatSync(path.join(byFile, 'vendor/same.js')).isFile()).toBe(true);
    expect(read(path.join(byFile, 'vendor/same.js'))).toBe('shared');
  });
});

describe('cache concurrency', () => {
  it('survives concurrent saves of the same and different keys with restores in parallel', async () => {
    const cacheDir = temp.make('cache');
    const workspaces = Array.from({ length: 8 }, (_, i) => {
      const ws = temp.make(`ws${i}`);
      const spec: Record<string, string> = {};
      for (let f = 0; f < 30; f++) spec[`deps/f${f}.txt`] = `file ${f} of ${i % 2 === 0 ? 'shared' : `own-${i}`}`;
      writeTree(ws, spec);
      return ws;
    });
    const keyOf = (i: number): string => (i % 2 === 0 ? 'shared-key' : `own-${i}`);
    const savesPromise = Promise.all(workspaces.map((ws, i) => saveCache({ cacheDir, key: keyOf(i), paths: ['deps'], workspaceDir: ws })));
    let savesDone = false;
    void savesPromise.finally(() => {
      savesDone = true;
    });
    // Readers racing the writers restore a whole entry or nothing, never part of one.
    const restores = Array.from({ length: 3 }, async () => {
      const seen: { hit: string | null; files: number }[] = [];
      do {
        const target = temp.make('target');
        const result = await restoreCache({ cacheDir, key: 'shared-key', restoreKeys: ['own-'], paths: ['deps'], workspaceDir: target });
        seen.push({ hit: result.hit, files: (await matchFiles(target, ['**'])).length });
      } while (!savesDone);
      return seen;
    });
    const saves = await savesPromise;
    expect(saves.filter((s, i) => keyOf(i) === 'shared-key' && s.saved)).toHaveLength(1);
    expect(saves.filter((_s, i) => keyOf(i) !== 'shared-key').every((s) => s.saved && s.files === 30)).toBe(true);
    for (const seen of await Promise.all(restores)) {
      for (const { hit, files } of seen) expect(files).toBe(hit === null ? 0 : 30);
    }
    expect(readdirSync(path.join(cacheDir, 'tmp'))).toEqual([]);

    for (const i of [0, 1, 3]) {
      const target = temp.make('after');
      expect(await restoreCache({ cacheDir, key: keyOf(i), restoreKeys: [], paths: ['deps'], workspaceDir: target })).toEqual({
        hit: 'exact',
        key: keyOf(i),
      });
      expect(read(path.join(target, 'deps/f7.txt'))).toBe(`file 7 of ${i % 2 === 0 ? 'shared' : `own-${i}`}`);
    }
  });

  it('lets two processes save the same key at once: one wins, both succeed, the entry is whole', async () => {
    const cacheDir = temp.make('cache');
    const cacheModule = fileURLToPath(new URL('../../src/executor/cache.ts', import.meta.url));
    const scriptDir = temp.make('script');
    const script = path.join(scriptDir, 'save.ts');
    // Each child says `ready`, then saves as soon as the parent says `go`, so the saves overlap.
    writeFileSync(
      script,
      `import { saveCache } from ${JSON.stringify(cacheModule)};
process.stdout.write('ready\\n');
process.stdin.once('data', async () => {
  const result = await saveCache({ cacheDir: process.argv[2], key: 'same', paths: ['deps'], workspaceDir: process.argv[3] });
  process.stdout.write(JSON.stringify(result) + '\\n');
  process.exit(0);
});
`,
    );
    const children = ['A', 'B'].map((name) => {
      const ws = temp.make(`ws${name}`);
      const spec: Record<string, string> = {};
      for (let f = 0; f < 40; f++) spec[`deps/f${f}.txt`] = `${name}${f}`;
      writeTree(ws, spec);
      const child = spawn(process.execPath, [script, cacheDir, ws], { stdio: ['pipe', 'pipe', 'inherit'] });
      let out = '';
      const ready = new Promise<void>((resolve) => {
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes('ready\n')) resolve();
        });
      });
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      return { child, ready, exited, output: () => out };
    });
    try {
      await Promise.all(children.map((c) => c.ready));
      for (const c of children) c.child.stdin.write('go\n');
      expect(await Promise.all(children.map((c) => c.exited))).toEqual([0, 0]);
    } finally {
      for (const c of children) if (c.child.exitCode === null) c.child.kill();
    }
    const results = children.map((c) => JSON.parse(c.output().split('\n')[1] ?? 'null') as { saved: boolean });
    expect(results.map((r) => r.saved).sort()).toEqual([false, true]);

    const target = temp.make('target');
    await restoreCache({ cacheDir, key: 'same', restoreKeys: [], paths: ['deps'], workspaceDir: target });
    const contents = (await matchFiles(target, ['**'])).map((rel) => read(path.join(target, rel)));
    expect(contents).toHaveLength(40);
    const winner = contents[0]?.[0];
    expect(contents.every((c) => c[0] === winner)).toBe(true);
  });
});
