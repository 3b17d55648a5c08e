/**
 * OSV records from what OSV publishes: a folder of `.json` files (any depth; the osv.dev export
 * and the GitHub advisory database both look like this) or a `.zip` (osv.dev's per-ecosystem
 * `all.zip`); or a `.jsonl` of one record per line (what the server exports from its store). A file that is not an OSV record is reported, not fatal: one bad record must not
 * keep the other hundred thousand out.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { GantryError } from '../core/errors.ts';
import type { OsvRecord } from '../security/index.ts';
import { zipEntries } from './zip-entries.ts';

export interface AdvisoryLoad {
  records: OsvRecord[];
  /** Files that could not be read as OSV records, with why. */
  rejected: { file: string; reason: string }[];
  /** The newest `modified` among the records: how fresh the data is. */
  newestModified: string | null;
}

type ParseRecord = (json: unknown, file: string) => OsvRecord;

function parse(parseOsvRecord: ParseRecord, text: string, file: string, load: AdvisoryLoad): void {
  try {
    const record = parseOsvRecord(JSON.parse(text), file);
    load.records.push(record);
    if (load.newestModified === null || record.modified > load.newestModified) load.newestModified = record.modified;
  } catch (error) {
    load.rejected.push({ file, reason: error instanceof Error ? error.message : String(error) });
  }
}

function walk(dir: string, out: string[]): void {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (name.endsWith('.json')) out.push(path);
  }
}

/** Async only to load the OSV schema when advisories are asked for: `gantry scan` without them never needs it. */
export async function loadAdvisories(path: string): Promise<AdvisoryLoad> {
  const { parseOsvRecord } = await import('../security/index.ts');
  const load: AdvisoryLoad = { records: [], rejected: [], newestModified: null };
  let stat: ReturnType<typeof statSync>;
  try {
    stat = statSync(path);
  } catch {
    throw new GantryError('NOT_FOUND', `advisories: ${path} does not exist; give a folder of OSV JSON files or an OSV zip archive`);
  }
  if (stat.isDirectory()) {
    const files: string[] = [];
    walk(path, files);
    for (const file of files) parse(parseOsvRecord, readFileSync(file, 'utf8'), relative(path, file), load);
  } else if (path.endsWith('.jsonl')) {
    // One record per line: the export of the server's own database its runs' security jobs read.
    const lines = readFileSync(path, 'utf8').split('\n');
    lines.forEach((line, i) => {
      if (line.trim() !== '') parse(parseOsvRecord, line, `${path}:${i + 1}`, load);
    });
  } else if (path.endsWith('.zip')) {
    for (const entry of zipEntries(readFileSync(path), path))
      if (entry.name.endsWith('.json')) parse(parseOsvRecord, entry.read().toString('utf8'), entry.name, load);
  } else {
    parse(parseOsvRecord, readFileSync(path, 'utf8'), path, load);
  }
  return load;
}
