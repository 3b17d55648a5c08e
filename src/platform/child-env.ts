/**
 * The one environment builder for every process Gantry starts (job steps, service instances,
 * health probes, proxies, git). A child never inherits the server's environment wholesale:
 * that environment holds the admin token (`GANTRY_TOKEN`), the store's URL with its password
 * and whatever else the operator exported. It gets a short list of host variables that only say
 * where programs are and how to show text and time, the few more its caller names (job steps
 * and instances: `NETWORK_ENV` and the operator's `GANTRY_PASS_ENV`; git: `GIT_HOST_ENV`), and
 * the caller's own variables, which win.
 */
import { InputError } from '../core/errors.ts';

/** Host variables every child inherits when set. */
export const INHERITED_ENV: readonly string[] = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ'];

/** PATH when the host has none. */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Where HTTP(S) traffic goes: proxies and their exceptions, in both spellings tools read. */
export const PROXY_ENV: readonly string[] = [
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'ALL_PROXY',
  'NO_PROXY',
  'http_proxy',
  'https_proxy',
  'all_proxy',
  'no_proxy',
];

/**
 * Variables naming a CA bundle (a PEM file) that TLS clients add to or use instead of their own
 * list: OpenSSL and what builds on it, Node, Python requests, curl, git, pip, the AWS CLI, cargo, npm.
 */
export const CA_FILE_ENV: readonly string[] = [
  'SSL_CERT_FILE',
  'NODE_EXTRA_CA_CERTS',
  'REQUESTS_CA_BUNDLE',
  'CURL_CA_BUNDLE',
  'GIT_SSL_CAINFO',
  'PIP_CERT',
  'AWS_CA_BUNDLE',
  'CARGO_HTTP_CAINFO',
  'NPM_CONFIG_CAFILE',
  'npm_config_cafile',
];

/** Variables naming directories of CA certificates (OpenSSL's SSL_CERT_DIR may list several, colon-separated). */
export const CA_DIR_ENV: readonly string[] = ['SSL_CERT_DIR', 'GIT_SSL_CAPATH'];

/**
 * How the host reaches the network and whom it trusts there. Every job step and service instance
 * gets these from the server's environment, as runners people know pass them on: behind a proxy
 * that intercepts TLS with its own CA, `npm install` in a job must trust what the operator's
 * shell trusts. Node's switches to use the system's CA store and the proxy variables belong here.
 */
export const NETWORK_ENV: readonly string[] = [...PROXY_ENV, ...CA_FILE_ENV, ...CA_DIR_ENV, 'NODE_USE_SYSTEM_CA', 'NODE_USE_ENV_PROXY'];

/** What git needs of the host beyond the base list: credentials agents (not credentials), SSH, its config location, the network settings. */
export const GIT_HOST_ENV: readonly string[] = [
  'SSH_AUTH_SOCK',
  'GIT_SSH',
  'GIT_SSH_COMMAND',
  'GIT_CONFIG_GLOBAL',
  'GIT_CONFIG_NOSYSTEM',
  'XDG_CONFIG_HOME',
  ...NETWORK_ENV,
];

/**
 * Never taken from the host, even when a caller names it: Gantry's own settings (`GANTRY_*`,
 * among them the admin token) and anything named like a secret.
 */
export function isSecretHostVariable(name: string): boolean {
  return name.startsWith('GANTRY_') || /TOKEN|SECRET|PASSW|CREDENTIAL|PRIVATE|API_?KEY|DATABASE_URL/i.test(name);
}

export interface ChildEnvOptions {
  /** Host variables to pass on besides `INHERITED_ENV` (secret-looking names are still refused). */
  inherit?: readonly string[];
  /** The caller's own variables; they win over inherited ones and may use any name. */
  set?: Record<string, string | undefined>;
  /** The host environment; `process.env` unless a test passes its own. */
  host?: Readonly<Record<string, string | undefined>>;
}

/** A child's whole environment: inherited host variables (PATH always set), then the caller's own. */
export function childEnv(o: ChildEnvOptions = {}): Record<string, string> {
  const host = o.host ?? process.env;
  const env: Record<string, string> = {};
  for (const name of [...INHERITED_ENV, ...(o.inherit ?? [])]) {
    const value = host[name];
    if (value !== undefined && !isSecretHostVariable(name)) env[name] = value;
  }
  env.PATH ??= DEFAULT_PATH;
  for (const [name, value] of Object.entries(o.set ?? {})) if (value !== undefined) env[name] = value;
  return env;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The operator's list of more host variables for jobs and instances (`GANTRY_PASS_ENV`: names
 * separated by commas or spaces). A secret-looking name is refused rather than dropped without a
 * word: secrets reach a job as project secrets, masked in its log, not from the server's environment.
 */
export function parseEnvNames(raw: string, what: string): string[] {
  const names = raw.split(/[\s,]+/).filter((name) => name !== '');
  const problems: string[] = [];
  for (const name of names) {
    if (!ENV_NAME.test(name)) problems.push(`${what}: '${name}' is not a variable name`);
    else if (name.startsWith('GANTRY_')) problems.push(`${what}: ${name} is one of Gantry's own settings`);
    else if (isSecretHostVariable(name)) problems.push(`${what}: ${name} looks like a secret (give it to jobs as a project secret)`);
  }
  if (problems.length > 0) throw new InputError(problems.join('; '));
  return [...new Set(names)];
}
