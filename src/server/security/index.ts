/** Security as the server runs it: findings of scanned jobs across runs and releases, suppressions, policy, the deploy gate, the advisory database. */
export { advisoriesFor, advisoryIndexFor, type PackageName } from './advisory-query.ts';
export { advisoryExportFile, exportAdvisories } from './advisory-export.ts';
export { importAdvisories } from './advisory-import.ts';
export { registerSecurityRoutes, type SecurityRouteDeps } from './security-routes.ts';
export {
  type FindingView,
  RELEASE_SBOM_FILE,
  type ReleaseSecurity,
  type RunSecurity,
  SARIF_FILE,
  type SecurityOverride,
  SecurityService,
  type SecurityServiceDeps,
} from './security-service.ts';
