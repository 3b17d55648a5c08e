/**
 * A one-job spec for the executor tests that run a real job: its data directory under `root`
 * (the workspace, log, artifacts and cache where the server would put them, the data directory
 * hidden from the sandbox), steps given as `run:` lines.
 */
import { join } from 'node:path';
import type { JobConfig, StepConfig } from '../../src/core/types.ts';
import type { JobSpec } from '../../src/executor/ports.ts';
import { gantryContextOf } from '../../src/pipeline/triggers.ts';

export function jobSpecUnder(
  root: string,
  steps: Partial<StepConfig>[],
  o: Partial<JobSpec> & { env?: Record<string, string>; continueOnError?: boolean } = {},
): JobSpec {
  const { env = {}, continueOnError = false, ...spec } = o;
  const data = join(root, 'data');
  const config: JobConfig = {
    needs: [],
    env,
    retry: 0,
    outputs: {},
    artifacts: [],
    reports: {},
    network: true,
    steps: steps.map((s) => ({ run: 'true', env: {}, continueOnError, ...s })),
  };
  return {
    runId: 'run1',
    job: { key: 'build', jobId: 'build', matrix: null, needs: [], config },
    context: {
      env: {},
      inputs: {},
      secrets: {},
      needs: {},
      gantry: gantryContextOf({ kind: 'push', ref: 'refs/heads/main', sha: 'abc' }, 'run1'),
    },
    sourceDir: join(root, 'source'),
    workspaceDir: join(data, 'work', 'run1', 'build'),
    artifactsIn: [],
    artifactsOut: join(data, 'runs', 'run1', 'jobs', 'build', 'artifacts'),
    cacheDir: join(data, 'cache'),
    logFile: join(data, 'runs', 'run1', 'jobs', 'build', 'log'),
    logCapBytes: 1024 * 1024,
    sandbox: 'off',
    hiddenPaths: [data],
    killGraceMs: 500,
    signal: new AbortController().signal,
    ...spec,
  };
}
