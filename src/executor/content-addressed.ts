/**
 * Trees moved between hosts by content (docs/decisions/0036): a manifest names each file by its
 * sha256; the receiver fetches only the blobs it does not already hold, checks every blob's hash
 * before using it (and the sender checks what it is given), and writes the tree itself, so a
 * path in a manifest can never leave the tree it names.
 */
import { createHash } from 'node:crypto';
import { createReadStream, type Dirent } from 'node:fs';
import { chmod, lstat, mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { GantryError, InputError } from '../core/errors.ts';
import { createLimiter } from './workspace.ts';

export interface ManifestFile {
  path: string;
  sha256: string;
  size: number;
  executable: boolean;
}

/** A tree's manifest and where each blob is on this host. */
export interface TreeIndex {
  manifest: ManifestFile[];
  /** sha256 → an absolute path holding that content. */
  blobs: Map<string, string>;
}

const IO_CONCURRENCY = 8;

export function sha256Of(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The sha256 of a file's content, read as a stream. */
export async function hashFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * The manifest of every regular file under `root` (paths with `/`, sorted). Symbolic links and
 * special files are left out: what crosses hosts is content. A missing root is an empty tree.
 */
export async function indexTree(root: string, skip: (rel: string) => boolean = () => false): Promise<TreeIndex> {
  const found: { rel: string; abs: string; size: number; executable: boolean }[] = [];
  const walk = async (rel: string): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(path.join(root, rel), { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && rel === '') return;
      throw err;
    }
    for (const entry of entries) {
      const child = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (skip(child)) continue;
      if (entry.isDirectory()) await walk(child);
      else if (entry.isFile()) {
        const abs = path.join(root, child);
        const st = await lstat(abs);
        found.push({ rel: child, abs, size: st.size, executable: (st.mode & 0o111) !== 0 });
      }
    }
  };
  await walk('');
  const limit = createLimiter(IO_CONCURRENCY);
  const blobs = new Map<string, string>();
  const manifest = await Promise.all(
    found.map((f) =>
      limit(async () => {
        const sha256 = await hashFile(f.abs);
        blobs.set(sha256, f.abs);
        return { path: f.rel, sha256, size: f.size, executable: f.executable };
      }),
    ),
  );
  manifest.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { manifest, blobs };
}

/** Throws HASH_MISMATCH unless `data` hashes to `sha256`. */
export function verifyBlob(sha256: string, data: Uint8Array): void {
  const actual = sha256Of(data);
  if (actual !== sha256) throw new GantryError('HASH_MISMATCH', `content hashes to ${actual}, not ${sha256}`);
}

/** A manifest path as a safe relative path: no absolute paths, no `..`, no empty segments. */
export function safeRelative(rel: string): string {
  const parts = rel.split('/');
  if (rel.startsWith('/') || parts.some((p) => p === '' || p === '.' || p === '..' || p.includes('\0')))
    throw new InputError(`unsafe path in a manifest: ${JSON.stringify(rel)}`);
  return parts.join(path.sep);
}

/**
 * A folder of blobs named by their sha256 (the agent's download cache, the server's uploads).
 * `put` checks the hash and writes through a temporary name, so a blob under its name is whole.
 */
export class BlobFolder {
  readonly #dir: string;
  constructor(dir: string) {
    this.#dir = dir;
  }

  pathOf(sha256: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new InputError(`not a sha256: ${JSON.stringify(sha256)}`);
    return path.join(this.#dir, sha256.slice(0, 2), sha256);
  }

  async has(sha256: string): Promise<boolean> {
    try {
      await lstat(this.pathOf(sha256));
      return true;
    } catch {
      return false;
    }
  }

  async put(sha256: string, data: Uint8Array): Promise<string> {
    verifyBlob(sha256, data);
    const file = this.pathOf(sha256);
    await mkdir(path.dirname(file), { recursive: true });
    const temp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.part`;
    await writeFile(temp, data);
    await rename(temp, file);
    return file;
  }
}

/**
 * Writes the tree a manifest describes into `root`, each blob from `cache` when held there or
 * through `fetchBlob` (checked against its hash, then kept in the cache).
 */
export async function materializeTree(
  root: string,
  manifest: readonly ManifestFile[],
  cache: BlobFolder,
  fetchBlob: (sha256: string) => Promise<Uint8Array>,
): Promise<void> {
  const fetching = new Map<string, Promise<string>>();
  const blobFile = (sha256: string): Promise<string> => {
    let pending = fetching.get(sha256);
    if (!pending) {
      pending = (async () => {
        if (await cache.has(sha256)) return cache.pathOf(sha256);
        return cache.put(sha256, await fetchBlob(sha256));
      })();
      fetching.set(sha256, pending);
    }
    return pending;
  };
  const limit = createLimiter(IO_CONCURRENCY);
  await Promise.all(
    manifest.map((entry) =>
      limit(async () => {
        const dest = path.join(root, safeRelative(entry.path));
        const data = await readFile(await blobFile(entry.sha256));
        // The cache is on this host's disk: checked again, since a damaged cache must not reach a job.
        verifyBlob(entry.sha256, data);
        await mkdir(path.dirname(dest), { recursive: true });
        await writeFile(dest, data);
        if (entry.executable) await chmod(dest, 0o755);
      }),
    ),
  );
}
