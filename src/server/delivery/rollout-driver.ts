/**
 * The rollout loop: feeds events to the pure reducer (src/delivery), persists each transition
 * (phase, state, events, the environment record on success) BEFORE carrying out its commands,
 * then carries them out on the supervisor and the environment's proxy. Events of one rollout
 * are applied one at a time (`queue`); ticks come from the `Clock` by `nextDeadline` and, while a
 * canary takes traffic, every `ANALYSIS_INTERVAL_MS` with fresh analysis input.
 */
import { newId } from '../../core/ids.ts';
import type { Value } from '../../core/types.ts';
import {
  ANALYSIS_INTERVAL_MS,
  isFinalRollout,
  nextDeadline,
  reduceRollout,
  type RolloutCommand,
  type RolloutEvent,
  type RolloutState,
} from '../../delivery/index.ts';
import type { EventEnvironment, NewEvent, Project, ReleaseRecord, RolloutRecord, Store } from '../../store/ports.ts';
import { analyse } from './analysis-input.ts';
import type { EnvironmentRuntime, Environments } from './environments.ts';
import type { Clock, InstanceSupervisor, MetricsSource, RolloutTarget, RolloutTargets, TimerHandle } from './ports.ts';
import { configOf, drainTimeoutOf, environmentSecrets, instanceSpec, requireRelease, type InstanceSpecDeps } from './release-config.ts';

/** A rollout this server drives. */
export interface ActiveRollout {
  record: RolloutRecord;
  state: RolloutState;
  project: Project;
  release: ReleaseRecord;
  previous: ReleaseRecord | null;
  env: EnvironmentRuntime;
  /** The last step applied (events of one rollout are applied in order). */
  queue: Promise<void>;
  timer: TimerHandle | null;
  /** Where the commands are carried out when not on this machine (a Kubernetes namespace); null: the embedded runtime. */
  target: RolloutTarget | null;
  /** The last command handed to `target` (carried out one at a time, in order). */
  targetQueue: Promise<void>;
}

export interface RolloutDriverDeps extends InstanceSpecDeps {
  store: Store;
  supervisor: InstanceSupervisor;
  environments: Environments;
  clock: Clock;
  prometheus: MetricsSource | null;
  eventEnv(): EventEnvironment;
  notify(rolloutId: string): void;
  warn(message: string, data: Record<string, unknown>): void;
  /** How long readiness may take before a start counts as failed (default 120 s). */
  readyTimeoutMs?: number;
  /** Targets other than the embedded runtime (Kubernetes); without it every environment runs here. */
  targets?: RolloutTargets;
}

const DEFAULT_READY_TIMEOUT_MS = 120_000;

export class RolloutDriver {
  readonly #deps: RolloutDriverDeps;
  readonly #rollouts = new Map<string, ActiveRollout>();
  /** Stops under way per `<rolloutId>:<pool>`: `drained` is reported when the last of them is done. */
  readonly #stopsInFlight = new Map<string, number>();
  #stopping = false;

  constructor(deps: RolloutDriverDeps) {
    this.#deps = deps;
  }

  get(rolloutId: string): ActiveRollout | undefined {
    return this.#rollouts.get(rolloutId);
  }

  /** Stops driving a rollout (its timer too); what is being applied still lands. */
  forget(rolloutId: string): void {
    const active = this.#rollouts.get(rolloutId);
    if (active?.timer) this.#deps.clock.clearTimeout(active.timer);
    this.#rollouts.delete(rolloutId);
  }

