/** Trees moved by content (src/executor/content-addressed.ts): real files, hashes checked on both ends. */
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BlobFolder, indexTree, materializeTree, sha256Of } from '../../src/executor/content-addressed.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gantry-cas-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('content-addressed trees', () => {
  it('copies a tree by manifest, fetching each distinct blob once and keeping modes', async () => {
    const from = join(dir, 'from');
    await mkdir(join(from, 'bin'), { recursive: true });
    await writeFile(join(from, 'a.txt'), 'same\n');
    await writeFile(join(from, 'b.txt'), 'same\n');
    await writeFile(join(from, 'bin', 'run.sh'), '#!/bin/sh\necho hi\n');
    await chmod(join(from, 'bin', 'run.sh'), 0o755);
    const index = await indexTree(from);
    expect(index.manifest.map((e) => [e.path, e.executable])).toEqual([
      ['a.txt', false],
      ['b.txt', false],
      ['bin/run.sh', true],
    ]);
    const fetched: string[] = [];
    const cache = new BlobFolder(join(dir, 'cache'));
    const fetchBlob = async (sha256: string) => {
      fetched.push(sha256);
      return readFile(index.blobs.get(sha256) as string);
    };
    await materializeTree(join(dir, 'to'), index.manifest, cache, fetchBlob);
    expect(await readFile(join(dir, 'to', 'b.txt'), 'utf8')).toBe('same\n');
    expect((await stat(join(dir, 'to', 'bin', 'run.sh'))).mode & 0o111).not.toBe(0);
    expect(fetched).toHaveLength(2);
    // A second copy comes from the cache alone.
    await materializeTree(join(dir, 'again'), index.manifest, cache, fetchBlob);
    expect(fetched).toHaveLength(2);
  });

  it('refuses a blob that does not hash to its name, from the wire or from a damaged cache', async () => {
    const good = new TextEncoder().encode('content\n');
    const sha256 = sha256Of(good);
    const manifest = [{ path: 'f.txt', sha256, size: good.length, executable: false }];
    const cache = new BlobFolder(join(dir, 'cache'));
    await expect(
      materializeTree(join(dir, 'x'), manifest, cache, async () => new TextEncoder().encode('tampered\n')),
    ).rejects.toMatchObject({
      code: 'HASH_MISMATCH',
    });
    await cache.put(sha256, good);
    await writeFile(cache.pathOf(sha256), 'rotted\n');
    await expect(materializeTree(join(dir, 'y'), manifest, cache, async () => good)).rejects.toMatchObject({ code: 'HASH_MISMATCH' });
  });

  it('keeps every path inside the tree it names', async () => {
    const cache = new BlobFolder(join(dir, 'cache'));
    const data = new TextEncoder().encode('x');
    for (const path of ['../out.txt', '/etc/passwd', 'a//b', 'a/./b']) {
      const manifest = [{ path, sha256: sha256Of(data), size: 1, executable: false }];
      await expect(
        materializeTree(join(dir, 'z'), manifest, cache, async () => data),
        path,
      ).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    }
  });
});
