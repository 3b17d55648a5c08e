/** Lockfiles read into package graphs, chosen by file name. */
import { LockfileError } from './lockfile-error.ts';
import { parseNpmLock } from './npm-lock.ts';
import { parseCargoLock, parseComposerLock, parseGemfileLock, parseGoMod } from './other-locks.ts';
import type { PackageGraph } from './package-graph.ts';
import { parsePnpmLock } from './pnpm-lock.ts';
import { parsePipfileLock, parsePoetryLock, parseRequirements } from './python-locks.ts';
import { parseYarnLock } from './yarn-lock.ts';

export { type LockedPackage, type PackageGraph, type PackageHash, dependencyPath, dependencyPaths } from './package-graph.ts';
export { LockfileError };

interface LockfileKind {
  /** The manifest beside it that says what the project asks for, when the lockfile does not. */
  manifest?: string;
  parse(file: string, text: string, manifest?: string): PackageGraph;
}

const KINDS: [RegExp, LockfileKind][] = [
  [/^(package-lock|npm-shrinkwrap)\.json$/, { manifest: 'package.json', parse: parseNpmLock }],
  [/^yarn\.lock$/, { manifest: 'package.json', parse: parseYarnLock }],
  [/^pnpm-lock\.yaml$/, { parse: parsePnpmLock }],
  [/^(requirements.*\.txt|.*requirements\.txt)$/, { parse: parseRequirements }],
  [/^Pipfile\.lock$/, { manifest: 'Pipfile', parse: parsePipfileLock }],
  [/^poetry\.lock$/, { manifest: 'pyproject.toml', parse: parsePoetryLock }],
  [/^Cargo\.lock$/, { parse: parseCargoLock }],
  [/^(Gemfile\.lock|gems\.locked)$/, { parse: parseGemfileLock }],
  [/^composer\.lock$/, { manifest: 'composer.json', parse: parseComposerLock }],
  [/^go\.mod$/, { parse: parseGoMod }],
];

/** The lockfile kind a path names, by its file name; null for any other file. */
export function lockfileKind(path: string): LockfileKind | null {
  const base = path.slice(path.lastIndexOf('/') + 1);
  return KINDS.find(([pattern]) => pattern.test(base))?.[1] ?? null;
}

/**
 * Reads a lockfile. `readSibling` gives a file beside it (its manifest) or undefined; the caller
 * owns the I/O.
 */
export function readLockfile(
  path: string,
  text: string,
  readSibling: (name: string) => string | undefined = () => undefined,
): PackageGraph {
  const kind = lockfileKind(path);
  if (kind === null) throw new LockfileError(path, 'is not a lockfile Gantry reads');
  const dir = path.includes('/') ? path.slice(0, path.lastIndexOf('/') + 1) : '';
  const manifest = kind.manifest === undefined ? undefined : readSibling(`${dir}${kind.manifest}`);
  return kind.parse(path, text, manifest);
}
