/**
 * Dashboard sign-in. `gantry open` asks for a one-time login link (valid 10 minutes); opening
 * it trades the link for a session cookie. Both are random tokens stored only as hashes in the
 * token table, named by kind and expiry — so they survive a restart, a link works exactly once
 * (the request that deletes it wins), and a session can be revoked by deleting its row.
 *
 * The CSRF token is derived from the session token (a hash of it), so it needs no storage and
 * cannot be computed without the HttpOnly cookie.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Store } from '../../store/ports.ts';
import { hashToken } from './tokens.ts';

export const SESSION_COOKIE = 'gantry_session';
const LINK_PREFIX = 'login-link:';
const SESSION_PREFIX = 'session:';
const LINK_TTL_MS = 10 * 60_000;
const SESSION_TTL_MS = 7 * 24 * 3600_000;

export interface LoginLink {
  url: string;
  expiresAt: string;
}
export interface Session {
  actor: string;
  csrf: string;
  expiresAt: string;
  hash: string;
}

/** Token names that only sessions and login links use: never valid as an API bearer token. */
export function isSessionOrLinkToken(name: string): boolean {
  return name.startsWith(LINK_PREFIX) || name.startsWith(SESSION_PREFIX);
}

export class SessionService {
  readonly #store: Store;
  readonly #now: () => number;

  constructor(store: Store, now: () => number = Date.now) {
    this.#store = store;
    this.#now = now;
  }

  /** A one-time link that signs a browser in, for the server at `baseUrl`. */
  async createLoginLink(baseUrl: string): Promise<LoginLink> {
    await this.#pruneExpired();
    const token = `gnl_${randomBytes(32).toString('base64url')}`;
    const expiresAt = this.#now() + LINK_TTL_MS;
    await this.#store.tokens.create({ name: `${LINK_PREFIX}${expiresAt}`, hash: hashToken(token) });
    return { url: `${baseUrl.replace(/\/$/, '')}/auth/login?token=${token}`, expiresAt: new Date(expiresAt).toISOString() };
  }

  /** Consumes a login link; returns the new session's cookie value, or null for a used, expired or unknown link. */
  async redeem(linkToken: string): Promise<{ cookie: string; maxAgeSeconds: number } | null> {
    const hash = hashToken(linkToken);
    const record = await this.#store.tokens.findByHash(hash);
    if (!record?.name.startsWith(LINK_PREFIX)) return null;
    if (!(await this.#store.tokens.delete(hash))) return null;
    if (expiryOf(record.name, LINK_PREFIX) <= this.#now()) return null;
    const cookie = `gns_${randomBytes(32).toString('base64url')}`;
    await this.#store.tokens.create({ name: `${SESSION_PREFIX}${this.#now() + SESSION_TTL_MS}`, hash: hashToken(cookie) });
    return { cookie, maxAgeSeconds: SESSION_TTL_MS / 1000 };
  }

  /** The session a cookie value names, if it exists and has not expired. */
  async find(cookie: string): Promise<Session | null> {
    const hash = hashToken(cookie);
    const record = await this.#store.tokens.findByHash(hash);
    if (!record?.name.startsWith(SESSION_PREFIX)) return null;
    const expiresAt = expiryOf(record.name, SESSION_PREFIX);
    if (expiresAt <= this.#now()) return null;
    return { actor: `dashboard:${record.id.slice(-6)}`, csrf: csrfFor(cookie), expiresAt: new Date(expiresAt).toISOString(), hash };
  }

  async end(session: Session): Promise<void> {
    await this.#store.tokens.delete(session.hash);
  }

  async #pruneExpired(): Promise<void> {
    const now = this.#now();
    for (const record of await this.#store.tokens.list()) {
      const prefix = record.name.startsWith(LINK_PREFIX) ? LINK_PREFIX : record.name.startsWith(SESSION_PREFIX) ? SESSION_PREFIX : null;
      if (prefix && expiryOf(record.name, prefix) <= now) await this.#store.tokens.delete(record.hash);
    }
  }
}

function expiryOf(name: string, prefix: string): number {
  const value = Number(name.slice(prefix.length));
  return Number.isFinite(value) ? value : 0;
}

function csrfFor(cookie: string): string {
  return createHash('sha256').update(`csrf:${cookie}`).digest('base64url');
}

/** Constant-time comparison of the CSRF header with the session's token. */
export function csrfMatches(session: Session, header: string | undefined): boolean {
  if (!header) return false;
  const a = Buffer.from(session.csrf);
  const b = Buffer.from(header);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The value of one cookie in a Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return null;
}
