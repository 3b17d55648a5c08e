/**
 * yarn.lock, both formats: Yarn 1's own syntax (`# yarn lockfile v1`) and Yarn 2+'s YAML (with
 * `__metadata`). Each entry is keyed by the specifiers (`name@range`, comma-separated) that
 * resolved to it; a dependency is found through its own specifier. Yarn 1 does not record what
 * the project asks for, so that comes from package.json when given; Yarn 2+ records the
 * workspaces as entries of their own.
 */
import { parse as parseYaml } from 'yaml';
import { LockfileError } from './lockfile-error.ts';
import { type LockedPackage, type PackageGraph, sriHashes } from './package-graph.ts';

interface YarnEntry {
  specifiers: string[];
  version: string;
  dependencies: Record<string, string>;
  /** A workspace of the project (Yarn 2+), not an installed package. */
  workspace: boolean;
  integrity?: string;
}

function unquote(s: string): string {
  const t = s.trim();
  return t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1) : t;
}

/** `@scope/name@^1.0.0` → `@scope/name`. */
export function specifierName(specifier: string): string {
  const at = specifier.indexOf('@', 1);
  return at < 0 ? specifier : specifier.slice(0, at);
}

function parseClassic(file: string, text: string): YarnEntry[] {
  const entries: YarnEntry[] = [];
  let current: YarnEntry | null = null;
  let inDependencies = false;
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    if (line.trim() === '' || line.trimStart().startsWith('#')) return;
    const indent = line.length - line.trimStart().length;
    if (indent === 0) {
      if (!line.endsWith(':'))
        throw new LockfileError(file, `expected an entry header ending with ':', found ${JSON.stringify(line)}`, i + 1);
      current = { specifiers: line.slice(0, -1).split(',').map(unquote), version: '', dependencies: {}, workspace: false };
      entries.push(current);
      inDependencies = false;
      return;
    }
    if (current === null) throw new LockfileError(file, 'indented line outside an entry', i + 1);
    const entry: YarnEntry = current;
    const content = line.trim();
    if (indent === 2) {
      inDependencies = content === 'dependencies:' || content === 'optionalDependencies:';
      const match = /^("?[^"\s]+"?)\s+(.+)$/.exec(content);
      if (match && unquote(match[1] as string) === 'version') entry.version = unquote(match[2] as string);
      if (match && unquote(match[1] as string) === 'integrity') entry.integrity = unquote(match[2] as string);
      return;
    }
    if (inDependencies) {
      const match = /^("[^"]+"|\S+)\s+(.+)$/.exec(content);
      if (!match) throw new LockfileError(file, `expected a dependency name and range, found ${JSON.stringify(content)}`, i + 1);
      entry.dependencies[unquote(match[1] as string)] = unquote(match[2] as string);
    }
  });
  for (const e of entries) if (e.version === '') throw new LockfileError(file, `entry ${e.specifiers[0]} has no version`);
  return entries;
}

function parseBerry(file: string, doc: Record<string, unknown>): YarnEntry[] {
  return Object.entries(doc).flatMap(([key, value]) => {
    if (key === '__metadata') return [];
    const entry = value as { version?: unknown; resolution?: unknown; dependencies?: Record<string, unknown> };
    if (typeof entry?.version !== 'string' && typeof entry?.version !== 'number')
      throw new LockfileError(file, `entry ${key} has no version`);
    return [
      {
        specifiers: key.split(',').map((s) => s.trim()),
        version: String(entry.version),
        dependencies: Object.fromEntries(Object.entries(entry.dependencies ?? {}).map(([k, v]) => [k, String(v)])),
        workspace: typeof entry.resolution === 'string' && entry.resolution.includes('@workspace:'),
      },
    ];
  });
}

export function parseYarnLock(file: string, text: string, manifest?: string): PackageGraph {
  let entries: YarnEntry[];
  let berry = false;
  if (/^__metadata:/m.test(text)) {
    let doc: unknown;
    try {
      doc = parseYaml(text);
    } catch (error) {
      throw new LockfileError(file, `not valid YAML (${(error as Error).message})`);
    }
    entries = parseBerry(file, doc as Record<string, unknown>);
    berry = true;
  } else {
    entries = parseClassic(file, text);
  }
  const bySpecifier = new Map<string, YarnEntry>();
  for (const e of entries) for (const s of e.specifiers) bySpecifier.set(s, e);
  const keyOf = (e: YarnEntry): string => `${specifierName(e.specifiers[0] as string)}@${e.version}`;
  const lookup = (name: string, range: string): YarnEntry | undefined =>
    bySpecifier.get(`${name}@${range}`) ?? (berry ? bySpecifier.get(`${name}@npm:${range}`) : undefined);

  const direct = new Set<YarnEntry>();
  const asks = (deps: Record<string, string>): void => {
    for (const [name, range] of Object.entries(deps)) {
      const target = lookup(name, range);
      if (target && !target.workspace) direct.add(target);
    }
  };
  for (const e of entries) if (e.workspace) asks(e.dependencies);
  if (manifest !== undefined) {
    const pkg = LockfileError.json('package.json', manifest) as Record<string, Record<string, string> | undefined>;
    for (const field of ['dependencies', 'devDependencies', 'optionalDependencies']) asks(pkg[field] ?? {});
  }

  const packages = new Map<string, LockedPackage>();
  for (const e of entries) {
    if (e.workspace) continue;
    const key = keyOf(e);
    const dependsOn = Object.entries(e.dependencies).flatMap(([name, range]) => {
      const target = lookup(name, range);
      return target && !target.workspace ? [keyOf(target)] : [];
    });
    const existing = packages.get(key);
    if (existing) {
      existing.direct ||= direct.has(e);
      continue;
    }
    packages.set(key, {
      key,
      ecosystem: 'npm',
      name: specifierName(e.specifiers[0] as string),
      version: e.version,
      direct: direct.has(e),
      dev: false,
      dependsOn,
    });
  }
  return { file, ecosystem: 'npm', packages: [...packages.values()], skipped: [] };
}
