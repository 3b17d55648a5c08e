/**
 * Findings across runs: a scan's findings against its baseline's (the default branch's latest
 * scanned run before it), by fingerprint. New: not in the baseline. Existing: in both. Fixed: in
 * the baseline, gone now. Without a baseline every finding is new, so the first scan of a project
 * cannot slip a critical finding past the gate.
 */

export type FindingStatus = 'new' | 'existing' | 'fixed';

export interface FindingComparison<F extends { fingerprint: string }> {
  current: { finding: F; status: 'new' | 'existing' }[];
  /** Baseline findings no longer found. */
  fixed: F[];
}

export function compareFindings<F extends { fingerprint: string }>(
  current: readonly F[],
  baseline: readonly F[] | null,
): FindingComparison<F> {
  const before = new Set((baseline ?? []).map((f) => f.fingerprint));
  const now = new Set(current.map((f) => f.fingerprint));
  const fixed: F[] = [];
  const seenFixed = new Set<string>();
  for (const f of baseline ?? []) {
    if (now.has(f.fingerprint) || seenFixed.has(f.fingerprint)) continue;
    seenFixed.add(f.fingerprint);
    fixed.push(f);
  }
  return {
    current: current.map((finding) => ({ finding, status: before.has(finding.fingerprint) ? 'existing' : 'new' })),
    fixed,
  };
}

/** A suppression: one fingerprint, or a rule (anywhere, or under a path); it applies until it expires. */
export interface SuppressionRule {
  fingerprint: string | null;
  ruleId: string | null;
  /** A file, or a folder (ending in `/`) whose files it covers. */
  path: string | null;
  /** ISO-8601; null never expires. */
  expiresAt: string | null;
}

export function suppressionApplies(
  rule: SuppressionRule,
  finding: { fingerprint: string; ruleId: string; path: string | null },
  nowIso: string,
): boolean {
  if (rule.expiresAt !== null && rule.expiresAt <= nowIso) return false;
  if (rule.fingerprint !== null) return rule.fingerprint === finding.fingerprint;
  if (rule.ruleId === null || rule.ruleId !== finding.ruleId) return false;
  if (rule.path === null) return true;
  if (finding.path === null) return false;
  return rule.path.endsWith('/') ? finding.path.startsWith(rule.path) : finding.path === rule.path;
}
