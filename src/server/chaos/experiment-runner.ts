/**
 * Carries out one experiment run: feeds the reducer (src/chaos/experiment-machine.ts) one event at
 * a time, appends its records to the event log BEFORE acting on its commands, and acts — checks
 * the guard, reads the proxy's metrics, sets the faults with their deadline, looks at the
 * hypothesis every second, clears the faults. The reducer decides, the runner only carries out
 * (as RunDriver and RolloutDriver do).
 *
 * Halting: a look that sees the hypothesis broken yields `clear-faults` first; the record of it
 * is one append, then the clear goes to the proxy, so the faults end within the look's second.
 * If the server dies at any point, the proxy clears the faults by the deadline it was given.
 */
import {
  WATCH_INTERVAL_MS,
  addSamples,
  evaluateHypothesis,
  reduceExperiment,
  type BlastRadiusCounts,
  type ExperimentCommand,
  type ExperimentEvent,
  type ExperimentState,
  type ExperimentTransition,
  type HypothesisSlo,
} from '../../chaos/index.ts';
import type { Value } from '../../core/types.ts';
import type { Sample } from '../../delivery/index.ts';
import type { FaultReport, WindowStats } from '../../proxy/index.ts';
import type { AppliedInstanceFault } from '../../core/chaos-config.ts';
import { applyInstanceFaults, killPods, revertInstanceFaults } from './instance-fault-driver.ts';
import type { ChaosDeps, ChaosTarget } from './ports.ts';

const EMPTY: Sample = { requests: 0, errors: 0, latency: [] };

/** How often the clear is retried when the proxy does not answer (its own deadline is the last resort). */
const CLEAR_ATTEMPTS = 3;

export interface RunnerContext {
  projectId: string;
  actor: string;
  target: ChaosTarget;
  slo: HypothesisSlo | undefined;
}

export class ExperimentRunner {
  state: ExperimentState;
  /** Settles with the final state. */
  readonly done: Promise<ExperimentState>;
  readonly #deps: ChaosDeps;
  readonly #ctx: RunnerContext;
  #queue: Promise<void> = Promise.resolve();
  #resolve!: (s: ExperimentState) => void;
  #watch: ReturnType<ChaosDeps['clock']['setTimeout']> | null = null;
  #measure: ReturnType<ChaosDeps['clock']['setTimeout']> | null = null;
  #stopped = false;

  constructor(deps: ChaosDeps, ctx: RunnerContext, initial: ExperimentTransition) {
    this.#deps = deps;
    this.#ctx = ctx;
    this.state = initial.state;
    this.done = new Promise((r) => {
      this.#resolve = r;
    });
    this.#queue = this.#carry(initial);
  }

  /** Aborts by hand (or at shutdown): the faults come out at once, the record says why. */
  abort(reason: string): Promise<void> {
    return this.#feed({ type: 'abort', at: this.#deps.clock.now(), reason });
  }

  /** Stops timers without recording anything (tests that leave a run mid-way, like a killed server). */
  detach(): void {
    this.#stopped = true;
    this.#clearTimers();
  }

