/**
 * The job cache (`cache: { key, restoreKeys, paths }`), content-addressed so that the same
 * `node_modules` saved under a hundred keys is stored once.
 *
 * Layout under cacheDir:
 *   blobs/<2 hex>/<sha256>      file contents, immutable, named by their hash
 *   entries/<sha256(key)>.json  manifest: { key, createdAt, files: [{ path, blob, mode, symlink? }] }
 *   tmp/                        files being written (same filesystem, so publishing is a rename)
 *
 * Concurrency: any number of jobs and processes may save and restore at once. Blobs are
 * written to tmp/ then renamed into place (a racing writer of the same blob writes the same
 * bytes). An entry is published with `link(2)`, which fails if the name exists: the first save
 * of a key wins, later ones report `saved: false` (caches are immutable, as on GitHub), and a
 * reader sees a complete manifest or none. Nothing is ever deleted, so a restore cannot lose a
 * blob mid-copy. Eviction is not implemented.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, copyFile, link, lstat, mkdir, readdir, readFile, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { GantryError, InputError } from '../core/errors.ts';
import { matchFiles, normalizePattern } from './globs.ts';
import { createDirMaker, createLimiter } from './workspace.ts';

/** One file of a cache entry. */
export interface CacheEntryFile {
  /** Relative POSIX path in the workspace. */
  path: string;
  /** sha256 of the contents; '' for a symbolic link. */
  blob: string;
  /** Permission bits (`mode & 0o777`). */
  mode: number;
  /** Link target, verbatim, when the entry is a symbolic link. */
  symlink?: string;
}

/** A cache entry: what `entries/<sha256(key)>.json` holds, and what travels between an agent and its server. */
export interface CacheEntry {
  key: string;
  createdAt: string;
  files: CacheEntryFile[];
}
type ManifestFile = CacheEntryFile;
type Manifest = CacheEntry;

const IO_CONCURRENCY = 8;

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function entryPath(cacheDir: string, key: string): string {
  return path.join(cacheDir, 'entries', `${sha256Hex(key)}.json`);
}

function blobPath(cacheDir: string, blob: string): string {
  return path.join(cacheDir, 'blobs', blob.slice(0, 2), blob);
}

function tempPath(cacheDir: string): string {
  return path.join(cacheDir, 'tmp', `${process.pid}-${randomBytes(8).toString('hex')}`);
}

function hashFile(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file)
      .on('error', reject)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')));
  });
}

async function exists(file: string): Promise<boolean> {
  try {
    await lstat(file);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
}

function validateKey(key: string): void {
  if (key.trim() === '') throw new InputError('cache key is empty');
  if (key.length > 512) throw new InputError('cache key is longer than 512 characters');
}

/** Cache paths are workspace-relative: `~` and absolute paths are rejected with a clear message. */
function validatePaths(paths: string[]): void {
  if (paths.length === 0) throw new InputError('cache paths are empty');
  for (const p of paths) normalizePattern(p);
}

function isSafeRelative(p: string): boolean {
  return p !== '' && !p.startsWith('/') && !p.split('/').some((s) => s === '..' || s === '' || s === '.');
}

async function readManifest(file: string): Promise<Manifest | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return null;
    throw err;
  }
  try {
    const parsed = JSON.parse(text) as Manifest;
    if (typeof parsed.key !== 'string' || typeof parsed.createdAt !== 'string' || !Array.isArray(parsed.files)) return null;
    return parsed;
  } catch {
    return null; // not ours or damaged: behave as a miss rather than fail the job
  }
}

/**
 * Stores one file as a blob. The copy is hashed (not the source) so the blob's name always
 * matches its bytes even if the job's background processes still write to the source.
 */
