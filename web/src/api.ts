/**
 * Calls to the Gantry API from the browser. The session cookie authenticates (HttpOnly, so
 * scripts never see it); state-changing calls also carry the session's CSRF token, which the
 * server hands out at /api/session and checks on every POST, PUT and DELETE.
 */
let csrfToken: string | null = null;

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export interface Session {
  actor: string;
  csrf: string;
  expiresAt: string;
  /** What the caller may do, in words: `admin`, `developer on shop`, `maintainer on shop/production`. */
  roles: string[];
  /** Whether the caller is a server-wide admin (people and audit pages). */
  admin: boolean;
}

export interface SignInMethods {
  link: boolean;
  oidc: { start: string } | null;
}

export async function loadSignInMethods(): Promise<SignInMethods> {
  return getJson<SignInMethods>('/api/sign-in-methods');
}

const sessionEndedListeners = new Set<(message: string) => void>();

/**
 * Called when the server refuses the session (signed out elsewhere, revoked by an admin, user
 * disabled, expired), with the server's reason; returns the unsubscribe.
 */
export function onSessionEnded(listener: (message: string) => void): () => void {
  sessionEndedListeners.add(listener);
  return () => sessionEndedListeners.delete(listener);
}

/** Asks the server whether the session still holds (an event stream cannot see why it failed). */
export async function checkSession(): Promise<void> {
  const response = await fetch('/api/session', { credentials: 'same-origin' }).catch(() => null);
  if (response?.status === 401) await errorOf(response);
}

/** Who is signed in; null when no session (the app then shows how to sign in). */
export async function loadSession(): Promise<Session | null> {
  const response = await fetch('/api/session', { credentials: 'same-origin' });
  if (response.status === 401) return null;
  if (!response.ok) throw await errorOf(response);
  const session = (await response.json()) as Session;
  csrfToken = session.csrf;
  return session;
}

/** GET a JSON resource. */
export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const response = await fetch(path, { credentials: 'same-origin', signal });
  if (!response.ok) throw await errorOf(response);
  return (await response.json()) as T;
}

/** POST/PUT/DELETE with the CSRF header. */
export async function send<T>(method: 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { 'x-gantry-csrf': csrfToken ?? '' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw await errorOf(response);
  return (await response.json()) as T;
}

async function errorOf(response: Response): Promise<ApiError> {
  let error: ApiError;
  try {
    const body = (await response.json()) as { error?: { code?: string; message?: string } };
    error = new ApiError(response.status, body.error?.code ?? 'HTTP_ERROR', body.error?.message ?? response.statusText);
  } catch {
    error = new ApiError(response.status, 'HTTP_ERROR', `${response.status} ${response.statusText}`);
  }
  if (response.status === 401 && csrfToken !== null) for (const listener of sessionEndedListeners) listener(error.message);
  return error;
}

/** Path segments are user names (projects, jobs with spaces and parentheses): always encoded. */
export function p(strings: TemplateStringsArray, ...values: (string | number)[]): string {
  return strings.reduce((out, part, i) => out + part + (i < values.length ? encodeURIComponent(String(values[i])) : ''), '');
}

/** GET a text resource (a Markdown draft). */
export async function getText(path: string): Promise<string> {
  const response = await fetch(path, { credentials: 'same-origin' });
  if (!response.ok) throw await errorOf(response);
  return response.text();
}
