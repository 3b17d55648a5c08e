/**
 * Reads the SLIs that live in Prometheus for the SLO evaluation. For each SLO, at one instant
 * (the evaluation's): the good and total rates over each of its alert windows, from its two
 * queries with the window in place of `{{window}}` — exactly what the recording rules of
 * `gantry slo rules` compute, so Gantry's alerts and Prometheus's agree — and, once a minute,
 * the rates over the whole period so far, which the budget is read from (Pyrra's and Sloth's
 * choice too: Prometheus keeps the history, Gantry does not copy it).
 *
 * Queries run at most MAX_CONCURRENT_QUERIES at a time across all SLOs, each bounded by the
 * query port's own timeout. Nothing here throws: an SLO whose queries cannot be answered (no
 * Prometheus configured, unreachable, an error, no data, several series) gets one problem line
 * naming the query and the window, and the caller keeps its alerts as they were.
 */
import type { SloConfig } from '../../core/slo-config.ts';
import { withWindow } from '../../core/slo-config.ts';
import { createLimiter } from '../../executor/workspace.ts';
import { budgetSpan, type EventCounts, promDuration } from '../../slo/index.ts';

/**
 * One instant query at `atMs`: a number; null with no problem when the query returned no
 * series; null with a problem line otherwise. Must not reject and must give up by itself (a
 * timeout) — `PrometheusSource.query` in the server.
 */
export type PrometheusQuery = (promql: string, atMs: number) => Promise<{ value: number | null; problem?: string }>;

/** An SLO's Prometheus SLI at one evaluation. */
export type PrometheusSliReading =
  | {
      ok: true;
      /** Good and total events per second over each alert window, by window length. */
      windows: Map<number, EventCounts>;
      /** Good and total events over the period so far (rate × its length); refreshed once a minute. */
      period: EventCounts;
    }
  | { ok: false; problem: string };

/** An SLO to read: its key (for the period's cache) and config. */
export interface PrometheusSli {
  id: string;
  slo: SloConfig;
}

/** Queries in flight at once, across every SLO of the server. */
const MAX_CONCURRENT_QUERIES = 4;
/** The period's rates move slowly and a 30-day range is the costliest query: read it this often. */
export const PERIOD_REFRESH_MS = 60_000;

const NO_PROMETHEUS =
  'no Prometheus to ask: start the server with GANTRY_PROMETHEUS_URL to evaluate this SLO (or load `gantry slo rules` into Prometheus)';

export class PrometheusSliReader {
  readonly #query: PrometheusQuery | null;
  readonly #limit = createLimiter(MAX_CONCURRENT_QUERIES);
  /** The last period read per SLO, and when and from where (a calendar period re-reads when a new one starts). */
  readonly #periods = new Map<string, { atMs: number; fromMs: number; counts: EventCounts }>();

  /** `query` null: no Prometheus configured; every SLO then reads as a problem saying so. */
  constructor(query: PrometheusQuery | null) {
    this.#query = query;
  }

  /** Reads every SLO at `nowMs`, concurrently within the limit; one reading per SLO id. */
  async read(slis: readonly PrometheusSli[], nowMs: number): Promise<Map<string, PrometheusSliReading>> {
    const live = new Set(slis.map((s) => s.id));
    for (const id of this.#periods.keys()) if (!live.has(id)) this.#periods.delete(id);
    const readings = await Promise.all(slis.map(async (s) => [s.id, await this.#readOne(s, nowMs)] as const));
    return new Map(readings);
  }

  async #readOne({ id, slo }: PrometheusSli, nowMs: number): Promise<PrometheusSliReading> {
    const query = this.#query;
    if (query === null) return { ok: false, problem: NO_PROMETHEUS };
    if (slo.sli.kind !== 'prometheus') return { ok: false, problem: 'not a Prometheus SLI' };
    const sli = slo.sli;
    const rates = (windowMs: number) =>
      Promise.all([this.#ask(query, sli.good, windowMs, nowMs, 'good'), this.#ask(query, sli.total, windowMs, nowMs, 'total')]).then(
        ([good, total]): EventCounts | string => (typeof good === 'string' ? good : typeof total === 'string' ? total : { good, total }),
      );

    const windowLengths = [...new Set(slo.alerts.flatMap((a) => [a.longWindowMs, a.shortWindowMs]))];
    const span = budgetSpan(slo, nowMs);
    // Whole seconds: the range reads as `30d` or `5d3h12m7s`, not with milliseconds.
    const periodMs = Math.max(1000, Math.floor((span.toMs - span.fromMs) / 1000) * 1000);
    const cached = this.#periods.get(id);
    const periodStale =
      cached === undefined || nowMs - cached.atMs >= PERIOD_REFRESH_MS || (slo.calendar !== undefined && cached.fromMs !== span.fromMs);
    const [windowRates, periodRates] = await Promise.all([
      Promise.all(windowLengths.map(rates)),
      periodStale ? rates(periodMs) : Promise.resolve(undefined),
    ]);

    const windows = new Map<number, EventCounts>();
    for (const [i, windowMs] of windowLengths.entries()) {
      const counts = windowRates[i] as EventCounts | string;
      if (typeof counts === 'string') return { ok: false, problem: counts };
      windows.set(windowMs, counts);
    }
    if (typeof periodRates === 'string') return { ok: false, problem: periodRates };
    if (periodRates !== undefined) {
      const seconds = periodMs / 1000;
      this.#periods.set(id, {
        atMs: nowMs,
        fromMs: span.fromMs,
        counts: { good: periodRates.good * seconds, total: periodRates.total * seconds },
      });
    }
    const period = this.#periods.get(id)?.counts ?? { good: 0, total: 0 };
    return { ok: true, windows, period };
  }

  /** One query's rate, or a problem line naming the query and its window. */
  async #ask(query: PrometheusQuery, template: string, windowMs: number, nowMs: number, which: 'good' | 'total'): Promise<number | string> {
    const window = promDuration(windowMs);
    let answer: Awaited<ReturnType<PrometheusQuery>>;
    try {
      answer = await this.#limit(() => query(withWindow(template, window), nowMs));
    } catch (error) {
      // The port promises not to reject; if one does, it is this SLO's problem, not the evaluation's.
      answer = { value: null, problem: error instanceof Error ? error.message : String(error) };
    }
    if (answer.value === null) return `the ${which} query over ${window}: ${answer.problem ?? 'returned no data'}`;
    // A rate is never negative; a query that says so is not counting events.
    if (answer.value < 0) return `the ${which} query over ${window}: returned ${answer.value}, not a rate of events`;
    return answer.value;
  }
}