async function storeBlob(cacheDir: string, source: string): Promise<string> {
  const known = await hashFile(source);
  if (await exists(blobPath(cacheDir, known))) return known;
  const temp = tempPath(cacheDir);
  await copyFile(source, temp);
  try {
    const blob = await hashFile(temp);
    await mkdir(path.dirname(blobPath(cacheDir, blob)), { recursive: true });
    await chmod(temp, 0o444);
    await rename(temp, blobPath(cacheDir, blob));
    return blob;
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

/** Publishes a manifest under its key unless one exists; true when this call published it. */
async function publishEntry(cacheDir: string, manifest: Manifest): Promise<boolean> {
  const final = entryPath(cacheDir, manifest.key);
  const temp = tempPath(cacheDir);
  await writeFile(temp, JSON.stringify(manifest));
  try {
    await link(temp, final);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'EEXIST') return false;
    // Filesystems without hard links: rename is still atomic, but the last writer wins.
    if (errnoCode(err) === 'EPERM' || errnoCode(err) === 'ENOTSUP' || errnoCode(err) === 'EOPNOTSUPP') {
      if (await exists(final)) return false;
      await rename(temp, final);
      return true;
    }
    throw err;
  } finally {
    await rm(temp, { force: true });
  }
}

/**
 * Saves the files at `paths` (directories recursively, or globs; relative to the workspace)
 * under `key`. Saving an existing key is a no-op (`saved: false`); `files`/`bytes` describe
 * what the entry holds (links count as files of 0 bytes) and are 0 when nothing was saved.
 * Nothing matched → nothing saved, as GitHub does.
 */
export async function saveCache(o: {
  cacheDir: string;
  key: string;
  paths: string[];
  workspaceDir: string;
}): Promise<{ saved: boolean; files: number; bytes: number }> {
  validateKey(o.key);
  validatePaths(o.paths);
  const none = { saved: false, files: 0, bytes: 0 };
  if (await exists(entryPath(o.cacheDir, o.key))) return none;
  const matched = await matchFiles(o.workspaceDir, o.paths);
  if (matched.length === 0) return none;

  await Promise.all(['blobs', 'entries', 'tmp'].map((d) => mkdir(path.join(o.cacheDir, d), { recursive: true })));
  const limit = createLimiter(IO_CONCURRENCY);
  let bytes = 0;
  const files = await Promise.all(
    matched.map((rel) =>
      limit(async (): Promise<ManifestFile | null> => {
        const abs = path.join(o.workspaceDir, rel);
        let st;
        try {
          st = await lstat(abs);
        } catch (err) {
          if (errnoCode(err) === 'ENOENT') return null; // removed since the match
          throw err;
        }
        const mode = st.mode & 0o777;
        if (st.isSymbolicLink()) return { path: rel, blob: '', mode, symlink: await readlink(abs) };
        if (!st.isFile()) return null;
        const blob = await storeBlob(o.cacheDir, abs);
        bytes += st.size;
        return { path: rel, blob, mode };
      }),
    ),
  );
  const manifest: Manifest = {
    key: o.key,
    createdAt: new Date().toISOString(),
    files: files.filter((f): f is ManifestFile => f !== null),
  };
  if (!(await publishEntry(o.cacheDir, manifest))) return none;
  return { saved: true, files: manifest.files.length, bytes };
}

/** Every entry whose key starts with `prefix`, newest first (ties: larger key first, for a stable order). */
async function entriesByPrefix(cacheDir: string, prefix: string): Promise<Manifest[]> {
  let names: string[];
  try {
    names = await readdir(path.join(cacheDir, 'entries'));
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw err;
  }
  const limit = createLimiter(IO_CONCURRENCY);
  const manifests = await Promise.all(
    names.filter((n) => n.endsWith('.json')).map((n) => limit(() => readManifest(path.join(cacheDir, 'entries', n)))),
  );
  return manifests
    .filter((m): m is Manifest => m !== null && m.key.startsWith(prefix))
    .sort((a, b) => (a.createdAt === b.createdAt ? (a.key < b.key ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1));
}

/** A manifest is usable when every path is relative and every blob it names is present. */
async function isRestorable(cacheDir: string, manifest: Manifest): Promise<boolean> {
  const limit = createLimiter(IO_CONCURRENCY);
  const checks = await Promise.all(
    manifest.files.map((f) =>
      limit(async () => isSafeRelative(f.path) && (f.symlink !== undefined || (await exists(blobPath(cacheDir, f.blob))))),
    ),
  );
  return checks.every(Boolean);
}

async function restoreEntry(cacheDir: string, manifest: Manifest, workspaceDir: string): Promise<void> {
  const makeDir = createDirMaker(workspaceDir);
  const limit = createLimiter(IO_CONCURRENCY);
  await Promise.all(
    manifest.files.map((f) =>
      limit(async () => {
        await makeDir(path.posix.dirname(f.path));
        const dest = path.join(workspaceDir, f.path);
        // Whatever the job left there goes, so a planted link cannot redirect the write.
        await rm(dest, { recursive: true, force: true });
        if (f.symlink !== undefined) {
          await symlink(f.symlink, dest);
          return;
        }
        // A copy, not a link: the job may modify what it restored.
        await copyFile(blobPath(cacheDir, f.blob), dest);
        await chmod(dest, f.mode & 0o777);
      }),
    ),
  );
}

/**
 * Restores the entry saved under `key` (`hit: 'exact'`), else the newest entry whose key starts
 * with the first restore key that has one (`'partial'`), else nothing. Returns the key
 * restored. `paths` is validated only: an entry restores the files it holds. Files are copied from blobs (never linked) and recreate dirs, modes and symlinks;
 * a restore never writes through a symbolic link found in the workspace (InputError instead).
 */
export async function restoreCache(o: {
  cacheDir: string;
  key: string;
  restoreKeys: string[];
  paths: string[];
  workspaceDir: string;
}): Promise<{ hit: 'exact' | 'partial' | null; key: string | null }> {
  validateKey(o.key);
  validatePaths(o.paths);
  const entry = await findCacheEntry(o.cacheDir, o.key, o.restoreKeys);
  if (entry === null) return { hit: null, key: null };
  await restoreEntry(o.cacheDir, entry, o.workspaceDir);
  return { hit: entry.key === o.key ? 'exact' : 'partial', key: entry.key };
}

/**
 * The entry a restore would pick: the one saved under `key`, else the newest whose key starts
 * with the first restore key that has one; only an entry whose blobs are all here counts.
 */
export async function findCacheEntry(cacheDir: string, key: string, restoreKeys: readonly string[]): Promise<CacheEntry | null> {
  const exact = await readCacheEntry(cacheDir, key);
  if (exact !== null && (await isRestorable(cacheDir, exact))) return exact;
  for (const prefix of restoreKeys) {
    if (prefix.trim() === '') continue;
    for (const candidate of await entriesByPrefix(cacheDir, prefix)) {
      if (await isRestorable(cacheDir, candidate)) return candidate;
    }
  }
  return null;
}

/** The entry saved under exactly `key`, or null. */
export async function readCacheEntry(cacheDir: string, key: string): Promise<CacheEntry | null> {
  const entry = await readManifest(entryPath(cacheDir, key));
  return entry !== null && entry.key === key ? entry : null;
}

/** Where a blob of the cache lives (immutable once there). */
export function cacheBlobPath(cacheDir: string, blob: string): string {
  if (!/^[0-9a-f]{64}$/.test(blob)) throw new InputError(`not a sha256: ${JSON.stringify(blob)}`);
  return blobPath(cacheDir, blob);
}

/**
 * Adds an entry made on another host: each blob missing here is written by `fetchBlob` into a
 * temporary file, checked against its hash, then published; the entry last (the first of a key
 * wins, as for a local save). Refuses unsafe paths and names that are not sha256. True when
 * this call published the entry.
 */
export async function importCacheEntry(
  cacheDir: string,
  entry: CacheEntry,
  fetchBlob: (blob: string, into: string) => Promise<void>,
): Promise<boolean> {
  validateKey(entry.key);
  for (const f of entry.files) {
    if (!isSafeRelative(f.path)) throw new InputError(`cache entry path is not a safe relative path: ${JSON.stringify(f.path)}`);
    if (f.symlink === undefined) cacheBlobPath(cacheDir, f.blob);
  }
  if (await exists(entryPath(cacheDir, entry.key))) return false;
  await Promise.all(['blobs', 'entries', 'tmp'].map((d) => mkdir(path.join(cacheDir, d), { recursive: true })));
  const blobs = new Set(entry.files.filter((f) => f.symlink === undefined).map((f) => f.blob));
  const limit = createLimiter(IO_CONCURRENCY);
  await Promise.all(
    [...blobs].map((blob) =>
      limit(async () => {
        if (await exists(blobPath(cacheDir, blob))) return;
        const temp = tempPath(cacheDir);
        try {
          await fetchBlob(blob, temp);
          const got = await hashFile(temp);
          if (got !== blob) throw new GantryError('HASH_MISMATCH', `cache blob ${blob} arrived hashing to ${got}`);
          await mkdir(path.dirname(blobPath(cacheDir, blob)), { recursive: true });
          await chmod(temp, 0o444);
          await rename(temp, blobPath(cacheDir, blob));
        } finally {
          await rm(temp, { force: true });
        }
      }),
    ),
  );
  const { key, createdAt, files } = entry;
  return publishEntry(cacheDir, {
    key,
    createdAt,
    files: files.map(({ path: p, blob, mode, symlink }) => ({ path: p, blob, mode, ...(symlink === undefined ? {} : { symlink }) })),
  });
}
