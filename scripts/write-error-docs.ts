/**
 * Rewrites docs/errors.md from the error catalogue. Run after changing src/core/error-codes.ts:
 * `npm run docs:errors` (a test fails until you do).
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderErrorDocs } from '../src/core/error-codes.ts';

const target = fileURLToPath(new URL('../docs/errors.md', import.meta.url));
writeFileSync(target, renderErrorDocs());
process.stdout.write(`wrote ${target}\n`);
