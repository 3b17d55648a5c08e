/**
 * The dashboard's OpenID Connect client: the authorization code flow with PKCE (S256), state and
 * nonce, through `openid-client` (certified for the Basic RP profile; docs/decisions/0033). The
 * ID token is checked for issuer, audience, expiry, nonce and — `enableNonRepudiationChecks` —
 * its signature against the provider's JWKS, even though it came straight from the token
 * endpoint: a wrong key is a misconfigured or impersonated provider, and we would rather refuse.
 *
 * Nothing here is stored: the browser's flow cookie holds one random secret from which the PKCE
 * verifier, the state and the nonce are derived (an HMAC each), so the callback recomputes them;
 * the server keeps only the state's hash as a one-time row (sessions.ts) so a response cannot be
 * replayed. Discovery runs when the server starts (`warmUp`) and is kept (read again at the next
 * sign-in after a failure); the provider's keys are read ahead at each sign-in's start when the
 * copy held would be stale by the callback (jwks-read-ahead.ts).
 */
import { createHmac, randomBytes } from 'node:crypto';
import * as client from 'openid-client';
import { GantryError } from '../../core/errors.ts';
import { JwksReadAhead, READ_AHEAD_MAX_AGE_MS } from './jwks-read-ahead.ts';

export interface OidcSettings {
  issuer: string;
  clientId: string;
  clientSecret: string | null;
  /** Where the provider sends the browser back: `<public url>/auth/oidc/callback` unless configured. */
  redirectUrl(): string;
  /** The ID token claim that lists the user's groups. */
  groupsClaim: string;
}

/** What one browser's sign-in is made of: the flow cookie's value and what follows from it. */
export interface FlowSecrets {
  cookie: string;
  state: string;
  nonce: string;
  verifier: string;
}

/** Why a sign-in was refused: each has its sentence on the page (oidc-routes.ts). */
export type SignInRefusal =
  | 'no-flow'
  | 'state-mismatch'
  | 'replayed'
  | 'provider-error'
  | 'wrong-audience'
  | 'wrong-issuer'
  | 'expired'
  | 'wrong-nonce'
  | 'bad-signature'
  | 'no-id-token'
  | 'provider-unreachable'
  | 'user-disabled'
  | 'other';

export class SignInRefusedError extends GantryError {
  readonly reason: SignInRefusal;
  constructor(reason: SignInRefusal, message: string, options?: { cause?: unknown }) {
    super('OIDC_SIGN_IN_REFUSED', message);
    this.reason = reason;
    if (options) this.cause = options.cause;
  }
}

/** The claims Gantry reads from a verified ID token. */
export interface VerifiedIdentity {
  issuer: string;
  subject: string;
  username: string | undefined;
  displayName: string | undefined;
  email: string | undefined;
  groups: string[];
}

/** openid-client fetches the key set again once its copy is this old (oauth4webapi's rule). */
const JWKS_KEPT_S = 300;
const PROVIDER_TIMEOUT_S = 10;

export class OidcClient {
  readonly #settings: OidcSettings;
  #config: Promise<client.Configuration> | null = null;
  readonly #jwks = new JwksReadAhead();

  constructor(settings: OidcSettings) {
    this.#settings = settings;
  }

  /**
   * Reads the provider's discovery document and keys now, so the first sign-in does not wait for
   * them; a provider not reachable yet is read at that sign-in instead.
   */
  async warmUp(): Promise<void> {
    try {
      this.#readKeysAhead(await this.#configuration());
    } catch {
      // Said at the sign-in that needs it, with its reason (SignInRefusedError).
    }
  }

  /** A new flow: the secrets derived from a fresh random cookie value. */
  static newFlow(): FlowSecrets {
    return OidcClient.flowOf(randomBytes(32).toString('base64url'));
  }

  /** The secrets a flow cookie stands for (the callback recomputes them). */
  static flowOf(cookie: string): FlowSecrets {
    const derive = (what: string) => createHmac('sha256', cookie).update(what).digest('base64url');
    return { cookie, state: derive('state'), nonce: derive('nonce'), verifier: derive('pkce-verifier') };
  }

  /** Where to send the browser to sign in. */
  async authorizationUrl(flow: FlowSecrets): Promise<string> {
    const config = await this.#configuration();
    this.#readKeysAhead(config);
    return client.buildAuthorizationUrl(config, {
      redirect_uri: this.#settings.redirectUrl(),
      scope: 'openid profile email',
      code_challenge: await client.calculatePKCECodeChallenge(flow.verifier),
      code_challenge_method: 'S256',
      state: flow.state,
      nonce: flow.nonce,
    }).href;
  }

