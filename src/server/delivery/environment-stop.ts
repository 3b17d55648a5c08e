/**
 * Stopping an environment: a rollout under way ends `aborted`, every instance drains and stops
 * (out of the route table, in-flight requests finish, then the stop signal and SIGKILL after
 * the drain timeout), and the proxy process exits, which frees its port. The record stays
 * (nothing current, the release that ran as `previousReleaseId`, the exposed port kept), so
 * history remains and the next deploy starts the environment afresh, like a first one.
 * Stopping a stopped environment stops whatever is left and records the request again.
 *
 * Allowed at any time, also mid-rollout, as deleting or scaling a Deployment to zero is in
 * Kubernetes and Argo Rollouts: whoever stops an environment wants nothing running there, and
 * an abort first would only roll back (restart stable instances, drain the canary) what the
 * stop takes away a moment later. So the rollout ends at once (the machine's `stop` event) instead of
 * through its roll-back path, whose drains and restarts would race the stop.
 *
 * Crash safety: the stopped record, the rollout's end and the `environment.stopped` event are
 * committed before anything is stopped; a server that dies mid-stop finishes it on its next
 * start (`finishStop`), and nothing brings a stopped environment back but a deploy.
 * The caller runs stops one at a time per environment, with deploys, rollbacks and exposes.
 */
import { NotFoundError } from '../../core/errors.ts';
import type { Value } from '../../core/types.ts';
import { reduceRollout, type RolloutState } from '../../delivery/index.ts';
import type { EnvironmentRecord, EventEnvironment, NewEvent, Project, ReleaseRecord, Store } from '../../store/ports.ts';
import { environmentKey } from './environment-key.ts';
import type { EnvironmentRuntime, Environments } from './environments.ts';
import type { Clock, InstanceSupervisor, ProxyControl } from './ports.ts';
import { drainTimeoutOf } from './release-config.ts';
import type { RolloutDriver } from './rollout-driver.ts';

export interface EnvironmentStopDeps {
  store: Store;
  supervisor: InstanceSupervisor;
  proxies: ProxyControl;
  environments: Environments;
  driver: RolloutDriver;
  clock: Clock;
  eventEnv(): EventEnvironment;
  notify(subject: string): void;
  warn(message: string, data: Record<string, unknown>): void;
}

export async function stopEnvironment(
  deps: EnvironmentStopDeps,
  project: Project,
  name: string,
  actor: string,
): Promise<EnvironmentRecord> {
  const { store, environments, driver } = deps;
  const key = environmentKey(project.id, name);
  await environments.opening(project.id, name)?.catch(() => undefined);
  const stored = await store.rollouts.environment(project.id, name);
  if (!stored) throw new NotFoundError(`${project.name} has no environment '${name}' (nothing was deployed or exposed there)`);
  const runtime = environments.get(project.id, name);
  if (runtime) runtime.stopped = true;
  const record = await store.rollouts.active(project.id, name);
  const driven = record ? driver.get(record.id) : undefined;
  if (driven) {
    driven.env.stopped = true;
    if (driven.timer) deps.clock.clearTimeout(driven.timer);
    // A transition being persisted lands first; later ones see `stopped` and do nothing.
    await driven.queue;
  }
  const at = deps.clock.now();
  const ran = stored.currentReleaseId ?? stored.previousReleaseId;
  const environment = { projectId: project.id, name, currentReleaseId: null, previousReleaseId: ran, port: stored.port };
  const victims = environments.instancesOf({ projectId: project.id, name }).filter((i) => i.state !== 'stopped');
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
    env: deps.eventEnv(),
  };
  const before = record ? ((driven?.state ?? record.state) as unknown as RolloutState) : null;
  // The machine's `stop` event; a rollout that finished while the stop waited for its queue
  // gives no commands and keeps its own end.
  const ending = before ? reduceRollout(before, { type: 'stop', at, actor }) : null;
  if (record && before && ending && ending.commands.length > 0) {
    const { state } = ending;
    const release = driven?.release ?? (await store.releases.get(record.releaseId));
    const base = {
      actor,
      subject: `rollout:${record.id}`,
      env: { ...deps.eventEnv(), ...(release ? { commit: release.sha, configHash: release.configHash } : {}) },
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
    driver.forget(record.id);
  } else {
    await store.rollouts.setEnvironment(environment);
    await store.events.append(stoppedEvent);
  }
  environments.forget(project.id, name);
  await drainAndStop(deps, runtime, name, victims);
  if (runtime) await runtime.proxy.close();
  else await deps.proxies.closeAbandoned(new Set([key]));
  deps.notify(record?.id ?? key);
  return (await store.rollouts.environment(project.id, name)) as EnvironmentRecord;
}

/**
 * Drains and stops a stopped environment's instances: out of the route table first (so no new
 * request reaches them; an empty table answers 503), in-flight requests finish within each
 * release's drain timeout, then the supervisor's stop (signal, SIGKILL after the drain timeout).
 */
async function drainAndStop(
  deps: EnvironmentStopDeps,
  runtime: EnvironmentRuntime | undefined,
  environment: string,
  victims: { id: string; releaseId: string }[],
): Promise<void> {
  if (runtime) {
    await runtime.proxy.setRoutes({ upstreams: [], weights: { stable: 100, canary: 0 }, match: [] }).catch((error: unknown) => {
      deps.warn('updating the proxy route table failed', { environment, error: String(error) });
    });
    const releases = new Map<string, ReleaseRecord | undefined>();
    for (const releaseId of new Set(victims.map((v) => v.releaseId))) releases.set(releaseId, await deps.store.releases.get(releaseId));
    // A proxy that cannot say counts as not drained: the supervisor's own drain timeout follows.
    await Promise.all(
      victims.map((v) => runtime.proxy.drained(v.id, drainTimeoutOf(releases.get(v.releaseId), environment)).catch(() => false)),
    );
  }
  await Promise.all(
    victims.map((v) =>
      deps.supervisor.stop(v.id).catch((error: unknown) => {
        deps.warn('stopping an instance failed', { instanceId: v.id, environment, error: String(error) });
      }),
    ),
  );
}

/**
 * On start, for an environment that runs nothing: a stop the previous server died in is
 * finished. Its proxy goes first (graceful: in-flight requests finish), then any instance
 * still running (adoption reattached or even revived it, as it does every instance meant to
 * run). Only a stopped environment's proxy is shut down (`closeProxy`): one exposed before its
 * first deploy keeps its listener.
 */
export async function finishStop(
  deps: Pick<EnvironmentStopDeps, 'supervisor' | 'proxies' | 'warn'>,
  key: string,
  closeProxy: boolean,
): Promise<void> {
  try {
    if (closeProxy) await deps.proxies.closeAbandoned(new Set([key]));
    const { supervisor } = deps;
    const leftovers = supervisor.list().filter((s) => s.state !== 'stopped' && supervisor.labels(s.id)?.environment === key);
    await Promise.all(leftovers.map((s) => supervisor.stop(s.id)));
  } catch (error) {
    deps.warn('finishing an interrupted environment stop failed', { environment: key, error: String(error) });
  }
}
