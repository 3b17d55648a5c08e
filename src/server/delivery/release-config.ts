/**
 * Reading what a release says about one environment: its gantry.yaml's `service` and
 * `environments.<name>` sections, the instance count, the drain timeout, the canary match rules,
 * and an instance spec with the environment's secrets decrypted. No side effects but store reads.
 */
import type { EnvironmentConfig, MatchRule, ServiceConfig } from '../../core/delivery-config.ts';
import { InputError, NotFoundError } from '../../core/errors.ts';
import { parseStoredConfig } from '../../pipeline/stored-config.ts';
import type { InstanceSpec } from '../../runtime/index.ts';
import type { Project, ReleaseRecord, Store } from '../../store/ports.ts';
import type { SecretBox } from '../auth/index.ts';
import { environmentKey } from './environment-key.ts';
import { releaseDir } from './release-service.ts';

/** When a release's config cannot be read: the supervisor's own default drain timeout. */
const DEFAULT_DRAIN_MS = 30_000;

/** The release's service and its environment section; InputError when either is missing. */
export function configOf(release: ReleaseRecord, environment: string): { service: ServiceConfig; envConfig: EnvironmentConfig } {
  const config = parseStoredConfig(release.configText);
  const service = config.service;
  const envConfig = config.environments?.[environment];
  if (!service) throw new InputError(`release #${release.number} has no \`service\` section`);
  if (!envConfig)
    throw new InputError(
      `release #${release.number} defines no environment '${environment}' (it has: ${Object.keys(config.environments ?? {}).join(', ') || 'none'})`,
    );
  return { service, envConfig };
}

/** The environment's own service log budget (`logs:`), or undefined (none, or an unreadable config). */
export function environmentLogBudget(release: ReleaseRecord, environment: string): EnvironmentConfig['logs'] {
  try {
    return configOf(release, environment).envConfig.logs;
  } catch {
    return undefined;
  }
}

/** The canary's match rules (A/B, testers); none for other strategies or an unreadable config. */
export function matchOf(release: ReleaseRecord, environment: string): MatchRule[] {
  try {
    const { envConfig } = configOf(release, environment);
    return envConfig.strategy.kind === 'canary' ? envConfig.strategy.match : [];
  } catch {
    return [];
  }
}

export function instanceCount(release: ReleaseRecord, environment: string): number {
  const { service, envConfig } = configOf(release, environment);
  return envConfig.instances ?? service.instances;
}

export function drainTimeoutOf(release: ReleaseRecord | undefined, environment: string): number {
  try {
    if (release) return configOf(release, environment).service.stop.drainTimeoutMs;
  } catch {
    // an unreadable config: the default
  }
  return DEFAULT_DRAIN_MS;
}

export async function requireRelease(store: Store, id: string): Promise<ReleaseRecord> {
  const release = await store.releases.get(id);
  if (!release) throw new NotFoundError(`release ${id} does not exist`);
  return release;
}

export interface InstanceSpecDeps {
  store: Store;
  secretBox: SecretBox;
  dataDir: string;
  sandbox: 'auto' | 'off';
  /**
   * Variables that point the instance's OpenTelemetry SDK at the server (server/traces): set
   * before the service's own `env`, so a config can still send its traces elsewhere.
   */
  telemetryEnv?(projectId: string, environment: string, releaseId: string): Promise<Record<string, string>>;
}

/**
 * The secrets an environment's config uses, decrypted, by their Gantry name: the environment's
 * value, else the project's. InputError naming the command that sets one that is missing.
 */
export async function environmentSecrets(
  deps: Pick<InstanceSpecDeps, 'store' | 'secretBox'>,
  project: Project,
  envConfig: EnvironmentConfig,
  environment: string,
): Promise<Record<string, string>> {
  const values: Record<string, string> = {};
  for (const [variable, secretName] of Object.entries(envConfig.secrets)) {
    const sealed =
      (await deps.store.secrets.get(project.id, secretName, environment)) ?? (await deps.store.secrets.get(project.id, secretName));
    if (sealed === undefined)
      throw new InputError(
        `secret ${secretName} (for ${variable} in ${environment}) is not set: \`gantry secret set ${project.name} ${secretName} --env ${environment}\``,
      );
    values[secretName] = deps.secretBox.decrypt(sealed);
  }
  return values;
}

/** The spec of an instance of `release` in `environment`, without its id and pool; InputError for a secret not set. */
export async function instanceSpec(
  deps: InstanceSpecDeps,
  project: Project,
  release: ReleaseRecord,
  environment: string,
): Promise<Omit<InstanceSpec, 'id' | 'pool'>> {
  const { service, envConfig } = configOf(release, environment);
  const secrets: Record<string, string> = {};
  const values = await environmentSecrets(deps, project, envConfig, environment);
  for (const [variable, secretName] of Object.entries(envConfig.secrets)) secrets[variable] = values[secretName] as string;
  const telemetry = (await deps.telemetryEnv?.(project.id, environment, release.id)) ?? {};
  return {
    environment: environmentKey(project.id, environment),
    releaseId: release.id,
    service,
    // The environment by its name (the spec's `environment` is the supervisor's grouping key).
    // What it runs, as Heroku's and Render's runtimes say it: the release's number, its ref and commit.
    env: {
      GANTRY_ENVIRONMENT: environment,
      GANTRY_PROJECT: project.name,
      GANTRY_RELEASE_NUMBER: String(release.number),
      GANTRY_RELEASE_REF: release.ref,
      GANTRY_RELEASE_SHA: release.sha,
      ...telemetry,
      ...service.env,
      ...envConfig.env,
      ...secrets,
    },
    // The ingest token rides in the exporter's headers: masked in the instance's log like a secret.
    secrets: [...Object.values(secrets), ...(telemetry.OTEL_EXPORTER_OTLP_HEADERS ? [telemetry.OTEL_EXPORTER_OTLP_HEADERS] : [])],
    workDir: releaseDir(deps.dataDir, release.id),
    sandbox: deps.sandbox,
  };
}
