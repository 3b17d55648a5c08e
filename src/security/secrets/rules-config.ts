/**
 * Secret-scanning rules in gitleaks' TOML format (config/gitleaks.toml upstream): `[[rules]]` with
 * `id`, `regex`, `secretGroup`, `entropy`, `keywords`, `path`, `tags`; allowlists per rule and
 * global (`[[allowlists]]`, legacy `[allowlist]` and `[rules.allowlist]`, `targetRules`,
 * `condition`, `regexTarget`, `stopwords`, `commits`, `paths`); `[extend] useDefault` and
 * `disabledRules`, merged as gitleaks merges them (the extending file's non-empty fields win,
 * lists are appended). Go regular expressions are translated once, here.
 */
import { parse as parseToml } from 'smol-toml';
import { createRequire } from 'node:module';
import type { z as Zod } from 'zod';
import { GantryError } from '../../core/errors.ts';
import { GoRegexError, goRegex } from './go-regex.ts';

export interface Allowlist {
  description: string;
  condition: 'OR' | 'AND';
  commits: Set<string>;
  paths: RegExp[];
  regexTarget: 'secret' | 'match' | 'line';
  regexes: RegExp[];
  stopwords: string[];
}

export interface SecretRule {
  id: string;
  description: string;
  regex: RegExp | null;
  path: RegExp | null;
  secretGroup: number;
  entropy: number;
  keywords: string[];
  tags: string[];
  allowlists: Allowlist[];
}

export interface SecretRules {
  rules: SecretRule[];
  allowlists: Allowlist[];
}

/**
 * The schema of a rules file, built on first use: zod is loaded (synchronously, through require)
 * only when a user's rules file is checked, never on a pre-commit hook's path with the built-in
 * rules alone, where loading it cost more than the scan.
 */
function buildSchemas(z: typeof Zod) {
  const allowlistFields = {
    description: z.string().optional(),
    condition: z.enum(['OR', 'AND', 'or', 'and']).optional(),
    commits: z.array(z.string()).optional(),
    paths: z.array(z.string()).optional(),
    regexTarget: z.enum(['secret', 'match', 'line']).optional(),
    regexes: z.array(z.string()).optional(),
    stopwords: z.array(z.string()).optional(),
  };
  const ruleAllowlist = z.strictObject(allowlistFields);
  const globalAllowlist = z.strictObject({ ...allowlistFields, targetRules: z.array(z.string()).optional() });

  const ruleSchema = z.strictObject({
    id: z.string().min(1),
    description: z.string().optional(),
    regex: z.string().optional(),
    path: z.string().optional(),
    secretGroup: z.number().int().min(0).optional(),
    entropy: z.number().min(0).optional(),
    keywords: z.array(z.string()).optional(),
    tags: z.array(z.string()).optional(),
    allowlist: ruleAllowlist.optional(),
    allowlists: z.array(ruleAllowlist).optional(),
    skipReport: z.boolean().optional(),
  });

  const configSchema = z.strictObject({
    title: z.string().optional(),
    description: z.string().optional(),
    minVersion: z.string().optional(),
    extend: z
      .strictObject({ useDefault: z.boolean().optional(), path: z.string().optional(), disabledRules: z.array(z.string()).optional() })
      .optional(),
    allowlist: globalAllowlist.optional(),
    allowlists: z.array(globalAllowlist).optional(),
    rules: z.array(ruleSchema).optional(),
  });
  return { ruleAllowlist, globalAllowlist, ruleSchema, configSchema };
}

let schemas: ReturnType<typeof buildSchemas> | undefined;
function rulesSchemas(): ReturnType<typeof buildSchemas> {
  schemas ??= buildSchemas((createRequire(import.meta.url)('zod') as { z: typeof Zod }).z);
  return schemas;
}

type Schemas = ReturnType<typeof buildSchemas>;
type RawConfig = Zod.infer<Schemas['configSchema']>;
type RawRule = Zod.infer<Schemas['ruleSchema']>;
type RawAllowlist = Zod.infer<Schemas['globalAllowlist']>;

