/**
 * The server's options as one table: name, environment variable, default (with unit) and what
 * it does. Defaults ← environment ← flags, validated once, then frozen.
 */
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { InputError } from '../core/errors.ts';
import { parseEnvNames } from '../platform/child-env.ts';
import { FIRST_RETRY_MS } from './notifications/index.ts';
import { type GroupRole, parseGroupRoles } from '../access/index.ts';
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from '../platform/log-options.ts';

export interface ServerOptions {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  /** `sqlite:<file>` (default, under the data dir) or `postgres://…`. */
  readonly store: string;
  readonly parallel: number;
  readonly logCapBytes: number;
  readonly sandbox: 'auto' | 'off';
  /**
   * Host variables job steps and service instances get besides the fixed list (PATH, LANG,
   * LC_ALL, TZ, the proxy and CA settings); see docs/job-environment.md.
   */
  readonly passEnv: readonly string[];
  /** How often URL projects are polled, ms. */
  readonly pollIntervalMs: number;
  /** On SIGTERM, how long running jobs may finish before they are stopped (they resume on restart), ms. */
  readonly drainMs: number;
  /** How many times a job whose server died under it is retried (0: it fails). */
  readonly interruptedRetries: number;
  /** How long an agent holds a job without renewing its lease, ms (docs/decisions/0036). */
  readonly agentLeaseMs: number;
  /**
   * A failed notification's first retry waits up to this (full jitter), ms; later ones double,
   * capped at 30 min and at half of how long the delivery has been failing (at least 6× this).
   */
  readonly notifyRetryMs: number;
  /** Prometheus base URL for analysis checks with a PromQL query; null when none. */
  readonly prometheusUrl: string | null;
  /** The server's own log: JSON lines, or one human line per entry; null: pretty on a terminal, JSON otherwise. */
  readonly logFormat: LogFormat | null;
  /** Lowest level written to the server's log. */
  readonly logLevel: LogLevel;
  /** Whether each run gets the security job (docs/decisions/0029). */
  readonly securityScans: 'on' | 'off';
  /** OSV advisories (a folder or an osv.dev zip) the security job checks dependencies against; null: none. */
  readonly advisories: string | null;
  /** Service logs kept per environment, bytes; past it the oldest segments go (recorded). */
  readonly serviceLogBytes: number;
  /** Service log lines older than this go, days. */
  readonly serviceLogDays: number;
  /** A Loki push endpoint service logs are forwarded to; null when none. */
  readonly lokiUrl: string | null;
  /**
   * Where service instances, environment proxies and release trees live (default: the data dir).
   * Servers on one machine sharing a PostgreSQL store point it at one directory, so whichever owns
   * the background loops adopts the instances and proxies the others started.
   */
  readonly runtimeDir: string;
  /**
   * With a PostgreSQL store: how long the lease over the background loops lasts unrenewed, ms. A
   * surviving server takes the loops over at most about this long after their owner died.
   */
  readonly leaseMs: number;
  /** The OpenID provider's issuer URL for dashboard sign-in; null: sign-in by `gantry open` links only. */
  readonly oidcIssuer: string | null;
  /** Gantry's client id at the provider (the ID token's audience). */
  readonly oidcClientId: string | null;
  /** Gantry's client secret at the provider; null: a public client (PKCE alone). Secret: never shown. */
  readonly oidcClientSecret: string | null;
  /** Where the provider sends browsers back; null: `<server url>/auth/oidc/callback`. */
  readonly oidcRedirectUrl: string | null;
  /** The ID token claim listing the user's groups. */
  readonly oidcGroupsClaim: string;
  /** Which provider group holds which role (src/access/group-roles.ts). */
  readonly oidcRoles: readonly GroupRole[];
  /**
   * A browser without a session that opens a dashboard page goes straight to the provider (and
   * back to that page), skipping the sign-in page's own load; `/sign-in` still shows it.
   */
  readonly oidcAutoSignIn: boolean;
}

