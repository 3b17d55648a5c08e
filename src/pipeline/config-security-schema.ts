/**
 * The `security` section of gantry.yaml: which of Gantry's scanners run on each run (all unless
 * set to `false`), where they look, and the release policy (levels that warn, levels that block,
 * per environment). Raw YAML in, the SecurityConfig of src/core/security-config.ts out.
 */
import { z } from 'zod';
import { didYouMean } from '../core/did-you-mean.ts';
import {
  DEFAULT_SECURITY_CONFIG,
  DEFAULT_SECURITY_POLICY,
  SECURITY_LEVELS,
  type SecurityConfig,
  type SecurityLevel,
  type SecurityPolicy,
  type SecurityPolicyLevels,
} from '../core/security-config.ts';
import { compact, expected } from './config-common.ts';

type Path = readonly (string | number)[];

const level = z.enum(SECURITY_LEVELS as [SecurityLevel, ...SecurityLevel[]]);
const levels = z.array(level, expected(`a list of levels (${SECURITY_LEVELS.join(', ')})`)).transform((list) => [...new Set(list)]);
const globs = z
  .union([z.string(), z.array(z.string(), expected('a list of globs'))], expected('a glob or a list of globs'))
  .transform((value) => (typeof value === 'string' ? [value] : value));
const repoPath = (what: string) => z.string(expected(`a path in the repository (${what})`)).min(1);

/** `secrets: false` turns a scanner off; `true`, nothing or a map keeps it on. */
function scanner<T extends z.ZodType>(map: T) {
  return z.union([z.boolean(), z.null(), map], expected('true, false or a map'));
}

const secretsMap = z.strictObject(
  {
    rules: repoPath('a gitleaks TOML config').optional().describe('A gitleaks config (TOML) to use instead of .gitleaks.toml.'),
    ignore: repoPath('a gitleaks ignore file').optional().describe('A gitleaks ignore file to use instead of .gitleaksignore.'),
  },
  expected('a map with rules and ignore'),
);

const dependenciesMap = z.strictObject(
  {
    advisories: repoPath('an OSV folder or zip')
      .optional()
      .describe("OSV advisories in the repository (a folder of OSV JSON files or a zip); default: the server's database."),
  },
  expected('a map with advisories'),
);

const policyLevelsMap = z.strictObject(
  {
    warn: levels.optional().describe('Finding levels that warn.'),
    block: levels.optional().describe('Finding levels that block a release.'),
  },
  expected('a map with warn and block'),
);

const policyMap = z.strictObject(
  {
    warn: levels.optional().describe(`Finding levels that warn (default: ${DEFAULT_SECURITY_POLICY.warn.join(', ')}).`),
    block: levels.optional().describe(`Finding levels that block a release (default: ${DEFAULT_SECURITY_POLICY.block.join(', ')}).`),
    environments: z
      .record(z.string(), policyLevelsMap, expected('a map of environment names to warn/block levels'))
      .optional()
      .describe("Per environment, levels that replace the section's (e.g. production: { block: [critical, high] })."),
  },
  expected('a map with warn, block and environments'),
);

const securityMap = z.strictObject(
  {
    secrets: scanner(secretsMap).optional().describe('Secrets in the change and the tree (gitleaks rules); false turns it off.'),
    dependencies: scanner(dependenciesMap).optional().describe('Vulnerable dependencies in lockfiles (OSV); false turns it off.'),
    dockerfile: z.boolean().optional().describe("Dockerfile rules (hadolint's codes); false turns it off."),
    config: z.boolean().optional().describe('Kubernetes manifests, Terraform and gantry.yaml rules; false turns it off.'),
    shellcheck: z.boolean().optional().describe('ShellCheck on Dockerfile RUN lines and run: scripts, when installed; false turns it off.'),
    paths: globs.optional().describe('Only scan files matching these globs (default: every file).'),
    exclude: globs.optional().describe('Never scan files matching these globs.'),
    policy: policyMap.optional().describe('Which finding levels warn and which block a release, per environment.'),
  },
  expected('a map of scanners and policy'),
);

function scannerSetting<T extends object>(value: boolean | null | T | undefined): T | false {
  if (value === false) return false;
  return value === true || value === null || value === undefined ? ({} as T) : compact(value);
}

