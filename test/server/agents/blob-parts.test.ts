/**
 * Blobs in parts and cache entries from another host, on real files: a blob is whole only once
 * its parts hash to its name; a part sent again overwrites itself; a gap or a wrong hash is
 * refused; an imported cache entry whose blob arrives damaged is refused and leaves nothing.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findCacheEntry, importCacheEntry } from '../../../src/executor/cache.ts';
import { BlobFolder } from '../../../src/executor/content-addressed.ts';
import { BlobParts } from '../../../src/server/agents/blob-parts.ts';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'gantry-blob-parts-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const sha = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');
const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) % 251);

describe('blobs in parts', () => {
  it('keeps a blob once its parts are whole and hash to its name; a part sent again overwrites itself', async () => {
    const uploads = new BlobFolder(join(root, 'uploads'));
    const parts = new BlobParts(join(root, 'parts'), uploads);
    const data = bytes(10_000, 1);
    const sha256 = sha(data);
    const put = (offset: number, end: number) =>
      parts.put({ agentId: 'a', sha256, offset, total: data.length, data: data.subarray(offset, end) });
    expect(await put(0, 4000)).toEqual({ received: 4000, complete: false });
    expect(await put(0, 4000)).toEqual({ received: 4000, complete: false });
    await expect(put(8000, 10_000)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    expect(await put(4000, 8000)).toEqual({ received: 8000, complete: false });
    expect(await uploads.has(sha256)).toBe(false);
    expect(await put(8000, 10_000)).toEqual({ received: 10_000, complete: true });
    expect(sha(readFileSync(uploads.pathOf(sha256)))).toBe(sha256);
  });

  it('refuses parts that do not hash to the name they were sent under', async () => {
    const uploads = new BlobFolder(join(root, 'uploads'));
    const parts = new BlobParts(join(root, 'parts'), uploads);
    const data = bytes(1000, 2);
    const wrong = sha(bytes(1000, 3));
    await expect(parts.put({ agentId: 'a', sha256: wrong, offset: 0, total: 1000, data })).rejects.toMatchObject({ code: 'HASH_MISMATCH' });
    expect(await uploads.has(wrong)).toBe(false);
  });
});

describe('a cache entry from another host', () => {
  it('is refused when a blob arrives damaged, and taken when it arrives whole', async () => {
    const cacheDir = join(root, 'cache');
    const content = bytes(500, 4);
    const entry = {
      key: 'deps-1',
      createdAt: new Date().toISOString(),
      files: [{ path: 'node_modules/x.js', blob: sha(content), mode: 0o644 }],
    };
    await expect(importCacheEntry(cacheDir, entry, async (_blob, into) => writeFileSync(into, bytes(500, 5)))).rejects.toMatchObject({
      code: 'HASH_MISMATCH',
    });
    expect(await findCacheEntry(cacheDir, 'deps-1', [])).toBeNull();
    expect(await importCacheEntry(cacheDir, entry, async (_blob, into) => writeFileSync(into, content))).toBe(true);
    expect((await findCacheEntry(cacheDir, 'deps-1', []))?.files).toEqual(entry.files);
    expect(existsSync(join(cacheDir, 'blobs', entry.files[0]?.blob.slice(0, 2) ?? '', entry.files[0]?.blob ?? ''))).toBe(true);
  });

  it('refuses paths that would leave the workspace', async () => {
    const entry = { key: 'evil', createdAt: new Date().toISOString(), files: [{ path: '../x', blob: sha(bytes(1, 1)), mode: 0o644 }] };
    await expect(importCacheEntry(join(root, 'cache'), entry, async () => undefined)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });
});
