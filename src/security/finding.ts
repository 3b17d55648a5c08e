/**
 * One finding of any scanner, Gantry's own or a user's (through SARIF): what rule, how severe,
 * where, and a fingerprint that stays the same while the problem does — across runs, line
 * shifts and re-scans — so findings can be told new, existing or fixed.
 */
import { createHash } from 'node:crypto';
import type { ConfigFinding } from './config-lint/index.ts';
import type { DependencyFinding } from './dependency-scan.ts';
import type { DockerfileFinding } from './dockerfile/index.ts';
import type { SecretFinding } from './secrets/index.ts';

export type FindingLevel = 'critical' | 'high' | 'medium' | 'low' | 'info';
export const FINDING_LEVELS: readonly FindingLevel[] = ['critical', 'high', 'medium', 'low', 'info'];

export interface FindingLocation {
  path: string;
  startLine?: number;
  startColumn?: number;
  endLine?: number;
  endColumn?: number;
}

export interface Finding {
  /** Which scanner: `secrets`, `dependencies`, `dockerfile`, `config`, or a SARIF tool's name. */
  scanner: string;
  ruleId: string;
  /** The rule's one-line description. */
  ruleName: string;
  level: FindingLevel;
  /** What was found, never containing a secret's value. */
  message: string;
  location: FindingLocation | null;
  fingerprint: string;
  /** Extra facts to show (advisory ids, fixed version, dependency path, CVSS score). */
  properties?: Record<string, unknown>;
}

export function fingerprint(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 32);
}

/**
 * A secret finding, masked. Its fingerprint is the rule, the file and a hash of the secret —
 * not the line, which moves when lines are added above it.
 */
export function secretToFinding(f: SecretFinding): Finding {
  const secretHash = createHash('sha256').update(f.secret).digest('hex');
  return {
    scanner: 'secrets',
    ruleId: f.ruleId,
    ruleName: f.description,
    level: 'high',
    message: f.secret === '' ? `${f.description} (${f.match})` : `${f.description || f.ruleId}: a secret in ${f.path}:${f.startLine}`,
    location:
      f.startLine > 0
        ? { path: f.path, startLine: f.startLine, startColumn: f.startColumn, endLine: f.endLine, endColumn: f.endColumn }
        : { path: f.path },
    fingerprint: fingerprint('secrets', f.ruleId, f.path, secretHash),
    properties: { gitleaksFingerprint: f.fingerprint, entropy: Number(f.entropy.toFixed(3)), ...(f.commit ? { commit: f.commit } : {}) },
  };
}

const DEPENDENCY_LEVEL: Record<DependencyFinding['level'], FindingLevel> = {
  critical: 'critical',
  high: 'high',
  medium: 'medium',
  low: 'low',
  none: 'info',
  unknown: 'medium',
};

export function dependencyToFinding(f: DependencyFinding): Finding {
  const fix = f.fixedIn ? `; fixed in ${f.fixedIn}` : '; no fixed version yet';
  return {
    scanner: 'dependencies',
    ruleId: f.id,
    ruleName: f.summary || f.id,
    level: DEPENDENCY_LEVEL[f.level],
    message: `${f.name}@${f.version} (${f.ecosystem}) is affected by ${f.ids.join(', ')}${fix}${f.path.length > 1 ? `; pulled in by ${f.path.slice(0, -1).join(' > ')}` : ''}`,
    location: { path: f.file },
    fingerprint: fingerprint('dependencies', f.file, f.ecosystem, f.name, f.version, f.id),
    properties: {
      package: `${f.name}@${f.version}`,
      ecosystem: f.ecosystem,
      aliases: f.ids,
      fixedIn: f.fixedIn,
      direct: f.direct,
      dev: f.dev,
      path: f.path,
      ...(f.score === null ? {} : { cvss: f.score }),
    },
  };
}

/** hadolint's levels are about style as much as safety; a secret baked into a layer is worse than either. */
const DOCKERFILE_LEVEL: Record<DockerfileFinding['level'], FindingLevel> = { error: 'medium', warning: 'low', info: 'info' };
const DOCKERFILE_OVERRIDES: Record<string, FindingLevel> = { DL3064: 'high', GD001: 'medium' };

export function dockerfileToFinding(path: string, f: DockerfileFinding, lineText: string): Finding {
  return {
    scanner: 'dockerfile',
    ruleId: f.code,
    ruleName: f.message,
    level: DOCKERFILE_OVERRIDES[f.code] ?? DOCKERFILE_LEVEL[f.level],
    message: `${f.message} (${path}:${f.line})`,
    location: { path, startLine: f.line },
    // The instruction's text, not its line number, so that moving it keeps the finding.
    fingerprint: fingerprint('dockerfile', path, f.code, lineText.trim()),
  };
}

/** A Kubernetes, Terraform or gantry.yaml finding; its fingerprint is the rule and the line's text. */
export function configToFinding(path: string, f: ConfigFinding, lineText: string): Finding {
  return {
    scanner: 'config',
    ruleId: f.code,
    ruleName: f.message,
    level: f.level,
    message: `${f.message} (${path}:${f.line})`,
    location: { path, startLine: f.line },
    fingerprint: fingerprint('config', path, f.code, lineText.trim()),
  };
}