/** A level cannot both warn and block: which one the enforcer honours would be a guess. */
function overlap(levels: Partial<SecurityPolicyLevels>, where: string, ctx: z.RefinementCtx, path: Path): void {
  const both = (levels.warn ?? []).filter((l) => levels.block?.includes(l));
  if (both.length > 0)
    ctx.addIssue({
      code: 'custom',
      path: [...path, 'warn'],
      message: `${both.map((l) => `'${l}'`).join(', ')} both warn and block ${where}: keep each level in one list`,
    });
}

export const securitySchema = z
  .union([z.null(), securityMap], expected('a map of scanners and policy'))
  .transform((raw, ctx): SecurityConfig => {
    if (raw === null) return DEFAULT_SECURITY_CONFIG;
    const policy: SecurityPolicy = {
      warn: raw.policy?.warn ?? DEFAULT_SECURITY_POLICY.warn,
      block: raw.policy?.block ?? DEFAULT_SECURITY_POLICY.block,
      environments: Object.fromEntries(Object.entries(raw.policy?.environments ?? {}).map(([name, levels]) => [name, compact(levels)])),
    };
    if (raw.policy) overlap(policy, 'in the security policy', ctx, ['policy']);
    for (const [name, levels] of Object.entries(raw.policy?.environments ?? {}))
      overlap(levels, `for environment '${name}'`, ctx, ['policy', 'environments', name]);
    return {
      secrets: scannerSetting(raw.secrets),
      dependencies: scannerSetting(raw.dependencies),
      dockerfile: raw.dockerfile ?? true,
      config: raw.config ?? true,
      shellcheck: raw.shellcheck ?? true,
      paths: raw.paths ?? [],
      exclude: raw.exclude ?? [],
      policy,
    };
  })
  .describe("Gantry's security scanners on each run (all on by default) and the release policy.");

export type SecurityMapKind = 'security' | 'security-secrets' | 'security-dependencies' | 'security-policy' | 'security-policy-levels';

export const SECURITY_KNOWN_KEYS: Readonly<Record<SecurityMapKind, readonly string[]>> = {
  security: Object.keys(securityMap.shape),
  'security-secrets': Object.keys(secretsMap.shape),
  'security-dependencies': Object.keys(dependenciesMap.shape),
  'security-policy': Object.keys(policyMap.shape),
  'security-policy-levels': Object.keys(policyLevelsMap.shape),
};

/** Which kind of map with fixed keys sits at a path inside `security`, and how to name the place. */
export function securityPlace(path: Path): { kind: SecurityMapKind | undefined; context: string } | undefined {
  if (path[0] !== 'security') return undefined;
  if (path.length === 1) return { kind: 'security', context: "in 'security'" };
  if (path.length === 2 && path[1] === 'secrets') return { kind: 'security-secrets', context: 'in the secrets scanner' };
  if (path.length === 2 && path[1] === 'dependencies') return { kind: 'security-dependencies', context: 'in the dependencies scanner' };
  if (path.length === 2 && path[1] === 'policy') return { kind: 'security-policy', context: 'in the security policy' };
  if (path.length === 4 && path[1] === 'policy' && path[2] === 'environments')
    return { kind: 'security-policy-levels', context: `in the security policy of environment '${String(path[3])}'` };
  return { kind: undefined, context: `in '${path.join('.')}'` };
}

/** What the checks need from load-config's diagnostics collector (as config-slo-schema.ts). */
interface SecurityCheckSink {
  rawAt(path: Path): unknown;
  keyOffset(path: Path): number;
  report(offset: number, message: string): void;
}

/** The policy may name only environments the file declares (when it declares any). */
export function checkSecurity(sink: SecurityCheckSink): void {
  const named = sink.rawAt(['security', 'policy', 'environments']);
  const environments = sink.rawAt(['environments']);
  if (!isObject(named) || !isObject(environments)) return;
  const declared = Object.keys(environments);
  for (const name of Object.keys(named)) {
    if (declared.includes(name)) continue;
    sink.report(
      sink.keyOffset(['security', 'policy', 'environments', name]),
      `environment '${name}' is not declared in 'environments'${didYouMean(name, declared)} (declared: ${declared.join(', ')})`,
    );
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
