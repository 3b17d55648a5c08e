/**
 * Rewrites schema/gantry.schema.json from the zod schema. Run after changing
 * src/pipeline/config-schema.ts: `node scripts/write-schema.ts` (a test fails until you do).
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gantryJsonSchema } from '../src/pipeline/json-schema.ts';

const target = fileURLToPath(new URL('../schema/gantry.schema.json', import.meta.url));
writeFileSync(target, `${JSON.stringify(gantryJsonSchema(), null, 2)}\n`);
process.stdout.write(`wrote ${target}\n`);
