/**
 * Required approvals for a deploy: N distinct people from a group, none of them an author of the
 * change being deployed (four eyes). Pure: the caller resolves the group's members and the
 * change's authors (the commits a release carries).
 */
export interface ApprovalRule {
  count: number;
  /** Who may approve: members of this group; absent means anyone allowed `deploy.approve`. */
  group?: string;
}

export interface Approval {
  by: string;
  atMs: number;
}

export interface ApprovalState {
  satisfied: boolean;
  counted: string[];
  /** Approvals not counted, with why (an author, not in the group, a repeat). */
  refused: { by: string; reason: string }[];
  missing: number;
}

export function approvalState(
  rule: ApprovalRule | undefined,
  approvals: readonly Approval[],
  authors: ReadonlySet<string>,
  groupMembers: ReadonlySet<string> | null,
): ApprovalState {
  const counted: string[] = [];
  const refused: { by: string; reason: string }[] = [];
  for (const a of approvals) {
    if (counted.includes(a.by)) refused.push({ by: a.by, reason: 'already approved' });
    else if (authors.has(a.by)) refused.push({ by: a.by, reason: 'an author of the change cannot approve it' });
    else if (rule?.group !== undefined && groupMembers !== null && !groupMembers.has(a.by))
      refused.push({ by: a.by, reason: `not a member of ${rule.group}` });
    else counted.push(a.by);
  }
  const need = rule?.count ?? 0;
  return { satisfied: counted.length >= need, counted, refused, missing: Math.max(0, need - counted.length) };
}
