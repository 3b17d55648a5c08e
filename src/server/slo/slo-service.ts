/**
 * Evaluates every environment's SLOs continuously (every 2 s by default): the stored proxy
 * roll-ups go into each SLO's downsampled history exactly once (read by id, the cursor stored
 * in the same transaction as the buckets), the seconds since the last roll-up come from the
 * proxy's live window (counted, never stored), and the burn-rate rules decide each alert.
 * Every alert firing and resolving is an event with its numbers. The SLOs are those of the
 * gantry.yaml each environment runs (its current release), so they change with a deploy.
 *
 * Prometheus SLIs are read from Prometheus at each evaluation (`prometheus-sli-reader.ts`):
 * each window's burn rate from the SLI's queries over that window, the budget from the same
 * queries over the period. They keep no history here; while Prometheus cannot answer, such an
 * SLO shows the problem and its alerts stay as they were.
 */
import { type Clock, type Repeating, repeatEvery } from '../../core/clock.ts';
import type { SloConfig } from '../../core/slo-config.ts';
import type { Value } from '../../core/types.ts';
import {
  type AlertState,
  type AlertTransition,
  type BudgetStatus,
  budgetSpan,
  budgetStatus,
  burnRate,
  compactHistory,
  type EventCounts,
  type HistoryBucket,
  type HistoryTier,
  historyTiers,
  INACTIVE,
  longestPeriodMs,
  NO_EVENTS,
  periodLengthMs,
  type RequestCounts,
  type RuleReading,
  readRules,
  recordSpan,
  sliCounts,
  stepAlert,
  sumEvents,
} from '../../slo/index.ts';
import type { SloStatus } from '../../slo/index.ts';
import type { EventEnvironment, NewEvent, SloBucket, SloKey, Store } from '../../store/ports.ts';
import { type PrometheusQuery, PrometheusSliReader, type PrometheusSliReading } from './prometheus-sli-reader.ts';

/** An environment with a current release, and the SLOs that release declares for it (maybe none). */
export interface SloTarget {
  projectId: string;
  environment: string;
  slos: SloConfig[];
}

export interface SloServiceDeps {
  store: Store;
  clock: Clock;
  /** The environments to evaluate and their SLOs (from each one's current release). */
  targets(): Promise<SloTarget[]>;
  /** Requests through an environment's proxy in [sinceMs, untilMs), every release together; undefined when its proxy does not answer. */
  traffic(projectId: string, environment: string, sinceMs: number, untilMs: number): Promise<RequestCounts | undefined>;
  eventEnv(): EventEnvironment;
  /** Instant queries for Prometheus SLIs; absent when the server has no Prometheus URL (those SLOs then show a problem). */
  prometheus?: PrometheusQuery;
  /** After an evaluation stored alert changes for an environment (live streams). */
  changed?(projectId: string, environment: string): void;
  warn(message: string, data: Record<string, unknown>): void;
  /** Default 2000 ms. */
  intervalMs?: number;
  /** How long an environment's live window may take; default LIVE_WINDOW_TIMEOUT_MS. */
  liveWindowTimeoutMs?: number;
}

/**
 * Past this, an evaluation goes on without an environment's live window (its seconds wait for
 * their roll-up): a proxy, a pod or a Kubernetes API that does not answer must not hold every SLO
 * and alert of the server. A network bound, so real time, not the clock port's.
 */
const LIVE_WINDOW_TIMEOUT_MS = 5000;

/** An environment's live window, or undefined when it could not be read within `ms`. */
function liveWindowWithin<T>(read: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(resolve, ms, undefined);
  });
  return Promise.race([read.catch(() => undefined), late]).finally(() => clearTimeout(timer));
}

/** How many roll-ups one evaluation reads at most (the rest at the next). */
const ROLLUP_BATCH = 5000;
/** How far back the live window reaches when no roll-up has arrived yet for an environment. */
const MAX_TAIL_MS = 60_000;

const SEVERITIES = ['page', 'ticket'] as const;
/** Compaction (and the full comparison with what is stored) runs this often per SLO, staggered. */
const COMPACT_EVERY_MS = 5 * 60_000;

