/**
 * Moves the proxies' ten-second request roll-ups into the store every ten seconds (charts and
 * history outlive the in-memory one-second buckets), and forgets roll-ups older than a week.
 */
import type { Value } from '../../core/types.ts';
import type { MetricRollup, Store } from '../../store/ports.ts';
import type { DeliveryController } from './delivery-controller.ts';

const EVERY_MS = 10_000;
export const ROLLUP_RETENTION_MS = 7 * 24 * 3600 * 1000;

export class RollupRecorder {
  readonly #store: Store;
  readonly #delivery: DeliveryController;
  readonly #warn: (message: string, data: Record<string, unknown>) => void;
  readonly #timer: NodeJS.Timeout;
  #flushing: Promise<void> = Promise.resolve();

  constructor(store: Store, delivery: DeliveryController, warn: (message: string, data: Record<string, unknown>) => void) {
    this.#store = store;
    this.#delivery = delivery;
    this.#warn = warn;
    this.#timer = setInterval(() => {
      this.#flushing = this.flush();
    }, EVERY_MS);
    this.#timer.unref();
  }

  async flush(): Promise<void> {
    try {
      const rows: MetricRollup[] = (await this.#delivery.drainRollups()).flatMap(({ projectId, environment, rollups }) =>
        rollups.map((r) => ({
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
        })),
      );
      if (rows.length > 0) await this.#store.metrics.append(rows);
      await this.#store.metrics.prune(Date.now() - ROLLUP_RETENTION_MS);
    } catch (error) {
      this.#warn('storing request metrics failed', { error: String(error) });
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#flushing;
    await this.flush();
  }
}
