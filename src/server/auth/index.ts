/** Who may call: API tokens, dashboard sessions and sign-in, and the secret box that seals secrets at rest. */
export { ensureAdminToken } from './admin-token.ts';
export { authenticator } from './authenticate.ts';
export { SecretBox } from './secret-box.ts';
export { registerSessionRoutes, type SessionRouteDeps } from './session-routes.ts';
export { SessionService, type LoginLink, type Session } from './sessions.ts';
export { hashToken, newToken } from './tokens.ts';
