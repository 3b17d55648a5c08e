/**
 * Carries out an experiment's instance faults on the environment's instances: picks them (the pure
 * choice of src/chaos), then kills, restarts, pauses, presses or fills each through the runtime, and
 * undoes the lasting ones on revert. A pause and pressure also end by themselves at the deadline
 * (a helper process the runtime leaves), so a server that dies mid-way leaves nothing behind
 * past it.
 */
import { planInstanceFaults } from '../../chaos/index.ts';
import type { AppliedInstanceFault, InstanceFault } from '../../core/chaos-config.ts';
import { ConflictError, GantryError } from '../../core/errors.ts';
import { killInstance, pauseInstance, pressInstance, revertInstanceFault, type LastingFault } from '../../runtime/index.ts';
import type { EnvironmentInstances } from '../delivery/index.ts';
import type { ChaosTarget } from './ports.ts';

const NOTHING: LastingFault = { paused: [], helpers: [] };

/**
 * Applies every fault, in config order, until `deadlineAt`. On a failure part-way, what was
 * applied is reverted and the error thrown (the run then aborts with it).
 */
export async function applyInstanceFaults(
  instances: EnvironmentInstances,
  faults: readonly InstanceFault[],
  deadlineAt: number,
  o: { experimentId: string; random?: () => number },
): Promise<AppliedInstanceFault[]> {
  const byId = new Map(instances.ready().map((i) => [i.id, i.release]));
  const plan = planInstanceFaults(
    faults,
    [...byId].map(([id, release]) => ({ id, release })),
    o.random ?? Math.random,
  );
  const applied: AppliedInstanceFault[] = [];
  try {
    for (const { fault, instanceIds } of plan) {
      for (const instanceId of instanceIds) {
        const target = instances.faultable(instanceId);
        if (target === undefined) throw new ConflictError(`instance ${instanceId} stopped before the ${fault.kind} fault could take it`);
        const lasting = await applyOne(target, fault, deadlineAt, o.experimentId);
        applied.push({ kind: fault.kind, instanceId, release: byId.get(instanceId) ?? '', ...lasting });
      }
    }
  } catch (error) {
    revertInstanceFaults(applied);
    throw error;
  }
  return applied;
}

/**
 * The instance faults on a cluster's pods: `kill` deletes the pods it picks (grace period 0), the
 * share of a release's Ready pods it names, as on processes. Any other kind was refused before
 * the run started (CHAOS_FAULT_NOT_ON_KUBERNETES); nothing lasts, so nothing is reverted.
 */
export async function killPods(
  pods: NonNullable<ChaosTarget['pods']>,
  faults: readonly InstanceFault[],
  o: { random?: () => number },
): Promise<AppliedInstanceFault[]> {
  const ready = await pods.readyPods();
  const releaseOf = new Map(ready.map((p) => [p.id, p.release]));
  const plan = planInstanceFaults(faults, ready, o.random ?? Math.random);
  const applied: AppliedInstanceFault[] = [];
  for (const { fault, instanceIds } of plan) {
    if (fault.kind !== 'kill') throw new GantryError('CHAOS_FAULT_NOT_ON_KUBERNETES', `a ${fault.kind} fault cannot take a pod`);
    await Promise.all(instanceIds.map((id) => pods.killPod(id)));
    for (const id of instanceIds) applied.push({ kind: 'kill', instanceId: id, release: releaseOf.get(id) ?? '', ...NOTHING });
  }
  return applied;
}

async function applyOne(
  target: NonNullable<ReturnType<EnvironmentInstances['faultable']>>,
  fault: InstanceFault,
  deadlineAt: number,
  experimentId: string,
): Promise<LastingFault> {
  switch (fault.kind) {
    case 'kill':
      await killInstance(target.ref);
      return NOTHING;
    case 'restart':
      target.restart(`chaos experiment ${experimentId} restarts it`);
      return NOTHING;
    case 'pause':
      return pauseInstance(target.ref, deadlineAt);
    case 'cpu':
      return pressInstance(target.ref, { kind: 'cpu', workers: fault.workers }, deadlineAt);
    case 'memory':
      return pressInstance(target.ref, { kind: 'memory', bytes: fault.bytes }, deadlineAt);
    case 'disk-full':
      return pressInstance(target.ref, { kind: 'disk-full', tmpSizeBytes: target.tmpSizeBytes }, deadlineAt);
  }
}

/**
 * Why a disk-full fault may not run on these instances, or null when it may: every instance it
 * could take must have its /tmp as a size-limited tmpfs in its sandbox (service.tmp-size), so the
 * only thing it can fill is what the service set aside for it. Checked before the run starts.
 */
export function diskFullRefusal(instances: EnvironmentInstances, faults: readonly InstanceFault[]): string | null {
  for (const fault of faults) {
    if (fault.kind !== 'disk-full') continue;
    const release = fault.target.release;
    for (const { id } of instances.ready().filter((i) => release === undefined || i.release === release)) {
      const target = instances.faultable(id);
      if (target !== undefined && target.tmpSizeBytes === null)
        return `instance ${id} has no size-limited /tmp in a sandbox (service.tmp-size, with bubblewrap): a disk-full there could fill a real disk`;
    }
  }
  return null;
}

/** Ends the lasting faults now (resumes the paused, kills the helpers). Idempotent, synchronous. */
export function revertInstanceFaults(applied: readonly AppliedInstanceFault[]): void {
  for (const a of applied) revertInstanceFault(a);
}
