/**
 * The `security` section of the gantry.yaml at a scan's root, so `gantry scan`, the pre-commit
 * hook and the server's security job scan alike. Only that section is read and validated: the
 * whole file's schemas cost a pre-commit hook tens of milliseconds, and a file without the
 * section (the usual case) costs nothing beyond reading it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SecurityConfig } from '../core/security-config.ts';

const SECTION = /^security\s*:/m;

/** The section as validated, undefined when there is none; an invalid one throws InvalidConfigError with its positions. */
export async function readScanSettings(root: string): Promise<SecurityConfig | undefined> {
  let file = '';
  let text: string | undefined;
  for (const name of ['gantry.yaml', 'gantry.yml']) {
    try {
      file = name;
      text = readFileSync(join(root, name), 'utf8');
      break;
    } catch {
      // Try the next name; a repository without a gantry.yaml scans with the defaults.
    }
  }
  if (text === undefined || !SECTION.test(text)) return undefined;
  const [{ parseDocument }, { securitySchema }] = await Promise.all([import('yaml'), import('../pipeline/config-security-schema.ts')]);
  const parsed = securitySchema.safeParse(parseDocument(text, { merge: true }).toJS()?.security ?? null);
  if (parsed.success) return parsed.data;
  // The whole file's validation names the line and column of each problem.
  const { parseConfig } = await import('../pipeline/load-config.ts');
  parseConfig(text, file);
  return undefined;
}
