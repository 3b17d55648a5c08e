/**
 * The query port scans on the server use: the stored advisories that name a set of packages, as
 * the advisory index src/security matches against. A lockfile of 2,000 packages reads only the
 * few hundred records naming them, never the whole database.
 */
import {
  type AdvisoryIndex,
  baseEcosystem,
  type Ecosystem,
  indexAdvisories,
  normalizePackageName,
  type OsvRecord,
} from '../../security/index.ts';
import type { AdvisoryStore } from '../../store/ports.ts';

export interface PackageName {
  ecosystem: string;
  name: string;
}

/** The records naming any of the packages (withdrawn ones left out). */
export async function advisoriesFor(store: AdvisoryStore, packages: readonly PackageName[]): Promise<OsvRecord[]> {
  const keys = packages.map((p) => {
    const ecosystem = baseEcosystem(p.ecosystem);
    return { ecosystem, name: normalizePackageName(ecosystem as Ecosystem, p.name) };
  });
  // Stored by importAdvisories from records parseOsvRecord accepted.
  return (await store.byPackages(keys)).map((text) => JSON.parse(text) as OsvRecord);
}

/** An advisory index over just these packages' records, for scanDependencies. */
export async function advisoryIndexFor(store: AdvisoryStore, packages: readonly PackageName[]): Promise<AdvisoryIndex> {
  return indexAdvisories(await advisoriesFor(store, packages));
}
