/**
 * Security gates' pure core: version order per ecosystem, OSV records and their evaluation,
 * lockfiles read into package graphs and the dependency scan over both, secrets (gitleaks rules),
 * Dockerfile rules, one finding model and SARIF. No I/O: callers hand in file contents.
 */
export * from './config-lint/index.ts';
export { type DependencyFinding, scanDependencies } from './dependency-scan.ts';
export { DOCKERFILE_RULES, type DockerfileFinding, lintDockerfile, parseDockerfile } from './dockerfile/index.ts';
export * from './precommit.ts';
export { CYCLONEDX_SPEC_VERSION, type SbomOptions, type SbomSubject, cycloneDxSbom, purlOf } from './sbom.ts';
export { FINGERPRINT_KEY, SARIF_SCHEMA, type SarifTool, fromSarif, toSarif } from './sarif.ts';
export { type LockedPackage, LockfileError, type PackageGraph, dependencyPath, lockfileKind, readLockfile } from './lockfiles/index.ts';
export * from './osv/index.ts';
export { ECOSYSTEMS, type Ecosystem, isEcosystem, versionComparator } from './versions/index.ts';
export { type FindingComparison, type FindingStatus, type SuppressionRule, compareFindings, suppressionApplies } from './finding-status.ts';
export {
  DEFAULT_SECURITY_POLICY,
  type GateDecision,
  type GatedFinding,
  type GateResult,
  type PolicyLevels,
  type SecurityPolicy,
  effectivePolicy,
  evaluateGate,
  policyLevels,
  securityPolicySchema,
} from './policy.ts';
