import { describe, expect, it } from 'vitest';
import { childEnv, DEFAULT_PATH, GIT_HOST_ENV, isSecretHostVariable, NETWORK_ENV, parseEnvNames } from '../../src/platform/child-env.ts';

const host = {
  PATH: '/opt/bin:/usr/bin',
  HOME: '/home/op',
  LANG: 'en_US.UTF-8',
  TZ: 'Europe/Paris',
  GANTRY_TOKEN: 'admin-secret',
  GANTRY_STORE: 'postgres://gantry:pw@db/gantry',
  DATABASE_URL: 'postgres://u:pw@db/x',
  AWS_SECRET_ACCESS_KEY: 'aws',
  GITHUB_TOKEN: 'ghp',
  SSH_AUTH_SOCK: '/run/ssh.sock',
  EDITOR: 'vim',
};

describe('childEnv', () => {
  it('passes the base host variables and nothing else by default', () => {
    expect(childEnv({ host })).toEqual({ PATH: '/opt/bin:/usr/bin', HOME: '/home/op', LANG: 'en_US.UTF-8', TZ: 'Europe/Paris' });
  });

  it('sets a default PATH when the host has none', () => {
    expect(childEnv({ host: {} })).toEqual({ PATH: DEFAULT_PATH });
  });

  it("passes the host variables a caller names, but never Gantry's settings or secret-looking ones", () => {
    const env = childEnv({
      host,
      inherit: ['SSH_AUTH_SOCK', 'GANTRY_TOKEN', 'GANTRY_STORE', 'DATABASE_URL', 'GITHUB_TOKEN', 'AWS_SECRET_ACCESS_KEY'],
    });
    expect(env.SSH_AUTH_SOCK).toBe('/run/ssh.sock');
    for (const name of ['GANTRY_TOKEN', 'GANTRY_STORE', 'DATABASE_URL', 'GITHUB_TOKEN', 'AWS_SECRET_ACCESS_KEY'])
      expect(env).not.toHaveProperty(name);
  });

  it("the caller's own variables win and may use any name (a job's secrets, an instance's GANTRY_* vars)", () => {
    const env = childEnv({ host, set: { HOME: '/tmp/job/home', GANTRY_RUN_ID: 'r1', API_TOKEN: 'from-the-job', UNSET: undefined } });
    expect(env).toMatchObject({ HOME: '/tmp/job/home', GANTRY_RUN_ID: 'r1', API_TOKEN: 'from-the-job', PATH: '/opt/bin:/usr/bin' });
    expect(env).not.toHaveProperty('UNSET');
  });

  it('reads process.env when no host is given, without its secrets', () => {
    process.env.GANTRY_TOKEN = 'x';
    try {
      expect(childEnv()).not.toHaveProperty('GANTRY_TOKEN');
      expect(childEnv().PATH).toBe(process.env.PATH ?? DEFAULT_PATH);
    } finally {
      delete process.env.GANTRY_TOKEN;
    }
  });

  it('names no secret among the variables git, jobs and instances inherit', () => {
    expect(GIT_HOST_ENV.filter(isSecretHostVariable)).toEqual([]);
    expect(NETWORK_ENV.filter(isSecretHostVariable)).toEqual([]);
  });

  it('passes the proxy and CA settings jobs and instances need', () => {
    for (const name of [
      'HTTP_PROXY',
      'https_proxy',
      'NO_PROXY',
      'SSL_CERT_FILE',
      'SSL_CERT_DIR',
      'NODE_EXTRA_CA_CERTS',
      'REQUESTS_CA_BUNDLE',
      'GIT_SSL_CAINFO',
    ])
      expect(NETWORK_ENV).toContain(name);
    expect(GIT_HOST_ENV).toEqual(expect.arrayContaining([...NETWORK_ENV]));
  });
});

describe('parseEnvNames (GANTRY_PASS_ENV)', () => {
  it('takes names separated by commas or spaces, once each', () => {
    expect(parseEnvNames(' JAVA_HOME, MAVEN_OPTS  JAVA_HOME,,', 'GANTRY_PASS_ENV')).toEqual(['JAVA_HOME', 'MAVEN_OPTS']);
    expect(parseEnvNames('', 'GANTRY_PASS_ENV')).toEqual([]);
  });

  it("refuses non-names, Gantry's own and secret-looking names, all at once, with a stable code", () => {
    let error: unknown;
    try {
      parseEnvNames('JAVA_HOME, 1BAD, NPM_TOKEN, GANTRY_STORE', 'GANTRY_PASS_ENV');
    } catch (caught) {
      error = caught;
    }
    expect(error).toMatchObject({ code: 'INVALID_INPUT' });
    const message = (error as Error).message;
    expect(message).toContain("GANTRY_PASS_ENV: '1BAD' is not a variable name");
    expect(message).toContain('GANTRY_PASS_ENV: NPM_TOKEN looks like a secret (give it to jobs as a project secret)');
    expect(message).toContain("GANTRY_PASS_ENV: GANTRY_STORE is one of Gantry's own settings");
    expect(message).not.toContain('JAVA_HOME');
  });
});
