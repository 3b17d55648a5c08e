/**
 * Extracts the test cases of hadolint's rule specs (test/Hadolint/Rule/DLxxxxSpec.hs of
 * github.com/hadolint/hadolint, GPL-3.0: only the Dockerfiles and expected verdicts are kept, as
 * data) into test/security/reference/hadolint-cases.json: { rule, dockerfile, catches }.
 * Cases under a non-default configuration (`?config = …` inside a test) and ONBUILD variants are
 * left out. Usage: node scripts/extract-hadolint-cases.ts <commit> <spec files…>
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

/** Haskell string literals in `text`, in order: escapes, and string gaps (`\   \`) removed. */
function literals(text: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== '"') continue;
    let value = '';
    let j = i + 1;
    for (; j < text.length && text[j] !== '"'; j++) {
      if (text[j] !== '\\') {
        value += text[j];
        continue;
      }
      const next = text[j + 1] as string;
      if (/\s/.test(next)) {
        // A string gap: backslash, whitespace (newlines included), backslash.
        j = text.indexOf('\\', j + 1);
        continue;
      }
      const simple: Record<string, string> = { n: '\n', t: '\t', '\\': '\\', '"': '"', "'": "'", '&': '' };
      if (next in simple) {
        value += simple[next];
        j++;
        continue;
      }
      const code = /^\d+/.exec(text.slice(j + 1));
      if (code) {
        value += String.fromCharCode(Number(code[0]));
        j += code[0].length;
        continue;
      }
      throw new Error(`unknown escape \\${next}`);
    }
    out.push(value);
    i = j;
  }
  return out;
}

interface Case {
  rule: string;
  name: string;
  dockerfile: string;
  catches: boolean;
}

const [commit, ...files] = process.argv.slice(2);
const cases: Case[] = [];
for (const file of files) {
  const text = readFileSync(file, 'utf8');
  const blocks = text.split(/\n\s*it\s+(?=")/).slice(1);
  for (const block of blocks) {
    const name = literals(block.slice(0, block.indexOf('\n') + 1))[0] ?? '';
    if (/\?config\s*=/.test(block)) continue;
    const lists = new Map<string, string>();
    for (const m of block.matchAll(/let\s+(\w+)\s*=\s*(?:Text\.unlines\s*)?\[([\s\S]*?)\]\s*\n\s*in\b/g)) {
      lists.set(m[1] as string, `${literals(m[2] as string).join('\n')}\n`);
    }
    for (const m of block.matchAll(
      /\bruleCatches(Not)?\s+"(DL\d{4})"\s+(?:\$\s*Text\.unlines\s+(\w+)|(\w+)\b|("(?:[^"\\]|\\[\s\S])*"))/g,
    )) {
      const variable = m[3] ?? m[4];
      const dockerfile = variable !== undefined ? lists.get(variable) : literals(m[5] as string)[0];
      if (dockerfile === undefined) continue;
      cases.push({ rule: m[2] as string, name, dockerfile, catches: m[1] === undefined });
    }
  }
  console.error(`${basename(file)}: ${cases.length} cases so far`);
}
const target = join(import.meta.dirname, '..', 'test', 'security', 'reference', 'hadolint-cases.json');
writeFileSync(target, `${JSON.stringify({ source: `hadolint/hadolint@${commit} test/Hadolint/Rule`, cases }, null, 1)}\n`);
console.error(`wrote ${cases.length} cases to ${target}`);
