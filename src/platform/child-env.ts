/**
 * The one environment builder for every process Gantry starts (job steps, service instances,
 * health probes, proxies, git). A child never inherits the server's environment wholesale:
 * that environment holds the admin token (`GANTRY_TOKEN`), the store's URL with its password
 * and whatever else the operator exported. It gets a short list of host variables that only say
 * where programs are and how to show text and time, the few more its caller names, and the
 * caller's own variables, which win.
 */

/** Host variables every child inherits when set. */
export const INHERITED_ENV: readonly string[] = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ'];

/** PATH when the host has none. */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * What git needs of the host beyond the base list: credentials agents (not credentials), SSH
 * and proxy settings, CA bundles, its config location.
 */
export const GIT_HOST_ENV: readonly string[] = [
  'SSH_AUTH_SOCK',
  'GIT_SSH',
  'GIT_SSH_COMMAND',
  'GIT_CONFIG_GLOBAL',
  'GIT_CONFIG_NOSYSTEM',
  'XDG_CONFIG_HOME',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'ALL_PROXY',
  'NO_PROXY',
  'http_proxy',
  'https_proxy',
  'all_proxy',
  'no_proxy',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'GIT_SSL_CAINFO',
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
