/**
 * Glob matching over a directory tree, shared by caches, artifacts, JUnit reports and
 * `hashFiles`, so that every `paths:`-like field of gantry.yaml means the same thing.
 *
 * Semantics (those of GitHub's `@actions/glob`): patterns are relative to the root; a pattern
 * naming a directory also matches everything below it; `!pattern` excludes; the last pattern
 * that matches a path decides. Dotfiles match. Symbolic links are reported as entries of their
 * own and never followed, so a link to `/` cannot make a job read or copy outside its workspace.
 */
import { readdirSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import picomatch from 'picomatch';
import { InputError } from '../core/errors.ts';

interface CompiledPattern {
  negated: boolean;
  /** The literal directory prefix before the first glob character ('' = the root). */
  base: string;
  test: (relPath: string) => boolean;
}

/** A directory entry as the walkers need it (what `Dirent` gives without an extra `lstat`). */
interface Entry {
  name: string;
  isDirectory: boolean;
  /** Regular file or symbolic link: sockets and FIFOs are never matched (copying a FIFO blocks). */
  isLeaf: boolean;
}

/**
 * Turns a user pattern into a clean relative POSIX pattern, or throws InputError. Exported so
 * that callers taking literal paths (cache paths) reject the same inputs with the same words.
 */
export function normalizePattern(raw: string): { pattern: string; negated: boolean } {
  let pattern = raw.trim();
  let negated = false;
  if (pattern.startsWith('!')) {
    negated = true;
    pattern = pattern.slice(1).trim();
  }
  if (pattern.startsWith('~')) {
    throw new InputError(`path "${raw}": "~" is not supported; paths are relative to the workspace`);
  }
  pattern = pattern.replaceAll('\\', '/');
  if (pattern.startsWith('/') || /^[A-Za-z]:\//.test(pattern)) {
    throw new InputError(`path "${raw}" is absolute; paths are relative to the workspace`);
  }
  const segments = pattern.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) {
    throw new InputError(`path "${raw}" leaves the workspace ("..")`);
  }
  // `.` names the whole root.
  return { pattern: segments.length === 0 ? '**' : segments.join('/'), negated };
}

function compile(patterns: string[]): CompiledPattern[] {
  return patterns
    .filter((p) => p.trim() !== '')
    .map((raw) => {
      const { pattern, negated } = normalizePattern(raw);
      const matcher = picomatch(pattern, { dot: true });
      const { base } = picomatch.scan(pattern);
      return { negated, base, test: matcher };
    });
}

/** `a/b/c` → [`a`, `a/b`, `a/b/c`]: a pattern matching any of them matches the path. */
function selfAndAncestors(relPath: string): string[] {
  const parts = relPath.split('/');
  return parts.map((_, i) => parts.slice(0, i + 1).join('/'));
}

/** Index of the last pattern matching the path or one of its ancestors, -1 when none. */
function lastMatch(compiled: CompiledPattern[], relPath: string): number {
  const candidates = selfAndAncestors(relPath);
  for (let i = compiled.length - 1; i >= 0; i--) {
    const p = compiled[i];
    if (p && candidates.some((c) => p.test(c))) return i;
  }
  return -1;
}

function isIncluded(compiled: CompiledPattern[], relPath: string): boolean {
  const i = lastMatch(compiled, relPath);
  return i >= 0 && compiled[i]?.negated === false;
}

/**
 * Whether a walk must enter directory `dir`: some positive pattern can reach below it, and no
 * exclusion covering it is overridden by a later positive pattern. Keeps `dist/**` from reading
 * a whole `node_modules`.
 */
function shouldDescend(compiled: CompiledPattern[], dir: string): boolean {
  const reachable = compiled.some(
    (p) => !p.negated && (p.base === '' || p.base === dir || p.base.startsWith(`${dir}/`) || dir.startsWith(`${p.base}/`)),
  );
  if (!reachable) return false;
  const i = lastMatch(compiled, dir);
  if (i < 0 || compiled[i]?.negated !== true) return true;
  return compiled.slice(i + 1).some((p) => !p.negated);
}

function toEntries(dirents: { name: string; isDirectory(): boolean; isFile(): boolean; isSymbolicLink(): boolean }[]): Entry[] {
  return dirents.map((d) => ({ name: d.name, isDirectory: d.isDirectory(), isLeaf: d.isFile() || d.isSymbolicLink() }));
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/**
 * Files (and symbolic links) under `rootDir` matched by `patterns`, as sorted relative POSIX
 * paths. A missing root matches nothing. Throws InputError for absolute, `~` or `..` patterns.
 */
export async function matchFiles(rootDir: string, patterns: string[]): Promise<string[]> {
  const compiled = compile(patterns);
  const found: string[] = [];
  if (!compiled.some((p) => !p.negated)) return found;
  const walk = async (rel: string): Promise<void> => {
    let entries: Entry[];
    try {
      entries = toEntries(await readdir(path.join(rootDir, rel), { withFileTypes: true }));
    } catch (err) {
      if (isMissing(err)) return;
      throw err;
    }
    const subdirs: string[] = [];
    for (const entry of entries) {
      const child = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory) {
        if (shouldDescend(compiled, child)) subdirs.push(child);
      } else if (entry.isLeaf && isIncluded(compiled, child)) {
        found.push(child);
      }
    }
    await Promise.all(subdirs.map(walk));
  };
  await walk('');
  return found.sort();
}

/** The synchronous twin of `matchFiles`, for `hashFiles` inside the (synchronous) expression evaluator. */
export function matchFilesSync(rootDir: string, patterns: string[]): string[] {
  const compiled = compile(patterns);
  const found: string[] = [];
  if (!compiled.some((p) => !p.negated)) return found;
  const walk = (rel: string): void => {
    let entries: Entry[];
    try {
      entries = toEntries(readdirSync(path.join(rootDir, rel), { withFileTypes: true }));
    } catch (err) {
      if (isMissing(err)) return;
      throw err;
    }
    for (const entry of entries) {
      const child = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory) {
        if (shouldDescend(compiled, child)) walk(child);
      } else if (entry.isLeaf && isIncluded(compiled, child)) {
        found.push(child);
      }
    }
  };
  walk('');
  return found.sort();
}
