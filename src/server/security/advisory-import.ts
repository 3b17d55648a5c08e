/**
 * `gantry advisories import`: an OSV folder or zip into the store, incrementally. A record whose
 * id and `modified` are stored already is skipped (OSV bumps `modified` on every change); a
 * withdrawn record is stored with its mark, so it is shown as withdrawn and never matched. Writes
 * go in transactions of BATCH records, so a 20,000-record import is a few dozen commits.
 */
import { GantryError } from '../../core/errors.ts';
import { loadAdvisories } from '../../scan/index.ts';
import { recordPackages } from '../../security/index.ts';
import type { AdvisoryImport, Store, StoredAdvisory } from '../../store/ports.ts';

const BATCH = 2000;

export async function importAdvisories(store: Store, path: string, nowIso: string): Promise<AdvisoryImport> {
  const load = await loadAdvisories(path);
  if (load.records.length === 0 && load.rejected.length > 0) {
    const first = load.rejected[0] as { file: string; reason: string };
    throw new GantryError(
      'INVALID_ADVISORY',
      `${path}: no OSV record could be read (${load.rejected.length} rejected; first: ${first.reason})`,
    );
  }
  const stored = await store.advisories.modifiedById();
  const summary: AdvisoryImport = {
    source: path,
    importedAt: nowIso,
    newestModified: null,
    added: 0,
    updated: 0,
    unchanged: 0,
    withdrawn: 0,
    rejected: load.rejected.length,
  };
  let batch: StoredAdvisory[] = [];
  for (const record of load.records) {
    const before = stored.get(record.id);
    if (before === record.modified) {
      summary.unchanged += 1;
      continue;
    }
    if (before === undefined) summary.added += 1;
    else summary.updated += 1;
    if (record.withdrawn !== undefined) summary.withdrawn += 1;
    // The same id twice in one source (two files): the later one wins, as it would in two imports.
    stored.set(record.id, record.modified);
    batch.push({
      id: record.id,
      modified: record.modified,
      withdrawn: record.withdrawn ?? null,
      record: JSON.stringify(record),
      packages: recordPackages(record),
    });
    if (batch.length >= BATCH) {
      await store.advisories.upsert(batch);
      batch = [];
    }
  }
  await store.advisories.upsert(batch);
  let newest: string | null = null;
  for (const modified of stored.values()) if (newest === null || modified > newest) newest = modified;
  summary.newestModified = newest;
  await store.advisories.recordImport(summary);
  return summary;
}
