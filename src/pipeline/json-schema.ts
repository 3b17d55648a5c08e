/**
 * The JSON Schema of gantry.yaml for editors (the YAML language server reads it through
 * `# yaml-language-server: $schema=…`). Generated from the zod schema so the two cannot drift;
 * `schema/gantry.schema.json` is its committed copy, rewritten by `node scripts/write-schema.ts`.
 */
import { z } from 'zod';
import { LATENCY_KEY, analysisMap, latencyCheckSchema } from './config-delivery-schema.ts';
import { gantryConfigSchema } from './config-schema.ts';

/** Where the published schema lives; editors use it as the schema's identity. */
export const GANTRY_SCHEMA_ID = 'https://gantry.dev/schema/gantry.schema.json';

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
    $id: GANTRY_SCHEMA_ID,
    title: 'gantry.yaml',
    ...body,
  };
}
