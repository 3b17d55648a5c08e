/**
 * API tokens: random, shown once, stored only as a SHA-256 hash. (Git hooks carry a per-project
 * HMAC-derived token instead, checked by the project service; it is never a row here.)
 */
import { createHash, randomBytes } from 'node:crypto';

export function newToken(): string {
  return `gnt_${randomBytes(32).toString('base64url')}`;
}

/** Agent tokens say what they are, so a request is checked against the agents alone (one lookup, not two). */
export const AGENT_TOKEN_PREFIX = 'gna_';

export function newAgentToken(): string {
  return `${AGENT_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
