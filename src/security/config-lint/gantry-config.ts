/**
 * Gantry's own `gantry.yaml`: where a pipeline hands secrets to code it does not control. A job
 * that reads a secret can send it anywhere while it has the network (the default); a pipeline
 * that runs on webhooks from outside (the `pull_request_target` lesson of GitHub Actions) runs its
 * secret-reading jobs on events anyone may cause.
 */
import type { GantryConfig } from '../../core/types.ts';
import type { ConfigFinding } from './kubernetes.ts';

export const GANTRY_CONFIG_RULES = {
  GG001: {
    level: 'low',
    message:
      'A job reads secrets and has network access: set `network: false` if it does not need the network, or move the secret to a job that does not.',
  },
  GG002: {
    level: 'medium',
    message: 'A webhook-triggered pipeline runs a job that reads secrets: anyone who can send the webhook can run it.',
  },
} as const;

const SECRET_REFERENCE = /\$\{\{[^}]*\bsecrets\./;

function usesSecrets(job: GantryConfig['pipeline']['jobs'][string], pipelineEnv: Record<string, string>): boolean {
  const texts = [
    ...Object.values(pipelineEnv),
    ...Object.values(job.env),
    ...job.steps.flatMap((s) => [s.run ?? '', ...Object.values(s.env ?? {})]),
  ];
  return texts.some((t) => SECRET_REFERENCE.test(t));
}

/** `lineOfJob` gives the line where a job is declared (the config loader keeps positions). */
export function lintGantryConfig(config: GantryConfig, lineOfJob: (job: string) => number): ConfigFinding[] {
  const findings: ConfigFinding[] = [];
  for (const [name, job] of Object.entries(config.pipeline.jobs)) {
    if (!usesSecrets(job, config.pipeline.env)) continue;
    if (job.network) findings.push({ code: 'GG001', ...GANTRY_CONFIG_RULES.GG001, line: lineOfJob(name) });
    if (config.pipeline.on.webhook) findings.push({ code: 'GG002', ...GANTRY_CONFIG_RULES.GG002, line: lineOfJob(name) });
  }
  return findings;
}