interface OptionSpec {
  env: string;
  description: string;
  parse: (raw: string) => unknown;
}

const oneOf =
  <T extends string>(name: string, values: readonly T[]) =>
  (raw: string): T => {
    const value = values.find((v) => v === raw);
    if (value === undefined) throw new InputError(`${name} must be one of ${values.join(', ')}, got '${raw}'`);
    return value;
  };

const int = (name: string, min: number) => (raw: string) => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new InputError(`${name} must be a whole number ≥ ${min}, got '${raw}'`);
  return n;
};

const httpUrl = (name: string) => (raw: string) => {
  if (!/^https?:\/\//.test(raw)) throw new InputError(`${name} must start with http:// or https://, got '${raw}'`);
  return raw;
};

export const SERVER_OPTION_TABLE: Record<keyof ServerOptions, OptionSpec> = {
  host: { env: 'GANTRY_HOST', description: 'address to listen on (default 127.0.0.1: loopback only)', parse: String },
  port: { env: 'GANTRY_PORT', description: 'TCP port (default 7700; 0 picks a free one)', parse: int('port', 0) },
  dataDir: { env: 'GANTRY_DATA', description: 'data directory (default ./.gantry)', parse: (raw) => resolve(raw) },
  store: {
    env: 'GANTRY_STORE',
    description: 'store URL: sqlite:<file> or postgres://… (default sqlite under the data dir)',
    parse: String,
  },
  parallel: { env: 'GANTRY_PARALLEL', description: 'jobs running at once (default: the number of cores)', parse: int('parallel', 1) },
  logCapBytes: {
    env: 'GANTRY_LOG_CAP_BYTES',
    description: 'stored log size per job, bytes (default 64 MiB); past it head and tail are kept',
    parse: int('log cap', 4096),
  },
  sandbox: {
    env: 'GANTRY_SANDBOX',
    description: 'auto (bubblewrap where installed) or off',
    parse: (raw) => {
      if (raw !== 'auto' && raw !== 'off') throw new InputError(`sandbox must be auto or off, got '${raw}'`);
      return raw;
    },
  },
  passEnv: {
    env: 'GANTRY_PASS_ENV',
    description:
      "more of the server's environment variables for job steps and service instances, names separated by commas (default: none beyond PATH, LANG, LC_ALL, TZ and the proxy and CA settings)",
    parse: (raw) => parseEnvNames(raw, 'GANTRY_PASS_ENV'),
  },
  pollIntervalMs: {
    env: 'GANTRY_POLL_INTERVAL_MS',
    description: 'poll interval of URL projects, ms (default 60000)',
    parse: int('poll interval', 100),
  },
  drainMs: {
    env: 'GANTRY_DRAIN_MS',
    description: 'on shutdown, time for running jobs to finish, ms (default 10000)',
    parse: int('drain time', 0),
  },
  interruptedRetries: {
    env: 'GANTRY_INTERRUPTED_RETRIES',
    description: 'retries of a job whose server died under it (default 1)',
    parse: int('interrupted retries', 0),
  },
  agentLeaseMs: {
    env: 'GANTRY_AGENT_LEASE_MS',
    description:
      "how long a build agent holds a job without renewing its lease, ms (default 15000; agents renew every third of it); a lost agent's jobs move to another within it",
    parse: int('agent lease', 300),
  },
  notifyRetryMs: {
    env: 'GANTRY_NOTIFY_RETRY_MS',
    description:
      "a failed notification's first retry delay, ms (default 5000; full jitter); later ones double, capped at 30 min and at half of how long the delivery has been failing",
    parse: int('notify retry delay', 10),
  },
  prometheusUrl: {
    env: 'GANTRY_PROMETHEUS_URL',
    description: 'Prometheus base URL for analysis checks with a query and SLOs with a Prometheus SLI (default: none)',
    parse: (raw) => httpUrl('Prometheus URL')(raw).replace(/\/+$/, ''),
  },
  logFormat: {
    env: 'GANTRY_LOG_FORMAT',
    description: "the server's log: json (one JSON object a line) or pretty (default: pretty on a terminal, json otherwise)",
    parse: oneOf('log format', LOG_FORMATS),
  },
  logLevel: {
    env: 'GANTRY_LOG_LEVEL',
    description: "lowest level of the server's log: debug, info, warn, error or silent (default info)",
    parse: oneOf('log level', LOG_LEVELS),
  },
  securityScans: {
    env: 'GANTRY_SECURITY_SCANS',
    description: "on: each run gets a security job running Gantry's scanners in its sandbox (default on); off: none",
    parse: oneOf('security scans', ['on', 'off'] as const),
  },
  advisories: {
    env: 'GANTRY_ADVISORIES',
    description:
      'OSV advisories for the security job: a folder of OSV JSON files or an osv.dev zip (default: what `gantry advisories import` stored; without an import, dependencies are listed unchecked)',
    parse: (raw) => resolve(raw),
  },
  serviceLogBytes: {
    env: 'GANTRY_SERVICE_LOG_BYTES',
    description:
      'service logs (stdout and stderr of every instance) kept per environment, bytes (default 4 GiB); past it the oldest go, with a line and an event saying so',
    parse: int('service log budget', 1024 * 1024),
  },
  serviceLogDays: {
    env: 'GANTRY_SERVICE_LOG_DAYS',
    description: 'service log lines older than this many days go (default 14), with a line and an event saying so',
    parse: int('service log days', 1),
  },
  lokiUrl: {
    env: 'GANTRY_LOKI_URL',
    description: 'a Loki push endpoint (e.g. http://loki:3100/loki/api/v1/push) service logs are forwarded to (default: none)',
    parse: (raw) => httpUrl('Loki URL')(raw),
  },
  runtimeDir: {
    env: 'GANTRY_RUNTIME_DIR',
    description:
      'where service instances, environment proxies and release trees live (default: the data dir); servers on one machine sharing a PostgreSQL store share it',
    parse: (raw) => resolve(raw),
  },
  leaseMs: {
    env: 'GANTRY_LEASE_MS',
    description:
      'with a PostgreSQL store, how long the lease over the background loops (cron, polling, rollouts, SLOs, notifications…) lasts unrenewed, ms (default 5000); renewed every fifth of it',
    parse: int('lease time', 500),
  },
  oidcIssuer: {
    env: 'GANTRY_OIDC_ISSUER',
    description:
      "the OpenID provider's issuer URL for dashboard sign-in (its /.well-known/openid-configuration is read); default: none, sign-in by `gantry open` links only",
    parse: (raw) => httpUrl('OIDC issuer')(raw),
  },
  oidcClientId: {
    env: 'GANTRY_OIDC_CLIENT_ID',
    description: "Gantry's client id at the provider (required with an issuer)",
    parse: String,
  },
  oidcClientSecret: {
    env: 'GANTRY_OIDC_CLIENT_SECRET',
    description: "Gantry's client secret at the provider (secret; default: none, a public client using PKCE alone)",
    parse: String,
  },
  oidcRedirectUrl: {
    env: 'GANTRY_OIDC_REDIRECT_URL',
    description:
      'the redirect URL registered at the provider, ending in /auth/oidc/callback (default: the server URL + /auth/oidc/callback); https makes the cookies Secure',
    parse: (raw) => {
      httpUrl('OIDC redirect URL')(raw);
      if (!new URL(raw).pathname.endsWith('/auth/oidc/callback'))
        throw new InputError(`OIDC redirect URL must end in /auth/oidc/callback, got '${raw}'`);
      return raw;
    },
  },
  oidcGroupsClaim: {
    env: 'GANTRY_OIDC_GROUPS_CLAIM',
    description: "the ID token claim that lists the user's groups (default groups)",
    parse: String,
  },
  oidcRoles: {
    env: 'GANTRY_OIDC_ROLES',
    description:
      'which provider group holds which role: group=role, group=role@project or group=role@project/environment, separated by commas (default: none; grant roles to users and groups with `gantry access`)',
    parse: parseGroupRoles,
  },
  oidcAutoSignIn: {
    env: 'GANTRY_OIDC_AUTO_SIGN_IN',
    description:
      "on: a browser without a session opening a dashboard page is sent straight to the identity provider and back to that page (Grafana's oauth_auto_login); the sign-in page stays at /sign-in (default off)",
    parse: (raw) => oneOf('OIDC auto sign-in', ['on', 'off'] as const)(raw) === 'on',
  },
};

export function resolveServerOptions(
  flags: Partial<Record<keyof ServerOptions, string | number | undefined>>,
  env: NodeJS.ProcessEnv = process.env,
): ServerOptions {
  const raw: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, spec] of Object.entries(SERVER_OPTION_TABLE) as [keyof ServerOptions, OptionSpec][]) {
    const given = flags[name] ?? env[spec.env];
    if (given === undefined || given === '') continue;
    try {
      raw[name] = spec.parse(String(given));
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  if (raw.oidcIssuer !== undefined && raw.oidcClientId === undefined)
    problems.push('GANTRY_OIDC_CLIENT_ID is required with GANTRY_OIDC_ISSUER');
  if (problems.length > 0) throw new InputError(problems.join('; '));
  const dataDir = (raw.dataDir as string | undefined) ?? resolve('.gantry');
  return Object.freeze({
    host: (raw.host as string | undefined) ?? '127.0.0.1',
    port: (raw.port as number | undefined) ?? 7700,
    dataDir,
    store: (raw.store as string | undefined) ?? `sqlite:${join(dataDir, 'gantry.db')}`,
    parallel: (raw.parallel as number | undefined) ?? availableParallelism(),
    logCapBytes: (raw.logCapBytes as number | undefined) ?? 64 * 1024 * 1024,
    sandbox: (raw.sandbox as 'auto' | 'off' | undefined) ?? 'auto',
    passEnv: Object.freeze((raw.passEnv as string[] | undefined) ?? []),
    pollIntervalMs: (raw.pollIntervalMs as number | undefined) ?? 60_000,
    drainMs: (raw.drainMs as number | undefined) ?? 10_000,
    interruptedRetries: (raw.interruptedRetries as number | undefined) ?? 1,
    agentLeaseMs: (raw.agentLeaseMs as number | undefined) ?? 15_000,
    notifyRetryMs: (raw.notifyRetryMs as number | undefined) ?? FIRST_RETRY_MS,
    prometheusUrl: (raw.prometheusUrl as string | undefined) ?? null,
    logFormat: (raw.logFormat as LogFormat | undefined) ?? null,
    logLevel: (raw.logLevel as LogLevel | undefined) ?? 'info',
    securityScans: (raw.securityScans as 'on' | 'off' | undefined) ?? 'on',
    advisories: (raw.advisories as string | undefined) ?? null,
    serviceLogBytes: (raw.serviceLogBytes as number | undefined) ?? 4 * 1024 * 1024 * 1024,
    serviceLogDays: (raw.serviceLogDays as number | undefined) ?? 14,
    lokiUrl: (raw.lokiUrl as string | undefined) ?? null,
    runtimeDir: (raw.runtimeDir as string | undefined) ?? dataDir,
    leaseMs: (raw.leaseMs as number | undefined) ?? 5_000,
    oidcIssuer: (raw.oidcIssuer as string | undefined) ?? null,
    oidcClientId: (raw.oidcClientId as string | undefined) ?? null,
    oidcClientSecret: (raw.oidcClientSecret as string | undefined) ?? null,
    oidcRedirectUrl: (raw.oidcRedirectUrl as string | undefined) ?? null,
    oidcGroupsClaim: (raw.oidcGroupsClaim as string | undefined) ?? 'groups',
    oidcRoles: Object.freeze((raw.oidcRoles as GroupRole[] | undefined) ?? []),
    oidcAutoSignIn: (raw.oidcAutoSignIn as boolean | undefined) ?? false,
  });
}
