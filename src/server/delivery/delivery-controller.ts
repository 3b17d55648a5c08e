/**
 * The rollout controller: the I/O side of progressive delivery. For each environment it owns a
 * traffic proxy process (src/proxy ProxyClient) and the service instances (src/runtime
 * supervisor); both outlive the server, which adopts them when it starts again. It drives
 * each rollout's pure state machine (src/delivery): every transition is persisted before its
 * commands are carried out, decisions are made on a one-second analysis cadence from the proxy's
 * own request metrics (and Prometheus where configured), and a restart resumes where it stopped.
 *
 * Pools are derived, not stored: an environment's `stable` pool is the instances of its current
 * release, `canary` those of the active rollout's release, `old` those of the release a promotion
 * replaced. So after a crash, adopted instances fall back into the right pools by their release.
 */
import type { EnvironmentConfig, MatchRule, PrometheusCheckConfig, ServiceConfig } from '../../core/delivery-config.ts';
import { ConflictError, InputError, NotFoundError } from '../../core/errors.ts';
import { newId } from '../../core/ids.ts';
import type { Value } from '../../core/types.ts';
import {
  ANALYSIS_INTERVAL_MS,
  evaluateAnalysis,
  initialRollback,
  initialRollout,
  isFinalRollout,
  nextDeadline,
  reduceRollout,
  type AnalysisResult,
  type RolloutCommand,
  type RolloutEvent,
  type RolloutState,
} from '../../delivery/index.ts';
import { parseConfig } from '../../pipeline/load-config.ts';
import { ProxyClient, type Rollup, type Upstream } from '../../proxy/index.ts';
import type { InstanceStatus, Supervisor } from '../../runtime/index.ts';
import type { EnvironmentRecord, EventEnvironment, NewEvent, Project, ReleaseRecord, RolloutRecord, Store } from '../../store/ports.ts';
import { releaseDir } from './release-service.ts';
import type { SecretBox } from '../auth/index.ts';
import { freePort } from '../../platform/ports.ts';

/** Prometheus as an analysis source (src/server/prometheus-source.ts). */
export interface MetricQuerySource {
  evaluate(
    checks: PrometheusCheckConfig[],
    vars: { version: string; environment: string },
    at?: Date,
  ): Promise<{ values: Record<string, number | null>; problems: string[] }>;
}

export interface DeliveryDeps {
  store: Store;
  supervisor: Supervisor;
  secretBox: SecretBox;
  dataDir: string;
  /** Address environment proxies listen on (the server's host). */
  host: string;
  sandbox: 'auto' | 'off';
  prometheus: MetricQuerySource | null;
  eventEnv(): EventEnvironment;
  /** After anything about a rollout was stored (live streams). */
  notify(rolloutId: string): void;
  warn(message: string, data: Record<string, unknown>): void;
  now(): number;
  /** How long readiness may take before a start counts as failed (default 120 s). */
  readyTimeoutMs?: number;
}

/** One environment of one project, as this process runs it. */
interface EnvironmentRuntime {
  projectId: string;
  name: string;
  /** The environment's proxy process; it keeps routing by its last table whatever this server does. */
  proxy: ProxyClient;
  port: number;
  /** The release whose instances form the stable pool (the environment's current release). */
  stable: string | null;
  /** The release being rolled out (canary pool), while a rollout runs. */
  canary: string | null;
  /** The release a promotion replaced, until drained. */
  old: string | null;
  weights: { stable: number; canary: number };
  /** Requests matching these go to the canary (A/B, testers). */
  match: MatchRule[];
  /** Set when the environment is being stopped: late reports of its rollout and instance starts must not act on it. */
  stopped: boolean;
}

interface ActiveRollout {
  record: RolloutRecord;
  state: RolloutState;
  project: Project;
  release: ReleaseRecord;
  previous: ReleaseRecord | null;
  env: EnvironmentRuntime;
  queue: Promise<void>;
  timer: NodeJS.Timeout | null;
}

const INSTANCE_KEY = (projectId: string, environment: string) => `${projectId}:${environment}`;

export class DeliveryController {
  readonly #deps: DeliveryDeps;
  readonly #environments = new Map<string, EnvironmentRuntime>();
  /** Environments being opened: concurrent callers share one proxy start. */
  readonly #opening = new Map<string, Promise<EnvironmentRuntime>>();
  readonly #rollouts = new Map<string, ActiveRollout>();
  /** Per environment: deploys, rollbacks, exposes and stops run one at a time (see #exclusive). */
  readonly #serial = new Map<string, Promise<unknown>>();
  /** `start()` under way: a stop waits for it, so rollouts left by the previous server are driven first. */
  #started: Promise<void> = Promise.resolve();
  #stopping = false;