function invalid(file: string, message: string, line?: number): GantryError {
  return new GantryError('INVALID_SECRET_RULES', `${file}${line === undefined ? '' : `:${line}`}: ${message}`);
}

function compile(file: string, where: string, source: string, global = false): RegExp {
  try {
    return goRegex(source, global);
  } catch (error) {
    const reason = error instanceof GoRegexError || error instanceof SyntaxError ? error.message : String(error);
    throw invalid(file, `${where}: the regular expression ${JSON.stringify(source)} cannot be used: ${reason}`);
  }
}

function allowlist(file: string, where: string, raw: RawAllowlist): Allowlist {
  const regexes = (raw.regexes ?? []).map((r) => compile(file, where, r));
  const paths = (raw.paths ?? []).map((r) => compile(file, where, r));
  const commits = new Set((raw.commits ?? []).map((c) => c.trim().toLowerCase()));
  const stopwords = (raw.stopwords ?? []).map((s) => s.toLowerCase());
  if (regexes.length + paths.length + commits.size + stopwords.length === 0) {
    throw invalid(file, `${where}: an allowlist needs at least one of commits, paths, regexes or stopwords`);
  }
  return {
    description: raw.description ?? '',
    condition: raw.condition?.toUpperCase() === 'AND' ? 'AND' : 'OR',
    commits,
    paths,
    regexTarget: raw.regexTarget ?? 'secret',
    regexes,
    stopwords,
  };
}

/**
 * One file's rules, before extending: raw so that merging can tell set fields from unset ones.
 * `trusted`: Gantry's own built-in files, whose shape the tests check, are not checked again on
 * every start (the schema costs a pre-commit hook more than its scan).
 */
export function parseRulesFile(file: string, text: string, trusted = false): RawConfig {
  let doc: unknown;
  try {
    doc = parseToml(text);
  } catch (error) {
    throw invalid(file, `not valid TOML (${(error as Error).message.split('\n')[0]})`, (error as { line?: number }).line);
  }
  if (trusted) return doc as RawConfig;
  const parsed = rulesSchemas().configSchema.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path ?? [];
    const ruleIndex = path[0] === 'rules' && typeof path[1] === 'number' ? path[1] : null;
    const ruleId = ruleIndex === null ? null : (doc as { rules?: { id?: unknown }[] }).rules?.[ruleIndex]?.id;
    const where = ruleId ? `rule "${String(ruleId)}", ${path.slice(2).join('.') || 'the rule'}` : path.join('.') || 'the file';
    const extra = issue?.code === 'unrecognized_keys' ? ` (${issue.keys.join(', ')})` : '';
    throw invalid(file, `${where}: ${issue?.message ?? 'invalid'}${extra}`);
  }
  return parsed.data;
}

/** gitleaks' `extend`: the base's rules unless disabled, overridden field by field by the extension's. */
function mergeRules(base: RawConfig, extension: RawConfig): RawConfig {
  const disabled = new Set(extension.extend?.disabledRules ?? []);
  const own = new Map((extension.rules ?? []).map((r) => [r.id, r]));
  const merged: RawRule[] = [];
  for (const rule of base.rules ?? []) {
    if (disabled.has(rule.id)) continue;
    const over = own.get(rule.id);
    if (!over) {
      merged.push(rule);
      continue;
    }
    own.delete(rule.id);
    merged.push({
      ...rule,
      description: over.description || rule.description,
      entropy: over.entropy || rule.entropy,
      secretGroup: over.secretGroup || rule.secretGroup,
      regex: over.regex ?? rule.regex,
      path: over.path ?? rule.path,
      tags: [...(rule.tags ?? []), ...(over.tags ?? [])],
      keywords: [...(rule.keywords ?? []), ...(over.keywords ?? [])],
      allowlists: [...ruleAllowlists(rule), ...ruleAllowlists(over)],
      allowlist: undefined,
    });
  }
  merged.push(...own.values());
  return {
    ...extension,
    rules: merged.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
    allowlists: [...globalAllowlists(extension), ...globalAllowlists(base)],
    allowlist: undefined,
  };
}

