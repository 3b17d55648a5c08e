/**
 * The part of the security core every scan loads, a pre-commit hook's above all: the lines a
 * diff adds, secrets (gitleaks rules) and the finding model. It leaves out the heavier parsers
 * (YAML lockfiles and manifests, OSV schemas, purls, version orders), which a scan loads through
 * index.ts only when the change holds a file that needs them: the hook runs on every commit and
 * its time is mostly module loading. index.ts re-exports all of this.
 */
export { type AddedLines, addedLines } from './diff.ts';
export {
  FINDING_LEVELS,
  type Finding,
  type FindingLevel,
  type FindingLocation,
  configToFinding,
  dependencyToFinding,
  dockerfileToFinding,
  fingerprint,
  secretToFinding,
} from './finding.ts';
export { isLockfileName } from './lockfiles/lockfile-names.ts';
export * from './secrets/index.ts';
