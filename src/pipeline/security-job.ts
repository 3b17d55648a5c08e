/**
 * The security job the server adds to each run (docs/decisions/0029): Gantry's scanners over the
 * commit's tree, and the secrets scanner over the lines the push added, as an ordinary job of the
 * run's DAG. It runs `gantry scan` in the job's sandbox without network, so a hostile repository
 * (a rules file with a runaway regular expression, a lockfile built to exhaust memory) costs a
 * sandboxed job, not the server; its findings leave as SARIF through `reports.sarif`, the same
 * road as a user's scanners. Pure: the caller says how to start `gantry`.
 */
import { DEFAULT_SECURITY_CONFIG, type SecurityConfig } from '../core/security-config.ts';
import type { JobConfig, PipelineConfig } from '../core/types.ts';

/** The job's id, unless the pipeline already has a job of that name (then FALLBACK_SECURITY_JOB_ID). */
export const SECURITY_JOB_ID = 'security';
export const FALLBACK_SECURITY_JOB_ID = 'gantry-security';

/**
 * The folder of the workspace where the server's inputs for the job land (the push's diff as
 * `push.diff`), and where the job leaves its SARIF; moved out before the scan so it is not scanned.
 */
export const SECURITY_INPUT_FOLDER = '.gantry-security';

export interface SecurityJobRunner {
  /** The command line that starts `gantry` in a job, shell-quoted (the server's Node and CLI). */
  gantry: string;
  /**
   * OSV advisories for the job (a folder, zip or the server's JSON Lines export of its store), or
   * null: the scan then says "no advisory database". The job reads it from `GANTRY_ADVISORIES`.
   */
  advisories: string | null;
}

/** Which id the security job takes in this pipeline. */
export function securityJobId(pipeline: PipelineConfig): string {
  return Object.hasOwn(pipeline.jobs, SECURITY_JOB_ID) ? FALLBACK_SECURITY_JOB_ID : SECURITY_JOB_ID;
}

/** True for the security job's config (the engine hands it the server's inputs). */
export function isSecurityJob(config: JobConfig): boolean {
  return config.builtin === 'security';
}

function anyScannerOn(security: SecurityConfig): boolean {
  return security.secrets !== false || security.dependencies !== false || security.dockerfile || security.config || security.shellcheck;
}

/** The pipeline with the security job added, or as it is when every scanner is turned off. */
export function withSecurityJob(pipeline: PipelineConfig, security: SecurityConfig | undefined, runner: SecurityJobRunner): PipelineConfig {
  if (!anyScannerOn(security ?? DEFAULT_SECURITY_CONFIG)) return pipeline;
  const input = SECURITY_INPUT_FOLDER;
  const script = [
    // The server's inputs are moved out of the tree first: the scan must not read them as the repository's.
    'out="$TMPDIR/gantry-security" && mkdir -p "$out"',
    `if [ -d ${input} ]; then cp -R ${input}/. "$out"/ && rm -rf ${input}; fi`,
    'set -- scan . --fail-on none --sarif "$out/gantry.sarif"',
    'if [ -f "$out/push.diff" ]; then set -- "$@" --diff "$out/push.diff"; fi',
    `${runner.gantry} "$@"`,
    `mkdir -p ${input} && cp "$out/gantry.sarif" ${input}/gantry.sarif`,
  ].join('\n');
  const job: JobConfig = {
    name: 'security scan',
    needs: [],
    env: runner.advisories === null ? {} : { GANTRY_ADVISORIES: runner.advisories },
    retry: 0,
    steps: [{ name: 'gantry scan', run: script, env: {}, continueOnError: false }],
    outputs: {},
    artifacts: [],
    reports: { sarif: `${input}/gantry.sarif` },
    network: false,
    builtin: 'security',
  };
  return { ...pipeline, jobs: { ...pipeline.jobs, [securityJobId(pipeline)]: job } };
}
