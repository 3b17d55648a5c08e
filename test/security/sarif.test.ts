/**
 * SARIF 2.1.0: what Gantry writes is valid against the OASIS schema (draft-04, with formats), and
 * what other tools write — gitleaks' own report among them — reads back into findings.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import AjvDraft04 from 'ajv-draft-04';
import ajvFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { dependencyToFinding, fromSarif, secretToFinding, toSarif } from '../../src/security/index.ts';
import type { Finding } from '../../src/security/index.ts';

const REFERENCE = join(import.meta.dirname, 'reference');
// Both are CommonJS modules whose export is also their `default`.
const ajv = new AjvDraft04.default({ allErrors: true, strict: false });
ajvFormats.default(ajv);
const validate = ajv.compile(JSON.parse(readFileSync(join(REFERENCE, 'sarif-schema-2.1.0.json'), 'utf8')));

const secret = secretToFinding({
  ruleId: 'github-pat',
  description: 'GitHub Personal Access Token',
  path: 'src/deploy script.sh',
  commit: null,
  startLine: 3,
  endLine: 3,
  startColumn: 14,
  endColumn: 53,
  match: 'ghp_aaaabbbbccccddddeeeeffffgggghhhhiiii',
  line: 'TOKEN=ghp_aaaabbbbccccddddeeeeffffgggghhhhiiii',
  secret: 'ghp_aaaabbbbccccddddeeeeffffgggghhhhiiii',
  entropy: 3.9,
  tags: [],
  fingerprint: 'src/deploy script.sh:github-pat:3',
});
const dependency = dependencyToFinding({
  file: 'package-lock.json',
  ecosystem: 'npm',
  name: 'qs',
  version: '6.7.0',
  direct: false,
  dev: false,
  path: ['express@4.17.1', 'qs@6.7.0'],
  id: 'CVE-2022-24999',
  ids: ['CVE-2022-24999', 'GHSA-hrpp-h998-j3pp'],
  level: 'high',
  score: 7.5,
  summary: 'qs vulnerable to Prototype Pollution',
  fixedIn: '6.7.3',
});
const info: Finding = {
  scanner: 'dockerfile',
  ruleId: 'DL3007',
  ruleName: 'Using latest',
  level: 'info',
  message: 'x',
  location: null,
  fingerprint: 'f',
};

describe('SARIF output', () => {
  it('validates against the OASIS SARIF 2.1.0 schema', () => {
    const log = toSarif([secret, dependency, info], { name: 'Gantry', version: '0.1.0', informationUri: 'https://github.com/gantry' });
    expect(validate(log), JSON.stringify(validate.errors, null, 2)).toBe(true);
    expect(log.runs.map((r) => r.tool.driver.name)).toEqual(['Gantry secrets', 'Gantry dependencies', 'Gantry dockerfile']);
    const [first] = log.runs[0]?.results ?? [];
    expect(first?.locations?.[0]?.physicalLocation?.artifactLocation?.uri).toBe('src/deploy%20script.sh');
    expect(first?.locations?.[0]?.physicalLocation?.region).toEqual({ startLine: 3, startColumn: 14, endLine: 3, endColumn: 54 });
  });

  it('never carries the secret itself', () => {
    expect(JSON.stringify(toSarif([secret], { name: 'Gantry', version: '0' }))).not.toContain('ghp_aaaabbbb');
  });

  it("a secret's fingerprint does not move with its line; it changes with the secret", () => {
    const moved = secretToFinding({ ...secretInput(), startLine: 40, endLine: 40 });
    const other = secretToFinding({ ...secretInput(), secret: 'ghp_zzzz' });
    expect(moved.fingerprint).toBe(secret.fingerprint);
    expect(other.fingerprint).not.toBe(secret.fingerprint);
  });

  it('reads its own SARIF back to the same findings', () => {
    const log = JSON.parse(JSON.stringify(toSarif([secret, dependency, info], { name: 'Gantry', version: '1' })));
    const back = fromSarif(log, 'gantry.sarif');
    expect(back.map((f) => [f.ruleId, f.level, f.fingerprint, f.location?.path, f.location?.startLine])).toEqual([
      ['github-pat', 'high', secret.fingerprint, 'src/deploy script.sh', 3],
      ['CVE-2022-24999', 'high', dependency.fingerprint, 'package-lock.json', undefined],
      ['DL3007', 'info', 'f', undefined, undefined],
    ]);
  });
});

describe('SARIF from other tools', () => {
  it("reads gitleaks' own report, without its snippet", () => {
    const findings = fromSarif(JSON.parse(readFileSync(join(REFERENCE, 'gitleaks-sarif-simple.sarif'), 'utf8')), 'gitleaks.sarif');
    expect(findings).toEqual([
      {
        scanner: 'gitleaks',
        ruleId: 'test-rule',
        ruleName: 'test-rule',
        level: 'medium',
        message: 'test-rule has detected secret for file auth.py at commit 0000000000000000.',
        location: { path: 'auth.py', startLine: 1, startColumn: 1, endLine: 2, endColumn: 2 },
        fingerprint: expect.stringMatching(/^[0-9a-f]{32}$/),
      },
    ]);
    expect(JSON.stringify(findings)).not.toContain('a secret');
  });

  it('takes security-severity (GitHub’s scale) over the SARIF level', () => {
    const log = {
      version: '2.1.0',
      runs: [
        {
          tool: { driver: { name: 'Trivy', rules: [{ id: 'CVE-1', properties: { 'security-severity': '9.8' } }] } },
          results: [{ ruleId: 'CVE-1', ruleIndex: 0, level: 'error', message: { text: 'x' } }],
        },
      ],
    };
    expect(fromSarif(log, 'trivy.sarif')[0]?.level).toBe('critical');
  });

  it('refuses what is not SARIF 2.1.0, naming the field', () => {
    expect(() => fromSarif({ version: '2.0.0', runs: [] }, 'out.sarif')).toThrow(
      expect.objectContaining({ code: 'INVALID_SARIF', message: expect.stringContaining('out.sarif: not a SARIF 2.1.0 log at version') }),
    );
  });
});

function secretInput() {
  return {
    ruleId: 'github-pat',
    description: 'GitHub Personal Access Token',
    path: 'src/deploy script.sh',
    commit: null,
    startLine: 3,
    endLine: 3,
    startColumn: 14,
    endColumn: 53,
    match: 'm',
    line: 'l',
    secret: 'ghp_aaaabbbbccccddddeeeeffffgggghhhhiiii',
    entropy: 3.9,
    tags: [],
    fingerprint: '',
  };
}
