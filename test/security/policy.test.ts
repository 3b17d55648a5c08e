/** The security policy, the gate, findings across runs and suppressions: src/security's pure parts. */
import { describe, expect, it } from 'vitest';
import {
  compareFindings,
  DEFAULT_SECURITY_POLICY,
  effectivePolicy,
  evaluateGate,
  type GatedFinding,
  policyLevels,
  securityPolicySchema,
  suppressionApplies,
} from '../../src/security/index.ts';

const finding = (
  fingerprint: string,
  level: GatedFinding['level'],
  status: GatedFinding['status'] = 'new',
  suppressed = false,
): GatedFinding => ({
  fingerprint,
  ruleId: `rule-${fingerprint}`,
  level,
  status,
  suppressed,
});

describe('security policy', () => {
  it('reads the agreed gantry.yaml shape and refuses unknown levels and keys', () => {
    const policy = securityPolicySchema.parse({
      warn: ['medium', 'high'],
      block: ['critical'],
      environments: { production: { block: ['critical', 'high'] } },
    });
    expect(policyLevels(policy, 'production')).toEqual({ warn: ['medium', 'high'], block: ['critical', 'high'] });
    expect(policyLevels(policy, 'staging')).toEqual({ warn: ['medium', 'high'], block: ['critical'] });
    expect(securityPolicySchema.safeParse({ block: ['severe'] }).success).toBe(false);
    expect(securityPolicySchema.safeParse({ blocks: ['critical'] }).success).toBe(false);
  });

  it('by default warns on medium and high and blocks a new critical finding, and a project can opt out', () => {
    expect(effectivePolicy(null)).toEqual(DEFAULT_SECURITY_POLICY);
    const levels = policyLevels(effectivePolicy(null), 'production');
    expect(evaluateGate([finding('a', 'critical')], levels, 'production').decision).toBe('block');
    expect(evaluateGate([finding('a', 'high')], levels, 'production').decision).toBe('warn');
    expect(evaluateGate([finding('a', 'low')], levels, 'production').decision).toBe('pass');
    const relaxed = effectivePolicy({ environments: { staging: { block: [] } } });
    expect(evaluateGate([finding('a', 'critical')], policyLevels(relaxed, 'staging'), 'staging').decision).toBe('pass');
    expect(policyLevels(relaxed, 'production').block).toEqual(['critical']);
  });

  it('counts only new, unsuppressed findings, and says why', () => {
    const levels = { warn: ['high' as const], block: ['critical' as const] };
    const gate = evaluateGate(
      [finding('a', 'critical', 'existing'), finding('b', 'critical', 'new', true), finding('c', 'critical'), finding('d', 'critical')],
      levels,
      'production',
    );
    expect(gate.decision).toBe('block');
    expect(gate.blocking.map((f) => f.fingerprint)).toEqual(['c', 'd']);
    expect(gate.reason).toBe('2 critical new finding(s) at a level the policy blocks for production (critical)');
  });
});

describe('findings across runs', () => {
  it('is new, existing or fixed by fingerprint; without a baseline everything is new', () => {
    const now = [{ fingerprint: 'a' }, { fingerprint: 'b' }];
    const before = [{ fingerprint: 'b' }, { fingerprint: 'c' }, { fingerprint: 'c' }];
    const compared = compareFindings(now, before);
    expect(compared.current.map((c) => [c.finding.fingerprint, c.status])).toEqual([
      ['a', 'new'],
      ['b', 'existing'],
    ]);
    expect(compared.fixed).toEqual([{ fingerprint: 'c' }]);
    expect(compareFindings(now, null).current.every((c) => c.status === 'new')).toBe(true);
  });

  it('applies a suppression by fingerprint, or by rule under a path, until it expires', () => {
    const f = { fingerprint: 'fp1', ruleId: 'aws-access-token', path: 'config/prod.env' };
    const now = '2026-12-06T10:00:00.000Z';
    const rule = { fingerprint: null, ruleId: 'aws-access-token', path: null, expiresAt: null };
    expect(suppressionApplies({ ...rule, fingerprint: 'fp1', ruleId: null }, f, now)).toBe(true);
    expect(suppressionApplies({ ...rule, fingerprint: 'fp2', ruleId: null }, f, now)).toBe(false);
    expect(suppressionApplies(rule, f, now)).toBe(true);
    expect(suppressionApplies({ ...rule, path: 'config/' }, f, now)).toBe(true);
    expect(suppressionApplies({ ...rule, path: 'src/' }, f, now)).toBe(false);
    expect(suppressionApplies({ ...rule, path: 'config/prod.env' }, f, now)).toBe(true);
    expect(suppressionApplies({ ...rule, expiresAt: '2026-12-06T10:00:00.000Z' }, f, now)).toBe(false);
    expect(suppressionApplies({ ...rule, expiresAt: '2026-12-06T10:00:00.001Z' }, f, now)).toBe(true);
  });
});
