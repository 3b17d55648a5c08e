/**
 * The secret detector against gitleaks' semantics (detect/detect.go, config/config.go upstream):
 * Go regular expressions translated with their meaning, rule files validated with positions,
 * `extend`, keywords, secret groups, entropy, allowlists and fingerprints.
 */
import { describe, expect, it } from 'vitest';
import {
  defaultSecretRules,
  detectSecrets,
  goRegexSource,
  parseIgnoreFile,
  redactFinding,
  secretRulesFrom,
  shannonEntropy,
} from '../../src/security/secrets/index.ts';

const goRe = (source: string): RegExp => new RegExp(goRegexSource(source));

describe('Go regular expressions in JavaScript', () => {
  it('a flag directive holds to the end of its group, across later alternatives (RE2)', () => {
    expect(goRe('a(?i)b|c').test('C')).toBe(true);
    expect(goRe('(?:a(?i)b|c)d').test('CD')).toBe(false);
    expect(goRe('(?:a(?i)b|c)d').test('Cd')).toBe(true);
    expect(goRe('x(?i)y(?-i)z').test('xYz')).toBe(true);
    expect(goRe('x(?i)y(?-i)z').test('xYZ')).toBe(false);
    expect(goRe('\\b(p8e-(?i)[a-z0-9]{4})\\b').test('p8e-AbC1')).toBe(true);
    expect(goRe('\\b(p8e-(?i)[a-z0-9]{4})\\b').test('P8E-abc1')).toBe(false);
  });

  it('named groups, POSIX classes, \\z and \\A', () => {
    expect(goRe('(?P<key>[[:alnum:]]{3})').exec('a#bc1')?.groups?.key).toBe('bc1');
    expect(goRe('ab\\z').test('ab\n')).toBe(false);
    expect(goRe('ab\\z').test('xab')).toBe(true);
    expect(goRe('\\Aab').test('xab')).toBe(false);
    expect(goRe('[]a]').test(']')).toBe(true);
  });

  it('refuses what JavaScript cannot express', () => {
    expect(() => goRegexSource('(?U)a+')).toThrow(/no JavaScript equivalent/);
    expect(() => goRegexSource('\\Qa.b\\E')).toThrow(/no JavaScript equivalent/);
    expect(() => goRegexSource('(a')).toThrow(/not closed/);
  });

  it("every one of gitleaks' 222 default rules compiles, checked by the schema and translated whole", () => {
    const checked = defaultSecretRules(true);
    expect(checked.rules.length).toBeGreaterThanOrEqual(200);
    // What a scan uses (unchecked, each regex translated when first needed) is the same rules.
    const lazy = defaultSecretRules();
    expect(lazy.rules.map((r) => [r.id, r.regex?.source, r.regex?.flags, r.keywords])).toEqual(
      checked.rules.map((r) => [r.id, r.regex?.source, r.regex?.flags, r.keywords]),
    );
  });
});

describe('rules files', () => {
  it('names the file, the rule and the field', () => {
    expect(() => secretRulesFrom('.gitleaks.toml', '[[rules]]\nid = "x"\nregex = "a("\n')).toThrow(
      expect.objectContaining({
        code: 'INVALID_SECRET_RULES',
        message: expect.stringContaining('.gitleaks.toml: rule "x": the regular expression "a("'),
      }),
    );
    expect(() => secretRulesFrom('.gitleaks.toml', '[[rules]]\nid = "x"\nregx = "a"\n')).toThrow(
      expect.objectContaining({ message: expect.stringContaining('regx') }),
    );
    expect(() => secretRulesFrom('.gitleaks.toml', '[[rules]\n')).toThrow(
      expect.objectContaining({ message: expect.stringMatching(/^\.gitleaks\.toml:\d+: not valid TOML/) }),
    );
    expect(() => secretRulesFrom('r.toml', '[[rules]]\nid = "x"\nregex = "(a)"\nsecretGroup = 2\n')).toThrow(
      /secretGroup 2 but the regex has 1 groups/,
    );
    expect(() => secretRulesFrom('r.toml', '[[allowlists]]\ntargetRules = ["nope"]\nregexes = ["x"]\n')).toThrow(
      /target rule "nope" does not exist/,
    );
  });

  it('[extend] useDefault: the default rules stay, a rule with the same id is merged field by field, disabledRules drop', () => {
    const rules = secretRulesFrom(
      'r.toml',
      `[extend]
useDefault = true
disabledRules = ["slack-bot-token"]
[[rules]]
id = "github-pat"
description = "ours"
[[rules]]
id = "internal-token"
regex = '''itk_[a-z0-9]{16}'''
keywords = ["itk_"]
`,
    );
    const ids = rules.rules.map((r) => r.id);
    expect(ids).toContain('aws-access-token');
    expect(ids).toContain('internal-token');
    expect(ids).not.toContain('slack-bot-token');
    const pat = rules.rules.find((r) => r.id === 'github-pat');
    expect(pat?.description).toBe('ours');
    expect(pat?.regex).not.toBeNull();
  });
});