  constructor(deps: DeliveryDeps) {
    this.#deps = deps;
  }

  /**
   * After a restart: adopts running instances and every environment's proxy process, resumes
   * rollouts. An environment with a rollout under way is not routed until the rollout resumed,
   * so its proxy keeps the canary weights it had rather than falling back to stable for a moment.
   */
  async start(): Promise<void> {
    const started = this.#start();
    this.#started = started.catch(() => undefined);
    await started;
  }

  async #start(): Promise<void> {
    const { store } = this.#deps;
    await this.#deps.supervisor.adopt();
    for (const project of await store.projects.list()) {
      for (const env of await store.rollouts.environments(project.id)) {
        const active = await store.rollouts.active(project.id, env.name);
        if (env.currentReleaseId || active) {
          await this.#environment(project, env.name, undefined, !active);
          continue;
        }
        // It runs nothing: what of it still runs was left by a stop the previous server did not
        // finish. Not awaited (a stubborn instance may take its whole drain timeout, and runs
        // must not wait for that), but a deploy there waits for it.
        const key = INSTANCE_KEY(project.id, env.name);
        const stopped = env.previousReleaseId !== null;
        void this.#exclusive(key, () => this.#finishStop(key, stopped));
      }
    }
    for (const record of await store.rollouts.listActive()) {
      const project = await store.projects.get(record.projectId);
      if (!project) continue;
      await this.#resume(project, record).catch((error: unknown) =>
        this.#deps.warn('resuming a rollout failed', { rolloutId: record.id, error: String(error) }),
      );
    }
  }

  /** Stops timers; proxies and instances keep running and serving (the next start adopts them). */
  async stop(): Promise<void> {
    this.#stopping = true;
    for (const rollout of this.#rollouts.values()) if (rollout.timer) clearTimeout(rollout.timer);
    await Promise.allSettled([...this.#rollouts.values()].map((r) => r.queue));
    await Promise.allSettled([...this.#opening.values()]);
    await Promise.allSettled([...this.#serial.values()]);
    await Promise.allSettled([...this.#environments.values()].map((e) => e.proxy.detach()));
    await this.#deps.supervisor.detach();
  }

  /** Called by the supervisor's onChange: routes follow readiness at once. */
  onInstanceChange(status: InstanceStatus): void {
    if (status.state === 'stopped') this.#leaving.delete(status.id);
    for (const env of this.#environments.values()) {
      if (this.#instancesOf(env).some((i) => i.id === status.id)) void this.#route(env);
    }
  }

  // ---------------------------------------------------------------- commands from the API

  deploy(project: Project, release: ReleaseRecord, environment: string, actor: string): Promise<RolloutRecord> {
    return this.#exclusive(INSTANCE_KEY(project.id, environment), () => this.#deploy(project, release, environment, actor));
  }

  async #deploy(project: Project, release: ReleaseRecord, environment: string, actor: string): Promise<RolloutRecord> {
    const { envConfig } = this.#configOf(release, environment);
    const env = await this.#environment(project, environment, envConfig.port);
    if (await this.#deps.store.rollouts.active(project.id, environment)) {
      throw new ConflictError(
        `a rollout is already under way in ${environment}: wait for it, or \`gantry rollout abort ${project.name} --env ${environment}\``,
      );
    }
    const current = env.stable ? await this.#deps.store.releases.get(env.stable) : undefined;
    if (current?.id === release.id) throw new ConflictError(`release #${release.number} already runs in ${environment}`);
    const state = initialRollout({
      id: newId(),
      environment,
      releaseId: release.id,
      previousReleaseId: current?.id ?? null,
      strategy: envConfig.strategy,
      approvalRequired: envConfig.approval === 'required',
      instances: this.#instanceCount(release, environment),
    });
    return this.#begin(project, release, current ?? null, env, state, actor);
  }

  rollback(project: Project, environment: string, actor: string): Promise<RolloutRecord> {
    return this.#exclusive(INSTANCE_KEY(project.id, environment), () => this.#rollback(project, environment, actor));
  }

  async #rollback(project: Project, environment: string, actor: string): Promise<RolloutRecord> {
    const record = await this.#deps.store.rollouts.environment(project.id, environment);
    if (record && !record.currentReleaseId && record.previousReleaseId) {
      throw new ConflictError(
        `${environment} is stopped: deploy a release to start it again (\`gantry deploy ${project.name} <release> --env ${environment}\`)`,
      );
    }
    const env = await this.#environment(project, environment);
    if (!record?.currentReleaseId || !record.previousReleaseId)
      throw new ConflictError(`${environment} has no previous release to roll back to`);
    if (await this.#deps.store.rollouts.active(project.id, environment))
      throw new ConflictError(`a rollout is under way in ${environment}: \`gantry rollout abort\` rolls it back`);
    const current = await this.#requireRelease(record.currentReleaseId);
    const previous = await this.#requireRelease(record.previousReleaseId);
    const state = initialRollback({
      id: newId(),
      environment,
      currentReleaseId: current.id,
      previousReleaseId: previous.id,
      instances: this.#instanceCount(previous, environment),
    });
    return this.#begin(project, previous, current, env, state, actor);
  }

  /** promote | pause | resume | abort | approve, by a person. */
  async act(
    project: Project,
    environment: string,
    action: 'promote' | 'pause' | 'resume' | 'abort' | 'approve',
    actor: string,
  ): Promise<RolloutRecord> {
    const record = await this.#deps.store.rollouts.active(project.id, environment);
    if (!record) throw new NotFoundError(`no rollout is under way in ${environment}`);
    const active = this.#rollouts.get(record.id);
    if (!active) throw new ConflictError(`the rollout ${record.id} is not driven by this server yet (it is resuming): try again`);
    const at = this.#deps.now();
    const event: RolloutEvent = action === 'abort' ? { type: 'abort', at, actor } : { type: action, at, actor };
    await this.#apply(active, event);
    if (action === 'approve') await this.#apply(active, { type: 'start', at });
    return (await this.#deps.store.rollouts.get(record.id)) as RolloutRecord;
  }

  /** The environment's port, exposed on the server's host. */
  expose(project: Project, environment: string, port: number, actor: string): Promise<EnvironmentRecord> {
    return this.#exclusive(INSTANCE_KEY(project.id, environment), () => this.#expose(project, environment, port, actor));
  }

  async #expose(project: Project, environment: string, port: number, actor: string): Promise<EnvironmentRecord> {
    const existing = await this.#deps.store.rollouts.environment(project.id, environment);
    const record = {
      projectId: project.id,
      name: environment,
      currentReleaseId: existing?.currentReleaseId ?? null,
      previousReleaseId: existing?.previousReleaseId ?? null,
      port,
    };
    const runtime = this.#environments.get(INSTANCE_KEY(project.id, environment));
    if (runtime && runtime.port !== port) {
      await runtime.proxy.close();
      this.#environments.delete(INSTANCE_KEY(project.id, environment));
    }
    await this.#deps.store.rollouts.setEnvironment(record);
    await this.#deps.store.events.append({
      type: 'environment.exposed',
      subject: `environment:${project.id}/${environment}`,
      actor,
      data: { port },
      env: this.#deps.eventEnv(),
    });
    await this.#environment(project, environment);
    return (await this.#deps.store.rollouts.environment(project.id, environment)) as EnvironmentRecord;
  }

  /**
   * Stops an environment: a rollout under way ends `aborted`, every instance drains and stops
   * (out of the route table, in-flight requests finish, then the stop signal and SIGKILL after
   * the drain timeout), and the proxy process exits, which frees its port. The record stays
   * (nothing current, the release that ran as `previousReleaseId`, the exposed port kept), so
   * history remains and the next deploy starts the environment afresh, like a first one.
   * Stopping a stopped environment stops whatever is left and records the request again.
   *
   * Allowed at any time, also mid-rollout, as deleting or scaling a Deployment to zero is in
   * Kubernetes and Argo Rollouts: whoever stops an environment wants nothing running there, and
   * an abort first would only roll back (restart stable instances, drain the canary) what the
   * stop takes away a moment later. So the rollout ends at once here (the machine's `stop` event)
   * instead of through its roll-back path, whose drains and restarts would race the stop.
   *
   * Crash safety: the stopped record, the rollout's end and the `environment.stopped` event are
   * committed before anything is stopped; a server that dies mid-stop finishes it on its next
   * start (`#finishStop`), and nothing brings a stopped environment back but a deploy.
   */
  stopEnvironment(project: Project, environment: string, actor: string): Promise<EnvironmentRecord> {
    return this.#exclusive(INSTANCE_KEY(project.id, environment), () => this.#stopEnvironment(project, environment, actor));
  }

  async #stopEnvironment(project: Project, name: string, actor: string): Promise<EnvironmentRecord> {
    const { store } = this.#deps;
    await this.#started;
    const key = INSTANCE_KEY(project.id, name);
    await this.#opening.get(key)?.catch(() => undefined);
    const stored = await store.rollouts.environment(project.id, name);
    if (!stored) throw new NotFoundError(`${project.name} has no environment '${name}' (nothing was deployed or exposed there)`);
    const runtime = this.#environments.get(key);
    if (runtime) runtime.stopped = true;
    const record = await store.rollouts.active(project.id, name);
    const driven = record ? this.#rollouts.get(record.id) : undefined;
    if (driven) {
      driven.env.stopped = true;
      if (driven.timer) clearTimeout(driven.timer);
      // A transition being persisted lands first; later ones see `stopped` and do nothing.
      await driven.queue;
    }
    const at = this.#deps.now();
    const ran = stored.currentReleaseId ?? stored.previousReleaseId;
    const environment = { projectId: project.id, name, currentReleaseId: null, previousReleaseId: ran, port: stored.port };
    const victims = this.#instancesOf({ projectId: project.id, name }).filter((i) => i.state !== 'stopped');
    const stoppedEvent: NewEvent = {
      type: 'environment.stopped',
      subject: `environment:${project.id}/${name}`,
      actor,
      data: {
        projectId: project.id,
        environment: name,
        releaseId: ran,
        rolloutId: record?.id ?? null,
        instances: victims.map((v) => v.id),
        port: stored.port,
      },
      env: this.#deps.eventEnv(),
    };
    if (record) {
      const before = (driven?.state ?? record.state) as unknown as RolloutState;
      const { state } = reduceRollout(before, { type: 'stop', at, actor });
      const release = driven?.release ?? (await store.releases.get(record.releaseId));
      const base = {
        actor,
        subject: `rollout:${record.id}`,
        env: { ...this.#deps.eventEnv(), ...(release ? { commit: release.sha, configHash: release.configHash } : {}) },
      };
      const finished = state.history[state.history.length - 1] as RolloutState['history'][number];
      await store.rollouts.transition(record.id, {
        phase: state.phase,
        state: state as unknown as Record<string, Value>,
        finishedAt: new Date(at).toISOString(),
        environment,
        events: [
          { ...base, type: `rollout.${finished.event}`, data: finished.data as Record<string, Value> },
          {
            ...base,
            type: `rollout.phase.${state.phase}`,
            data: { rolloutId: record.id, environment: name, from: before.phase, weights: state.weights, reason: state.reason },
          },
          stoppedEvent,
        ],
      });
      if (driven) driven.state = state;
      this.#rollouts.delete(record.id);
    } else {
      await store.rollouts.setEnvironment(environment);
      await store.events.append(stoppedEvent);
    }
    this.#environments.delete(key);
    await this.#drainAndStop(runtime, name, victims);
    if (runtime) await runtime.proxy.close();
    else await this.#closeProxies(new Set([key]));
    this.#deps.notify(record?.id ?? key);
    return (await store.rollouts.environment(project.id, name)) as EnvironmentRecord;
  }

  /** What `gantry rollout status` shows. */
  status(
    project: Project,
    environment: string,
  ): {
    port: number | null;
    weights: { stable: number; canary: number };
    instances: (InstanceStatus & { pool: string; releaseId: string })[];
  } {
    const env = this.#environments.get(INSTANCE_KEY(project.id, environment));
    if (!env) return { port: null, weights: { stable: 100, canary: 0 }, instances: [] };
    return { port: env.port, weights: env.weights, instances: this.#instancesOf(env) };
  }

  /** The proxy's live request metrics of an environment per release (stable and canary). */
  async window(project: Project, environment: string, sinceMs: number, untilMs: number): Promise<Record<string, unknown>> {
    const env = this.#environments.get(INSTANCE_KEY(project.id, environment));
    if (!env) return {};
    const out: Record<string, unknown> = {};
    for (const [pool, releaseId] of [
      ['stable', env.stable],
      ['canary', env.canary],
    ] as const) {
      if (releaseId) out[pool] = { releaseId, ...(await env.proxy.window(sinceMs, untilMs, { version: releaseId })) };
    }
    return out;
  }

  /** Request metrics of every environment, in Prometheus text format (a proxy that does not answer is left out). */
  async prometheus(): Promise<string> {
    const texts = await Promise.all(
      [...this.#environments.values()].map((e) =>
        e.proxy.prometheus().catch((error: unknown) => {
          this.#deps.warn('reading proxy metrics failed', { environment: e.name, error: String(error) });
          return '';
        }),
      ),
    );
    return texts.join('');
  }

  /** Ten-second roll-ups of every proxy, for the store (a proxy that does not answer keeps its own for next time). */
  async drainRollups(): Promise<{ projectId: string; environment: string; rollups: Rollup[] }[]> {
    return Promise.all(
      [...this.#environments.values()].map(async (e) => ({
        projectId: e.projectId,
        environment: e.name,
        rollups: await e.proxy.drainRollups().catch((error: unknown) => {
          this.#deps.warn('reading proxy roll-ups failed', { environment: e.name, error: String(error) });
          return [];
        }),
      })),
    );
  }

  // ---------------------------------------------------------------- the loop

  async #begin(
    project: Project,
    release: ReleaseRecord,
    previous: ReleaseRecord | null,
    env: EnvironmentRuntime,
    state: RolloutState,
    actor: string,
  ): Promise<RolloutRecord> {
    const record = await this.#deps.store.rollouts.create({
      id: state.id,
      projectId: project.id,
      environment: env.name,
      releaseId: release.id,
      previousReleaseId: previous?.id ?? null,
      phase: state.phase,
      state: state as unknown as Record<string, Value>,
      createdBy: actor,
    });
    await this.#deps.store.events.append({
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
      },
      env: { ...this.#deps.eventEnv(), commit: release.sha, configHash: release.configHash },
    });
    const active: ActiveRollout = { record, state, project, release, previous, env, queue: Promise.resolve(), timer: null };
    this.#rollouts.set(record.id, active);
    env.canary = release.id;
    env.match = state.strategy.kind === 'canary' ? state.strategy.match : [];
    if (state.phase !== 'pending-approval') await this.#apply(active, { type: 'start', at: this.#deps.now() });
    return (await this.#deps.store.rollouts.get(record.id)) as RolloutRecord;
  }

  /** Serialised per rollout: reduce → persist → act. */
  #apply(active: ActiveRollout, event: RolloutEvent): Promise<void> {
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
      finishedAt: finished ? new Date(this.#deps.now()).toISOString() : null,
      ...(env ? { environment: env } : {}),
      events,
    });
    this.#deps.notify(active.record.id);
  }

  #carryOut(active: ActiveRollout, command: RolloutCommand): void {
    const env = active.env;
    switch (command.type) {
      case 'set-weights':
        env.weights = { stable: command.stable, canary: command.canary };
        void this.#route(env);
        break;
      case 'swap-pools':
        env.old = env.stable;
        env.stable = env.canary;
        env.canary = null;
        env.weights = { stable: 100, canary: 0 };
        void this.#route(env);
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
    if (active.timer) clearTimeout(active.timer);
    this.#rollouts.delete(active.record.id);
    // Succeeded: swap-pools already made the canary stable. Otherwise the stable release stays.
    const env = active.env;
    env.canary = null;
    env.weights = { stable: 100, canary: 0 };
    void this.#route(env);
  }

  #schedule(active: ActiveRollout): void {
    if (active.timer) clearTimeout(active.timer);
    const now = this.#deps.now();
    const deadline = nextDeadline(active.state);
    const analysing =
      active.state.strategy.kind !== 'recreate' &&
      active.state.strategy.kind !== 'rolling' &&
      (active.state.phase === 'progressing' || active.state.phase === 'paused');
    const due = Math.min(deadline ?? Infinity, analysing ? now + ANALYSIS_INTERVAL_MS : Infinity);
    if (!Number.isFinite(due) || this.#stopping) return;
    active.timer = setTimeout(
      () => {
        void this.#tick(active);
      },
      Math.max(0, due - now),
    );
    active.timer.unref?.();
  }

  async #tick(active: ActiveRollout): Promise<void> {
    const at = this.#deps.now();
    const analysis = await this.#analyse(active, at).catch((error: unknown) => {
      this.#deps.warn('analysis failed', { rolloutId: active.record.id, error: String(error) });
      return null;
    });
    await this.#apply(active, { type: 'tick', at, analysis });
  }

  async #analyse(active: ActiveRollout, at: number): Promise<AnalysisResult | null> {
    const strategy = active.state.strategy;
    const config = strategy.kind === 'canary' || strategy.kind === 'blue-green' ? strategy.analysis : undefined;
    if (!config) return null;
    // Never before this rollout began: the same release may have served (and failed) in an earlier
    // rollout, and its requests then must not decide this one.
    const since = Math.max(at - config.windowMs, active.state.startedAt ?? at);
    const proxy = active.env.proxy;
    const [canary, baseline] = await Promise.all([
      proxy.window(since, at, { version: active.release.id }),
      active.previous ? proxy.window(since, at, { version: active.previous.id }) : { requests: 0, errors: 0, latency: [] },
    ]);
    const prometheus =
      config.prometheus.length > 0 && this.#deps.prometheus
        ? (
            await this.#deps.prometheus.evaluate(
              config.prometheus,
              { version: active.release.id, environment: active.env.name },
              new Date(at),
            )
          ).values
        : undefined;
    return evaluateAnalysis(config, {
      canary: { requests: canary.requests, errors: canary.errors, latency: canary.latency },
      baseline: { requests: baseline.requests, errors: baseline.errors, latency: baseline.latency },
      ...(prometheus ? { prometheus } : {}),
    });
  }

  // ---------------------------------------------------------------- instances and routes

  async #startInstances(active: ActiveRollout, pool: 'canary' | 'stable', releaseId: string, count?: number): Promise<void> {
    const env = active.env;
    try {
      const release = await this.#requireRelease(releaseId);
      if (pool === 'stable') env.stable = releaseId;
      else env.canary = releaseId;
      const wanted = count ?? active.state.instances;
      const spec = await this.#instanceSpec(active.project, release, env.name);
      const started: string[] = [];
      for (let i = 0; i < wanted && !env.stopped; i++) {
        const id = `${active.project.name}.${env.name}.r${release.number}.${newId().slice(-8).toLowerCase()}`;
        await this.#deps.supervisor.start({ ...spec, id, pool });
        started.push(id);
      }
      // The environment was stopped while these started: they must not outlive it.
      if (env.stopped) {
        await Promise.all(started.map((id) => this.#deps.supervisor.stop(id).catch(() => undefined)));
        return;
      }
      await Promise.all(started.map((id) => this.#deps.supervisor.waitReady(id, this.#deps.readyTimeoutMs ?? 120_000)));
      await this.#route(env);
      await this.#apply(active, { type: 'instances-ready', at: this.#deps.now(), pool });
    } catch (error) {
      await this.#apply(active, { type: 'instances-failed', at: this.#deps.now(), pool, reason: (error as Error).message });
    }
  }

  async #stopInstances(active: ActiveRollout, pool: 'canary' | 'stable' | 'old', drain: boolean, count?: number): Promise<void> {
    const env = active.env;
    const releaseId = pool === 'stable' ? env.stable : pool === 'canary' ? env.canary : env.old;
    const victims = this.#instancesOf(env)
      .filter((i) => i.releaseId === releaseId && i.state !== 'stopped')
      .slice(0, count ?? Infinity);
    const ids = new Set(victims.map((v) => v.id));
    // Out of the route table first, so no new request reaches them; in-flight ones finish.
    await this.#route(env, ids);
    if (drain) {
      const drainMs = this.#drainTimeout(active);
      // A proxy that cannot say counts as not drained: the drain timeout already passed or will not help.
      await Promise.all(victims.map((v) => env.proxy.drained(v.id, drainMs).catch(() => false)));
    }
    await Promise.all(victims.map((v) => this.#deps.supervisor.stop(v.id).catch(() => undefined)));
    if (pool === 'old' && count === undefined) env.old = null;
    await this.#route(env);
    if (drain) await this.#apply(active, { type: 'drained', at: this.#deps.now(), pool });
  }

  /**
   * The route table: ready instances of the stable and canary releases, at the current weights.
   * Resolves once the proxy applied it (tables reach it in call order); never rejects: when its
   * control socket fails, the proxy keeps routing by the last table it accepted.
   */
  #route(env: EnvironmentRuntime, excluding: ReadonlySet<string> = new Set()): Promise<void> {
    if (env.stopped) return Promise.resolve();
    const upstreams: Upstream[] = [];
    for (const instance of this.#instancesOf(env)) {
      if (instance.state !== 'ready' || excluding.has(instance.id) || this.#leaving.has(instance.id)) continue;
      const pool = instance.releaseId === env.canary ? 'canary' : instance.releaseId === env.stable ? 'stable' : null;
      if (!pool) continue;
      upstreams.push({ id: instance.id, host: '127.0.0.1', port: instance.port, pool, version: instance.releaseId });
    }
    for (const id of excluding) this.#leaving.add(id);
    return env.proxy.setRoutes({ upstreams, weights: env.weights, match: env.match ?? [] }).catch((error: unknown) => {
      this.#deps.warn('updating the proxy route table failed', { environment: env.name, error: String(error) });
    });
  }

  readonly #leaving = new Set<string>();

  #instancesOf(env: Pick<EnvironmentRuntime, 'projectId' | 'name'>): (InstanceStatus & { pool: string; releaseId: string })[] {
    const key = INSTANCE_KEY(env.projectId, env.name);
    return this.#deps.supervisor
      .list()
      .map((s) => ({ status: s, spec: this.#deps.supervisor.labels(s.id) }))
      .filter((x) => x.spec?.environment === key)
      .map((x) => ({ ...x.status, pool: x.spec?.pool ?? '', releaseId: x.spec?.releaseId ?? '' }));
  }

  /**
   * The environment as this process runs it, opened on first use: its proxy process is adopted
   * (still running from before) or started (routing by its persisted table at once). `route`
   * false leaves the proxy's table alone until someone routes (a resuming rollout does).
   */
  #environment(project: Project, name: string, configuredPort?: number, route = true): Promise<EnvironmentRuntime> {
    const key = INSTANCE_KEY(project.id, name);
    const existing = this.#environments.get(key);
    if (existing) return Promise.resolve(existing);
    let opening = this.#opening.get(key);
    if (!opening) {
      opening = this.#open(project, name, configuredPort, route).finally(() => this.#opening.delete(key));
      this.#opening.set(key, opening);
    }
    return opening;
  }

  async #open(project: Project, name: string, configuredPort: number | undefined, route: boolean): Promise<EnvironmentRuntime> {
    const key = INSTANCE_KEY(project.id, name);
    const stored = await this.#deps.store.rollouts.environment(project.id, name);
    const port = stored?.port ?? configuredPort ?? (await freePort(this.#deps.host));
    const proxy = await ProxyClient.start({
      dataDir: this.#deps.dataDir,
      environmentKey: key,
      label: `${project.name}/${name}`,
      host: this.#deps.host,
      port,
    }).catch((error: unknown) => {
      throw new InputError(
        `cannot listen on ${this.#deps.host}:${port} for ${name}: ${(error as Error).message} (choose another with \`gantry env expose ${project.name} ${name} --port P\`)`,
      );
    });
    if (!stored || stored.port !== port) {
      await this.#deps.store.rollouts.setEnvironment({
        projectId: project.id,
        name,
        currentReleaseId: stored?.currentReleaseId ?? null,
        previousReleaseId: stored?.previousReleaseId ?? null,
        port,
      });
    }
    const current = stored?.currentReleaseId ? await this.#deps.store.releases.get(stored.currentReleaseId) : undefined;
    const match = current ? this.#matchOf(current, name) : [];
    const runtime: EnvironmentRuntime = {
      projectId: project.id,
      name,
      proxy,
      port,
      stable: stored?.currentReleaseId ?? null,
      canary: null,
      old: null,
      weights: { stable: 100, canary: 0 },
      match,
      stopped: false,
    };
    this.#environments.set(key, runtime);
    if (route) await this.#route(runtime);
    return runtime;
  }

  async #resume(project: Project, record: RolloutRecord): Promise<void> {
    const state = record.state as unknown as RolloutState;
    const release = await this.#requireRelease(record.releaseId);
    const previous = record.previousReleaseId ? await this.#requireRelease(record.previousReleaseId) : null;
    const env = await this.#environment(project, record.environment, undefined, false);
    env.canary = release.id;
    env.match = state.strategy.kind === 'canary' ? state.strategy.match : [];
    env.weights = { ...state.weights };
    const active: ActiveRollout = { record, state, project, release, previous, env, queue: Promise.resolve(), timer: null };
    this.#rollouts.set(record.id, active);
    await this.#route(env);
    const waiting = state.waitingFor;
    if (waiting?.event === 'instances-ready') {
      const releaseId = waiting.pool === 'stable' ? env.stable : release.id;
      const have = this.#instancesOf(env).filter((i) => i.releaseId === releaseId && i.state !== 'stopped');
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

  async #awaitReady(active: ActiveRollout, pool: 'canary' | 'stable', ids: string[]): Promise<void> {
    try {
      await Promise.all(ids.map((id) => this.#deps.supervisor.waitReady(id, this.#deps.readyTimeoutMs ?? 120_000)));
      await this.#route(active.env);
      await this.#apply(active, { type: 'instances-ready', at: this.#deps.now(), pool });
    } catch (error) {
      await this.#apply(active, { type: 'instances-failed', at: this.#deps.now(), pool, reason: (error as Error).message });
    }
  }

  // ---------------------------------------------------------------- stopping environments

  /**
   * Drains and stops a stopped environment's instances: out of the route table first (so no new
   * request reaches them; an empty table answers 503), in-flight requests finish within each
   * release's drain timeout, then the supervisor's stop (signal, SIGKILL after the drain timeout).
   */
  async #drainAndStop(
    runtime: EnvironmentRuntime | undefined,
    environment: string,
    victims: { id: string; releaseId: string }[],
  ): Promise<void> {
    if (runtime) {
      await runtime.proxy.setRoutes({ upstreams: [], weights: { stable: 100, canary: 0 }, match: [] }).catch((error: unknown) => {
        this.#deps.warn('updating the proxy route table failed', { environment, error: String(error) });
      });
      const releases = new Map<string, ReleaseRecord | undefined>();
      for (const releaseId of new Set(victims.map((v) => v.releaseId)))
        releases.set(releaseId, await this.#deps.store.releases.get(releaseId));
      // A proxy that cannot say counts as not drained: the supervisor's own drain timeout follows.
      await Promise.all(
        victims.map((v) => runtime.proxy.drained(v.id, this.#drainTimeoutOf(releases.get(v.releaseId), environment)).catch(() => false)),
      );
    }
    await Promise.all(
      victims.map((v) =>
        this.#deps.supervisor.stop(v.id).catch((error: unknown) => {
          this.#deps.warn('stopping an instance failed', { instanceId: v.id, environment, error: String(error) });
        }),
      ),
    );
  }

  /** Shuts down the live proxy processes of these environments (not steered by this server). */
  async #closeProxies(keys: ReadonlySet<string>): Promise<void> {
    const found = await ProxyClient.adoptAll(this.#deps.dataDir, { watch: false });
    await Promise.all(found.map((proxy) => (keys.has(proxy.environmentKey) ? proxy.close() : proxy.detach())));
  }

  /**
   * On start, for an environment that runs nothing: a stop the previous server died in is
   * finished. Its proxy goes first (graceful: in-flight requests finish), then any instance
   * still running (adoption reattached or even revived it, as it does every instance meant to
   * run). Only a stopped environment's proxy is shut down (`closeProxy`): one exposed before its
   * first deploy keeps its listener.
   */
  async #finishStop(key: string, closeProxy: boolean): Promise<void> {
    try {
      if (closeProxy) await this.#closeProxies(new Set([key]));
      const { supervisor } = this.#deps;
      const leftovers = supervisor.list().filter((s) => s.state !== 'stopped' && supervisor.labels(s.id)?.environment === key);
      await Promise.all(leftovers.map((s) => supervisor.stop(s.id)));
    } catch (error) {
      this.#deps.warn('finishing an interrupted environment stop failed', { environment: key, error: String(error) });
    }
  }

  /** Runs `work` after every earlier call for the same environment settled, whatever their outcome. */
  #exclusive<T>(key: string, work: () => Promise<T>): Promise<T> {
    const next = (this.#serial.get(key) ?? Promise.resolve()).then(work);
    const settled = next.then(
      () => undefined,
      () => undefined,
    );
    this.#serial.set(key, settled);
    void settled.then(() => {
      if (this.#serial.get(key) === settled) this.#serial.delete(key);
    });
    return next;
  }

  // ---------------------------------------------------------------- config

  #configOf(release: ReleaseRecord, environment: string): { service: ServiceConfig; envConfig: EnvironmentConfig } {
    const config = parseConfig(release.configText, 'gantry.yaml');
    const service = config.service;
    const envConfig = config.environments?.[environment];
    if (!service) throw new InputError(`release #${release.number} has no \`service\` section`);
    if (!envConfig)
      throw new InputError(
        `release #${release.number} defines no environment '${environment}' (it has: ${Object.keys(config.environments ?? {}).join(', ') || 'none'})`,
      );
    return { service, envConfig };
  }

  #matchOf(release: ReleaseRecord, environment: string) {
    try {
      const { envConfig } = this.#configOf(release, environment);
      return envConfig.strategy.kind === 'canary' ? envConfig.strategy.match : [];
    } catch {
      return [];
    }
  }

  #instanceCount(release: ReleaseRecord, environment: string): number {
    const { service, envConfig } = this.#configOf(release, environment);
    return envConfig.instances ?? service.instances;
  }

  #drainTimeout(active: ActiveRollout): number {
    return this.#drainTimeoutOf(active.release, active.env.name);
  }

  #drainTimeoutOf(release: ReleaseRecord | undefined, environment: string): number {
    try {
      if (release) return this.#configOf(release, environment).service.stop.drainTimeoutMs;
    } catch {
      // an unreadable config: the default below
    }
    return 30_000;
  }

  async #instanceSpec(project: Project, release: ReleaseRecord, environment: string) {
    const { service, envConfig } = this.#configOf(release, environment);
    const secrets: Record<string, string> = {};
    for (const [variable, secretName] of Object.entries(envConfig.secrets)) {
      const sealed =
        (await this.#deps.store.secrets.get(project.id, secretName, environment)) ??
        (await this.#deps.store.secrets.get(project.id, secretName));
      if (sealed === undefined)
        throw new InputError(
          `secret ${secretName} (for ${variable} in ${environment}) is not set: \`gantry secret set ${project.name} ${secretName} --env ${environment}\``,
        );
      secrets[variable] = this.#deps.secretBox.decrypt(sealed);
    }
    const key = INSTANCE_KEY(project.id, environment);
    return {
      environment: key,
      releaseId: release.id,
      service,
      // The environment by its name (the spec's `environment` is the supervisor's grouping key).
      env: { GANTRY_ENVIRONMENT: environment, GANTRY_PROJECT: project.name, ...service.env, ...envConfig.env, ...secrets },
      secrets: Object.values(secrets),
      workDir: releaseDir(this.#deps.dataDir, release.id),
      sandbox: this.#deps.sandbox,
    };
  }

  async #requireRelease(id: string): Promise<ReleaseRecord> {
    const release = await this.#deps.store.releases.get(id);
    if (!release) throw new NotFoundError(`release ${id} does not exist`);
    return release;
  }
}
