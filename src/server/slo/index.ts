/** SLOs as the server runs them: continuous evaluation of budgets and burn-rate alerts, and their API. */
export { registerSloRoutes, type SloRouteDeps } from './slo-routes.ts';
export { registerSloHistoryRoutes, type SloHistoryRouteDeps } from './slo-history-routes.ts';
export type { SloStatus } from '../../slo/index.ts';
export { SloService, type SloServiceDeps, type SloTarget } from './slo-service.ts';
export { storeSloTargets } from './slo-targets.ts';
