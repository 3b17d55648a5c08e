/**
 * Where a run's files live under the data directory. One place, so the executor, the API (logs,
 * artifacts) and the sandbox (paths to hide) agree.
 *
 *   <dataDir>/runs/<runId>/source/              the run's source tree (snapshot or checkout)
 *   <dataDir>/runs/<runId>/jobs/<slug>/log      the job's log (see executor/log-writer.ts)
 *   <dataDir>/runs/<runId>/jobs/<slug>/artifacts/
 *   <dataDir>/runs/<runId>/jobs/<slug>/tests.json  the job's test cases (executor/junit.ts TestResults)
 *   <dataDir>/runs/<runId>/jobs/<slug>/sarif.json  the job's SARIF reports merged (executor/sarif-reports.ts)
 *   <dataDir>/runs/<runId>/security/               what the server hands its security job (the push's diff), removed when the run ends
 *   <dataDir>/work/<runId>/<slug>/              the job's workspace (deleted when the job ends)
 *   <dataDir>/cache/                            content-addressed caches
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';

export function runDir(dataDir: string, runId: string): string {
  return join(dataDir, 'runs', runId);
}

export function sourceDir(dataDir: string, runId: string): string {
  return join(runDir(dataDir, runId), 'source');
}

/** A file-system-safe, unique and still readable name for a job key such as `test (1, linux)`. */
export function jobSlug(key: string): string {
  const readable = key
    .replace(/[^A-Za-z0-9_.-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60);
  if (readable === key) return key;
  return `${readable}-${createHash('sha256').update(key).digest('hex').slice(0, 8)}`;
}

export function jobDir(dataDir: string, runId: string, key: string): string {
  return join(runDir(dataDir, runId), 'jobs', jobSlug(key));
}

export function jobLogFile(dataDir: string, runId: string, key: string): string {
  return join(jobDir(dataDir, runId, key), 'log');
}

export function jobArtifactsDir(dataDir: string, runId: string, key: string): string {
  return join(jobDir(dataDir, runId, key), 'artifacts');
}

/**
 * The job's saved test cases. The executor writes it next to `artifactsOut` (it cannot import
 * this module): keep the name in step with job-runner.ts TESTS_FILE.
 */
export function jobTestsFile(dataDir: string, runId: string, key: string): string {
  return join(jobDir(dataDir, runId, key), 'tests.json');
}

/**
 * The job's SARIF reports and its security findings merged into one SARIF 2.1.0 log: the
 * contract the findings store reads. The executor writes it beside `artifactsOut` (job-runner.ts
 * SARIF_FILE): keep the names in step.
 */
export function jobSarifFile(dataDir: string, runId: string, key: string): string {
  return join(jobDir(dataDir, runId, key), 'sarif.json');
}

/** What the server hands a run's security job, restored into its workspace like a needed job's artifacts. */
export function securityInputDir(dataDir: string, runId: string): string {
  return join(runDir(dataDir, runId), 'security');
}

export function workspaceDir(dataDir: string, runId: string, key: string): string {
  return join(dataDir, 'work', runId, jobSlug(key));
}

export function cacheDir(dataDir: string): string {
  return join(dataDir, 'cache');
}
