/**
 * What a lockfile says: the packages installed, which the project asks for itself, and which
 * pulls in which — so a finding can say how a vulnerable package got there.
 */
import type { Ecosystem } from '../versions/index.ts';

export interface LockedPackage {
  /** Unique within the graph (npm installs one name at several versions). */
  key: string;
  ecosystem: Ecosystem;
  name: string;
  version: string;
  /** Asked for by the project itself (its manifest), not only pulled in. */
  direct: boolean;
  /** Only for development (npm `dev`, Poetry's dev groups, Composer's `packages-dev`…), when the lockfile says. */
  dev: boolean;
  /** Keys of the packages it depends on. */
  dependsOn: string[];
  /** Hashes of the package's archive, when the lockfile records them (CycloneDX algorithm names, hex content). */
  hashes?: PackageHash[];
  /** SPDX licence ids or expressions, when the lockfile records them. */
  licenses?: string[];
}

export interface PackageHash {
  alg: 'SHA-1' | 'SHA-256' | 'SHA-384' | 'SHA-512';
  content: string;
}

const SRI_ALGORITHMS: Record<string, PackageHash['alg']> = { sha1: 'SHA-1', sha256: 'SHA-256', sha384: 'SHA-384', sha512: 'SHA-512' };

/** Subresource-integrity strings (`sha512-<base64> sha1-<base64>`, as npm, Yarn and pnpm record) as hex hashes. */
export function sriHashes(integrity: string | undefined): PackageHash[] | undefined {
  if (!integrity) return undefined;
  const hashes = integrity
    .trim()
    .split(/\s+/)
    .flatMap((part) => {
      const dash = part.indexOf('-');
      const alg = SRI_ALGORITHMS[part.slice(0, dash)];
      return alg ? [{ alg, content: Buffer.from(part.slice(dash + 1), 'base64').toString('hex') }] : [];
    });
  return hashes.length > 0 ? hashes : undefined;
}

export interface PackageGraph {
  /** The lockfile's path within the repository. */
  file: string;
  ecosystem: Ecosystem;
  packages: LockedPackage[];
  /** Entries that could not be scanned, and why (an unpinned requirement, a git dependency…). */
  skipped: { name: string; reason: string }[];
}

/**
 * The shortest chain of packages from one the project asks for to each package (breadth-first
 * from the direct ones, once per graph), e.g. ["express@4.17.1", "body-parser@1.19.0",
 * "qs@6.7.0"]. A package no direct one reaches (a lockfile without its manifest) is its own path.
 */
export function dependencyPaths(graph: PackageGraph): (key: string) => string[] {
  const byKey = new Map(graph.packages.map((p) => [p.key, p]));
  const label = (k: string): string => {
    const p = byKey.get(k);
    return p ? `${p.name}@${p.version}` : k;
  };
  const previous = new Map<string, string | null>();
  const queue: string[] = [];
  for (const p of graph.packages) {
    if (p.direct) {
      previous.set(p.key, null);
      queue.push(p.key);
    }
  }
  for (let i = 0; i < queue.length; i++) {
    for (const next of byKey.get(queue[i] as string)?.dependsOn ?? []) {
      if (previous.has(next)) continue;
      previous.set(next, queue[i] as string);
      queue.push(next);
    }
  }
  return (key) => {
    if (!previous.has(key)) return [label(key)];
    const path: string[] = [];
    for (let k: string | null | undefined = key; k !== null && k !== undefined; k = previous.get(k)) path.unshift(label(k));
    return path;
  };
}

/** One package's chain; for many, take `dependencyPaths` once. */
export function dependencyPath(graph: PackageGraph, key: string): string[] {
  return dependencyPaths(graph)(key);
}

/** Builds a graph's packages from name → version maps, resolving dependencies by name (flat lockfiles). */
export function flatPackages(
  ecosystem: Ecosystem,
  entries: { name: string; version: string; dev?: boolean; dependencies?: string[] }[],
  directNames: ReadonlySet<string> | null,
  normalize: (name: string) => string = (n) => n,
): LockedPackage[] {
  const keyOf = new Map(entries.map((e) => [normalize(e.name), `${e.name}@${e.version}`]));
  return entries.map((e) => ({
    key: `${e.name}@${e.version}`,
    ecosystem,
    name: e.name,
    version: e.version,
    direct: directNames === null ? false : directNames.has(normalize(e.name)),
    dev: e.dev ?? false,
    dependsOn: (e.dependencies ?? []).flatMap((d) => {
      const k = keyOf.get(normalize(d));
      return k === undefined ? [] : [k];
    }),
  }));
}