interface Tracked {
  key: SloKey;
  config: SloConfig;
  tiers: HistoryTier[];
  buckets: HistoryBucket[];
  /** What is stored, to write only the difference. */
  stored: Map<number, HistoryBucket>;
  alerts: Record<(typeof SEVERITIES)[number], AlertState>;
  /** When Gantry began measuring it (its oldest bucket, or when it was first evaluated). */
  sinceMs: number;
  readings: RuleReading[];
  /** The live seconds since the newest roll-up, counted at the last evaluation (never stored). */
  tail: { fromMs: number; toMs: number; counts: EventCounts } | null;
  /** The earliest time roll-ups changed since the last store (buckets ending after it are written). */
  touchedFromMs: number | null;
  compactedAtMs: number;
  /** A Prometheus SLI's last reading: rates per window and the period's counts (null until read; never stored). */
  prometheus: Extract<PrometheusSliReading, { ok: true }> | null;
  /** Why the last evaluation could not measure it (a Prometheus SLI's queries), or null. */
  problem: string | null;
}

function keyString(k: SloKey): string {
  return `${k.projectId}\0${k.environment}\0${k.slo}`;
}

function envString(projectId: string, environment: string): string {
  return `${projectId}\0${environment}`;
}

export class SloService {
  readonly #deps: SloServiceDeps;
  readonly #tracked = new Map<string, Tracked>();
  /** Stored state of SLOs not yet seen in a target (their config comes with the first evaluation). */
  readonly #pending = new Map<string, { buckets: HistoryBucket[]; alerts: Record<string, Value> }>();
  /** The end of the newest roll-up read, per environment: the live window starts there. */
  readonly #consumedUntil = new Map<string, number>();
  #cursor = 0;
  #evaluatedAtMs: number | null = null;
  #loop: Repeating | undefined;
  #loaded = false;
  readonly #prometheus: PrometheusSliReader;

  constructor(deps: SloServiceDeps) {
    this.#deps = deps;
    this.#prometheus = new PrometheusSliReader(deps.prometheus ?? null);
  }

