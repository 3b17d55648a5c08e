/**
 * Finds secrets in text with compiled gitleaks rules, as gitleaks' detector does: a rule runs only
 * when one of its keywords occurs (case-insensitively); each match's secret is the rule's
 * `secretGroup` or its first non-empty group; a secret at or below the rule's entropy is dropped;
 * lines carrying `gitleaks:allow` are skipped; global then rule allowlists apply (OR: any regex
 * or stopword; AND: every condition given); a generic rule's finding yields to a specific rule's
 * on the same line. Not done: gitleaks' decoding passes (base64, hex, percent-encoded secrets).
 */
import type { Allowlist, SecretRule, SecretRules } from './rules-config.ts';

export interface Fragment {
  /** The text: a whole file, or the lines a change adds to it. */
  raw: string;
  path: string;
  commit?: string;
  /** The file's line number of the fragment's first line (1 for a whole file). */
  startLine?: number;
  /** For each line of `raw`, its line number in the file, when the lines are not consecutive (added lines of a diff). */
  lineNumbers?: readonly number[];
}

export interface SecretFinding {
  ruleId: string;
  description: string;
  path: string;
  commit: string | null;
  startLine: number;
  endLine: number;
  startColumn: number;
  endColumn: number;
  /** The whole match and its line, with the secret still in them: mask before showing (`redactFinding`). */
  match: string;
  line: string;
  secret: string;
  entropy: number;
  tags: string[];
  /** gitleaks' fingerprint: `commit:path:rule:line`, or `path:rule:line` without a commit. */
  fingerprint: string;
}

const ALLOW_SIGNATURE = 'gitleaks:allow';

/** Shannon entropy in bits per character, as gitleaks computes it (per byte there; the rules' secrets are ASCII). */
export function shannonEntropy(text: string): number {
  if (text === '') return 0;
  const counts = new Map<string, number>();
  let length = 0;
  for (const ch of text) {
    counts.set(ch, (counts.get(ch) ?? 0) + 1);
    length++;
  }
  let entropy = 0;
  for (const count of counts.values()) {
    const p = count / length;
    entropy -= p * Math.log2(p);
  }
  return entropy;
}

function commitOrPathAllowed(allowlists: readonly Allowlist[], fragment: Fragment): boolean {
  for (const a of allowlists) {
    const commitAllowed = fragment.commit !== undefined && a.commits.has(fragment.commit.toLowerCase());
    const pathAllowed = a.paths.some((p) => p.test(fragment.path));
    if (a.condition === 'AND') {
      if (a.regexes.length > 0 || a.stopwords.length > 0) continue;
      const checks = [...(a.commits.size > 0 ? [commitAllowed] : []), ...(a.paths.length > 0 ? [pathAllowed] : [])];
      if (checks.every(Boolean)) return true;
    } else if (commitAllowed || pathAllowed) return true;
  }
  return false;
}

function findingAllowed(allowlists: readonly Allowlist[], finding: SecretFinding, fragment: Fragment): boolean {
  for (const a of allowlists) {
    const target = a.regexTarget === 'match' ? finding.match : a.regexTarget === 'line' ? finding.line : finding.secret;
    const regexAllowed = a.regexes.some((r) => r.test(target));
    const lower = finding.secret.toLowerCase();
    const stopword = a.stopwords.some((w) => lower.includes(w));
    if (a.condition === 'AND') {
      const checks = [
        ...(a.commits.size > 0 ? [fragment.commit !== undefined && a.commits.has(fragment.commit.toLowerCase())] : []),
        ...(a.paths.length > 0 ? [a.paths.some((p) => p.test(fragment.path))] : []),
        ...(a.regexes.length > 0 ? [regexAllowed] : []),
        ...(a.stopwords.length > 0 ? [stopword] : []),
      ];
      if (checks.every(Boolean)) return true;
    } else if (regexAllowed || stopword) return true;
  }
  return false;
}

