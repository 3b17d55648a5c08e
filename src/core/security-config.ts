/**
 * The `security:` section of gantry.yaml, normalised: which of Gantry's scanners run over a run's
 * tree (all of them unless turned off), where they look, and the policy that says which finding
 * levels warn and which block a release. The policy is carried here for whoever enforces it; the
 * scanners themselves never block anything.
 */

/** A finding's level (the same union as src/security/finding.ts FindingLevel; core cannot import it). */
export type SecurityLevel = 'critical' | 'high' | 'medium' | 'low' | 'info';
export const SECURITY_LEVELS: readonly SecurityLevel[] = ['critical', 'high', 'medium', 'low', 'info'];

/** Levels that warn and levels that block, for every environment or for one. */
export interface SecurityPolicyLevels {
  warn: SecurityLevel[];
  block: SecurityLevel[];
}

export interface SecurityPolicy extends SecurityPolicyLevels {
  /** Per environment, overriding the levels above for the keys it writes. By name, in file order. */
  environments: Record<string, Partial<SecurityPolicyLevels>>;
}

export interface SecurityConfig {
  /** Paths are relative to the repository's root; unset means gitleaks' defaults and `.gitleaks.toml`/`.gitleaksignore`. */
  secrets: { rules?: string; ignore?: string } | false;
  /** `advisories`: an OSV folder or zip in the repository; unset means the server's database. */
  dependencies: { advisories?: string } | false;
  dockerfile: boolean;
  /** Kubernetes manifests, Terraform and gantry.yaml. */
  config: boolean;
  shellcheck: boolean;
  /** Globs of the files to scan (empty: every file). */
  paths: string[];
  /** Globs of the files never to scan. */
  exclude: string[];
  policy: SecurityPolicy;
}

export const DEFAULT_SECURITY_POLICY: SecurityPolicy = { warn: ['medium', 'high'], block: ['critical'], environments: {} };

/** What a file without a `security:` section gets: every scanner on, the default policy. */
export const DEFAULT_SECURITY_CONFIG: SecurityConfig = {
  secrets: {},
  dependencies: {},
  dockerfile: true,
  config: true,
  shellcheck: true,
  paths: [],
  exclude: [],
  policy: DEFAULT_SECURITY_POLICY,
};

/** The policy that applies to one environment: its own levels where it writes them, the section's otherwise. */
export function securityPolicyFor(policy: SecurityPolicy, environment: string | undefined): SecurityPolicyLevels {
  const own = environment === undefined ? undefined : policy.environments[environment];
  return { warn: own?.warn ?? policy.warn, block: own?.block ?? policy.block };
}
