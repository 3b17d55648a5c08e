/** The packages an OSV record names, as the advisory index keys them (base ecosystem, normalised name). */
import type { Ecosystem } from '../versions/index.ts';
import { baseEcosystem, normalizePackageName } from './affected.ts';
import type { OsvRecord } from './osv-record.ts';

export function recordPackages(record: OsvRecord): { ecosystem: string; name: string }[] {
  const seen = new Map<string, { ecosystem: string; name: string }>();
  for (const entry of record.affected ?? []) {
    if (!entry.package) continue;
    const ecosystem = baseEcosystem(entry.package.ecosystem);
    const name = normalizePackageName(ecosystem as Ecosystem, entry.package.name);
    seen.set(`${ecosystem}\0${name}`, { ecosystem, name });
  }
  return [...seen.values()];
}
