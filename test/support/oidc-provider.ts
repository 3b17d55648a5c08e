/**
 * A real OpenID provider for tests and the sign-in benchmark: `oidc-provider` (panva's certified
 * OpenID Provider implementation) in this process on 127.0.0.1, with its development login form
 * (any login, any password) and the accounts given here. Consent is granted on the spot so a
 * sign-in is the login form alone, as with a company's provider the user already trusts.
 *
 * `tamperNextIdToken` makes the provider hand out its next ID token with changed claims, signed
 * again with the provider's own key — a token only the claim checks can refuse (wrong audience,
 * expired), the way a misconfigured or malicious provider would send one.
 */
import type { Server } from 'node:http';
import { exportJWK, generateKeyPair, decodeJwt, SignJWT, type CryptoKey } from 'jose';

export interface TestAccount {
  /** Also the login typed into the provider's form (its development login uses the login as the subject). */
  sub: string;
  preferred_username: string;
  name: string;
  email: string;
  groups: string[];
}

export interface TestProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /**
   * Changes the claims of the next ID token the token endpoint hands out (once); `foreignKey`
   * signs it with a key that is not in the provider's JWKS (same key id), as a forger would.
   */
  tamperNextIdToken(change: (claims: Record<string, unknown>) => Record<string, unknown>, o?: { foreignKey?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

interface KoaContext {
  path: string;
  body: unknown;
  oidc: {
    client: { clientId: string };
    session: { accountId: string; grantIdFor(id: string): string | undefined };
    provider: ProviderLike;
  };
}
interface GrantLike {
  addOIDCScope(scope: string): void;
  save(): Promise<string>;
}
interface ProviderLike {
  Grant: { new (o: { clientId: string; accountId: string }): GrantLike; find(id: string): Promise<GrantLike | undefined> };
  use(middleware: (ctx: KoaContext, next: () => Promise<void>) => Promise<void>): void;
  listen(port: number, host: string, ready: () => void): Server;
}

/**
 * Starts the provider at `http://localhost:<port>` (listening on 127.0.0.1) for one client whose
 * redirect URI is `redirectUri`. Named `localhost` so that, for a browser, it is another site than
 * Gantry at 127.0.0.1: its redirect back is cross-site, as with a real provider.
 */
export async function startTestProvider(o: { port: number; redirectUri: string; accounts: TestAccount[] }): Promise<TestProvider> {
  // Untyped package: loaded by name so the compiler does not look for its declarations.
  const packageName = 'oidc-provider';
  const { default: Provider } = (await import(packageName)) as { default: new (issuer: string, config: object) => ProviderLike };
  const issuer = `http://localhost:${o.port}`;
  const clientId = 'gantry';
  const clientSecret = 'test-client-secret-0123456789';
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = 'test-key-1';
  const jwk = { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
  const accounts = new Map(o.accounts.map((a) => [a.sub, a]));
  let tamper: ((claims: Record<string, unknown>) => Record<string, unknown>) | null = null;
  let tamperKey: CryptoKey = privateKey;

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [o.redirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
    ],
    jwks: { keys: [jwk] },
    cookies: { keys: ['test-provider-cookie-key'] },
    pkce: { required: () => true },
    ttl: { AccessToken: 600, AuthorizationCode: 60, Grant: 3600, IdToken: 600, Interaction: 600, Session: 3600 },
    // The groups claim in the ID token itself, as Keycloak, Entra ID and Okta can be set to do.
    conformIdTokenClaims: false,
    claims: { openid: ['sub'], profile: ['name', 'preferred_username', 'groups'], email: ['email'] },
    findAccount: async (_ctx: unknown, sub: string) => {
      const account = accounts.get(sub);
      if (!account) return undefined;
      return { accountId: sub, claims: async () => ({ ...account, sub }) };
    },
    loadExistingGrant: async (ctx: KoaContext) => {
      const existing = ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (existing) return ctx.oidc.provider.Grant.find(existing);
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope('openid profile email');
      await grant.save();
      return grant;
    },
  });
  provider.use(async (ctx, next) => {
    await next();
    const body = ctx.body as { id_token?: string } | undefined;
    if (ctx.path !== '/token' || !tamper || typeof body?.id_token !== 'string') return;
    const change = tamper;
    tamper = null;
    body.id_token = await resign(change(decodeJwt(body.id_token)), tamperKey, kid);
  });
  const server = await new Promise<Server>((resolve) => {
    const s = provider.listen(o.port, '127.0.0.1', () => resolve(s));
  });
  return {
    issuer,
    clientId,
    clientSecret,
    tamperNextIdToken: async (change, opts = {}) => {
      tamperKey = opts.foreignKey ? (await generateKeyPair('RS256')).privateKey : privateKey;
      tamper = change;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function resign(claims: Record<string, unknown>, key: CryptoKey, kid: string): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' }).sign(key);
}
