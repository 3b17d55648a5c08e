/**
 * Builders for normalised pipeline config in tests: each fills the defaults the config schema
 * would, so a test states only what it is about.
 */
import type { GantryContext, JobConfig, MatrixConfig, PipelineConfig, TriggersConfig } from '../../src/core/types.ts';

export type JobSpec = Partial<Omit<JobConfig, 'matrix'>> & { matrix?: Partial<MatrixConfig> };

export function job(spec: JobSpec = {}): JobConfig {
  const { matrix, ...rest } = spec;
  const config: JobConfig = {
    needs: [],
    env: {},
    retry: 0,
    steps: [{ run: 'true', env: {}, continueOnError: false }],
    outputs: {},
    artifacts: [],
    reports: {},
    network: false,
    ...rest,
  };
  if (matrix !== undefined) config.matrix = matrixOf(matrix);
  return config;
}

export function matrixOf(spec: Partial<MatrixConfig>): MatrixConfig {
  return { axes: {}, include: [], exclude: [], failFast: true, ...spec };
}

export function pipeline(
  jobs: Record<string, JobSpec>,
  extra: { on?: Partial<TriggersConfig>; env?: Record<string, string> } = {},
): PipelineConfig {
  const out: PipelineConfig = { on: { schedule: [], ...extra.on }, env: extra.env ?? {}, jobs: {} };
  for (const [id, spec] of Object.entries(jobs)) out.jobs[id] = job(spec);
  return out;
}

export const GANTRY: GantryContext = {
  sha: 'abc123',
  ref: 'refs/heads/main',
  ref_name: 'main',
  ref_type: 'branch',
  event: 'push',
  head_ref: '',
  base_ref: '',
  run_id: 'run-1',
  workspace: '/tmp/ws',
};
