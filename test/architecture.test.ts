/**
 * The map in ARCHITECTURE.md, enforced. Its two tables are read from the file itself, so the
 * page and the code cannot drift apart:
 * - "The parts": each top-level folder of src/ imports only the folders listed for it, and
 *   src/core imports no node:* module (it stays I/O-free);
 * - "Inside the server": each context of src/server/ imports only the contexts listed for it,
 *   and only through their index.ts; code outside src/server reaches it through src/server/index.ts.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const SRC = join(ROOT, 'src');

/** Rows `| \`src/<path>/\` | role | a, b or — |` of ARCHITECTURE.md: path → what it may import. */
function readTable(prefix: string): Map<string, string[]> {
  const table = new Map<string, string[]>();
  const row = new RegExp(`^\\|\\s*\`${prefix.replace('/', '\\/')}([a-z-]+)\\/\`\\s*\\|.*\\|\\s*([^|]*?)\\s*\\|\\s*$`);
  for (const line of readFileSync(join(ROOT, 'ARCHITECTURE.md'), 'utf8').split('\n')) {
    const match = row.exec(line);
    if (!match) continue;
    const list = (match[2] ?? '')
      .split(',')
      .map((s) => s.replace(/\(.*\)/, '').trim())
      .filter((s) => s && s !== '—');
    table.set(match[1] as string, list);
  }
  return table;
}

export const PARTS = readTable('src/');
export const CONTEXTS = readTable('src/server/');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)[^'"]*from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/gm)].map((m) => (m[1] ?? m[2]) as string);
}

/** `server/runs/x.ts` → { part: 'server', context: 'runs', rest: 'x.ts' }. */
function locate(path: string): { part: string; context: string | null; rest: string } {
  const [part = '', second = '', ...rest] = relative(SRC, path).split('/');
  if (part === 'server' && rest.length > 0) return { part, context: second, rest: rest.join('/') };
  return { part, context: null, rest: [second, ...rest].join('/') };
}

function hasCycle(table: Map<string, string[]>): string | null {
  const state = new Map<string, 'open' | 'done'>();
  const visit = (node: string, path: string[]): string | null => {
    if (state.get(node) === 'done') return null;
    if (state.get(node) === 'open') return [...path, node].join(' → ');
    state.set(node, 'open');
    for (const next of table.get(node) ?? []) {
      const cycle = visit(next, [...path, node]);
      if (cycle) return cycle;
    }
    state.set(node, 'done');
    return null;
  };
  for (const node of table.keys()) {
    const cycle = visit(node, []);
    if (cycle) return cycle;
  }
  return null;
}

describe('architecture', () => {
  const all = files(SRC);

  it('ARCHITECTURE.md has both tables, without cycles', () => {
    expect(PARTS.size).toBeGreaterThan(5);
    expect(CONTEXTS.size).toBeGreaterThan(3);
    expect(hasCycle(PARTS)).toBeNull();
    expect(hasCycle(CONTEXTS)).toBeNull();
  });

  it('every folder of src/ and every context of src/server/ is in the tables, each context with an index.ts', () => {
    const parts = new Set(
      all
        .map((f) => relative(SRC, f).split('/'))
        .filter((p) => p.length > 1)
        .map((p) => p[0] as string),
    );
    expect([...parts].filter((p) => !PARTS.has(p))).toEqual([]);
    const contexts = new Set(all.map((f) => locate(f).context).filter((c): c is string => c !== null));
    expect([...contexts].filter((c) => !CONTEXTS.has(c))).toEqual([]);
    expect([...contexts].filter((c) => !all.includes(join(SRC, 'server', c, 'index.ts')))).toEqual([]);
  });

  it('folders import only what the table allows; core uses no node:* module', () => {
    const violations: string[] = [];
    for (const file of all) {
      const from = locate(file);
      for (const target of importsOf(file)) {
        if (from.part === 'core' && target.startsWith('node:'))
          violations.push(`${relative(SRC, file)} imports ${target} (core stays I/O-free)`);
        if (!target.startsWith('.')) continue;
        const to = locate(resolve(dirname(file), target));
        if (to.part !== from.part && !(PARTS.get(from.part) ?? []).includes(to.part))
          violations.push(`${relative(SRC, file)} imports ${target}`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('server contexts import each other only through index.ts and as the table allows; the rest of src/ only through server/index.ts', () => {
    const violations: string[] = [];
    for (const file of all) {
      const from = locate(file);
      for (const target of importsOf(file)) {
        if (!target.startsWith('.')) continue;
        const to = locate(resolve(dirname(file), target));
        if (to.part !== 'server') continue;
        const where = `${relative(SRC, file)} imports ${target}`;
        if (from.part !== 'server') {
          if (to.context !== null || to.rest !== 'index.ts') violations.push(`${where} (use src/server/index.ts)`);
          continue;
        }
        if (to.context === null || to.context === from.context) continue;
        if (to.rest !== 'index.ts') violations.push(`${where} (go through ${to.context}/index.ts)`);
        if (from.context !== null && !(CONTEXTS.get(from.context) ?? []).includes(to.context))
          violations.push(`${where} (${from.context} may not use ${to.context})`);
      }
    }
    expect(violations).toEqual([]);
  });
});
