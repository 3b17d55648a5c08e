/**
 * npm's package-lock.json (lockfileVersion 1, 2 and 3) and npm-shrinkwrap.json. Versions 2 and 3
 * list every installed package by its folder (`node_modules/a/node_modules/b`); a dependency
 * resolves as Node resolves it, from the nearest `node_modules` up. Version 1 nests the same tree
 * under `dependencies`, and is turned into folders first.
 */
import { LockfileError } from './lockfile-error.ts';
import { type LockedPackage, type PackageGraph, sriHashes } from './package-graph.ts';

interface FolderEntry {
  name?: string;
  integrity?: string;
  license?: string;
  version?: string;
  dev?: boolean;
  link?: boolean;
  resolved?: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

interface V1Entry {
  version?: string;
  integrity?: string;
  dev?: boolean;
  requires?: Record<string, string>;
  dependencies?: Record<string, V1Entry>;
}

function v1Folders(deps: Record<string, V1Entry>, prefix: string, out: Map<string, FolderEntry>): void {
  for (const [name, entry] of Object.entries(deps)) {
    const folder = `${prefix}node_modules/${name}`;
    out.set(folder, { version: entry.version, dev: entry.dev, integrity: entry.integrity, dependencies: entry.requires });
    if (entry.dependencies) v1Folders(entry.dependencies, `${folder}/`, out);
  }
}

/** The package name a folder holds: the part after its last `node_modules/`. */
function folderName(folder: string): string {
  const at = folder.lastIndexOf('node_modules/');
  return at < 0 ? folder : folder.slice(at + 'node_modules/'.length);
}

/** Node's lookup: `<folder>/node_modules/<name>`, then each enclosing `node_modules`, then the root's. */
function resolveFolder(from: string, name: string, folders: ReadonlyMap<string, FolderEntry>): string | null {
  let base = from;
  for (;;) {
    const candidate = base === '' ? `node_modules/${name}` : `${base}/node_modules/${name}`;
    if (folders.has(candidate)) return candidate;
    if (base === '') return null;
    const at = base.lastIndexOf('/node_modules/');
    base = at < 0 ? '' : base.slice(0, at);
  }
}

export function parseNpmLock(file: string, text: string, manifest?: string): PackageGraph {
  const lock = LockfileError.json(file, text) as {
    lockfileVersion?: number;
    packages?: Record<string, FolderEntry>;
    dependencies?: Record<string, V1Entry>;
  };
  const folders = new Map<string, FolderEntry>();
  if (lock.packages) {
    for (const [folder, entry] of Object.entries(lock.packages)) folders.set(folder, entry);
  } else if (lock.dependencies) {
    v1Folders(lock.dependencies, '', folders);
    const root = manifest ? (LockfileError.json('package.json', manifest) as FolderEntry) : null;
    folders.set('', root ?? {});
  } else {
    throw new LockfileError(file, 'has neither `packages` nor `dependencies`: not an npm lockfile');
  }

  // The root and workspace folders (paths outside node_modules) are the project's own code:
  // what they depend on is what the project asks for.
  const projectFolders = [...folders.keys()].filter((f) => !f.startsWith('node_modules/') && !f.includes('/node_modules/'));
  const declared = (e: FolderEntry): string[] => [
    ...Object.keys(e.dependencies ?? {}),
    ...Object.keys(e.devDependencies ?? {}),
    ...Object.keys(e.optionalDependencies ?? {}),
    ...Object.keys(e.peerDependencies ?? {}),
  ];
  const followLink = (folder: string | null): string | null => {
    const entry = folder === null ? undefined : folders.get(folder);
    return entry?.link && entry.resolved !== undefined && folders.has(entry.resolved) ? entry.resolved : folder;
  };
  const direct = new Set<string>();
  for (const folder of projectFolders) {
    for (const name of declared(folders.get(folder) ?? {})) {
      const target = followLink(resolveFolder(folder, name, folders));
      if (target !== null) direct.add(target);
    }
  }
  const noManifest = lock.packages === undefined && manifest === undefined;

  const packages: LockedPackage[] = [];
  const required = new Set<string>();
  for (const [folder, entry] of folders) {
    if (projectFolders.includes(folder) || entry.link || entry.version === undefined) continue;
    const dependsOn = declared(entry).flatMap((name) => {
      const target = followLink(resolveFolder(folder, name, folders));
      return target === null || projectFolders.includes(target) ? [] : [target];
    });
    for (const d of dependsOn) required.add(d);
    packages.push({
      key: folder,
      ecosystem: 'npm',
      name: entry.name ?? folderName(folder),
      version: entry.version,
      direct: direct.has(folder),
      dev: entry.dev === true,
      dependsOn,
      hashes: sriHashes(entry.integrity),
      licenses: entry.license ? [entry.license] : undefined,
    });
  }
  // A version-1 lockfile without its package.json: the top-level packages nothing requires are
  // the ones the project asked for.
  if (noManifest) for (const p of packages) p.direct = !p.key.includes('/node_modules/') && !required.has(p.key);
  return { file, ecosystem: 'npm', packages, skipped: [] };
}
