/**
 * The lockfiles of Cargo (Cargo.lock), Bundler (Gemfile.lock), Composer (composer.lock) and Go
 * modules (go.mod: Go 1.17+ lists every module of the build there, `// indirect` marking those
 * the module does not import itself).
 */
import { parse as parseToml } from 'smol-toml';
import { LockfileError } from './lockfile-error.ts';
import { type LockedPackage, type PackageGraph, flatPackages } from './package-graph.ts';

interface CargoPackage {
  name: string;
  version: string;
  source?: string;
  checksum?: string;
  dependencies?: string[];
}

export function parseCargoLock(file: string, text: string): PackageGraph {
  let doc: { package?: CargoPackage[] };
  try {
    doc = parseToml(text) as typeof doc;
  } catch (error) {
    throw new LockfileError(file, `not valid TOML (${(error as Error).message.split('\n')[0]})`, (error as { line?: number }).line);
  }
  if (!Array.isArray(doc.package)) throw new LockfileError(file, 'has no [[package]] tables: not a Cargo.lock');
  const byName = new Map<string, CargoPackage[]>();
  for (const p of doc.package) byName.set(p.name, [...(byName.get(p.name) ?? []), p]);
  // `"serde"`, `"serde 1.0.130"` or `"serde 1.0.130 (registry+…)"`: the version only when the name is ambiguous.
  const resolve = (ref: string): CargoPackage | undefined => {
    const [name = '', version] = ref.split(' ');
    const candidates = byName.get(name) ?? [];
    return version === undefined ? candidates[0] : candidates.find((c) => c.version === version);
  };
  const isLocal = (p: CargoPackage): boolean => p.source === undefined;
  const fromRegistry = (p: CargoPackage): boolean => p.source?.startsWith('registry+') === true || p.source?.startsWith('sparse+') === true;
  const keyOf = (p: CargoPackage): string => `${p.name}@${p.version}`;
  const direct = new Set<string>();
  for (const p of doc.package.filter(isLocal)) {
    for (const ref of p.dependencies ?? []) {
      const target = resolve(ref);
      if (target && !isLocal(target)) direct.add(keyOf(target));
    }
  }
  const skipped = doc.package
    .filter((p) => !isLocal(p) && !fromRegistry(p))
    .map((p) => ({ name: p.name, reason: `not from crates.io (${p.source})` }));
  const packages: LockedPackage[] = doc.package.filter(fromRegistry).map((p) => ({
    key: keyOf(p),
    ecosystem: 'crates.io',
    name: p.name,
    version: p.version,
    direct: direct.has(keyOf(p)),
    dev: false,
    dependsOn: (p.dependencies ?? []).flatMap((ref) => {
      const target = resolve(ref);
      return target && fromRegistry(target) ? [keyOf(target)] : [];
    }),
    hashes: p.checksum ? [{ alg: 'SHA-256', content: p.checksum }] : undefined,
  }));
  return { file, ecosystem: 'crates.io', packages, skipped };
}

/** `nokogiri (1.13.10-x86_64-linux)`: the platform is not part of the version. */
const GEM_PLATFORM = /-(x86|x64|i386|i686|arm|aarch64|universal|java|jruby|mingw|mswin|darwin|linux|ruby)[\w.-]*$/;

export function parseGemfileLock(file: string, text: string): PackageGraph {
  const entries: { name: string; version: string; dependencies: string[] }[] = [];
  const skipped: PackageGraph['skipped'] = [];
  const direct = new Set<string>();
  let section = '';
  let inSpecs = false;
  let current: { dependencies: string[] } | null = null;
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    if (!line.startsWith(' ')) {
      section = line.trim();
      inSpecs = false;
      current = null;
      return;
    }
    if (section === 'DEPENDENCIES') {
      const name = /^ {2}([^\s!(]+)/.exec(line)?.[1];
      if (name) direct.add(name);
      return;
    }
    if (line === '  specs:') {
      inSpecs = true;
      return;
    }
    if (!inSpecs) return;
    const spec = /^ {4}([^\s(]+) \(([^)]+)\)$/.exec(line);
    if (spec) {
      const name = spec[1] as string;
      const version = (spec[2] as string).replace(GEM_PLATFORM, '');
      if (section !== 'GEM') {
        skipped.push({ name, reason: `from a ${section} source, not rubygems.org` });
        current = null;
        return;
      }
      current = { dependencies: [] };
      entries.push({ name, version, dependencies: current.dependencies });
      return;
    }
    const dep = /^ {6}([^\s(]+)/.exec(line);
    if (dep) {
      if (current) (current as { dependencies: string[] }).dependencies.push(dep[1] as string);
      return;
    }
    throw new LockfileError(file, `unexpected line in ${section} specs: ${JSON.stringify(line)}`, i + 1);
  });
  if (entries.length === 0 && skipped.length === 0 && direct.size === 0)
    throw new LockfileError(file, 'has no GEM specs: not a Gemfile.lock');
  return { file, ecosystem: 'RubyGems', packages: flatPackages('RubyGems', entries, direct), skipped };
}

