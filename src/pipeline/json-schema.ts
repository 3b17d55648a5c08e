/**
 * The JSON Schema of gantry.yaml for editors (the YAML language server reads it through
 * `# yaml-language-server: $schema=…`). Generated from the zod schema so the two cannot drift;
 * `schema/gantry.schema.json` is its committed copy, rewritten by `node scripts/write-schema.ts`.
 */
import { z } from 'zod';
import { gantryConfigSchema } from './config-schema.ts';

/** Where the published schema lives; editors use it as the schema's identity. */
export const GANTRY_SCHEMA_ID = 'https://gantry.dev/schema/gantry.schema.json';

/**
 * The schema of the file as written (`io: 'input'`: shorthands accepted, defaulted keys optional),
 * not of the normalised config.
 */
export function gantryJsonSchema(): Record<string, unknown> {
  const { $schema, ...body } = z.toJSONSchema(gantryConfigSchema, { io: 'input' });
  return {
    $schema: $schema ?? 'https://json-schema.org/draft/2020-12/schema',
    $id: GANTRY_SCHEMA_ID,
    title: 'gantry.yaml',
    ...body,
  };
}
