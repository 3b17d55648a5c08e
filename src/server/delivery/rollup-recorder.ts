/**
 * Moves the proxies' ten-second request roll-ups into the store every ten seconds (charts and
 * history outlive the in-memory one-second buckets), and forgets roll-ups older than a week.
 *
 * Exactly once: a proxy keeps each roll-up until the recorder acknowledges it, which it does only
 * after the store committed it, and the store skips a roll-up it already holds (same project,
 * environment, version, pool and start). A server killed after reading loses nothing (the next
 * one reads the same roll-ups); one killed after storing but before acknowledging stores nothing
 * twice.
 */
import type { Value } from '../../core/types.ts';
import type { Rollup } from '../../proxy/index.ts';
import type { MetricRollup, MetricStore } from '../../store/ports.ts';
import type { EnvironmentProxy } from './ports.ts';

/** How often roll-ups are moved, by default: as often as the proxies complete them. */
export const ROLLUP_RECORD_EVERY_MS = 10_000;
export const ROLLUP_RETENTION_MS = 7 * 24 * 3600 * 1000;

/** One environment's proxy, as the recorder reads it. */
export interface RollupSource {
  projectId: string;
  environment: string;
  proxy: Pick<EnvironmentProxy, 'readRollups' | 'ackRollups'>;
}

/** The environments open now (the delivery controller's). */
export interface RollupSources {
  rollupSources(): RollupSource[] | Promise<RollupSource[]>;
}

/** WARN messages: static, data beside them. */
const LOG = {
  readFailed: 'reading proxy roll-ups failed',
  storeFailed: 'storing request metrics failed',
  dropped: 'a proxy dropped roll-ups nobody acknowledged',
} as const;

function toRow(projectId: string, environment: string, r: Rollup): MetricRollup {
  return {
    projectId,
    environment,
    version: r.version,
    pool: r.pool,
    startMs: r.startMs,
    endMs: r.endMs,
    requests: r.requests,
    errors: r.errors,
    data: {
      connectionErrors: r.connectionErrors,
      statusClasses: r.statusClasses,
      latency: r.latency,
      p50: r.p50,
      p90: r.p90,
      p99: r.p99,
      routes: r.routes,
    } as unknown as Record<string, Value>,
  };
}

export class RollupRecorder {
  readonly #metrics: MetricStore;
  readonly #sources: RollupSources;
  readonly #warn: (message: string, data: Record<string, unknown>) => void;
  readonly #timer: NodeJS.Timeout;
  /** The flush under way; a tick while one runs is skipped rather than queued. */
  #flushing: Promise<void> | null = null;
  /** Dropped counts already reported, by environment. */
  readonly #dropped = new Map<string, number>();

  /**
   * `everyMs` is shorter only in tests: a roll-up completed just after a tick otherwise waits a
   * whole period more to be stored, and the SLOs of a Kubernetes environment count stored roll-ups.
   */
  constructor(
    store: { metrics: MetricStore },
    sources: RollupSources,
    warn: (message: string, data: Record<string, unknown>) => void,
    everyMs = ROLLUP_RECORD_EVERY_MS,
  ) {
    this.#metrics = store.metrics;
    this.#sources = sources;
    this.#warn = warn;
    this.#timer = setInterval(() => {
      if (this.#flushing === null) void this.flush();
    }, everyMs);
    this.#timer.unref();
  }

  /** Reads, stores and acknowledges every proxy's roll-ups, then prunes old rows. Never rejects. */
  flush(): Promise<void> {
    this.#flushing ??= this.#flush().finally(() => {
      this.#flushing = null;
    });
    return this.#flushing;
  }

  async #flush(): Promise<void> {
    let sources: RollupSource[] = [];
    try {
      sources = await this.#sources.rollupSources();
    } catch (error) {
      this.#warn(LOG.readFailed, { error: String(error) });
    }
    await Promise.all(sources.map((s) => this.#record(s)));
    try {
      await this.#metrics.prune(Date.now() - ROLLUP_RETENTION_MS);
    } catch (error) {
      this.#warn(LOG.storeFailed, { error: String(error) });
    }
  }

  /** One environment: read, store (idempotent), then acknowledge; a failure leaves the roll-ups with the proxy. */
  async #record({ projectId, environment, proxy }: RollupSource): Promise<void> {
    let batch: Awaited<ReturnType<RollupSource['proxy']['readRollups']>>;
    try {
      batch = await proxy.readRollups();
    } catch (error) {
      this.#warn(LOG.readFailed, { environment, error: String(error) });
      return;
    }
    const key = `${projectId}\0${environment}`;
    if (batch.dropped > (this.#dropped.get(key) ?? 0)) {
      this.#warn(LOG.dropped, { environment, dropped: batch.dropped });
      this.#dropped.set(key, batch.dropped);
    }
    try {
      if (batch.rollups.length > 0) await this.#metrics.append(batch.rollups.map((r) => toRow(projectId, environment, r)));
    } catch (error) {
      this.#warn(LOG.storeFailed, { environment, error: String(error) });
      return;
    }
    // Stored: the proxy may forget them. If this fails, the next flush stores them again, which the store skips.
    await proxy.ackRollups(batch.through).catch((error: unknown) => this.#warn(LOG.readFailed, { environment, error: String(error) }));
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#flushing;
    await this.flush();
  }
}