/** Start offsets of each line of `raw`. */
function lineStarts(raw: string): number[] {
  const starts = [0];
  for (let i = raw.indexOf('\n'); i >= 0; i = raw.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

/** The index of the line holding `offset` (binary search over line starts). */
function lineIndexOf(starts: readonly number[], offset: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((starts[mid] as number) <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

function detectRule(rule: SecretRule, fragment: Fragment, globals: readonly Allowlist[], starts: number[]): SecretFinding[] {
  if (commitOrPathAllowed(rule.allowlists, fragment)) return [];
  const lineNumber = (index: number): number => fragment.lineNumbers?.[index] ?? (fragment.startLine ?? 1) + index;
  const base = { ruleId: rule.id, description: rule.description, path: fragment.path, commit: fragment.commit ?? null, tags: rule.tags };
  if (rule.path !== null) {
    if (!rule.path.test(fragment.path)) return [];
    if (rule.regex === null) {
      const match = `file detected: ${fragment.path}`;
      return [
        { ...base, startLine: 0, endLine: 0, startColumn: 0, endColumn: 0, match, line: '', secret: '', entropy: 0, fingerprint: '' },
      ];
    }
  }
  if (rule.regex === null) return [];
  const findings: SecretFinding[] = [];
  const raw = fragment.raw;
  for (const m of raw.matchAll(rule.regex)) {
    const matched = m[0].replace(/^\n+|\n+$/g, '');
    if (matched === '') continue;
    const start = (m.index ?? 0) + m[0].indexOf(matched);
    const end = start + matched.length;
    const first = lineIndexOf(starts, start);
    const last = lineIndexOf(starts, Math.max(start, end - 1));
    const lineStart = starts[first] as number;
    const lineEnd = (starts[last + 1] ?? raw.length + 1) - 1;
    const line = raw.slice(lineStart, lineEnd);
    if (line.includes(ALLOW_SIGNATURE)) continue;
    // The secret is taken from the match alone, as gitleaks re-runs the regex on it.
    const groups = new RegExp(rule.regex.source, rule.regex.flags.replace('g', '')).exec(matched);
    let secret = matched;
    if (groups && groups.length >= 2) {
      if (rule.secretGroup > 0) secret = groups[rule.secretGroup] ?? '';
      else secret = groups.slice(1).find((g) => g !== undefined && g !== '') ?? matched;
    }
    const entropy = shannonEntropy(secret);
    if (rule.entropy !== 0 && entropy <= rule.entropy) continue;
    const finding: SecretFinding = {
      ...base,
      startLine: lineNumber(first),
      endLine: lineNumber(last),
      startColumn: start - lineStart + 1,
      endColumn: end - (starts[last] as number),
      match: matched,
      line,
      secret,
      entropy,
      fingerprint: '',
    };
    if (findingAllowed(globals, finding, fragment) || findingAllowed(rule.allowlists, finding, fragment)) continue;
    finding.fingerprint = fingerprintOf(finding);
    findings.push(finding);
  }
  return findings;
}

export function fingerprintOf(f: Pick<SecretFinding, 'commit' | 'path' | 'ruleId' | 'startLine'>): string {
  return f.commit ? `${f.commit}:${f.path}:${f.ruleId}:${f.startLine}` : `${f.path}:${f.ruleId}:${f.startLine}`;
}

/** A generic rule's finding yields to a specific rule's finding of the same secret on the same line. */
function dropGenericDuplicates(findings: SecretFinding[]): SecretFinding[] {
  return findings.filter(
    (f) =>
      !f.ruleId.toLowerCase().includes('generic') ||
      !findings.some(
        (g) =>
          g !== f &&
          g.startLine === f.startLine &&
          g.commit === f.commit &&
          g.ruleId !== f.ruleId &&
          g.secret.includes(f.secret) &&
          !g.ruleId.toLowerCase().includes('generic'),
      ),
  );
}

export interface DetectOptions {
  /** Fingerprints to ignore (a `.gitleaksignore`): `path:rule:line` ignores the finding in every commit. */
  ignore?: ReadonlySet<string>;
}

export function detectSecrets(rules: SecretRules, fragment: Fragment, options: DetectOptions = {}): SecretFinding[] {
  if (commitOrPathAllowed(rules.allowlists, fragment)) return [];
  const lower = fragment.raw.toLowerCase();
  const starts = lineStarts(fragment.raw);
  const findings: SecretFinding[] = [];
  for (const rule of rules.rules) {
    if (rule.keywords.length > 0 && !rule.keywords.some((k) => lower.includes(k))) continue;
    findings.push(...detectRule(rule, fragment, rules.allowlists, starts));
  }
  const ignore = options.ignore;
  return dropGenericDuplicates(findings).filter(
    (f) => !ignore || (!ignore.has(fingerprintOf({ ...f, commit: null })) && !ignore.has(f.fingerprint)),
  );
}

/** Parses a `.gitleaksignore`: one fingerprint per line, `#` comments. */
export function parseIgnoreFile(text: string): Set<string> {
  return new Set(
    text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#')),
  );
}

/**
 * The finding with its secret masked everywhere it appears (match, line, secret): nothing of it
 * is kept, since even a prefix narrows a generic secret down. The rule id says what it was.
 */
export function redactFinding(f: SecretFinding): SecretFinding {
  if (f.secret === '') return f;
  const masked = 'REDACTED';
  const mask = (s: string): string => s.split(f.secret).join(masked);
  return { ...f, match: mask(f.match), line: mask(f.line), secret: masked };
}
