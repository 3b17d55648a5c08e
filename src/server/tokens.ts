/**
 * API tokens: random, shown once, stored only as a SHA-256 hash. Tokens named `hook:<projectId>`
 * are written into a repository's git hook and may only notify that project of ref updates.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { TokenRecord } from '../store/ports.ts';

export function newToken(): string {
  return `gnt_${randomBytes(32).toString('base64url')}`;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function hookTokenName(projectId: string): string {
  return `hook:${projectId}`;
}

/** What a token may do: everything (admin) or only the git-hook endpoint of one project. */
export type TokenScope = { kind: 'admin' } | { kind: 'hook'; projectId: string };

export function tokenScope(record: TokenRecord): TokenScope {
  return record.name.startsWith('hook:') ? { kind: 'hook', projectId: record.name.slice(5) } : { kind: 'admin' };
}
