/**
 * Which instances an instance fault takes: a pure choice from the environment's ready instances
 * (of one release when the fault names one) and a random source, so a "share of a release's
 * instances" is decided, recorded and tested without processes. The monkey mode's "one random
 * instance" is the same choice with a count of one.
 */
import type { InstanceFault, InstanceTarget } from '../core/chaos-config.ts';
import { ConflictError } from '../core/errors.ts';
import { releaseNamed, type RunningReleases } from './fault-selection.ts';

/** An instance as a fault sees it: only ready instances serve traffic and are worth hurting. */
export interface CandidateInstance {
  id: string;
  release: string;
}

/** One instance fault with the instances it takes, in config order. */
export interface InstanceFaultPlan {
  fault: InstanceFault;
  instanceIds: string[];
}

/** How many of `available` a target takes: its count, or its share rounded up (at least one); never more than there are. */
export function instancesTaken(target: InstanceTarget, available: number): number {
  const wanted = target.count ?? Math.max(1, Math.ceil((target.share ?? 0) * available - 1e-9));
  return Math.min(wanted, available);
}

/**
 * Picks each fault's instances (uniformly, without replacement, among the candidates of its
 * release). Throws ConflictError when a fault finds none to take: an experiment that would do
 * nothing must say so rather than "hold".
 */
export function planInstanceFaults(
  faults: readonly InstanceFault[],
  candidates: readonly CandidateInstance[],
  random: () => number,
): InstanceFaultPlan[] {
  return faults.map((fault) => {
    const pool = candidates.filter((c) => fault.target.release === undefined || c.release === fault.target.release);
    if (pool.length === 0)
      throw new ConflictError(
        `the ${fault.kind} fault finds no ready instance${fault.target.release === undefined ? '' : ` of release ${fault.target.release}`} to take`,
      );
    const ids = pool.map((c) => c.id);
    // A partial Fisher–Yates shuffle: the first n are a uniform sample.
    const n = instancesTaken(fault.target, ids.length);
    for (let i = 0; i < n; i++) {
      const j = i + Math.floor(random() * (ids.length - i));
      [ids[i], ids[j]] = [ids[j] as string, ids[i] as string];
    }
    return { fault, instanceIds: ids.slice(0, n) };
  });
}

/** Instance faults with `release: canary` / `stable` replaced by the release it means now (as resolveFaultReleases). */
export function resolveInstanceReleases(faults: readonly InstanceFault[], running: RunningReleases): InstanceFault[] {
  return faults.map((fault) => {
    const release = releaseNamed(fault.target.release, running, `a ${fault.kind} fault`);
    return release === fault.target.release ? fault : { ...fault, target: { ...fault.target, release } };
  });
}
