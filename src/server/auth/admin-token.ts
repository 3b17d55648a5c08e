import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ADMIN_TOKEN_FILE } from '../../core/data-files.ts';
import type { Store } from '../../store/ports.ts';
import { hashToken, newToken } from './tokens.ts';

/** The first start creates an admin token, saved (mode 0600) where the CLI on this machine finds it. Returns true when it did. */
export async function ensureAdminToken(store: Store, dataDir: string): Promise<boolean> {
  const file = join(dataDir, ADMIN_TOKEN_FILE);
  if (existsSync(file)) return false;
  const token = newToken();
  await store.tokens.create({ name: 'admin', hash: hashToken(token) });
  await writeFile(file, `${token}\n`, { mode: 0o600 });
  return true;
}
