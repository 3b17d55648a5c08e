/**
 * The security policy of a project: which finding levels warn and which block a release, for
 * every environment (the top level) and per environment. Only findings that are new relative to
 * the default branch and not suppressed count: a gate on everything would block a project
 * forever on the day an old dependency gets an advisory. The policy never fails a pipeline: a
 * run's result says what its findings would do to a release of it.
 *
 * The shape and the default are those of `gantry.yaml`'s `security.policy`
 * (src/core/security-config.ts on the pipeline side), so the server's per-project setting and
 * the file read the same way:
 * `{ warn: [medium, high], block: [critical], environments: { production: { block: [critical, high] } } }`.
 */
import { z } from 'zod';
import { FINDING_LEVELS, type FindingLevel } from './finding.ts';

const levels = z.array(z.enum(FINDING_LEVELS as [FindingLevel, ...FindingLevel[]]));
const levelRule = z.strictObject({ warn: levels.optional(), block: levels.optional() });

export const securityPolicySchema = z.strictObject({
  warn: levels.optional(),
  block: levels.optional(),
  environments: z.record(z.string().min(1), levelRule).optional(),
});

export type SecurityPolicy = z.infer<typeof securityPolicySchema>;

/** What holds when a project says nothing: medium and high warn, a new critical finding blocks a deploy anywhere. */
export const DEFAULT_SECURITY_POLICY: Required<SecurityPolicy> = {
  warn: ['medium', 'high'],
  block: ['critical'],
  environments: {},
};

export interface PolicyLevels {
  warn: FindingLevel[];
  block: FindingLevel[];
}

/** A project's policy with the default's lists where it gives none. */
export function effectivePolicy(policy: SecurityPolicy | null | undefined): Required<SecurityPolicy> {
  return {
    warn: policy?.warn ?? DEFAULT_SECURITY_POLICY.warn,
    block: policy?.block ?? DEFAULT_SECURITY_POLICY.block,
    environments: policy?.environments ?? {},
  };
}

/** The levels for a deploy to an environment (its own lists where it gives them), or for any environment (null). */
export function policyLevels(policy: SecurityPolicy, environment: string | null): PolicyLevels {
  const top = { warn: policy.warn ?? [], block: policy.block ?? [] };
  if (environment === null) return top;
  const own = policy.environments?.[environment];
  return { warn: own?.warn ?? top.warn, block: own?.block ?? top.block };
}

export type GateDecision = 'pass' | 'warn' | 'block';

/** A finding as a gate sees it: its level, whether it is new, and whether a suppression covers it. */
export interface GatedFinding {
  fingerprint: string;
  ruleId: string;
  level: FindingLevel;
  status: 'new' | 'existing';
  suppressed: boolean;
}

export interface GateResult {
  decision: GateDecision;
  /** New, unsuppressed findings at a blocking level. */
  blocking: GatedFinding[];
  /** New, unsuppressed findings at a warning level (and not blocking). */
  warning: GatedFinding[];
  /** One sentence saying why, for the run's result, the release page and the deploy error. */
  reason: string;
}

function countByLevel(findings: readonly GatedFinding[]): string {
  const counts = FINDING_LEVELS.map((level) => [level, findings.filter((f) => f.level === level).length] as const).filter(([, n]) => n > 0);
  return counts.map(([level, n]) => `${n} ${level}`).join(', ');
}

/** The gate over a scan's findings for a place (an environment's name, or `any environment`: only for the sentence). */
export function evaluateGate(findings: readonly GatedFinding[], levels: PolicyLevels, place: string): GateResult {
  const counted = findings.filter((f) => f.status === 'new' && !f.suppressed);
  const blocking = counted.filter((f) => levels.block.includes(f.level));
  const warning = counted.filter((f) => !levels.block.includes(f.level) && levels.warn.includes(f.level));
  if (blocking.length > 0)
    return {
      decision: 'block',
      blocking,
      warning,
      reason: `${countByLevel(blocking)} new finding(s) at a level the policy blocks for ${place} (${levels.block.join(', ')})`,
    };
  if (warning.length > 0)
    return {
      decision: 'warn',
      blocking,
      warning,
      reason: `${countByLevel(warning)} new finding(s) at a level the policy warns about for ${place}`,
    };
  return { decision: 'pass', blocking, warning, reason: `no new finding at a level the policy warns about or blocks for ${place}` };
}
