/** Runs: triggering, driving, cancelling, re-running and recovering them; their API, logs and files. */
export { registerRunRoutes, type RunRouteDeps } from './run-routes.ts';
export { RunService, type RunServiceDeps, type TriggerOutcome, type TriggerRequest } from './run-service.ts';
export { pullJobFiles, shipJobFiles, shipJobLog, storedLogPath, writingJobLog, type LogShipping } from './job-file-replica.ts';