const RULES = secretRulesFrom(
  'r.toml',
  `
[[rules]]
id = "acme-key"
description = "ACME API key"
regex = '''(?i)acme[_-]?key\\s*[:=]\\s*['"]?(acme_[a-z0-9]{20})'''
keywords = ["acme"]
entropy = 3.0
[[rules.allowlists]]
regexTarget = "line"
regexes = ['''fixture''']
[[rules.allowlists]]
condition = "AND"
paths = ['''^test/''']
stopwords = ["dummy"]

[[rules]]
id = "generic-thing"
regex = '''(?i)key\\s*[:=]\\s*['"]?([a-z0-9_]{20,})'''
keywords = ["key"]

[[rules]]
id = "pem-file"
path = '''\\.pem$'''

[[allowlists]]
paths = ['''(^|/)vendor/''']
`,
);

describe('the detector', () => {
  const key = 'acme_k3j9x0q7w2m5z8r1t4y6';

  it('finds the secret group with its position, fingerprint and entropy; the generic rule yields to it', () => {
    const findings = detectSecrets(RULES, { raw: `// config\nconst ACME_KEY = "${key}";\n`, path: 'src/app.js' });
    expect(findings).toEqual([
      expect.objectContaining({ ruleId: 'acme-key', secret: key, startLine: 2, startColumn: 7, fingerprint: 'src/app.js:acme-key:2' }),
    ]);
    expect(findings[0]?.entropy).toBeCloseTo(shannonEntropy(key), 10);
  });

  it('drops low-entropy secrets, lines marked gitleaks:allow, and allowlisted ones (OR on the line, AND on path + stopword)', () => {
    const low = 'acme_aaaaaaaaaaaaaaaaaaaa';
    expect(detectSecrets(RULES, { raw: `acme_key = ${low}`, path: 'a' }).map((f) => f.ruleId)).toEqual(['generic-thing']);
    expect(detectSecrets(RULES, { raw: `acme_key = ${key} # gitleaks:allow`, path: 'a' })).toEqual([]);
    // A rule's allowlists are its own: the generic rule still reports what the ACME rule lets pass.
    const acme = (raw: string, path: string) => detectSecrets(RULES, { raw, path }).map((f) => f.ruleId);
    expect(acme(`acme_key = ${key} # fixture`, 'a')).toEqual(['generic-thing']);
    const dummy = 'acme_dummyx0q7w2m5z8r1t4k';
    expect(acme(`acme_key = ${dummy}`, 'test/x.py')).toEqual(['generic-thing']);
    expect(acme(`acme_key = ${dummy}`, 'src/x.py')).toEqual(['acme-key']);
    expect(acme(`acme_key = ${key}`, 'vendor/lib.js')).toEqual([]);
  });

  it('a rule runs only when a keyword occurs; a path-only rule reports the file', () => {
    const noKeyword = secretRulesFrom('r.toml', `[[rules]]\nid = "k"\nregex = '''[0-9]{6}'''\nkeywords = ["pin"]\n`);
    expect(detectSecrets(noKeyword, { raw: '123456', path: 'a' })).toEqual([]);
    expect(detectSecrets(noKeyword, { raw: 'PIN 123456', path: 'a' })).toHaveLength(1);
    expect(detectSecrets(RULES, { raw: 'anything', path: 'certs/server.pem' }).map((f) => f.match)).toEqual([
      'file detected: certs/server.pem',
    ]);
  });

  it('added lines of a change keep their line numbers in the file; commits give gitleaks fingerprints; .gitleaksignore drops them', () => {
    const fragment = { raw: `x = 1\nacme_key = ${key}\n`, path: 'app.py', commit: 'abc123', lineNumbers: [10, 42] };
    const [finding] = detectSecrets(RULES, fragment);
    expect(finding).toMatchObject({ startLine: 42, fingerprint: 'abc123:app.py:acme-key:42' });
    expect(detectSecrets(RULES, fragment, { ignore: parseIgnoreFile('# reviewed\nabc123:app.py:acme-key:42\n') })).toEqual([]);
    expect(detectSecrets(RULES, fragment, { ignore: parseIgnoreFile('app.py:acme-key:42') })).toEqual([]);
  });

  it('redaction leaves nothing of the secret anywhere in the finding', () => {
    const [finding] = detectSecrets(RULES, { raw: `acme_key = "${key}"`, path: 'a' });
    const redacted = redactFinding(finding as NonNullable<typeof finding>);
    expect(JSON.stringify(redacted)).not.toContain(key);
    expect(JSON.stringify(redacted)).not.toContain(key.slice(5, 15));
    expect(redacted.line).toBe('acme_key = "REDACTED"');
  });
});
