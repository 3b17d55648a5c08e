/**
 * An environment's protection as the platform declares it: approvals a deploy needs and the
 * windows it may start in. Plain JSON (stored as such); `src/access` judges it (approvalState,
 * deployWindowVerdict) and its types are the same shape.
 */
export type ProtectionWeekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';

export interface ProtectionWindow {
  days: ProtectionWeekday[];
  /** `HH:MM`, inclusive. */
  from: string;
  /** `HH:MM`, exclusive; `24:00` ends the day; before `from` runs past midnight. */
  to: string;
}

export interface EnvironmentProtection {
  /** N distinct approvers, from `group` when given, none of them an author of the change. */
  approvals?: { count: number; group?: string };
  /** When deploys may start, in one IANA time zone; deny beats allow. */
  windows?: { timezone: string; allow?: ProtectionWindow[]; deny?: ProtectionWindow[] };
}

/** A deploy of one release to a protected environment waiting for its approvals. */
export interface ApprovalRequest {
  projectId: string;
  environment: string;
  releaseId: string;
  requestedBy: string;
  requestedAt: string;
}

/** One person's approval of a release for an environment. */
export interface DeployApproval {
  projectId: string;
  environment: string;
  releaseId: string;
  by: string;
  at: string;
}
