export { type Approval, type ApprovalRule, type ApprovalState, approvalState } from './approvals.ts';
export { type Decision, decide, effectiveRole, type Grant, type Principal, type Target } from './decide.ts';
export {
  type DeployWindow,
  type DeployWindows,
  deployWindowVerdict,
  isTimeZone,
  minutesOf,
  type Weekday,
  WEEKDAYS,
  type WindowVerdict,
} from './deploy-window.ts';
export {
  isPermission,
  PERMISSION_NAMES,
  PERMISSIONS,
  type Permission,
  type PermissionRule,
  type PermissionScope,
  ROLES,
  type Role,
  renderPermissionTable,
  requiredRole,
  roleRank,
} from './permissions.ts';
export { accessName, type GroupRole, grantsOfGroups, groupName, parseGroupRoles } from './group-roles.ts';
