/**
 * Rewrites the permission table in docs/access.md from src/access/permissions.ts. Run after
 * changing the table: `npm run docs:access` (a test fails until you do).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderPermissionTable } from '../src/access/index.ts';

const target = fileURLToPath(new URL('../docs/access.md', import.meta.url));
const text = readFileSync(target, 'utf8');
const start = '<!-- permissions:start -->';
const end = '<!-- permissions:end -->';
const from = text.indexOf(start);
const to = text.indexOf(end);
if (from < 0 || to < from) throw new Error(`${target}: the markers ${start} … ${end} are missing`);
writeFileSync(target, `${text.slice(0, from + start.length)}\n${renderPermissionTable()}\n${text.slice(to)}`);
process.stdout.write(`wrote ${target}\n`);
