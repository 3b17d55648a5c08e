/**
 * The environments this server runs, each opened on first use: its proxy (adopted or started,
 * on the stored port, else the configured one, else a free one), its pools (derived from
 * releases: `stable` = the current release's instances, `canary` = the rollout's, `old` = those
 * a promotion replaced) and the route table it sends the proxy. Concurrent opens of one
 * environment share one proxy start.
 */
import type { MatchRule } from '../../core/delivery-config.ts';
import { InputError } from '../../core/errors.ts';
import { freePort } from '../../platform/ports.ts';
import type { Upstream } from '../../proxy/index.ts';
import type { InstanceStatus } from '../../runtime/index.ts';
import type { Project, Store } from '../../store/ports.ts';
import { environmentKey } from './environment-key.ts';
import type { EnvironmentProxy, InstanceSupervisor, ProxyControl } from './ports.ts';
import { matchOf } from './release-config.ts';

/** One environment of one project, as this process runs it. */
export interface EnvironmentRuntime {
  projectId: string;
  name: string;
  /** The environment's proxy process; it keeps routing by its last table whatever this server does. */
  proxy: EnvironmentProxy;
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

/** An instance with its pool, release and the host it is reached at (an agent's address, else this machine's loopback). */
export type PooledInstance = InstanceStatus & { pool: string; releaseId: string; host: string };

export interface EnvironmentsDeps {
  store: Store;
  supervisor: InstanceSupervisor;
  proxies: ProxyControl;
  /** Address environment proxies listen on (the server's host). */
  host: string;
  warn(message: string, data: Record<string, unknown>): void;
}

export class Environments {
  readonly #deps: EnvironmentsDeps;
  readonly #open = new Map<string, EnvironmentRuntime>();
  readonly #opening = new Map<string, Promise<EnvironmentRuntime>>();
  /** Instances taken out of the route table to be stopped: never routed again. */
  readonly #leaving = new Set<string>();

  constructor(deps: EnvironmentsDeps) {
    this.#deps = deps;
  }

  get(projectId: string, name: string): EnvironmentRuntime | undefined {
    return this.#open.get(environmentKey(projectId, name));
  }

  /** Forgets an environment (its proxy is the caller's to close or detach). */
  forget(projectId: string, name: string): void {
    this.#open.delete(environmentKey(projectId, name));
  }

  all(): EnvironmentRuntime[] {
    return [...this.#open.values()];
  }

  /** An open under way for that environment (a stop waits for it), if any. */
  opening(projectId: string, name: string): Promise<EnvironmentRuntime> | undefined {
    return this.#opening.get(environmentKey(projectId, name));
  }

  /** Settles once every open under way settled. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#opening.values()]);
  }

  /**
   * The environment, opened on first use: its proxy process is adopted (still running from
   * before) or started (routing by its persisted table at once). `route` false leaves the proxy's
   * table alone until someone routes (a resuming rollout does). `releaseId`: the release a deploy
   * opens it for, whose config says where its proxy runs (on agents with `placement`).
   */
  open(project: Project, name: string, configuredPort?: number, route = true, releaseId?: string): Promise<EnvironmentRuntime> {
    const key = environmentKey(project.id, name);
    const existing = this.#open.get(key);
    if (existing) return Promise.resolve(existing);
    let opening = this.#opening.get(key);
    if (!opening) {
      opening = this.#start(project, name, configuredPort, route, releaseId).finally(() => this.#opening.delete(key));
      this.#opening.set(key, opening);
    }
    return opening;
  }

  async #start(
    project: Project,
    name: string,
    configuredPort: number | undefined,
    route: boolean,
    releaseId: string | undefined,
  ): Promise<EnvironmentRuntime> {
    const { store, host } = this.#deps;
    const stored = await store.rollouts.environment(project.id, name);
    const port = stored?.port ?? configuredPort ?? (await freePort(host));
    const proxy = await this.#deps.proxies
      .open({
        environmentKey: environmentKey(project.id, name),
        label: `${project.name}/${name}`,
        host,
        port,
        ...(releaseId === undefined ? {} : { releaseId }),
      })
      .catch((error: unknown) => {
        throw new InputError(
          `cannot listen on ${host}:${port} for ${name}: ${(error as Error).message} (choose another with \`gantry env expose ${project.name} ${name} --port P\`)`,
        );
      });
    if (!stored || stored.port !== port) {
      await store.rollouts.setEnvironment({
        projectId: project.id,
        name,
        currentReleaseId: stored?.currentReleaseId ?? null,
        previousReleaseId: stored?.previousReleaseId ?? null,
        port,
      });
    }
    const current = stored?.currentReleaseId ? await store.releases.get(stored.currentReleaseId) : undefined;
    const runtime: EnvironmentRuntime = {
      projectId: project.id,
      name,
      proxy,
      port,
      stable: stored?.currentReleaseId ?? null,
      canary: null,
      old: null,
      weights: { stable: 100, canary: 0 },
      match: current ? matchOf(current, name) : [],
      stopped: false,
    };
    this.#open.set(environmentKey(project.id, name), runtime);
    if (route) await this.route(runtime);
    return runtime;
  }

  /** The environment's instances (any state) with their pool and release. */
  instancesOf(env: Pick<EnvironmentRuntime, 'projectId' | 'name'>): PooledInstance[] {
    const { supervisor } = this.#deps;
    const key = environmentKey(env.projectId, env.name);
    return supervisor
      .list()
      .map((status) => ({ status, labels: supervisor.labels(status.id) }))
      .filter((x) => x.labels?.environment === key)
      .map((x) => ({ ...x.status, pool: x.labels?.pool ?? '', releaseId: x.labels?.releaseId ?? '', host: x.labels?.host ?? '127.0.0.1' }));
  }

  /** Whether the instance was taken out of the routes to be stopped (until it is `stopped`). */
  isLeaving(instanceId: string): boolean {
    return this.#leaving.has(instanceId);
  }

  /** Routes follow readiness: an instance change re-routes the environments it belongs to. */
  onInstanceChange(status: InstanceStatus): void {
    if (status.state === 'stopped') this.#leaving.delete(status.id);
    for (const env of this.#open.values()) {
      if (this.instancesOf(env).some((i) => i.id === status.id)) void this.route(env);
    }
  }

  /**
   * The route table: ready instances of the stable and canary releases, at the current weights,
   * minus `excluding` (which stay out from now on: they are being stopped). Resolves once the
   * proxy applied it (tables reach it in call order); never rejects: when its control socket
   * fails, the proxy keeps routing by the last table it accepted.
   */
  route(env: EnvironmentRuntime, excluding: ReadonlySet<string> = new Set()): Promise<void> {
    if (env.stopped) return Promise.resolve();
    const upstreams: Upstream[] = [];
    for (const instance of this.instancesOf(env)) {
      if (instance.state !== 'ready' || excluding.has(instance.id) || this.#leaving.has(instance.id)) continue;
      const pool = instance.releaseId === env.canary ? 'canary' : instance.releaseId === env.stable ? 'stable' : null;
      if (!pool) continue;
      upstreams.push({ id: instance.id, host: instance.host, port: instance.port, pool, version: instance.releaseId });
    }
    for (const id of excluding) this.#leaving.add(id);
    return env.proxy.setRoutes({ upstreams, weights: env.weights, match: env.match ?? [] }).catch((error: unknown) => {
      this.#deps.warn('updating the proxy route table failed', { environment: env.name, error: String(error) });
    });
  }
}