  /** Loads the stored histories and evaluates on the interval until stop(). */
  async start(): Promise<void> {
    await this.#load();
    this.#loop ??= repeatEvery(
      this.#deps.clock,
      this.#deps.intervalMs ?? 2000,
      () => this.evaluate(),
      (error) => this.#deps.warn('evaluating SLOs failed', { error: String(error) }),
    );
  }

  async stop(): Promise<void> {
    await this.#loop?.stop();
  }

  async #load(): Promise<void> {
    if (this.#loaded) return;
    this.#loaded = true;
    this.#cursor = await this.#deps.store.slos.cursor();
    for (const record of await this.#deps.store.slos.load()) {
      const key = { projectId: record.projectId, environment: record.environment, slo: record.slo };
      const buckets = record.buckets.map((b) => ({ ...b }));
      this.#pending.set(keyString(key), { buckets, alerts: record.alerts });
      const last = buckets.at(-1);
      const env = envString(key.projectId, key.environment);
      if (last !== undefined) this.#consumedUntil.set(env, Math.max(this.#consumedUntil.get(env) ?? 0, last.endMs));
    }
  }

  /** One evaluation of every SLO; the timer calls it, tests may too. */
  async evaluate(): Promise<void> {
    await this.#load();
    const now = this.#deps.clock.now();
    const targets = await this.#deps.targets();
    this.#sync(targets, now);
    // Prometheus answers while the roll-ups are read.
    const prometheusReadings = this.#prometheus.read(
      targets.flatMap((target) =>
        target.slos
          .filter((slo) => slo.sli.kind === 'prometheus')
          .map((slo) => ({ id: keyString({ projectId: target.projectId, environment: target.environment, slo: slo.name }), slo })),
      ),
      now,
    );

    // Stored roll-ups into the histories, exactly once. Staged, and published with the new live
    // windows below: between the two reads `status()` may be asked, and a new roll-up beside the
    // previous live window that already counted its seconds would count them twice.
    const staged = new Map<Tracked, HistoryBucket[]>();
    let cursor = this.#cursor;
    for (;;) {
      const rows = await this.#deps.store.metrics.after(cursor, ROLLUP_BATCH);
      for (const row of rows) {
        cursor = row.id;
        const env = envString(row.projectId, row.environment);
        this.#consumedUntil.set(env, Math.max(this.#consumedUntil.get(env) ?? 0, row.endMs));
        const counts = {
          requests: row.requests,
          errors: row.errors,
          latency: (row.data.latency ?? []) as unknown as RequestCounts['latency'],
        };
        for (const t of this.#tracked.values()) {
          if (t.key.projectId !== row.projectId || t.key.environment !== row.environment) continue;
          const events = sliCounts(t.config.sli, counts);
          if (events !== undefined) {
            staged.set(t, recordSpan(staged.get(t) ?? t.buckets, t.tiers, row.startMs, row.endMs, events));
            t.touchedFromMs = Math.min(t.touchedFromMs ?? row.startMs, row.startMs);
          }
        }
      }
      if (rows.length < ROLLUP_BATCH) break;
    }

    const readings = await prometheusReadings;
    // Every environment's window at once, each within its bound.
    const liveWindows = new Map<string, RequestCounts | undefined>(
      await Promise.all(
        targets
          .filter((target) => target.slos.some((s) => s.sli.kind !== 'prometheus'))
          .map(async (target): Promise<[string, RequestCounts | undefined]> => {
            const env = envString(target.projectId, target.environment);
            const since = Math.max(this.#consumedUntil.get(env) ?? 0, now - MAX_TAIL_MS);
            const read = this.#deps.traffic(target.projectId, target.environment, since, now);
            return [env, await liveWindowWithin(read, this.#deps.liveWindowTimeoutMs ?? LIVE_WINDOW_TIMEOUT_MS)];
          }),
      ),
    );
    // From here until the store write nothing is awaited: histories and live windows change together.
    for (const [t, buckets] of staged) {
      t.buckets = buckets;
      t.tail = null;
    }
    const events: NewEvent[] = [];
    const alertChanges: (SloKey & { alerts: Record<string, Value> })[] = [];
    const changedEnvs = new Set<string>();
    for (const target of targets) {
      const env = envString(target.projectId, target.environment);
      const since = this.#consumedUntil.get(env) ?? now - MAX_TAIL_MS;
      const tail = liveWindows.get(env);
      for (const slo of target.slos) {
        const id = keyString({ projectId: target.projectId, environment: target.environment, slo: slo.name });
        const t = this.#tracked.get(id);
        if (t === undefined) continue;
        if (slo.sli.kind === 'prometheus') {
          const reading = readings.get(id) ?? { ok: false, problem: 'not read' };
          if (!reading.ok) {
            // Unmeasured is not healthy: alerts neither fire nor resolve until Prometheus answers.
            t.problem = reading.problem;
            t.readings = [];
            continue;
          }
          t.prometheus = reading;
          t.problem = null;
          // Prometheus holds the SLI's past: every window is as measured as its data allows, as for the rules.
          t.readings = readRules(slo.alerts, (windowMs) => this.#burnRateOver(t, windowMs, now), Number.POSITIVE_INFINITY);
        } else {
          const live = tail === undefined ? undefined : sliCounts(slo.sli, tail);
          t.tail = live !== undefined && live.total > 0 ? { fromMs: Math.max(since, now - MAX_TAIL_MS), toMs: now, counts: live } : null;
          t.readings = readRules(slo.alerts, (windowMs) => this.#burnRateOver(t, windowMs, now), now - t.sinceMs);
        }
        const transitions: AlertTransition[] = [];
        for (const severity of SEVERITIES) {
          const step = stepAlert(t.alerts[severity], severity, t.readings, now);
          t.alerts[severity] = step.state;
          if (step.transition !== undefined) transitions.push(step.transition);
        }
        if (transitions.length > 0) {
          alertChanges.push({ ...t.key, alerts: t.alerts as unknown as Record<string, Value> });
          changedEnvs.add(env);
          const budget = this.#budget(t, now);
          for (const transition of transitions) events.push(this.#event(t, transition, budget));
        }
      }
    }

    // Compact and store what changed, with the cursor and the alert events, in one transaction.
    const upserts: (SloKey & SloBucket)[] = [];
    const removed: (SloKey & { startMs: number })[] = [];
    /** What the store holds after this evaluation: all of it after a compaction, or buckets written over it. */
    const storedAfter = new Map<Tracked, Map<number, HistoryBucket> | HistoryBucket[]>();
    for (const t of this.#tracked.values()) {
      if (now - t.compactedAtMs >= COMPACT_EVERY_MS) {
        // Aging moves buckets between tiers slowly: compact now and then, and compare all of it with the store.
        t.buckets = compactHistory(t.buckets, t.tiers, now);
        const next = new Map(t.buckets.map((b) => [b.startMs, b]));
        for (const b of t.buckets) {
          const old = t.stored.get(b.startMs);
          if (old === undefined || old.endMs !== b.endMs || old.good !== b.good || old.total !== b.total) upserts.push({ ...t.key, ...b });
        }
        for (const startMs of t.stored.keys()) if (!next.has(startMs)) removed.push({ ...t.key, startMs });
        storedAfter.set(t, next);
      } else if (t.touchedFromMs !== null) {
        // Roll-ups only add to buckets at and after the earliest one they touched: write those.
        const written: HistoryBucket[] = [];
        for (let i = t.buckets.length - 1; i >= 0; i--) {
          const b = t.buckets[i] as HistoryBucket;
          if (b.endMs <= t.touchedFromMs) break;
          upserts.push({ ...t.key, ...b });
          written.push(b);
        }
        storedAfter.set(t, written);
      }
    }
    if (upserts.length > 0 || removed.length > 0 || alertChanges.length > 0 || cursor !== this.#cursor) {
      try {
        await this.#deps.store.slos.apply({ cursor, buckets: upserts, removed, alerts: alertChanges, events });
      } catch (error) {
        // Memory now holds roll-ups the store has not: start again from the store's state.
        this.#forget();
        throw error;
      }
    }
    for (const [t, stored] of storedAfter) {
      if (t.touchedFromMs === null || now - t.compactedAtMs >= COMPACT_EVERY_MS) t.compactedAtMs = now;
      if (stored instanceof Map) t.stored = stored;
      else for (const b of stored) t.stored.set(b.startMs, b);
      t.touchedFromMs = null;
    }
    this.#cursor = cursor;
    this.#evaluatedAtMs = now;
    for (const env of changedEnvs) {
      const [projectId = '', environment = ''] = env.split('\0');
      this.#deps.changed?.(projectId, environment);
    }
  }

  #forget(): void {
    this.#tracked.clear();
    this.#pending.clear();
    this.#consumedUntil.clear();
    this.#loaded = false;
  }

  /** Tracks the targets' SLOs: new ones start (from their stored state if any), changed ones take the new config, removed ones are forgotten. */
  #sync(targets: SloTarget[], now: number): void {
    const wanted = new Set<string>();
    const gone: SloKey[] = [];
    for (const target of targets) {
      for (const slo of target.slos) {
        const key = { projectId: target.projectId, environment: target.environment, slo: slo.name };
        const id = keyString(key);
        wanted.add(id);
        const existing = this.#tracked.get(id);
        if (existing !== undefined) {
          if (longestPeriodMs(existing.config) !== longestPeriodMs(slo)) existing.tiers = historyTiers(longestPeriodMs(slo));
          existing.config = slo;
          continue;
        }
        const stored = this.#pending.get(id);
        this.#pending.delete(id);
        const buckets = stored?.buckets ?? [];
        const alerts = (stored?.alerts ?? {}) as Partial<Record<(typeof SEVERITIES)[number], AlertState>>;
        this.#tracked.set(id, {
          key,
          config: slo,
          tiers: historyTiers(longestPeriodMs(slo)),
          buckets,
          stored: new Map(buckets.map((b) => [b.startMs, b])),
          alerts: { page: alerts.page ?? INACTIVE, ticket: alerts.ticket ?? INACTIVE },
          sinceMs: buckets[0]?.startMs ?? now,
          readings: [],
          tail: null,
          touchedFromMs: null,
          // Staggered, so that not every SLO compacts in the same evaluation.
          compactedAtMs: now - ((this.#tracked.size * 7919) % COMPACT_EVERY_MS),
          prometheus: null,
          problem: null,
        });
      }
      // An SLO the environment's release no longer declares is forgotten, with its history.
      for (const [id, t] of this.#tracked) {
        if (t.key.projectId === target.projectId && t.key.environment === target.environment && !wanted.has(id)) {
          this.#tracked.delete(id);
          gone.push(t.key);
        }
      }
      for (const id of this.#pending.keys()) {
        const [projectId, environment] = id.split('\0');
        if (projectId === target.projectId && environment === target.environment && !wanted.has(id)) {
          this.#pending.delete(id);
          const [, , slo = ''] = id.split('\0');
          gone.push({ projectId, environment, slo });
        }
      }
    }
    if (gone.length > 0) {
      this.#deps.store.slos
        .remove(gone)
        .catch((error: unknown) => this.#deps.warn('forgetting removed SLOs failed', { error: String(error) }));
    }
  }

  /** Events in [fromMs, toMs): the stored history plus the share of the live seconds inside the window. */
  #window(t: Tracked, fromMs: number, toMs: number): EventCounts {
    const stored = sumEvents(t.buckets, fromMs, toMs);
    const tail = t.tail;
    if (tail === null) return stored;
    const overlap = Math.min(toMs, tail.toMs) - Math.max(fromMs, tail.fromMs);
    if (overlap <= 0) return stored;
    const share = Math.min(1, overlap / (tail.toMs - tail.fromMs));
    return { good: stored.good + tail.counts.good * share, total: stored.total + tail.counts.total * share };
  }

  /** The burn rate over the `windowMs` before now: from the history, or a Prometheus SLI's last reading. */
  #burnRateOver(t: Tracked, windowMs: number, now: number): number {
    if (t.config.sli.kind === 'prometheus') return burnRate(t.prometheus?.windows.get(windowMs) ?? NO_EVENTS, t.config.objective);
    return burnRate(this.#window(t, now - windowMs, now), t.config.objective);
  }

  /** Events over the period so far (rolling, or since the calendar period began). */
  #periodEvents(t: Tracked, now: number): EventCounts {
    if (t.config.sli.kind === 'prometheus') return t.prometheus?.period ?? NO_EVENTS;
    return this.#window(t, budgetSpan(t.config, now).fromMs, now);
  }

  #budget(t: Tracked, now: number): BudgetStatus {
    const period = this.#periodEvents(t, now);
    // Projected at the fastest page rule's long window: recent, but not every request's swing.
    const fastest = t.config.alerts.filter((a) => a.severity === 'page').sort((a, b) => a.longWindowMs - b.longWindowMs)[0];
    const current = fastest === undefined ? 0 : this.#burnRateOver(t, fastest.longWindowMs, now);
    return budgetStatus(period, t.config.objective, periodLengthMs(t.config, now), current);
  }

  #event(t: Tracked, transition: AlertTransition, budget: BudgetStatus): NewEvent {
    const readings = transition.readings.map((r) => ({
      burnRate: r.rule.burnRate,
      longWindowMs: r.rule.longWindowMs,
      shortWindowMs: r.rule.shortWindowMs,
      longBurnRate: round(r.longBurnRate),
      shortBurnRate: round(r.shortBurnRate),
      holds: r.holds,
    }));
    const base = {
      slo: t.key.slo,
      severity: transition.severity,
      objective: t.config.objective,
      readings,
      budgetRemaining: round(budget.remaining),
    };
    const data =
      transition.type === 'fired'
        ? base
        : {
            ...base,
            firedAt: new Date(transition.firedAtMs).toISOString(),
            durationMs: transition.atMs - transition.firedAtMs,
            peakBurnRate: round(transition.peakBurnRate),
          };
    return {
      type: `slo.alert.${transition.type}`,
      subject: `environment:${t.key.projectId}/${t.key.environment}`,
      actor: 'server',
      at: new Date(transition.atMs).toISOString(),
      data: data as unknown as Record<string, Value>,
      env: this.#deps.eventEnv(),
    };
  }

  /** Every alert firing now, across projects. */
  firing(
    projectId?: string,
  ): { projectId: string; environment: string; slo: string; severity: string; sinceMs: number; peakBurnRate: number }[] {
    const out = [];
    for (const t of this.#tracked.values()) {
      if (projectId !== undefined && t.key.projectId !== projectId) continue;
      for (const severity of SEVERITIES) {
        const state = t.alerts[severity];
        if (state.status === 'firing') out.push({ ...t.key, severity, sinceMs: state.sinceMs, peakBurnRate: state.peakBurnRate });
      }
    }
    return out;
  }

  /** The SLOs of a project (optionally one environment), as last evaluated. */
  status(projectId: string, environment?: string): SloStatus[] {
    const now = this.#deps.clock.now();
    const out: SloStatus[] = [];
    for (const t of this.#tracked.values()) {
      if (t.key.projectId !== projectId || (environment !== undefined && t.key.environment !== environment)) continue;
      out.push({
        environment: t.key.environment,
        slo: t.config,
        budget: this.#budget(t, now),
        rules: t.readings.map((r) => ({
          severity: r.rule.severity,
          burnRate: r.rule.burnRate,
          longWindowMs: r.rule.longWindowMs,
          shortWindowMs: r.rule.shortWindowMs,
          longBurnRate: r.longBurnRate,
          shortBurnRate: r.shortBurnRate,
          holds: r.holds,
        })),
        alerts: { ...t.alerts },
        sinceMs: t.sinceMs,
        evaluatedAtMs: this.#evaluatedAtMs,
        evaluated: t.config.sli.kind !== 'prometheus' || t.prometheus !== null,
        problem: t.problem,
      });
    }
    return out;
  }

  /**
   * What an environment lost over [fromMs, toMs) (an incident's impact): requests that failed
   * their SLI (the availability SLO's when there is one) and the largest share of a period's
   * budget any SLO burned then. null when no SLO there is measured by Gantry.
   */
  impact(
    projectId: string,
    environment: string,
    fromMs: number,
    toMs: number,
  ): { failedRequests: number; totalRequests: number; budgetBurned: number | null } | null {
    const now = this.#deps.clock.now();
    const own = [...this.#tracked.values()].filter(
      (t) => t.key.projectId === projectId && t.key.environment === environment && t.config.sli.kind !== 'prometheus',
    );
    if (own.length === 0) return null;
    let burned = 0;
    for (const t of own) {
      const during = this.#window(t, fromMs, toMs);
      const period = this.#periodEvents(t, now);
      const allowed = period.total * (1 - t.config.objective);
      if (allowed > 0) burned = Math.max(burned, (during.total - during.good) / allowed);
    }
    const main = own.find((t) => t.config.sli.kind === 'availability') ?? (own[0] as Tracked);
    const during = this.#window(main, fromMs, toMs);
    return { failedRequests: Math.round(during.total - during.good), totalRequests: Math.round(during.total), budgetBurned: burned };
  }

  /** The budget's good/total history of one SLO, oldest first (charts). */
  history(key: SloKey): HistoryBucket[] {
    const t = this.#tracked.get(keyString(key));
    if (t === undefined) return [];
    return t.tail === null ? t.buckets : recordSpan(t.buckets, t.tiers, t.tail.fromMs, t.tail.toMs, t.tail.counts);
  }
}

function round(n: number): number {
  return Number.isFinite(n) ? Math.round(n * 1e6) / 1e6 : n;
}
