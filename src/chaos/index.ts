/**
 * Chaos experiments' pure core: which request a fault takes (the blast radius, per request, from a
 * random source), the steady-state hypothesis judged with the canary analysis's statistics, and
 * the run as a reducer (guard → before → inject → watch → revert → after; held, broken or
 * aborted). No I/O.
 */
export { shareInterval, shareTestPValue } from './blast-radius.ts';
export {
  MAX_LOOKS,
  WATCH_INTERVAL_MS,
  experimentRecord,
  faultsMayBeSet,
  initialExperiment,
  isFinishedExperiment,
  reduceExperiment,
} from './experiment-machine.ts';
export type {
  BlastRadiusCounts,
  ExperimentCommand,
  ExperimentEvent,
  ExperimentPhase,
  ExperimentState,
  ExperimentTransition,
  ExperimentVerdict,
  HypothesisLook,
  InitialExperimentOptions,
} from './experiment-machine.ts';
export { compileFaults, faultDelayMs, matches, requestPath, resolveFaultReleases, seededRandom, selectFault } from './fault-selection.ts';
export type { CompiledFault, FaultRequest, RunningReleases } from './fault-selection.ts';
export { HYPOTHESIS_MIN_REQUESTS, addSamples, evaluateHypothesis } from './hypothesis.ts';
export type { HypothesisOutcome, HypothesisResult, HypothesisSlo, HypothesisWindow } from './hypothesis.ts';
export { instancesTaken, planInstanceFaults, resolveInstanceReleases } from './instance-selection.ts';
export type { CandidateInstance, InstanceFaultPlan } from './instance-selection.ts';
export { dueSlot, nextSlot, scheduleCron, windowAt } from './schedule.ts';
