/** Who may call: API tokens, dashboard sessions and sign-in, and the secret box that seals secrets at rest. */
export { ensureAdminToken } from './admin-token.ts';
export { ADMIN_PRINCIPAL, AGENT_PRINCIPAL_PREFIX, authenticator } from './authenticate.ts';
export { authorizer, callerMay, requirePermission, defaultProtection, type AuthorizerOptions } from './authorize.ts';
export { SecretBox } from './secret-box.ts';
export { registerSessionRoutes, type SessionRouteDeps } from './session-routes.ts';
export { SessionService, type LoginLink, type Session } from './sessions.ts';
export { AGENT_TOKEN_PREFIX, hashToken, newAgentToken, newToken } from './tokens.ts';
export { registerAccessRoutes, type AccessRouteDeps } from './access-routes.ts';
export { OpenRequests } from './open-requests.ts';
export { recordApiCalls, registerAuditRoutes } from './audit.ts';
export { OidcClient, type OidcSettings } from './oidc-client.ts';
export { autoSignInTarget, type OidcRouteDeps, type OidcSignIn, registerOidcRoutes, SIGN_IN_PAGE } from './oidc-routes.ts';
