/**
 * The rollout controller: the I/O side of progressive delivery, as one facade over small parts.
 * For each environment it owns a traffic proxy process and the service instances; both outlive
 * the server, which adopts them when it starts again. Each rollout's pure state machine
 * (src/delivery) is driven by `RolloutDriver`: every transition is persisted before its commands
 * are carried out, decisions are made on a one-second analysis cadence from the proxy's own
 * request metrics (and Prometheus where configured), and a restart resumes where it stopped.
 *
 * The parts, each with one job: `Environments` (proxies, port choice, pools, the route table),
 * `RolloutDriver` (reduce → persist → act, timers), `analysis-input.ts`, `environment-stop.ts`,
 * `release-config.ts` (a release's config and secrets). Side effects go through the ports of
 * ./ports.ts and a `Clock`, so scenarios run on fakes (test/delivery/rollout-scenarios/).
 *
 * Pools are derived, not stored: an environment's `stable` pool is the instances of its current
 * release, `canary` those of the active rollout's release, `old` those of the release a promotion
 * replaced. So after a crash, adopted instances fall back into the right pools by their release.
 * Deploys, rollbacks, exposes and stops run one at a time per environment (`#exclusive`).
 */
import type { EnvironmentConfig } from '../../core/delivery-config.ts';
import { ConflictError, GantryError, NotFoundError } from '../../core/errors.ts';
import type { Value } from '../../core/types.ts';
import { newId } from '../../core/ids.ts';
import { initialRollback, initialRollout, type RolloutEvent } from '../../delivery/index.ts';
import type { WindowStats } from '../../proxy/index.ts';
import type { InstanceStatus } from '../../runtime/index.ts';
import type { EnvironmentRecord, EventEnvironment, Project, ReleaseRecord, RolloutRecord, Store } from '../../store/ports.ts';
import type { SecretBox } from '../auth/index.ts';
import { environmentKey } from './environment-key.ts';
import { finishStop, stopEnvironment, type EnvironmentStopDeps } from './environment-stop.ts';
import { Environments, type PooledInstance } from './environments.ts';
import type {
  Clock,
  EnvironmentInstances,
  EnvironmentProxy,
  InstanceSupervisor,
  MetricsSource,
  ProxyControl,
  RollupReader,
  RolloutTargets,
  TargetChaos,
} from './ports.ts';
import { configOf, instanceCount, requireRelease } from './release-config.ts';
import { RolloutDriver } from './rollout-driver.ts';

export type { MetricQuerySource } from './ports.ts';

export interface DeliveryDeps {
  store: Store;
  supervisor: InstanceSupervisor;
  proxies: ProxyControl;
  secretBox: SecretBox;
  dataDir: string;
  /** Address environment proxies listen on (the server's host). */
  host: string;
  sandbox: 'auto' | 'off';
  prometheus: MetricsSource | null;
  clock: Clock;
  eventEnv(): EventEnvironment;
  /** After anything about a rollout was stored (live streams). */
  notify(rolloutId: string): void;
  warn(message: string, data: Record<string, unknown>): void;
  /** How long readiness may take before a start counts as failed (default 120 s). */
  readyTimeoutMs?: number;
  /** Where environments that do not run on this machine are deployed (a Kubernetes namespace). */
  targets?: RolloutTargets;
  /** OpenTelemetry variables for an instance (see InstanceSpecDeps.telemetryEnv); none by default. */
  telemetryEnv?(projectId: string, environment: string, releaseId: string): Promise<Record<string, string>>;
  /** The SLOs of an environment that have spent their error budget (none when SLOs are not evaluated). */
  exhaustedBudgets?(projectId: string, environment: string): { slo: string; remaining: number }[];
  /**
   * The security gate (server/security): throws a coded error when the release's new findings
   * block this environment and no override was given; records warnings and overrides.
   */
  checkSecurity?(project: Project, release: ReleaseRecord, environment: string, actor: string, override?: SecurityOverride): Promise<void>;
  /**
   * The protected environment's gate (server/approvals): throws a coded error outside its deploy
   * windows (unless overridden) or without its approvals; records overrides. Runs first.
   */
  checkProtection?(project: Project, release: ReleaseRecord, environment: string, actor: string, override?: WindowOverride): Promise<void>;
  /**
   * Several servers on one PostgreSQL: null when this server drives rollouts (it holds the
   * background-loops lease, or is alone), else the URL of the one that does. Absent: always this one.
   */
  rolloutDriver?(): Promise<string | null>;
}

/** A deploy outside the environment's deploy windows: why (recorded with who). */
export interface WindowOverride {
  reason: string;
}

