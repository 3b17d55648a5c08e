/**
 * Python's lockfiles: pip requirements files (pinned with `==`; pip-compile's `# via` comments
 * give the graph), Pipfile.lock (flat; Pipfile says what is asked for) and poetry.lock
 * (pyproject.toml says what is asked for). Names compare as PEP 503 normalises them.
 */
import { parse as parseToml } from 'smol-toml';
import { normalizePackageName } from '../osv/affected.ts';
import { LockfileError } from './lockfile-error.ts';
import { type PackageGraph, flatPackages } from './package-graph.ts';

const normalize = (name: string): string => normalizePackageName('PyPI', name);

const REQUIREMENT = /^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(.*)$/;

export function parseRequirements(file: string, text: string): PackageGraph {
  const entries: { name: string; version: string; via: string[] }[] = [];
  const skipped: PackageGraph['skipped'] = [];
  let last: { via: string[] } | null = null;
  let inViaList = false;
  const logical = text.replace(/\\\r?\n/g, ' ').split(/\r?\n/);
  logical.forEach((raw, i) => {
    const comment = /(^|\s)#(.*)$/.exec(raw);
    const line = (comment ? raw.slice(0, comment.index) : raw).trim();
    if (line === '') {
      // pip-compile: `    # via flask` or `    # via` followed by `    #   flask` lines.
      const note = comment?.[2]?.trim() ?? '';
      if (last !== null && note.startsWith('via')) {
        const rest = note.slice(3).trim();
        inViaList = rest === '';
        if (rest !== '') last.via.push(rest);
      } else if (last !== null && inViaList && note !== '') last.via.push(note);
      else inViaList = false;
      return;
    }
    inViaList = false;
    if (line.startsWith('-')) {
      skipped.push({ name: line.split(/\s+/).slice(0, 2).join(' '), reason: 'an option or include: scan that file or package on its own' });
      last = null;
      return;
    }
    const match = REQUIREMENT.exec(line.split(';')[0]?.trim() ?? '');
    if (!match) throw new LockfileError(file, `not a requirement: ${JSON.stringify(line)}`, i + 1);
    const name = match[1] as string;
    const pin = /^(===?)\s*([^\s,]+)$/.exec((match[2] as string).replace(/\s*--hash=\S+/g, '').trim());
    if (!pin || (pin[2] as string).includes('*')) {
      skipped.push({
        name,
        reason: `not pinned to one version (${(match[2] as string).trim() || 'any version'}): pin it, or scan the lock pip-compile writes`,
      });
      last = null;
      return;
    }
    const entry = { name, version: pin[2] as string, via: [] as string[] };
    // Older pip-compile writes `flask==1.1.2  # via -r requirements.in, other` on the same line.
    const inline = comment?.[2]?.trim() ?? '';
    if (inline.startsWith('via '))
      entry.via.push(
        ...inline
          .slice(4)
          .split(',')
          .map((v) => v.trim()),
      );
    entries.push(entry);
    last = entry;
  });
  const annotated = entries.some((e) => e.via.length > 0);
  const known = new Set(entries.map((e) => normalize(e.name)));
  // With pip-compile's comments, a package is asked for when something other than a package of
  // the file (`-r requirements.in`, `-c constraints.txt`) pulls it in; without them, all are.
  const direct = new Set(entries.filter((e) => !annotated || e.via.some((v) => !known.has(normalize(v)))).map((e) => normalize(e.name)));
  const dependents = new Map<string, string[]>();
  for (const e of entries) {
    for (const via of e.via)
      if (known.has(normalize(via))) dependents.set(normalize(via), [...(dependents.get(normalize(via)) ?? []), e.name]);
  }
  return {
    file,
    ecosystem: 'PyPI',
    packages: flatPackages(
      'PyPI',
      entries.map((e) => ({ name: e.name, version: e.version, dependencies: dependents.get(normalize(e.name)) ?? [] })),
      direct,
      normalize,
    ),
    skipped,
  };
}

function toml(file: string, text: string): Record<string, unknown> {
  try {
    return parseToml(text) as Record<string, unknown>;
  } catch (error) {
    const line = (error as { line?: number }).line;
    throw new LockfileError(file, `not valid TOML (${(error as Error).message.split('\n')[0]})`, line);
  }
}

export function parsePipfileLock(file: string, text: string, manifest?: string): PackageGraph {
  const lock = LockfileError.json(file, text) as Record<string, Record<string, { version?: string }> | undefined>;
  if (!lock.default && !lock.develop) throw new LockfileError(file, 'has neither `default` nor `develop`: not a Pipfile.lock');
  const skipped: PackageGraph['skipped'] = [];
  const entries: { name: string; version: string; dev: boolean }[] = [];
  for (const [section, dev] of [
    ['default', false],
    ['develop', true],
  ] as const) {
    for (const [name, spec] of Object.entries(lock[section] ?? {})) {
      const pin = /^===?(.+)$/.exec(spec.version ?? '');
      if (pin) entries.push({ name, version: (pin[1] as string).trim(), dev });
      else skipped.push({ name, reason: 'no pinned version (a path, VCS or editable dependency)' });
    }
  }
  let direct: Set<string> | null = null;
  if (manifest !== undefined) {
    const pipfile = toml('Pipfile', manifest);
    direct = new Set(['packages', 'dev-packages'].flatMap((s) => Object.keys((pipfile[s] as object | undefined) ?? {}).map(normalize)));
  }
  return { file, ecosystem: 'PyPI', packages: flatPackages('PyPI', entries, direct, normalize), skipped };
}

interface PoetryPackage {
  name: string;
  version: string;
  category?: string;
  groups?: string[];
  dependencies?: Record<string, unknown>;
}

/** The dependency names pyproject.toml asks for: PEP 621 `[project]` and Poetry's own tables. */
function pyprojectNames(text: string): Set<string> {
  const doc = toml('pyproject.toml', text) as {
    project?: { dependencies?: string[]; 'optional-dependencies'?: Record<string, string[]> };
    tool?: { poetry?: { dependencies?: object; 'dev-dependencies'?: object; group?: Record<string, { dependencies?: object }> } };
  };
  const pep508 = [...(doc.project?.dependencies ?? []), ...Object.values(doc.project?.['optional-dependencies'] ?? {}).flat()].map(
    (spec) => REQUIREMENT.exec(spec.trim())?.[1] ?? spec,
  );
  const poetry = doc.tool?.poetry;
  const tables = [poetry?.dependencies, poetry?.['dev-dependencies'], ...Object.values(poetry?.group ?? {}).map((g) => g.dependencies)];
  const names = [...pep508, ...tables.flatMap((t) => Object.keys(t ?? {}))].filter((n) => n.toLowerCase() !== 'python');
  return new Set(names.map(normalize));
}

export function parsePoetryLock(file: string, text: string, manifest?: string): PackageGraph {
  const doc = toml(file, text) as { package?: PoetryPackage[] };
  if (!Array.isArray(doc.package)) throw new LockfileError(file, 'has no [[package]] tables: not a poetry.lock');
  const entries = doc.package.map((p) => {
    if (typeof p.name !== 'string' || typeof p.version !== 'string') throw new LockfileError(file, 'a [[package]] lacks name or version');
    const dev = p.category === 'dev' || (p.groups !== undefined && !p.groups.includes('main'));
    return { name: p.name, version: p.version, dev, dependencies: Object.keys(p.dependencies ?? {}) };
  });
  const direct = manifest === undefined ? null : pyprojectNames(manifest);
  return { file, ecosystem: 'PyPI', packages: flatPackages('PyPI', entries, direct, normalize), skipped: [] };
}
