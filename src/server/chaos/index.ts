/** Chaos experiments as the server runs them: run, watch, halt, abort, record, and their API. */
export { registerChaosRoutes, type ChaosRouteDeps } from './chaos-routes.ts';
export { ChaosService, type DeclaredExperiment, type DryRunPlan, type ExperimentRunView } from './chaos-service.ts';
export type { ChaosDeps, ChaosTarget, FaultProxy } from './ports.ts';
