/**
 * The executor's public entry: what the engine, the server and the CLI use to run jobs and to
 * read the logs it writes. Internals (process trees, the sandbox command line) stay importable
 * for tests but are not part of this surface.
 */
export type { JobContext, JobSpec, LogLine, NeedsEntry, RunJob, SharedCache } from './ports.ts';
export { runJob, SANDBOX_MISSING_WARNING } from './job-runner.ts';
export { parseLogLine, type ParsedLogLine, type StreamCode } from '../core/log-line.ts';
export { createMasker, type Masker } from './masker.ts';
export { SecretSet } from './secret-set.ts';
export { sandboxAvailable } from './sandbox.ts';
export { prepareLogPump } from './native/log-pump.ts';
