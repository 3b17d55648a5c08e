/**
 * The rollout's commands (src/delivery's reducer) carried into a cluster's desired state: which
 * releases run in which pool with how many pods, and the traffic weights. The same commands
 * drive the embedded runtime's instances and proxy; here each one changes this state, and the
 * adapter applies the manifests rendered from it. Pure.
 */
import type { RolloutCommand } from '../delivery/index.ts';
import { InputError } from '../core/errors.ts';
import type { KubernetesRelease, VersionPlacement } from './manifests.ts';

export interface PoolState {
  releaseId: string;
  release: KubernetesRelease;
  replicas: number;
}

/** What runs in the environment's namespace. `old` is the previous stable pool after a swap, until it is stopped. */
export interface DesiredVersions {
  stable: PoolState | null;
  canary: PoolState | null;
  old: PoolState | null;
  weights: { stable: number; canary: number };
}

/** The state of an environment whose current release (if any) runs all its pods and takes every request. */
export function initialVersions(current: PoolState | null): DesiredVersions {
  return { stable: current, canary: null, old: null, weights: { stable: 100, canary: 0 } };
}

export interface CommandContext {
  /** Pods per pool when a command names no count (the environment's instances). */
  instances: number;
  release(releaseId: string): KubernetesRelease;
}

/** `state` after the command; commands with no effect on the cluster (record, finished) leave it as it is. */
export function applyRolloutCommand(state: DesiredVersions, command: RolloutCommand, ctx: CommandContext): DesiredVersions {
  switch (command.type) {
    case 'start-instances': {
      const current = state[command.pool];
      const count = command.count ?? ctx.instances;
      const pool: PoolState =
        current !== null && current.releaseId === command.releaseId
          ? { ...current, replicas: current.replicas + count }
          : { releaseId: command.releaseId, release: ctx.release(command.releaseId), replicas: count };
      return { ...state, [command.pool]: pool };
    }
    case 'set-weights':
      return { ...state, weights: { stable: command.stable, canary: command.canary } };
    case 'stop-instances':
      return { ...state, [command.pool]: shrink(state[command.pool], command.count) };
    case 'swap-pools':
      return { stable: state.canary, canary: null, old: state.stable, weights: { stable: 100, canary: 0 } };
    case 'record':
    case 'finished':
      return state;
  }
}

function shrink(pool: PoolState | null, count: number | undefined): PoolState | null {
  if (pool === null) return null;
  const replicas = count === undefined ? 0 : Math.max(0, pool.replicas - count);
  return replicas === 0 ? null : { ...pool, replicas };
}

/**
 * The versions to render: stable first, then the canary, then an old pool still draining (it
 * takes no traffic). Weights of pools with no pods move to the others, so traffic never goes to a
 * Service without endpoints.
 */
export function placements(state: DesiredVersions): VersionPlacement[] {
  const pools: { pool: PoolState; weight: number }[] = [];
  if (state.stable !== null) pools.push({ pool: state.stable, weight: state.weights.stable });
  if (state.canary !== null) pools.push({ pool: state.canary, weight: state.weights.canary });
  if (pools.length === 0) {
    if (state.old === null) throw new InputError('nothing runs in the environment');
    pools.push({ pool: state.old, weight: 100 });
  } else if (state.old !== null && state.old.releaseId !== pools[0]?.pool.releaseId) {
    pools.push({ pool: state.old, weight: 0 });
  }
  const total = pools.reduce((sum, p) => sum + p.weight, 0);
  return pools.map(({ pool, weight }, i) => ({
    release: pool.release,
    replicas: pool.replicas,
    weight: total === 0 ? (i === 0 ? 100 : 0) : (weight * 100) / total,
  }));
}
