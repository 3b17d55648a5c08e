/**
 * pnpm-lock.yaml, lockfile versions 5 (`/name/1.0.0_peer`), 6 (`/name@1.0.0(peer)`) and 9 (`name@1.0.0(peer)`,
 * dependencies under `snapshots`). The project's own packages are the `importers` (or the
 * top-level dependency maps of a single-package lockfile before version 9).
 */
import { parse as parseYaml } from 'yaml';
import { LockfileError } from './lockfile-error.ts';
import { type LockedPackage, type PackageGraph, sriHashes } from './package-graph.ts';

type DependencyMap = Record<string, string | { version?: string }>;

interface Importer {
  dependencies?: DependencyMap;
  devDependencies?: DependencyMap;
  optionalDependencies?: DependencyMap;
}

interface Node {
  resolution?: { integrity?: string };
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  dev?: boolean;
}

/** `/@scope/a/1.0.0_react@18.0.0`, `/@scope/a@1.0.0(react@18.0.0)` or `@scope/a@1.0.0(…)` → name and version. */
export function pnpmKeyParts(key: string, major: number): { name: string; version: string } | null {
  const bare = key.startsWith('/') ? key.slice(1) : key;
  if (major < 6) {
    const slash = bare.lastIndexOf('/');
    if (slash <= 0) return null;
    const version = bare.slice(slash + 1);
    const underscore = version.indexOf('_');
    return { name: bare.slice(0, slash), version: underscore < 0 ? version : version.slice(0, underscore) };
  }
  const paren = bare.indexOf('(');
  const base = paren < 0 ? bare : bare.slice(0, paren);
  const at = base.lastIndexOf('@');
  if (at <= 0) return null;
  return { name: base.slice(0, at), version: base.slice(at + 1) };
}

export function parsePnpmLock(file: string, text: string): PackageGraph {
  let doc: {
    lockfileVersion?: unknown;
    importers?: Record<string, Importer>;
    packages?: Record<string, Node>;
    snapshots?: Record<string, Node>;
  } & Importer;
  try {
    doc = parseYaml(text) ?? {};
  } catch (error) {
    throw new LockfileError(file, `not valid YAML (${(error as Error).message})`);
  }
  const major = Number.parseFloat(String(doc.lockfileVersion ?? ''));
  if (!Number.isFinite(major)) throw new LockfileError(file, 'has no lockfileVersion: not a pnpm lockfile');
  const nodes: Record<string, Node> = (major >= 9 ? doc.snapshots : doc.packages) ?? {};

  const keyFor = (name: string, ref: string): string | null => {
    if (ref.startsWith('link:') || ref.startsWith('file:') || ref.startsWith('workspace:')) return null;
    if (ref.startsWith('/')) return ref;
    const base = ref.split('(')[0] as string;
    if (major >= 9) return base.lastIndexOf('@') > 0 ? ref : `${name}@${ref}`;
    return major >= 6 ? `/${name}@${ref}` : `/${name}/${ref}`;
  };
  const refOf = (value: string | { version?: string }): string => (typeof value === 'string' ? value : (value.version ?? ''));

  const direct = new Set<string>();
  const importers: Importer[] = doc.importers ? Object.values(doc.importers) : [doc];
  for (const importer of importers) {
    for (const map of [importer.dependencies, importer.devDependencies, importer.optionalDependencies]) {
      for (const [name, value] of Object.entries(map ?? {})) {
        const key = keyFor(name, refOf(value));
        if (key !== null) direct.add(key);
      }
    }
  }

  const packages: LockedPackage[] = [];
  for (const [key, node] of Object.entries(nodes)) {
    const parts = pnpmKeyParts(key, major);
    if (parts === null) throw new LockfileError(file, `cannot read the package key ${JSON.stringify(key)}`);
    const dependsOn = Object.entries({ ...node?.dependencies, ...node?.optionalDependencies }).flatMap(([name, ref]) => {
      const target = keyFor(name, String(ref));
      return target !== null && target in nodes ? [target] : [];
    });
    packages.push({
      key,
      ecosystem: 'npm',
      name: parts.name,
      version: parts.version,
      direct: direct.has(key),
      dev: node?.dev === true,
      dependsOn,
    });
  }
  return { file, ecosystem: 'npm', packages, skipped: [] };
}
