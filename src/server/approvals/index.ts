/** Protected environments as the server runs them: the deploy gate (windows, approvals), approving, what waits. */
export { registerApprovalRoutes, type ApprovalRouteDeps } from './approval-routes.ts';
export { DeployProtection, type DeployProtectionDeps, type PendingApproval, type WindowOverride } from './deploy-protection.ts';
