/** OSV records from a JSON Lines file (the server's export of its store): good lines read, a bad one named by its line. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAdvisories } from '../../src/scan/index.ts';
import { QS_ADVISORY } from '../support/security-samples.ts';

const dir = mkdtempSync(join(tmpdir(), 'gantry-jsonl-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('loadAdvisories from .jsonl', () => {
  it('reads one record per line, skips blank lines, and names a bad line by its number', async () => {
    const file = join(dir, 'osv.jsonl');
    const second = { ...QS_ADVISORY, id: 'GHSA-2', modified: '2026-12-01T00:00:00Z' };
    writeFileSync(file, `${JSON.stringify(QS_ADVISORY)}\n{"id": 3}\n\n${JSON.stringify(second)}\n`);
    const load = await loadAdvisories(file);
    expect(load.records.map((r) => r.id)).toEqual([QS_ADVISORY.id, 'GHSA-2']);
    expect(load.newestModified).toBe('2026-12-01T00:00:00Z');
    expect(load.rejected.map((r) => r.file)).toEqual([`${file}:2`]);
  });
});
