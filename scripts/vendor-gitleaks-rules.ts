/**
 * Writes gitleaks' default rules (config/gitleaks.toml of github.com/gitleaks/gitleaks, MIT) into
 * src/security/secrets/gitleaks-default-rules.ts, Gantry's built-in secret rules.
 * Usage: node scripts/vendor-gitleaks-rules.ts <path to gitleaks.toml> <gitleaks commit>
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [source, commit] = process.argv.slice(2);
if (!source || !commit) {
  console.error('usage: node scripts/vendor-gitleaks-rules.ts <gitleaks.toml> <commit>');
  process.exit(2);
}
const toml = readFileSync(source, 'utf8');
const target = join(import.meta.dirname, '..', 'src', 'security', 'secrets', 'gitleaks-default-rules.ts');
writeFileSync(
  target,
  `/**
 * gitleaks' default rules, unchanged: config/gitleaks.toml of https://github.com/gitleaks/gitleaks
 * at ${commit}. MIT License, Copyright (c) 2019 Zachary Rice.
 * Written by scripts/vendor-gitleaks-rules.ts; do not edit by hand.
 */
export const GITLEAKS_SOURCE_COMMIT = '${commit}';
export const GITLEAKS_DEFAULT_TOML = ${JSON.stringify(toml)};
`,
);
console.log(`wrote ${target}`);