interface ComposerPackage {
  name: string;
  version: string;
  require?: Record<string, string>;
  license?: string[];
  dist?: { shasum?: string };
}

/** Platform requirements (`php`, `ext-json`, `composer-plugin-api`…) are not packages. */
function isPlatform(name: string): boolean {
  return !name.includes('/');
}

export function parseComposerLock(file: string, text: string, manifest?: string): PackageGraph {
  const lock = LockfileError.json(file, text) as { packages?: ComposerPackage[]; 'packages-dev'?: ComposerPackage[] };
  if (!Array.isArray(lock.packages)) throw new LockfileError(file, 'has no `packages` list: not a composer.lock');
  const entries = [...lock.packages.map((p) => ({ p, dev: false })), ...(lock['packages-dev'] ?? []).map((p) => ({ p, dev: true }))].map(
    ({ p, dev }) => ({ name: p.name, version: p.version, dev, dependencies: Object.keys(p.require ?? {}).filter((n) => !isPlatform(n)) }),
  );
  const extra = new Map([...lock.packages, ...(lock['packages-dev'] ?? [])].map((p) => [p.name, p]));
  let direct: Set<string> | null = null;
  if (manifest !== undefined) {
    const json = LockfileError.json('composer.json', manifest) as { require?: object; 'require-dev'?: object };
    direct = new Set([...Object.keys(json.require ?? {}), ...Object.keys(json['require-dev'] ?? {})].map((n) => n.toLowerCase()));
  }
  const packages = flatPackages('Packagist', entries, direct, (n) => n.toLowerCase()).map((p) => {
    const source = extra.get(p.name);
    return {
      ...p,
      licenses: source?.license && source.license.length > 0 ? source.license : undefined,
      hashes: source?.dist?.shasum ? [{ alg: 'SHA-1' as const, content: source.dist.shasum }] : undefined,
    };
  });
  return { file, ecosystem: 'Packagist', packages, skipped: [] };
}

export function parseGoMod(file: string, text: string): PackageGraph {
  const requires: { name: string; version: string; indirect: boolean }[] = [];
  const replaces = new Map<string, { name: string; version: string } | null>();
  let block: string | null = null;
  text.split(/\r?\n/).forEach((raw, i) => {
    const indirect = /\/\/\s*indirect\b/.test(raw);
    const line = raw.replace(/\/\/.*$/, '').trim();
    if (line === '') return;
    if (block !== null) {
      if (line === ')') {
        block = null;
        return;
      }
      directive(block, line, indirect, i + 1);
      return;
    }
    const open = /^(\w+)\s*\($/.exec(line);
    if (open) {
      block = open[1] as string;
      return;
    }
    const [verb = '', ...rest] = line.split(/\s+/);
    directive(verb, rest.join(' '), indirect, i + 1);
  });
  function directive(verb: string, args: string, indirect: boolean, line: number): void {
    if (verb === 'require') {
      const [name, version] = args.split(/\s+/);
      if (!name || !version) throw new LockfileError(file, `expected "module version" after require, found ${JSON.stringify(args)}`, line);
      requires.push({ name, version, indirect });
    } else if (verb === 'replace') {
      const [from = '', to = ''] = args.split('=>').map((s) => s.trim());
      const [toName = '', toVersion] = to.split(/\s+/);
      replaces.set(from.split(/\s+/)[0] as string, toVersion === undefined ? null : { name: toName, version: toVersion });
    }
  }
  const skipped: PackageGraph['skipped'] = [];
  const packages: LockedPackage[] = [];
  for (const r of requires) {
    const replacement = replaces.get(r.name);
    if (replacement === null) {
      skipped.push({ name: r.name, reason: 'replaced by a local directory' });
      continue;
    }
    const { name, version } = replacement ?? r;
    packages.push({ key: `${name}@${version}`, ecosystem: 'Go', name, version, direct: !r.indirect, dev: false, dependsOn: [] });
  }
  return { file, ecosystem: 'Go', packages, skipped };
}
