/**
 * The advisory database as a run's security job reads it. The job runs `gantry scan` in its
 * sandbox, away from the store, so the store's current records are written to one JSON Lines file
 * after each import (and at start when the file is older than the last import, e.g. after a crash
 * between the two); the executor binds that one file read-only into the job's sandbox.
 * Written beside and renamed into place: a job reading it never sees half a file.
 */
import { once } from 'node:events';
import { createWriteStream, statSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { AdvisoryStore } from '../../store/ports.ts';

export function advisoryExportFile(dataDir: string): string {
  return join(dataDir, 'advisories', 'osv.jsonl');
}

/** The file's modification time in ms, or null when there is none yet. */
export function exportedAtMs(file: string): number | null {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return null;
  }
}

/** Writes every current record, one per line; returns how many. */
export async function exportAdvisories(store: AdvisoryStore, file: string): Promise<number> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const partial = `${file}.${process.pid}.partial`;
  const out = createWriteStream(partial, { mode: 0o600 });
  let count = 0;
  try {
    for await (const text of store.current()) {
      count++;
      if (!out.write(`${text}\n`)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
    await rename(partial, file);
    return count;
  } catch (error) {
    out.destroy();
    await rm(partial, { force: true });
    throw error;
  }
}