  /** Server shutdown: no more timers or steps; resolves once steps under way landed. */
  async stop(): Promise<void> {
    this.#stopping = true;
    for (const rollout of this.#rollouts.values()) if (rollout.timer) this.#deps.clock.clearTimeout(rollout.timer);
    await Promise.allSettled([...this.#rollouts.values()].map((r) => r.queue));
  }

  /**
   * Creates the rollout (record + `rollout.created`), then starts it unless it waits for approval.
   * `kind` tells DORA a rollback (which restores) from a deploy (which changes).
   */
  async begin(
    project: Project,
    release: ReleaseRecord,
    previous: ReleaseRecord | null,
    env: EnvironmentRuntime,
    state: RolloutState,
    actor: string,
    kind: 'deploy' | 'rollback' = 'deploy',
  ): Promise<RolloutRecord> {
    const { store } = this.#deps;
    // Before the record: a target that cannot be reached with what the config names refuses the deploy.
    const target = await this.#targetOf(project, release, previous, env.name, state.instances);
    const record = await store.rollouts.create({
      id: state.id,
      projectId: project.id,
      environment: env.name,
      releaseId: release.id,
      previousReleaseId: previous?.id ?? null,
      phase: state.phase,
      state: state as unknown as Record<string, Value>,
      createdBy: actor,
    });
    await store.events.append({
      type: 'rollout.created',
      subject: `rollout:${record.id}`,
      actor,
      data: {
        rolloutId: record.id,
        projectId: project.id,
        environment: env.name,
        releaseId: release.id,
        releaseNumber: release.number,
        previousReleaseId: previous?.id ?? null,
        strategy: state.strategy.kind,
        kind,
      },
      env: { ...this.#deps.eventEnv(), commit: release.sha, configHash: release.configHash },
    });
    const active = this.#activate(record, state, project, release, previous, env, target);
    if (state.phase !== 'pending-approval') await this.apply(active, { type: 'start', at: this.#deps.clock.now() });
    return (await store.rollouts.get(record.id)) as RolloutRecord;
  }

  /** Picks up a rollout the previous server left mid-way, from its persisted state. */
  async resume(project: Project, record: RolloutRecord, env: EnvironmentRuntime): Promise<void> {
    const { store, environments } = this.#deps;
    const state = record.state as unknown as RolloutState;
    const release = await requireRelease(store, record.releaseId);
    const previous = record.previousReleaseId ? await requireRelease(store, record.previousReleaseId) : null;
    env.weights = { ...state.weights };
    // The canary's pods were asked for (canary, blue-green): the target must know them, or it would delete them.
    const canaryStarted = state.startedAt !== null && (state.strategy.kind === 'canary' || state.strategy.kind === 'blue-green');
    const target = await this.#targetOf(project, release, previous, env.name, state.instances, canaryStarted ? state.weights : undefined);
    const active = this.#activate(record, state, project, release, previous, env, target);
    if (active.target) {
      // The cluster keeps what it was given; the next command of the reducer is carried out there.
      // A wait for Ready pods cut by the restart is started again: nothing else would answer it.
      const waitingFor = state.waitingFor;
      if (waitingFor?.event === 'instances-ready' && (waitingFor.pool === 'canary' || waitingFor.pool === 'stable')) {
        const pool = waitingFor.pool;
        // As on this machine: the canary is the rollout's release, the stable pool the environment's (the rollout's on a first deploy).
        const releaseId = pool === 'canary' ? release.id : (env.stable ?? release.id);
        this.#onTarget(active, (target) => target.awaitReady(pool, releaseId), pool);
      }
      this.#schedule(active);
      return;
    }
    await environments.route(env);
    const waiting = state.waitingFor;
    if (waiting?.event === 'instances-ready') {
      const releaseId = waiting.pool === 'stable' ? env.stable : release.id;
      const have = environments.instancesOf(env).filter((i) => i.releaseId === releaseId && i.state !== 'stopped');
      if (have.length === 0 && releaseId) void this.#startInstances(active, waiting.pool as 'canary' | 'stable', releaseId);
      else
        void this.#awaitReady(
          active,
          waiting.pool as 'canary' | 'stable',
          have.map((h) => h.id),
        );
    } else if (waiting?.event === 'drained') {
      void this.#stopInstances(active, waiting.pool, true);
    }
    this.#schedule(active);
  }

  /** Registers a rollout this server drives, with its target, and points the environment's canary at it. */
  #activate(
    record: RolloutRecord,
    state: RolloutState,
    project: Project,
    release: ReleaseRecord,
    previous: ReleaseRecord | null,
    env: EnvironmentRuntime,
    target: RolloutTarget | null,
  ): ActiveRollout {
    const active: ActiveRollout = {
      record,
      state,
      project,
      release,
      previous,
      env,
      queue: Promise.resolve(),
      timer: null,
      target,
      targetQueue: Promise.resolve(),
    };
    this.#rollouts.set(record.id, active);
    env.canary = release.id;
    env.match = state.strategy.kind === 'canary' ? state.strategy.match : [];
    return active;
  }

  /** Serialised per rollout: reduce → persist → act. */
  apply(active: ActiveRollout, event: RolloutEvent): Promise<void> {
    const step = active.queue.then(async () => {
      if (isFinalRollout(active.state.phase) || this.#stopping || active.env.stopped) return;
      const { state, commands } = reduceRollout(active.state, event);
      const finished = commands.find((c): c is Extract<RolloutCommand, { type: 'finished' }> => c.type === 'finished');
      await this.#persist(active, state, commands, finished?.phase ?? null);
      active.state = state;
      for (const command of commands) this.#carryOut(active, command);
      if (finished) this.#finish(active);
      else this.#schedule(active);
    });
    active.queue = step.catch((error: unknown) =>
      this.#deps.warn('a rollout step failed', { rolloutId: active.record.id, event: event.type, error: String(error) }),
    );
    return step;
  }

  async #persist(active: ActiveRollout, state: RolloutState, commands: RolloutCommand[], finished: string | null): Promise<void> {
    const base = { actor: 'server', env: { ...this.#deps.eventEnv(), commit: active.release.sha, configHash: active.release.configHash } };
    const subject = `rollout:${active.record.id}`;
    const events: NewEvent[] = commands
      .filter((c): c is Extract<RolloutCommand, { type: 'record' }> => c.type === 'record')
      .map((c) => ({
        ...base,
        type: `rollout.${c.event}`,
        subject,
        data: { rolloutId: active.record.id, environment: active.env.name, ...(c.data as Record<string, Value>) },
      }));
    if (state.phase !== active.state.phase) {
      events.push({
        ...base,
        type: `rollout.phase.${state.phase}`,
        subject,
        data: {
          rolloutId: active.record.id,
          environment: active.env.name,
          from: active.state.phase,
          weights: state.weights,
          reason: state.reason,
        },
      });
    }
    const env =
      finished === 'succeeded'
        ? {
            projectId: active.project.id,
            name: active.env.name,
            currentReleaseId: active.release.id,
            previousReleaseId: active.previous?.id ?? null,
            port: active.env.port,
          }
        : undefined;
    await this.#deps.store.rollouts.transition(active.record.id, {
      phase: state.phase,
      state: state as unknown as Record<string, Value>,
      finishedAt: finished ? new Date(this.#deps.clock.now()).toISOString() : null,
      ...(env ? { environment: env } : {}),
      events,
    });
    this.#deps.notify(active.record.id);
  }

  /** The environment's target other than this machine, from the release's config; null for the embedded runtime. */
  async #targetOf(
    project: Project,
    release: ReleaseRecord,
    previous: ReleaseRecord | null,
    environment: string,
    instances: number,
    resumedWeights?: { stable: number; canary: number },
  ): Promise<RolloutTarget | null> {
    const targets = this.#deps.targets;
    if (!targets) return null;
    let config: ReturnType<typeof configOf>;
    try {
      config = configOf(release, environment);
    } catch {
      // Not a target's config: the embedded runtime reports an unreadable one when it starts instances, as before.
      return null;
    }
    const { service, envConfig } = config;
    if (envConfig.target === undefined) return null;
    const readyTimeoutMs = this.#deps.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
    const secretValues = await environmentSecrets(this.#deps, project, envConfig, environment);
    return targets.targetFor({
      project,
      environment,
      service,
      envConfig,
      release,
      previous,
      instances,
      readyTimeoutMs,
      secretValues,
      ...(resumedWeights === undefined ? {} : { resumedCanary: { weights: resumedWeights } }),
    });
  }

  /**
   * A command for a target elsewhere: the environment's record of pools and weights follows it
   * (what the API shows), the target carries it out after the commands before it, and the events
   * it answers go back to the reducer. A start that throws is the reducer's `instances-failed`.
   */
  #carryOutOnTarget(active: ActiveRollout, target: RolloutTarget, command: RolloutCommand): void {
    const env = active.env;
    if (command.type === 'set-weights') env.weights = { stable: command.stable, canary: command.canary };
    if (command.type === 'start-instances') {
      if (command.pool === 'stable') env.stable = command.releaseId;
      else env.canary = command.releaseId;
    }
    if (command.type === 'swap-pools') {
      env.old = env.stable;
      env.stable = env.canary;
      env.canary = null;
      env.weights = { stable: 100, canary: 0 };
    }
    if (command.type === 'stop-instances' && command.pool === 'old') env.old = null;
    this.#onTarget(active, (t) => t.execute(command), command.type === 'start-instances' ? command.pool : null, command.type);
  }

  /**
   * Queues work on the rollout's target after what was handed to it before, and reports the
   * events it answers. Work that throws while starting a pool (`startedPool`) is that pool's
   * `instances-failed`; anything else is logged.
   */
  #onTarget(
    active: ActiveRollout,
    work: (target: RolloutTarget) => Promise<RolloutEvent[]>,
    startedPool: 'canary' | 'stable' | null,
    what = 'await-ready',
  ): void {
    const target = active.target;
    if (target === null) return;
    active.targetQueue = active.targetQueue.then(async () => {
      let events: RolloutEvent[];
      try {
        events = await work(target);
      } catch (error) {
        if (startedPool === null) {
          this.#deps.warn('a rollout command failed on its target', { rolloutId: active.record.id, command: what, error: String(error) });
          return;
        }
        events = [{ type: 'instances-failed', at: this.#deps.clock.now(), pool: startedPool, reason: (error as Error).message }];
      }
      for (const event of events) await this.apply(active, event);
    });
  }

  #carryOut(active: ActiveRollout, command: RolloutCommand): void {
    const env = active.env;
    if (active.target) {
      this.#carryOutOnTarget(active, active.target, command);
      return;
    }
    switch (command.type) {
      case 'set-weights':
        env.weights = { stable: command.stable, canary: command.canary };
        void this.#deps.environments.route(env);
        break;
      case 'swap-pools':
        env.old = env.stable;
        env.stable = env.canary;
        env.canary = null;
        env.weights = { stable: 100, canary: 0 };
        void this.#deps.environments.route(env);
        break;
      case 'start-instances':
        void this.#startInstances(active, command.pool, command.releaseId, command.count);
        break;
      case 'stop-instances':
        void this.#stopInstances(active, command.pool, command.drain, command.count);
        break;
      case 'record':
      case 'finished':
        break;
    }
  }

  #finish(active: ActiveRollout): void {
    this.forget(active.record.id);
    // Succeeded: swap-pools already made the canary stable. Otherwise the stable release stays.
    const env = active.env;
    env.canary = null;
    env.weights = { stable: 100, canary: 0 };
    void this.#deps.environments.route(env);
  }

  #schedule(active: ActiveRollout): void {
    const { clock } = this.#deps;
    if (active.timer) clock.clearTimeout(active.timer);
    active.timer = null;
    const now = clock.now();
    const deadline = nextDeadline(active.state);
    const analysing =
      active.state.strategy.kind !== 'recreate' &&
      active.state.strategy.kind !== 'rolling' &&
      (active.state.phase === 'progressing' || active.state.phase === 'paused');
    const due = Math.min(deadline ?? Infinity, analysing ? now + ANALYSIS_INTERVAL_MS : Infinity);
    if (!Number.isFinite(due) || this.#stopping) return;
    active.timer = clock.setTimeout(
      () => {
        void this.#tick(active);
      },
      Math.max(0, due - now),
    );
  }

  async #tick(active: ActiveRollout): Promise<void> {
    const at = this.#deps.clock.now();
    const analysis = await analyse(
      {
        state: active.state,
        proxy: active.target?.measurements ?? active.env.proxy,
        environment: active.env.name,
        releaseId: active.release.id,
        previousReleaseId: active.previous?.id ?? null,
        prometheus: this.#deps.prometheus,
      },
      at,
    ).catch((error: unknown) => {
      this.#deps.warn('analysis failed', { rolloutId: active.record.id, error: String(error) });
      return null;
    });
    await this.apply(active, { type: 'tick', at, analysis });
  }

  // ---------------------------------------------------------------- instances

  async #startInstances(active: ActiveRollout, pool: 'canary' | 'stable', releaseId: string, count?: number): Promise<void> {
    const { supervisor, store } = this.#deps;
    const env = active.env;
    const started: string[] = [];
    try {
      const release = await requireRelease(store, releaseId);
      if (pool === 'stable') env.stable = releaseId;
      else env.canary = releaseId;
      const wanted = count ?? active.state.instances;
      const spec = await instanceSpec(this.#deps, active.project, release, env.name);
      for (let i = 0; i < wanted && !env.stopped; i++) {
        const id = `${active.project.name}.${env.name}.r${release.number}.${newId().slice(-8).toLowerCase()}`;
        await supervisor.start({ ...spec, id, pool });
        started.push(id);
      }
      // The environment was stopped while these started: they must not outlive it.
      if (env.stopped) {
        await Promise.all(started.map((id) => supervisor.stop(id).catch(() => undefined)));
        return;
      }
    } catch (error) {
      await this.apply(active, { type: 'instances-failed', at: this.#deps.clock.now(), pool, reason: (error as Error).message });
      return;
    }
    await this.#awaitReady(active, pool, started);
  }

  async #awaitReady(active: ActiveRollout, pool: 'canary' | 'stable', ids: string[]): Promise<void> {
    const timeout = this.#deps.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
    try {
      await Promise.all(ids.map((id) => this.#deps.supervisor.waitReady(id, timeout)));
      await this.#deps.environments.route(active.env);
      await this.apply(active, { type: 'instances-ready', at: this.#deps.clock.now(), pool });
    } catch (error) {
      await this.apply(active, { type: 'instances-failed', at: this.#deps.clock.now(), pool, reason: (error as Error).message });
    }
  }

  async #stopInstances(active: ActiveRollout, pool: 'canary' | 'stable' | 'old', drain: boolean, count?: number): Promise<void> {
    const { environments, supervisor } = this.#deps;
    const env = active.env;
    const releaseId = pool === 'stable' ? env.stable : pool === 'canary' ? env.canary : env.old;
    const victims = environments
      .instancesOf(env)
      // A counted stop (a rolling batch) picks instances not already on their way out: one an
      // earlier batch is still stopping must not count again, or a running one would be left.
      .filter((i) => i.releaseId === releaseId && i.state !== 'stopped' && (count === undefined || !environments.isLeaving(i.id)))
      .slice(0, count ?? Infinity);
    const ids = new Set(victims.map((v) => v.id));
    // Counted before the first await: a batch that ends while a later one still drains must see it.
    const key = `${active.record.id}:${pool}`;
    this.#stopsInFlight.set(key, (this.#stopsInFlight.get(key) ?? 0) + 1);
    try {
      // Out of the route table first, so no new request reaches them; in-flight ones finish.
      await environments.route(env, ids);
      if (drain) {
        const drainMs = drainTimeoutOf(active.release, env.name);
        // A proxy that cannot say counts as not drained: the drain timeout already passed or will not help.
        await Promise.all(victims.map((v) => env.proxy.drained(v.id, drainMs).catch(() => false)));
      }
      await Promise.all(victims.map((v) => supervisor.stop(v.id).catch(() => undefined)));
    } finally {
      const left = (this.#stopsInFlight.get(key) ?? 1) - 1;
      if (left === 0) this.#stopsInFlight.delete(key);
      else this.#stopsInFlight.set(key, left);
    }
    if (pool === 'old' && count === undefined) env.old = null;
    await environments.route(env);
    // `drained` tells the machine that every stop of this pool it asked for is done: a rolling
    // batch that finishes while a later batch still drains must not end the rollout early.
    if (drain && !this.#stopsInFlight.has(key)) await this.apply(active, { type: 'drained', at: this.#deps.clock.now(), pool });
  }
}
