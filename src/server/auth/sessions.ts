/**
 * Dashboard sign-in. `gantry open` asks for a one-time login link (valid 10 minutes); opening
 * it trades the link for a session cookie. Both are random tokens stored only as hashes in the
 * token table, named by kind and expiry — so they survive a restart, a link works exactly once
 * (the request that deletes it wins), and a session can be revoked by deleting its row.
 *
 * Sign-in through an identity provider (oidc-routes.ts) makes a session owned by the user, and
 * keeps each pending sign-in's state here as a one-time row of the same kind.
 *
 * The CSRF token is derived from the session token (a hash of it), so it needs no storage and
 * cannot be computed without the HttpOnly cookie.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { NewEvent, NewToken, Store } from '../../store/ports.ts';
import { hashToken } from './tokens.ts';

export const SESSION_COOKIE = 'gantry_session';
const LINK_PREFIX = 'login-link:';
const SESSION_PREFIX = 'session:';
const SIGN_IN_STATE_PREFIX = 'oidc-state:';
const LINK_TTL_MS = 10 * 60_000;
/** How long a browser may take at the identity provider. */
export const SIGN_IN_TTL_MS = 10 * 60_000;
const SESSION_TTL_MS = 7 * 24 * 3600_000;

export interface LoginLink {
  url: string;
  expiresAt: string;
}
export interface Session {
  /** The token row's id: what revocation and the open-request tracking name. */
  id: string;
  actor: string;
  /** The user it signs in (OIDC); null for a `gantry open` session, which acts as the admin. */
  owner: string | null;
  csrf: string;
  expiresAt: string;
  hash: string;
}

/** A session as an admin sees it: never its cookie. */
export interface SessionInfo {
  id: string;
  owner: string | null;
  createdAt: string;
  expiresAt: string;
}

/** Token names that only sessions and login links use: never valid as an API bearer token. */
export function isSessionOrLinkToken(name: string): boolean {
  return name.startsWith(LINK_PREFIX) || name.startsWith(SESSION_PREFIX) || name.startsWith(SIGN_IN_STATE_PREFIX);
}

export class SessionService {
  readonly #store: Store;
  readonly #now: () => number;
  #pruning: Promise<void> | null = null;

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
    return this.#newSession(null);
  }

  async #newSession(owner: string | null): Promise<{ cookie: string; maxAgeSeconds: number; id: string }> {
    const { cookie, token } = this.#sessionToken(owner);
    const record = await this.#store.tokens.create(token);
    return { cookie, maxAgeSeconds: SESSION_TTL_MS / 1000, id: record.id };
  }

  #sessionToken(owner: string | null): { cookie: string; token: NewToken } {
    const cookie = `gns_${randomBytes(32).toString('base64url')}`;
    const token = {
      name: `${SESSION_PREFIX}${this.#now() + SESSION_TTL_MS}`,
      hash: hashToken(cookie),
      ...(owner === null ? {} : { owner }),
    };
    return { cookie, token };
  }

  /** Remembers a sign-in's state until the provider sends the browser back (at most 10 minutes). */
  async rememberSignIn(state: string): Promise<void> {
    this.#pruneAside();
    await this.#store.tokens.create({ name: `${SIGN_IN_STATE_PREFIX}${this.#now() + SIGN_IN_TTL_MS}`, hash: hashToken(state) });
  }

  /**
   * Whether `state` is a sign-in this server started, not yet finished and within its ten
   * minutes: a read, so that a replay is refused before Gantry asks the provider anything. It
   * does not take the state; `finishSignIn` does.
   */
  async signInPending(state: string): Promise<boolean> {
    const record = await this.#store.tokens.findByHash(hashToken(state));
    if (!record?.name.startsWith(SIGN_IN_STATE_PREFIX)) return false;
    return expiryOf(record.name, SIGN_IN_STATE_PREFIX) > this.#now();
  }

  /**
   * Takes the sign-in's state and starts `user`'s session with `events` (given the session's id)
   * in one commit. Null, with nothing written, when the state was taken meanwhile: a replay of
   * the same answer that passed `signInPending` at the same moment loses here.
   */
  async finishSignIn(
    state: string,
    user: string,
    events: (sessionId: string) => readonly NewEvent[],
  ): Promise<{ cookie: string; maxAgeSeconds: number; id: string } | null> {
    this.#pruneAside();
    const { cookie, token } = this.#sessionToken(user);
    const record = await this.#store.tokens.trade(hashToken(state), token, (created) => events(created.id));
    return record === null ? null : { cookie, maxAgeSeconds: SESSION_TTL_MS / 1000, id: record.id };
  }

  /** Every live session, oldest first. */
  async list(): Promise<SessionInfo[]> {
    const now = this.#now();
    return (await this.#store.tokens.list()).flatMap((t) => {
      if (!t.name.startsWith(SESSION_PREFIX) || t.revokedAt !== null) return [];
      const expiresAt = expiryOf(t.name, SESSION_PREFIX);
      return expiresAt > now ? [{ id: t.id, owner: t.owner, createdAt: t.createdAt, expiresAt: new Date(expiresAt).toISOString() }] : [];
    });
  }

  /** Ends a session by its id; false when there is none. */
  async revoke(id: string): Promise<boolean> {
    const record = await this.#store.tokens.findById(id);
    if (!record?.name.startsWith(SESSION_PREFIX)) return false;
    return this.#store.tokens.delete(record.hash);
  }

  /** The session a cookie value names, if it exists and has not expired. */
  async find(cookie: string): Promise<Session | null> {
    const hash = hashToken(cookie);
    const record = await this.#store.tokens.findByHash(hash);
    if (!record?.name.startsWith(SESSION_PREFIX)) return null;
    const expiresAt = expiryOf(record.name, SESSION_PREFIX);
    if (expiresAt <= this.#now() || record.revokedAt !== null) return null;
    return {
      id: record.id,
      actor: record.owner === null ? `dashboard:${record.id.slice(-6)}` : `user:${record.owner}`,
      owner: record.owner,
      csrf: csrfFor(cookie),
      expiresAt: new Date(expiresAt).toISOString(),
      hash,
    };
  }

  async end(session: Session): Promise<void> {
    await this.#store.tokens.delete(session.hash);
  }

  /**
   * Prunes without making a person wait: the sign-in's redirects do not depend on it (an expired
   * row is refused by its expiry anyway). One at a time; a failure is retried by the next one.
   */
  #pruneAside(): void {
    if (this.#pruning) return;
    this.#pruning = this.#pruneExpired()
      .catch(() => undefined)
      .finally(() => {
        this.#pruning = null;
      });
  }

  /** Waits for a pruning under way (tests, shutdown). */
  async settled(): Promise<void> {
    await this.#pruning;
  }

  async #pruneExpired(): Promise<void> {
    const now = this.#now();
    for (const record of await this.#store.tokens.list()) {
      const prefix = [LINK_PREFIX, SESSION_PREFIX, SIGN_IN_STATE_PREFIX].find((p) => record.name.startsWith(p));
      if (prefix !== undefined && expiryOf(record.name, prefix) <= now) await this.#store.tokens.delete(record.hash);
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