  /** Trades the callback's code for tokens and verifies the ID token; throws SignInRefusedError. */
  async finish(callbackQuery: string, flow: FlowSecrets): Promise<VerifiedIdentity> {
    const config = await this.#configuration();
    const current = new URL(this.#settings.redirectUrl());
    current.search = callbackQuery;
    let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>;
    try {
      tokens = await client.authorizationCodeGrant(config, current, {
        pkceCodeVerifier: flow.verifier,
        expectedState: flow.state,
        expectedNonce: flow.nonce,
        idTokenExpected: true,
      });
    } catch (error) {
      throw refusalOf(error);
    }
    const claims = tokens.claims();
    if (!claims) throw new SignInRefusedError('no-id-token', 'the identity provider sent no ID token');
    const text = (name: string) => (typeof claims[name] === 'string' ? (claims[name] as string) : undefined);
    const groups = claims[this.#settings.groupsClaim];
    return {
      issuer: claims.iss,
      subject: claims.sub,
      username: text('preferred_username') ?? text('email')?.split('@')[0],
      displayName: text('name'),
      email: text('email'),
      groups: Array.isArray(groups) ? groups.filter((g): g is string => typeof g === 'string') : typeof groups === 'string' ? [groups] : [],
    };
  }

  #configuration(): Promise<client.Configuration> {
    if (!this.#config) {
      const { issuer, clientId, clientSecret } = this.#settings;
      // A plain-http issuer is only ever a provider on this machine or a test one: allowed, as the README says.
      const insecure = issuer.startsWith('http://');
      this.#config = client
        .discovery(new URL(issuer), clientId, clientSecret ?? undefined, clientSecret ? undefined : client.None(), {
          ...(insecure ? { execute: [client.allowInsecureRequests] } : {}),
          timeout: PROVIDER_TIMEOUT_S,
        })
        .then((config) => {
          client.enableNonRepudiationChecks(config);
          config[client.customFetch] = this.#jwks.fetch;
          return config;
        })
        .catch((error: unknown) => {
          this.#config = null;
          throw new SignInRefusedError('provider-unreachable', `the identity provider at ${issuer} could not be reached or read`, {
            cause: error,
          });
        });
    }
    return this.#config;
  }

  /** Reads the key set ahead unless openid-client's copy will still be fresh a read-ahead's lifetime from now. */
  #readKeysAhead(config: client.Configuration): void {
    const url = config.serverMetadata().jwks_uri;
    if (url === undefined) return;
    const held = client.getJwksCache(config);
    const ageS = held === undefined ? Number.POSITIVE_INFINITY : Date.now() / 1000 - held.uat;
    if (ageS < JWKS_KEPT_S - READ_AHEAD_MAX_AGE_MS / 1000) return;
    this.#jwks.start(url, PROVIDER_TIMEOUT_S * 1000);
  }
}

/**
 * Classifies what openid-client threw by its error codes and the claim it names (never by the
 * message text), so the page can say which check failed.
 */
function refusalOf(error: unknown): SignInRefusedError {
  if (error instanceof client.AuthorizationResponseError)
    return new SignInRefusedError('provider-error', `the identity provider refused: ${error.error_description ?? error.error}`, {
      cause: error,
    });
  const chain: Record<string, unknown>[] = [];
  for (let e: unknown = error; e && typeof e === 'object' && chain.length < 5; e = (e as { cause?: unknown }).cause)
    chain.push(e as Record<string, unknown>);
  const codes = new Set(chain.map((e) => e.code));
  const claim = chain.map((e) => e.claim).find((c) => typeof c === 'string');
  if (codes.has('OAUTH_JWT_CLAIM_COMPARISON_FAILED') && claim === 'aud')
    return new SignInRefusedError('wrong-audience', 'the ID token was issued for another application (wrong audience)', { cause: error });
  if (codes.has('OAUTH_JWT_CLAIM_COMPARISON_FAILED') && claim === 'iss')
    return new SignInRefusedError('wrong-issuer', 'the ID token comes from another issuer', { cause: error });
  if (codes.has('OAUTH_JWT_CLAIM_COMPARISON_FAILED') && claim === 'nonce')
    return new SignInRefusedError('wrong-nonce', 'the ID token does not carry this sign-in’s nonce', { cause: error });
  if (codes.has('OAUTH_JWT_TIMESTAMP_CHECK_FAILED') && claim === 'exp')
    return new SignInRefusedError('expired', 'the ID token has expired', { cause: error });
  if (codes.has('OAUTH_INVALID_RESPONSE') && chain.some((e) => 'signature' in e))
    return new SignInRefusedError('bad-signature', 'the ID token’s signature does not match the identity provider’s keys', {
      cause: error,
    });
  if (codes.has('OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED') || (codes.has('OAUTH_INVALID_RESPONSE') && claim === 'state'))
    return new SignInRefusedError('state-mismatch', 'the answer does not belong to this sign-in (state)', { cause: error });
  if (error instanceof client.ResponseBodyError)
    return new SignInRefusedError('provider-error', `the identity provider refused the code: ${error.error_description ?? error.error}`, {
      cause: error,
    });
  return new SignInRefusedError('other', 'the identity provider’s answer could not be verified', { cause: error });
}