/** A deploy despite findings the security policy blocks: why (recorded with who). */
export interface SecurityOverride {
  reason: string;
}

/** A deploy despite an exhausted error budget: who decided, and why (recorded). */
export interface BudgetOverride {
  reason: string;
}

export class DeliveryController {
  readonly #deps: DeliveryDeps;
  readonly #environments: Environments;
  readonly #driver: RolloutDriver;
  readonly #stopDeps: EnvironmentStopDeps;
  /** Per environment: deploys, rollbacks, exposes and stops run one at a time (see #exclusive). */
  readonly #serial = new Map<string, Promise<unknown>>();
  /** `start()` under way: a stop waits for it, so rollouts left by the previous server are driven first. */
  #started: Promise<void> = Promise.resolve();
  readonly #unsubscribe: () => void;

  constructor(deps: DeliveryDeps) {
    this.#deps = deps;
    this.#environments = new Environments(deps);
    this.#driver = new RolloutDriver({ ...deps, environments: this.#environments });
    this.#stopDeps = { ...deps, environments: this.#environments, driver: this.#driver };
    this.#unsubscribe = deps.supervisor.onChange((status) => this.onInstanceChange(status));
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
          await this.#environments.open(project, env.name, undefined, !active);
          continue;
        }
        // It runs nothing: what of it still runs was left by a stop the previous server did not
        // finish. Not awaited (a stubborn instance may take its whole drain timeout, and runs
        // must not wait for that), but a deploy there waits for it.
        const key = environmentKey(project.id, env.name);
        const stopped = env.previousReleaseId !== null;
        void this.#exclusive(key, () => finishStop(this.#deps, key, stopped));
      }
    }
    for (const record of await store.rollouts.listActive()) {
      const project = await store.projects.get(record.projectId);
      if (!project) continue;
      await this.#environments
        .open(project, record.environment, undefined, false)
        .then((env) => this.#driver.resume(project, record, env))
        .catch((error: unknown) => this.#deps.warn('resuming a rollout failed', { rolloutId: record.id, error: String(error) }));
    }
  }

  /** Stops timers; proxies and instances keep running and serving (the next start adopts them). */
  async stop(): Promise<void> {
    await this.#driver.stop();
    await this.#environments.settled();
    await Promise.allSettled([...this.#serial.values()]);
    await Promise.allSettled(this.#environments.all().map((e) => e.proxy.detach()));
    this.#unsubscribe();
    await this.#deps.supervisor.detach();
  }

  /** Routes follow readiness at once (the supervisor's change notifications come here). */
  onInstanceChange(status: InstanceStatus): void {
    this.#environments.onInstanceChange(status);
  }

  // ---------------------------------------------------------------- commands from the API

  deploy(
    project: Project,
    release: ReleaseRecord,
    environment: string,
    actor: string,
    override?: BudgetOverride,
    securityOverride?: SecurityOverride,
    windowOverride?: WindowOverride,
  ): Promise<RolloutRecord> {
    return this.#driving(environmentKey(project.id, environment), () =>
      this.#deploy(project, release, environment, actor, override, securityOverride, windowOverride),
    );
  }

  async #deploy(
    project: Project,
    release: ReleaseRecord,
    environment: string,
    actor: string,
    override?: BudgetOverride,
    securityOverride?: SecurityOverride,
    windowOverride?: WindowOverride,
  ): Promise<RolloutRecord> {
    const { envConfig } = configOf(release, environment);
    await this.#deps.checkProtection?.(project, release, environment, actor, windowOverride);
    await this.#checkErrorBudget(project, release, environment, envConfig.errorBudgetPolicy ?? 'block', actor, override);
    await this.#deps.checkSecurity?.(project, release, environment, actor, securityOverride);
    const env = await this.#environments.open(project, environment, envConfig.port, true, release.id);
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
      instances: instanceCount(release, environment),
    });
    return this.#driver.begin(project, release, current ?? null, env, state, actor);
  }

  /**
   * The error-budget policy: with an SLO's budget spent, `block` refuses the deploy unless it is
   * overridden with a reason; `warn` and overrides go ahead and are recorded as an event.
   * Rollbacks never come here.
   */
  async #checkErrorBudget(
    project: Project,
    release: ReleaseRecord,
    environment: string,
    policy: 'block' | 'warn',
    actor: string,
    override: BudgetOverride | undefined,
  ): Promise<void> {
    const exhausted = this.#deps.exhaustedBudgets?.(project.id, environment) ?? [];
    if (exhausted.length === 0) return;
    const names = exhausted.map((e) => `${e.slo} (${Math.round(e.remaining * 1000) / 10}% left)`).join(', ');
    if (policy === 'block' && override === undefined) {
      throw new GantryError(
        'ERROR_BUDGET_EXHAUSTED',
        `the error budget of ${environment} is spent: ${names}. Fix reliability first (\`gantry slo status ${project.name} --env ${environment}\`), roll back, or deploy anyway with --override --reason "…"`,
        { environment, slos: exhausted.map((e) => e.slo) },
      );
    }
    await this.#deps.store.events.append({
      type: override === undefined ? 'deploy.budget-warning' : 'deploy.budget-override',
      subject: `environment:${project.id}/${environment}`,
      actor,
      data: {
        releaseId: release.id,
        release: release.number,
        policy,
        slos: exhausted as unknown as Value,
        ...(override ? { reason: override.reason } : {}),
      },
      env: this.#deps.eventEnv(),
    });
  }

  rollback(project: Project, environment: string, actor: string): Promise<RolloutRecord> {
    return this.#driving(environmentKey(project.id, environment), () => this.#rollback(project, environment, actor));
  }

  async #rollback(project: Project, environment: string, actor: string): Promise<RolloutRecord> {
    const { store } = this.#deps;
    const record = await store.rollouts.environment(project.id, environment);
    if (record && !record.currentReleaseId && record.previousReleaseId) {
      throw new ConflictError(
        `${environment} is stopped: deploy a release to start it again (\`gantry deploy ${project.name} <release> --env ${environment}\`)`,
      );
    }
    const env = await this.#environments.open(project, environment);
    if (!record?.currentReleaseId || !record.previousReleaseId)
      throw new ConflictError(`${environment} has no previous release to roll back to`);
    if (await store.rollouts.active(project.id, environment))
      throw new ConflictError(`a rollout is under way in ${environment}: \`gantry rollout abort\` rolls it back`);
    const current = await requireRelease(store, record.currentReleaseId);
    const previous = await requireRelease(store, record.previousReleaseId);
    const state = initialRollback({
      id: newId(),
      environment,
      currentReleaseId: current.id,
      previousReleaseId: previous.id,
      instances: instanceCount(previous, environment),
    });
    return this.#driver.begin(project, previous, current, env, state, actor, 'rollback');
  }

  /** promote | pause | resume | abort | approve, by a person. */
  async act(
    project: Project,
    environment: string,
    action: 'promote' | 'pause' | 'resume' | 'abort' | 'approve',
    actor: string,
  ): Promise<RolloutRecord> {
    await this.#mustDrive();
    const record = await this.#deps.store.rollouts.active(project.id, environment);
    if (!record) throw new NotFoundError(`no rollout is under way in ${environment}`);
    const active = this.#driver.get(record.id);
    if (!active) throw new ConflictError(`the rollout ${record.id} is not driven by this server yet (it is resuming): try again`);
    const at = this.#deps.clock.now();
    const event: RolloutEvent = action === 'abort' ? { type: 'abort', at, actor } : { type: action, at, actor };
    await this.#driver.apply(active, event);
    if (action === 'approve') await this.#driver.apply(active, { type: 'start', at });
    return (await this.#deps.store.rollouts.get(record.id)) as RolloutRecord;
  }

  /** The environment's port, exposed on the server's host. */
  expose(project: Project, environment: string, port: number, actor: string): Promise<EnvironmentRecord> {
    return this.#driving(environmentKey(project.id, environment), () => this.#expose(project, environment, port, actor));
  }

  async #expose(project: Project, environment: string, port: number, actor: string): Promise<EnvironmentRecord> {
    const { store } = this.#deps;
    const existing = await store.rollouts.environment(project.id, environment);
    const record = {
      projectId: project.id,
      name: environment,
      currentReleaseId: existing?.currentReleaseId ?? null,
      previousReleaseId: existing?.previousReleaseId ?? null,
      port,
    };
    const runtime = this.#environments.get(project.id, environment);
    if (runtime && runtime.port !== port) {
      await runtime.proxy.close();
      this.#environments.forget(project.id, environment);
    }
    await store.rollouts.setEnvironment(record);
    await store.events.append({
      type: 'environment.exposed',
      subject: `environment:${project.id}/${environment}`,
      actor,
      data: { port },
      env: this.#deps.eventEnv(),
    });
    await this.#environments.open(project, environment);
    return (await store.rollouts.environment(project.id, environment)) as EnvironmentRecord;
  }

  /** Stops an environment (see ./environment-stop.ts): allowed at any time, also mid-rollout. */
  stopEnvironment(project: Project, environment: string, actor: string): Promise<EnvironmentRecord> {
    return this.#driving(environmentKey(project.id, environment), async () => {
      await this.#started;
      return stopEnvironment(this.#stopDeps, project, environment, actor);
    });
  }

  // ---------------------------------------------------------------- reading

  /** What `gantry rollout status` shows. */
  status(
    project: Project,
    environment: string,
  ): { port: number | null; weights: { stable: number; canary: number }; instances: PooledInstance[] } {
    const env = this.#environments.get(project.id, environment);
    if (!env) return { port: null, weights: { stable: 100, canary: 0 }, instances: [] };
    return { port: env.port, weights: env.weights, instances: this.#environments.instancesOf(env) };
  }

  /** The proxy's live request metrics of an environment per release (stable and canary). */
  async window(project: Project, environment: string, sinceMs: number, untilMs: number): Promise<Record<string, unknown>> {
    const env = this.#environments.get(project.id, environment);
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

  /**
   * What a chaos experiment needs of a running environment: its proxy (for faults and metrics),
   * the release it runs, the release a rollout is bringing in (null when none is under way).
   * Undefined when the environment is not running here.
   */
  async chaosTarget(
    projectId: string,
    environment: string,
  ): Promise<
    | {
        proxy: Pick<EnvironmentProxy, 'setFaults' | 'followCallers' | 'clearFaults' | 'faultReport' | 'window'>;
        release: string | null;
        rolloutRelease: string | null;
        instances: EnvironmentInstances | null;
        pods?: TargetChaos;
        gateway?: boolean;
      }
    | undefined
  > {
    const env = this.#environments.get(projectId, environment);
    if (env === undefined) return undefined;
    const active = await this.#deps.store.rollouts.active(projectId, environment);
    const rolloutRelease = active === undefined ? null : active.releaseId;
    const targetChaos = await this.#targetChaos(projectId, environment, [env.stable, rolloutRelease]);
    // A target's environment: its own proxy and pods, not this host's idle proxy and instances.
    if (targetChaos !== null) return { proxy: targetChaos, release: env.stable, rolloutRelease, instances: null, pods: targetChaos };
    // Not this host's idle proxy either: the chaos context refuses the experiment.
    if (await this.#gatewayRouted(environment, env.stable))
      return { proxy: env.proxy, release: env.stable, rolloutRelease, instances: null, gateway: true };
    const { supervisor } = this.#deps;
    const key = environmentKey(projectId, environment);
    const instances: EnvironmentInstances | null =
      supervisor.faultable === undefined
        ? null
        : {
            ready: () =>
              supervisor.list().flatMap((s) => {
                const labels = supervisor.labels(s.id);
                return s.state === 'ready' && labels?.environment === key ? [{ id: s.id, release: labels.releaseId }] : [];
              }),
            faultable: (id) => supervisor.faultable?.(id),
          };
    return { proxy: env.proxy, release: env.stable, rolloutRelease, instances };
  }

  async #targetChaos(projectId: string, environment: string, releaseIds: (string | null)[]): Promise<TargetChaos | null> {
    const chaosFor = this.#deps.targets?.chaosFor;
    const [stableId] = releaseIds;
    if (chaosFor === undefined || stableId === null || stableId === undefined) return null;
    const project = await this.#deps.store.projects.get(projectId);
    const releases = (await Promise.all(releaseIds.map((id) => (id === null ? undefined : this.#deps.store.releases.get(id))))).filter(
      (r): r is ReleaseRecord => r !== undefined,
    );
    const stable = releases[0];
    if (project === undefined || stable === undefined) return null;
    let envConfig: EnvironmentConfig;
    try {
      envConfig = configOf(stable, environment).envConfig;
    } catch {
      return null;
    }
    return chaosFor.call(this.#deps.targets, { project, environment, envConfig, releases });
  }

  /** Whether the environment runs on a Kubernetes target whose traffic an HTTPRoute splits (no Gantry proxy in its path). */
  async #gatewayRouted(environment: string, stableId: string | null): Promise<boolean> {
    const stable = stableId === null ? undefined : await this.#deps.store.releases.get(stableId);
    if (stable === undefined) return false;
    try {
      return configOf(stable, environment).envConfig.target?.kubernetes?.traffic === 'gateway';
    } catch {
      return false;
    }
  }

  /** The GANTRY_INSTANCE_KEY of each running instance of an environment (a chaos fault on the edge from it). */
  instanceKeys(projectId: string, environment: string): string[] {
    const { supervisor } = this.#deps;
    const key = environmentKey(projectId, environment);
    return supervisor.list().flatMap((s) => {
      if (s.state === 'stopped' || supervisor.labels(s.id)?.environment !== key) return [];
      const envKey = supervisor.faultable?.(s.id)?.ref.envKey;
      return envKey === undefined ? [] : [envKey];
    });
  }

  /**
   * Every request through an environment's proxy in [sinceMs, untilMs), all releases together
   * (SLOs: the seconds not yet in a stored roll-up); undefined without a proxy. On a target (a
   * Kubernetes namespace) this machine's proxy carries none of the traffic: the target's proxy pods
   * measure it; behind a Gateway API route no Gantry proxy does.
   */
  async traffic(projectId: string, environment: string, sinceMs: number, untilMs: number): Promise<WindowStats | undefined> {
    const env = this.#environments.get(projectId, environment);
    if (env === undefined) return undefined;
    const stable = env.stable === null ? undefined : await this.#deps.store.releases.get(env.stable);
    let target: EnvironmentConfig['target'];
    try {
      target = stable === undefined ? undefined : configOf(stable, environment).envConfig.target;
    } catch {
      target = undefined;
    }
    if (target === undefined) return env.proxy.window(sinceMs, untilMs);
    if (target.kubernetes?.traffic === 'gateway') return undefined;
    return (await this.#targetChaos(projectId, environment, [env.stable]))?.window(sinceMs, untilMs);
  }

  /**
   * Request metrics of every environment, in Prometheus text format (a proxy that does not answer
   * is left out), each series labelled with its project's name: environments of two projects may
   * share a name, and SLO rules (`gantry slo rules`) select by both.
   */
  async prometheus(): Promise<string> {
    const texts = await Promise.all(
      this.#environments.all().map(async (e) => {
        try {
          const [text, project] = await Promise.all([e.proxy.prometheus(), this.#deps.store.projects.get(e.projectId)]);
          // The proxy labels its series with `<project>/<environment>`; rules select the two apart.
          const name = project?.name ?? e.projectId;
          return text.replaceAll(
            `{environment="${promLabel(`${name}/${e.name}`)}"`,
            `{project="${promLabel(name)}",environment="${promLabel(e.name)}"`,
          );
        } catch (error) {
          this.#deps.warn('reading proxy metrics failed', { environment: e.name, error: String(error) });
          return '';
        }
      }),
    );
    return texts.join('');
  }

  /**
   * Where the roll-up recorder reads and acknowledges each open environment's roll-ups: the
   * target's own proxy for an environment running on one (by its live release's config), else the
   * environment's proxy.
   */
  async rollupSources(): Promise<{ projectId: string; environment: string; proxy: RollupReader }[]> {
    return Promise.all(
      this.#environments.all().map(async (e) => ({
        projectId: e.projectId,
        environment: e.name,
        proxy: (await this.#targetRollups(e.projectId, e.name, e.stable)) ?? e.proxy,
      })),
    );
  }

  async #targetRollups(projectId: string, environment: string, releaseId: string | null): Promise<RollupReader | null> {
    const rollupsFor = this.#deps.targets?.rollupsFor?.bind(this.#deps.targets);
    if (rollupsFor === undefined || releaseId === null) return null;
    const [project, release] = await Promise.all([this.#deps.store.projects.get(projectId), this.#deps.store.releases.get(releaseId)]);
    if (project === undefined || release === undefined) return null;
    try {
      const { envConfig } = configOf(release, environment);
      const releaseIdOf = async (n: number) => (await this.#deps.store.releases.getByNumber(projectId, n))?.id;
      return envConfig.target === undefined ? null : rollupsFor({ project, environment, envConfig, releaseIdOf });
    } catch {
      // An unreadable config runs nothing on a target: the environment's proxy it is.
      return null;
    }
  }

  /** A change to an environment: only on the server that drives rollouts, one at a time per environment. */
  async #driving<T>(key: string, work: () => Promise<T>): Promise<T> {
    await this.#mustDrive();
    return this.#exclusive(key, work);
  }

  /** Another server's proxies and instances must not be started or steered from here. */
  async #mustDrive(): Promise<void> {
    const driver = (await this.#deps.rolloutDriver?.()) ?? null;
    if (driver !== null)
      throw new GantryError('NOT_ROLLOUT_DRIVER', `this server does not drive rollouts; ${driver} does: send the request there`, {
        driver,
      });
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
}

/** A Prometheus label value's escaping (backslash, quote, newline). */
function promLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
