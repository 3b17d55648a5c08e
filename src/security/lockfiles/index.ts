/** Lockfiles read into package graphs, chosen by file name. */
import { LockfileError } from './lockfile-error.ts';
import { LOCKFILE_NAMES } from './lockfile-names.ts';
import { parseNpmLock } from './npm-lock.ts';
import { parseCargoLock, parseComposerLock, parseGemfileLock, parseGoMod } from './other-locks.ts';
import type { PackageGraph } from './package-graph.ts';
import { parsePnpmLock } from './pnpm-lock.ts';
import { parsePipfileLock, parsePoetryLock, parseRequirements } from './python-locks.ts';
import { parseYarnLock } from './yarn-lock.ts';

export { type LockedPackage, type PackageGraph, type PackageHash, dependencyPath, dependencyPaths } from './package-graph.ts';
export { LockfileError };
export { isLockfileName } from './lockfile-names.ts';

interface LockfileKind {
  /** The manifest beside it that says what the project asks for, when the lockfile does not. */
  manifest?: string;
  parse(file: string, text: string, manifest?: string): PackageGraph;
}

const KINDS: [RegExp, LockfileKind][] = [
  [LOCKFILE_NAMES.npm, { manifest: 'package.json', parse: parseNpmLock }],
  [LOCKFILE_NAMES.yarn, { manifest: 'package.json', parse: parseYarnLock }],
  [LOCKFILE_NAMES.pnpm, { parse: parsePnpmLock }],
  [LOCKFILE_NAMES.requirements, { parse: parseRequirements }],
  [LOCKFILE_NAMES.pipenv, { manifest: 'Pipfile', parse: parsePipfileLock }],
  [LOCKFILE_NAMES.poetry, { manifest: 'pyproject.toml', parse: parsePoetryLock }],
  [LOCKFILE_NAMES.cargo, { parse: parseCargoLock }],
  [LOCKFILE_NAMES.bundler, { parse: parseGemfileLock }],
  [LOCKFILE_NAMES.composer, { manifest: 'composer.json', parse: parseComposerLock }],
  [LOCKFILE_NAMES.go, { parse: parseGoMod }],
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