  #feed(event: ExperimentEvent): Promise<void> {
    this.#queue = this.#queue.then(() => {
      if (this.#stopped || this.state.phase === 'finished') return;
      return this.#carry(reduceExperiment(this.state, event));
    });
    return this.#queue.catch((error: unknown) => this.#deps.warn('experiment step failed', { experimentId: this.state.id, err: error }));
  }

  async #carry(t: ExperimentTransition): Promise<void> {
    this.state = t.state;
    for (const c of t.commands) if (c.type === 'record') await this.#record(c);
    for (const c of t.commands) if (c.type !== 'record') this.#act(c);
    if (t.commands.length > 0) this.#deps.changed?.(this.#ctx.projectId);
    if (this.state.phase === 'finished') {
      this.#clearTimers();
      this.#resolve(this.state);
    }
  }

  async #record(c: Extract<ExperimentCommand, { type: 'record' }>): Promise<void> {
    const s = this.state;
    const data: Record<string, unknown> =
      c.event === 'experiment.finished'
        ? { ...c.data, looks: s.looks }
        : { ...c.data, experimentId: s.id, name: s.name, environment: s.environment, phase: s.phase, deadlineAt: s.deadlineAt };
    if (c.event === 'experiment.started') Object.assign(data, { config: s.config, startedAt: s.startedAt });
    await this.#deps.store.events.append({
      type: c.event,
      subject: `environment:${this.#ctx.projectId}/${s.environment}`,
      actor: c.event === 'experiment.started' ? this.#ctx.actor : `experiment:${s.id}`,
      at: new Date(this.#deps.clock.now()).toISOString(),
      data: JSON.parse(JSON.stringify(data)) as Record<string, Value>,
      env: this.#deps.eventEnv(),
    });
  }

  #act(c: Exclude<ExperimentCommand, { type: 'record' }>): void {
    switch (c.type) {
      case 'check-guard':
        void this.#checkGuard();
        return;
      case 'measure':
        this.#scheduleMeasure(c.sinceMs, c.untilMs);
        return;
      case 'set-faults':
        void this.#setFaults(c);
        return;
      case 'clear-faults':
        if (this.#watch !== null) this.#deps.clock.clearTimeout(this.#watch);
        this.#watch = null;
        void this.#clearFaults();
        return;
    }
  }

  async #checkGuard(): Promise<void> {
    const { guard } = this.state.config;
    const problems: string[] = [];
    const target = (await this.#deps.target(this.#ctx.projectId, this.state.environment)) ?? null;
    if (target === null) problems.push(`environment ${this.state.environment} is not running`);
    if (target !== null && guard.noRollout && target.rolloutRelease !== null)
      problems.push(`a rollout of release ${target.rolloutRelease} is under way in ${this.state.environment}`);
    if (guard.minBudget !== undefined) {
      for (const b of this.#deps.budgets(this.#ctx.projectId, this.state.environment)) {
        if (b.remaining < guard.minBudget)
          problems.push(`SLO '${b.slo}' has ${pct(b.remaining)} of its error budget left, below the guard's ${pct(guard.minBudget)}`);
      }
    }
    await this.#feed({ type: 'guard-checked', at: this.#deps.clock.now(), problems });
  }

  #scheduleMeasure(sinceMs: number, untilMs: number): void {
    const wait = Math.max(0, untilMs - this.#deps.clock.now());
    this.#measure = this.#deps.clock.setTimeout(() => {
      this.#measure = null;
      void this.#measureNow(sinceMs, untilMs);
    }, wait);
  }

  async #measureNow(sinceMs: number, untilMs: number): Promise<void> {
    let sample = EMPTY;
    try {
      sample = sampleOf(await this.#ctx.target.proxy.window(sinceMs, untilMs));
    } catch (error) {
      this.#deps.warn('reading the steady state failed', { experimentId: this.state.id, err: error });
    }
    const result = evaluateHypothesis(this.state.config.hypothesis, { all: sample, inside: EMPTY, outside: sample }, this.#ctx.slo);
    await this.#feed({ type: 'steady-state', at: this.#deps.clock.now(), result });
  }

  /** Tells the proxy the service-edge faults' callers are now these instances (`callerKeys[i]` of fault i, null: unchanged). */
  async followCallers(callerKeys: (string[] | null)[]): Promise<void> {
    await this.#ctx.target.proxy.followCallers?.({ experimentId: this.state.id, callerKeys });
  }

  async #setFaults(c: Extract<ExperimentCommand, { type: 'set-faults' }>): Promise<void> {
    // The proxy's deadline and the run's are one: the run's starts from this instant too.
    const at = this.#deps.clock.now();
    const deadlineAt = at + this.state.config.durationMs;
    let instances: AppliedInstanceFault[] = [];
    try {
      await this.#ctx.target.proxy.setFaults({ experimentId: this.state.id, faults: c.faults, deadlineAt });
      const instanceFaults = this.state.config.instanceFaults ?? [];
      const pods = this.#ctx.target.pods;
      if (instanceFaults.length > 0 && pods !== undefined) instances = await killPods(pods, instanceFaults, {});
      else if (instanceFaults.length > 0) {
        const targets = this.#ctx.target.instances;
        if (!targets) throw new Error('instance faults need the embedded runtime (instances run as processes of this host)');
        instances = await applyInstanceFaults(targets, instanceFaults, deadlineAt, { experimentId: this.state.id });
      }
    } catch (error) {
      await this.#feed({ type: 'fault-failed', at: this.#deps.clock.now(), message: (error as Error).message });
      return;
    }
    await this.#feed({ type: 'faults-set', at, instances });
    this.#scheduleLook();
  }

  #scheduleLook(): void {
    if (this.#stopped) return;
    this.#watch = this.#deps.clock.setTimeout(() => {
      this.#watch = null;
      void this.#look();
    }, WATCH_INTERVAL_MS);
  }

  async #look(): Promise<void> {
    if (this.state.phase !== 'watching') return;
    const at = this.#deps.clock.now();
    if (this.state.deadlineAt !== null && at >= this.state.deadlineAt) {
      await this.#feed({ type: 'tick', at });
      return;
    }
    let report: FaultReport | null = null;
    try {
      report = await this.#ctx.target.proxy.faultReport();
    } catch (error) {
      this.#deps.warn('reading the faults report failed', { experimentId: this.state.id, err: error });
    }
    if (report !== null && report.experimentId === this.state.id) {
      const inside = report.inside;
      const outside = report.outside;
      const result = evaluateHypothesis(this.state.config.hypothesis, { all: addSamples(inside, outside), inside, outside }, this.#ctx.slo);
      await this.#feed({ type: 'evaluated', at, result, counts: countsOf(report) });
    }
    if (this.state.phase === 'watching') this.#scheduleLook();
  }

  async #clearFaults(): Promise<void> {
    // The instances first: a paused instance resumed is traffic served again.
    revertInstanceFaults(this.state.instances);
    let report: FaultReport | null = null;
    for (let attempt = 1; attempt <= CLEAR_ATTEMPTS; attempt++) {
      try {
        report = await this.#ctx.target.proxy.clearFaults(this.state.id);
        break;
      } catch (error) {
        // The proxy clears them at its deadline whatever happens here; the record says what we saw.
        if (attempt === CLEAR_ATTEMPTS) this.#deps.warn('clearing the faults failed', { experimentId: this.state.id, err: error });
      }
    }
    const counts = report !== null && report.experimentId === this.state.id ? countsOf(report) : null;
    await this.#feed({ type: 'faults-cleared', at: this.#deps.clock.now(), counts });
  }

  #clearTimers(): void {
    if (this.#watch !== null) this.#deps.clock.clearTimeout(this.#watch);
    if (this.#measure !== null) this.#deps.clock.clearTimeout(this.#measure);
    this.#watch = null;
    this.#measure = null;
  }
}

export function countsOf(report: FaultReport): BlastRadiusCounts {
  const failed = [
    ...(report.inside.failed ?? []).map((f) => ({ ...f, inside: true })),
    ...(report.outside.failed ?? []).map((f) => ({ ...f, inside: false })),
  ].sort((a, b) => a.at - b.at);
  return { affected: report.affected, unaffected: report.unaffected, byFault: report.byFault, failed };
}

/** The proxy's window as the analysis's sample: errors are 5xx and connection failures the proxy could not hide. */
export function sampleOf(w: WindowStats): Sample {
  return { requests: w.requests, errors: w.errors, latency: w.latency };
}

function pct(share: number): string {
  return `${Number((share * 100).toPrecision(3))}%`;
}
