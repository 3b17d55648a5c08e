/**
 * The JSON Schema of gantry.yaml where an editor can load it: `.gantry/gantry.schema.json` in the
 * repository, a copy of the package's own `schema/gantry.schema.json` (generated from the zod
 * schema; a test keeps it fresh). The starter gantry.yaml's modeline points there by a path
 * relative to the file, which the YAML language server resolves without a network or a domain.
 *
 * `.gantry/` is ignored by git, so `gantry init` writes the file and `gantry run` writes it again
 * when it is missing (a fresh clone) or differs (another Gantry version): the editor always sees
 * the schema of the Gantry that runs the file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { SCHEMA_FILE } from '../pipeline/json-schema.ts';

/** The package's copy: `schema/` beside `src/` in a checkout and beside `dist/` when published. */
const PACKAGED_SCHEMA = new URL('../../schema/gantry.schema.json', import.meta.url);

/** Writes `<repoDir>/.gantry/gantry.schema.json` unless it already holds this Gantry's schema. */
export async function writeSchemaFile(repoDir: string): Promise<void> {
  const target = join(repoDir, SCHEMA_FILE);
  const schema = readFileSync(PACKAGED_SCHEMA, 'utf8');
  // Compared rather than rewritten: a run must not touch a file an editor watches for nothing.
  if (existsSync(target) && readFileSync(target, 'utf8') === schema) return;
  await mkdir(dirname(target), { recursive: true });
  await writeFile(target, schema);
}
