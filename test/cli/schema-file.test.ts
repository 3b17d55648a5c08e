import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeSchemaFile } from '../../src/cli/schema-file.ts';

const packaged = readFileSync(new URL('../../schema/gantry.schema.json', import.meta.url), 'utf8');
let repo: string;
beforeEach(() => {
  repo = mkdtempSync(join(tmpdir(), 'gantry-schema-file-'));
});
afterEach(() => rmSync(repo, { recursive: true, force: true }));

describe('writeSchemaFile', () => {
  it("writes the package's schema into .gantry/, replaces another version's, and leaves its own alone", async () => {
    const file = join(repo, '.gantry', 'gantry.schema.json');
    await writeSchemaFile(repo);
    expect(readFileSync(file, 'utf8')).toBe(packaged);

    writeFileSync(file, '{"title":"an older gantry"}');
    await writeSchemaFile(repo);
    expect(readFileSync(file, 'utf8')).toBe(packaged);

    // An editor watching the file is not told it changed when it did not.
    const written = statSync(file).mtimeMs;
    await writeSchemaFile(repo);
    expect(statSync(file).mtimeMs).toBe(written);
  });
});
