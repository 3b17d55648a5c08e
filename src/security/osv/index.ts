/** OSV records: parsing, the schema's evaluation of affected versions, and matching packages. */
export {
  type PackageRef,
  affectsPackage,
  baseEcosystem,
  firstFixedVersion,
  includedInRange,
  isAffected,
  normalizePackageName,
} from './affected.ts';
export { type SeverityLevel, cvss3BaseScore, ratingOf } from './cvss.ts';
export {
  type AdvisoryIndex,
  type AdvisoryLevel,
  type VulnerabilityMatch,
  indexAdvisories,
  matchPackage,
  matchPackages,
  recordSeverity,
} from './match.ts';
export { type OsvAffected, type OsvRange, type OsvRecord, parseOsvRecord } from './osv-record.ts';
export { recordPackages } from './record-packages.ts';
