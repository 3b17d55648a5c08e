/**
 * The imports table of ARCHITECTURE.md, enforced: each top-level folder of src/ may import only
 * the folders listed for it, and src/core imports no node:* module (it stays I/O-free).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../src');

export const ALLOWED: Record<string, string[]> = {
  core: [],
  platform: [],
  pipeline: ['core'],
  store: ['core'],
  executor: ['core', 'pipeline', 'platform'],
  delivery: ['core', 'pipeline'],
  proxy: ['core', 'platform'],
  runtime: ['core', 'executor', 'platform'],
  engine: ['core', 'pipeline', 'executor', 'store'],
  server: ['core', 'pipeline', 'executor', 'engine', 'store', 'delivery', 'proxy', 'runtime', 'platform'],
  cli: ['core', 'pipeline', 'executor', 'engine', 'store', 'server', 'delivery', 'proxy', 'runtime', 'platform'],
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

describe('architecture', () => {
  const all = files(SRC);

  it('every top-level folder of src/ is in the imports table', () => {
    const folders = new Set(all.map((f) => relative(SRC, f).split('/')[0]));
    expect([...folders].filter((f) => f && !f.endsWith('.ts') && !(f in ALLOWED))).toEqual([]);
  });

  it('folders import only what the table allows', () => {
    const violations: string[] = [];
    for (const file of all) {
      const from = relative(SRC, file).split('/')[0] as string;
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(/^\s*(?:import|export)[^'"]*from\s+'([^']+)'/gm)) {
        const target = match[1] as string;
        if (from === 'core' && target.startsWith('node:')) violations.push(`${relative(SRC, file)} imports ${target} (core stays I/O-free)`);
        if (!target.startsWith('.')) continue;
        const to = relative(SRC, resolve(dirname(file), target)).split('/')[0] as string;
        if (to !== from && !(ALLOWED[from] ?? []).includes(to)) violations.push(`${relative(SRC, file)} imports ${target}`);
      }
    }
    expect(violations).toEqual([]);
  });
});
