/**
 * Service logs (issue 11 §2): every instance's stdout and stderr kept per environment, release
 * and instance (files written by the runtime's supervisor, placed by `instanceLogDir`), searched
 * and followed over the API, kept within a per-environment budget, and optionally forwarded to
 * Loki. Decisions in docs/decisions/0025-service-logs.md.
 */
export {
  enforceLogBudget,
  type LogBudget,
  LogBudgetKeeper,
  type LogDrop,
  LOGS_DROPPED_MARKER,
  SERVICE_LOGS_DROPPED_EVENT,
} from './log-budget.ts';
export { compileLogQuery, parseLogTime, structuredFields } from './log-query.ts';
export { instanceLogDir } from './log-segments.ts';
export { registerServiceLogRoutes, type LogRouteDeps as ServiceLogRouteDeps } from './log-routes.ts';
export { LokiForwarder, type LokiForwarderStatus } from './loki-forwarder.ts';
export { type GlobalLogQuery, type ServiceLogAnswer, type ServiceLogLine, ServiceLogs } from './service-logs.ts';

import type { ServiceLogs } from './service-logs.ts';
/** The global search's entry point (issue 11 §4): `logs.searchServiceLogs`. */
export type SearchServiceLogs = ServiceLogs['searchServiceLogs'];
