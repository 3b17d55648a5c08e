/**
 * The JSON Schema of gantry.yaml for editors (the YAML language server reads it through
 * `# yaml-language-server: $schema=…`). Generated from the zod schema so the two cannot drift;
 * `schema/gantry.schema.json` is its committed copy, rewritten by `node scripts/write-schema.ts`,
 * and the CLI copies it into each repository (cli/schema-file.ts).
 *
 * No `$id`: the project has no domain to publish the schema under, and an identifier that looks
 * like a URL but cannot be loaded sends editors and people looking for it astray. Editors know
 * the schema by the path they loaded it from.
 */
import { z } from 'zod';
import { LATENCY_KEY, analysisMap, latencyCheckSchema } from './config-delivery-schema.ts';
import { gantryConfigSchema } from './config-schema.ts';

/** Where the CLI writes the schema in a repository, relative to its root (where gantry.yaml is). */
export const SCHEMA_FILE = '.gantry/gantry.schema.json';

/**
 * The schema of the file as written (`io: 'input'`: shorthands accepted, defaulted keys optional),
 * not of the normalised config. Checks done in code (weights that increase, one strategy,
 * distinct ports, a service for the environments) are described here, not enforced.
 */
export function gantryJsonSchema(): Record<string, unknown> {
  const latencyCheck: Record<string, unknown> = { ...z.toJSONSchema(latencyCheckSchema, { io: 'input' }) };
  delete latencyCheck.$schema;
  const { $schema, ...body } = z.toJSONSchema(gantryConfigSchema, {
    io: 'input',
    override: ({ zodSchema, jsonSchema }) => {
      // The analysis accepts any `latency-p<NN>` key, which zod checks in code; editors need it as a pattern.
      if (zodSchema !== analysisMap) return;
      jsonSchema.patternProperties = { [LATENCY_KEY.source]: latencyCheck };
      jsonSchema.additionalProperties = false;
    },
  });
  return {
    $schema: $schema ?? 'https://json-schema.org/draft/2020-12/schema',
    title: 'gantry.yaml',
    ...body,
  };
}