function ruleAllowlists(rule: RawRule): Zod.infer<Schemas['ruleAllowlist']>[] {
  return [...(rule.allowlist ? [rule.allowlist] : []), ...(rule.allowlists ?? [])];
}

function globalAllowlists(config: RawConfig): RawAllowlist[] {
  return [...(config.allowlist ? [config.allowlist] : []), ...(config.allowlists ?? [])];
}

function compiledRule(file: string, raw: RawRule, regex: RegExp | null): SecretRule {
  return {
    id: raw.id,
    description: raw.description ?? '',
    regex,
    path: raw.path === undefined ? null : compile(file, `rule "${raw.id}" path`, raw.path),
    secretGroup: raw.secretGroup ?? 0,
    entropy: raw.entropy ?? 0,
    keywords: (raw.keywords ?? []).map((k) => k.toLowerCase()),
    tags: raw.tags ?? [],
    allowlists: ruleAllowlists(raw).map((a, i) => allowlist(file, `rule "${raw.id}" allowlist ${i + 1}`, a)),
  };
}

/**
 * The rule with its regular expression translated on first use. The detector reads `regex` only
 * once one of the rule's keywords occurs, so most of the ~200 built-in rules are never translated
 * in a pre-commit hook's run.
 */
function lazyRegex(rule: SecretRule, translate: () => RegExp): SecretRule {
  let regex: RegExp | undefined;
  return Object.defineProperty(rule, 'regex', {
    get: () => {
      regex ??= translate();
      return regex;
    },
    enumerable: true,
  });
}

/**
 * Compiles a rules file, extending the built-in default when it asks to (`useDefault`) or when
 * `defaults` is the only source. `extend.path` files are read by the caller and passed as `base`.
 * `lazy` (Gantry's built-in rules only, which the tests compile whole): each rule's regular
 * expression is translated when first needed.
 */
export function compileRules(file: string, config: RawConfig, defaults: RawConfig | null, lazy = false): SecretRules {
  let effective = config;
  if (config.extend?.useDefault) {
    if (defaults === null) throw invalid(file, '[extend] useDefault needs the built-in rules');
    effective = mergeRules(defaults, config);
  }
  const rules = new Map<string, SecretRule>();
  for (const raw of effective.rules ?? []) {
    if (rules.has(raw.id)) throw invalid(file, `rule "${raw.id}" is defined twice`);
    if (raw.regex === undefined && raw.path === undefined) throw invalid(file, `rule "${raw.id}": needs a regex or a path`);
    if (raw.allowlist && raw.allowlists)
      throw invalid(file, `rule "${raw.id}": [rules.allowlist] is deprecated and cannot be used alongside [[rules.allowlists]]`);
    if (lazy && raw.regex !== undefined && (raw.keywords ?? []).length > 0) {
      rules.set(
        raw.id,
        lazyRegex(compiledRule(file, raw, null), () => compile(file, `rule "${raw.id}"`, raw.regex as string, true)),
      );
      continue;
    }
    const regex = raw.regex === undefined ? null : compile(file, `rule "${raw.id}"`, raw.regex, true);
    if (regex !== null && (raw.secretGroup ?? 0) > 0) {
      const groups = new RegExp(`${regex.source}|`).exec('')?.length ?? 1;
      if ((raw.secretGroup ?? 0) >= groups)
        throw invalid(file, `rule "${raw.id}": secretGroup ${raw.secretGroup} but the regex has ${groups - 1} groups`);
    }
    rules.set(raw.id, compiledRule(file, raw, regex));
  }
  const allowlists: Allowlist[] = [];
  globalAllowlists(effective).forEach((raw, i) => {
    const compiled = allowlist(file, `allowlist ${i + 1}`, raw);
    if (!raw.targetRules || raw.targetRules.length === 0) {
      allowlists.push(compiled);
      return;
    }
    for (const id of raw.targetRules) {
      const rule = rules.get(id);
      if (!rule) throw invalid(file, `allowlist ${i + 1}: target rule "${id}" does not exist`);
      rule.allowlists.push(compiled);
    }
  });
  return { rules: [...rules.values()], allowlists };
}
