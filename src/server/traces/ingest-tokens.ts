/**
 * Ingest tokens: how a service proves which environment its traces belong to. One per
 * environment, derived (HMAC-SHA-256 under a key file of the data directory, 0600) rather than
 * stored, so the runtime can hand the same token to every instance it starts, after any restart,
 * without a row to keep; the token names its environment, so checking one is one HMAC. It only
 * reaches `POST /v1/traces` — never an API token. Rotating the key file revokes every one.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const PREFIX = 'gto_';

export interface IngestScope {
  projectId: string;
  environment: string;
}

export class IngestTokens {
  readonly #file: string;
  #key: Buffer | null = null;

  constructor(dataDir: string) {
    this.#file = join(dataDir, 'otlp.key');
  }

  async token(scope: IngestScope): Promise<string> {
    const name = Buffer.from(`${scope.projectId}\n${scope.environment}`).toString('base64url');
    return `${PREFIX}${name}.${await this.#mac(name)}`;
  }

  /** The environment a token was issued for, or null for anything else. */
  async verify(token: string): Promise<IngestScope | null> {
    if (!token.startsWith(PREFIX)) return null;
    const [name, mac] = token.slice(PREFIX.length).split('.');
    if (!name || !mac) return null;
    const expected = Buffer.from(await this.#mac(name));
    const given = Buffer.from(mac);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
    const [projectId, environment] = Buffer.from(name, 'base64url').toString('utf8').split('\n');
    return projectId && environment ? { projectId, environment } : null;
  }

  async #mac(name: string): Promise<string> {
    return createHmac('sha256', await this.#secret())
      .update(name)
      .digest('base64url');
  }

  async #secret(): Promise<Buffer> {
    if (this.#key) return this.#key;
    // 'wx': two servers starting on one data directory agree on the first key written.
    await writeFile(this.#file, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' }).catch(() => undefined);
    await chmod(this.#file, 0o600);
    this.#key = Buffer.from((await readFile(this.#file, 'utf8')).trim(), 'hex');
    return this.#key;
  }
}

/**
 * What an instance of the environment gets to export traces to Gantry with any OpenTelemetry
 * SDK, by the specification's own variables (no Gantry-specific code in the service): the
 * endpoint, the token as a header, the release as `service.version`, no compression.
 */
export function otlpEnvironment(o: { publicUrl: string; token: string; releaseId: string; environment: string }): Record<string, string> {
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: o.publicUrl.replace(/\/$/, ''),
    OTEL_EXPORTER_OTLP_HEADERS: `authorization=Bearer%20${o.token}`,
    OTEL_EXPORTER_OTLP_COMPRESSION: 'none',
    OTEL_RESOURCE_ATTRIBUTES: `service.version=${encodeURIComponent(o.releaseId)},deployment.environment.name=${encodeURIComponent(o.environment)}`,
  };
}
