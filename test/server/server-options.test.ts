import { describe, expect, it } from 'vitest';
import { resolveServerOptions } from '../../src/server/server-options.ts';

describe('the passEnv server option (GANTRY_PASS_ENV)', () => {
  it('is empty by default and a frozen list of names when set', () => {
    expect(resolveServerOptions({}, {}).passEnv).toEqual([]);
    const options = resolveServerOptions({}, { GANTRY_PASS_ENV: 'JAVA_HOME, GOPROXY' });
    expect(options.passEnv).toEqual(['JAVA_HOME', 'GOPROXY']);
    expect(Object.isFrozen(options.passEnv)).toBe(true);
  });

  it('refuses secret-looking names at start, with the other problems', () => {
    expect(() => resolveServerOptions({}, { GANTRY_PASS_ENV: 'AWS_SECRET_ACCESS_KEY', GANTRY_PORT: 'x' })).toThrow(
      expect.objectContaining({
        code: 'INVALID_INPUT',
        message:
          "port must be a whole number ≥ 0, got 'x'; GANTRY_PASS_ENV: AWS_SECRET_ACCESS_KEY looks like a secret (give it to jobs as a project secret)",
      }),
    );
  });
});

describe('the OIDC sign-in options (GANTRY_OIDC_*)', () => {
  it('are off by default and read with their mapping of groups to roles when set', () => {
    const off = resolveServerOptions({}, {});
    expect([off.oidcIssuer, off.oidcClientId, off.oidcGroupsClaim, off.oidcRoles]).toEqual([null, null, 'groups', []]);
    const on = resolveServerOptions(
      {},
      {
        GANTRY_OIDC_ISSUER: 'https://login.example.com/realms/acme',
        GANTRY_OIDC_CLIENT_ID: 'gantry',
        GANTRY_OIDC_CLIENT_SECRET: 's3cret',
        GANTRY_OIDC_GROUPS_CLAIM: 'roles',
        GANTRY_OIDC_ROLES: 'platform=admin,shop-devs=developer@shop',
      },
    );
    expect(on).toMatchObject({ oidcIssuer: 'https://login.example.com/realms/acme', oidcClientId: 'gantry', oidcGroupsClaim: 'roles' });
    expect(on.oidcRoles).toEqual([
      { group: 'platform', grant: { role: 'admin' } },
      { group: 'shop-devs', grant: { role: 'developer', project: 'shop' } },
    ]);
  });

  it('refuses an issuer without a client id, a foreign redirect path and a bad mapping, all at once', () => {
    expect(() =>
      resolveServerOptions(
        {},
        {
          GANTRY_OIDC_ISSUER: 'https://login.example.com',
          GANTRY_OIDC_REDIRECT_URL: 'https://gantry.example.com/callback',
          GANTRY_OIDC_ROLES: 'platform=owner',
        },
      ),
    ).toThrow(/redirect URL must end in \/auth\/oidc\/callback.*'platform=owner'.*GANTRY_OIDC_CLIENT_ID is required/);
  });
});
