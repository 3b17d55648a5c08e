/**
 * gantry.yaml's `security` section: every scanner on by default, each turned off by `false` or
 * configured by a map, and the release policy carried as written; mistakes reported at their
 * line and column with a did-you-mean like the rest of the file.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_SECURITY_CONFIG, securityPolicyFor } from '../../src/core/security-config.ts';
import { parseConfig, validateConfig } from '../../src/pipeline/load-config.ts';

const PIPELINE = 'pipeline:\n  jobs:\n    build:\n      steps: [make]\n';
const problems = (text: string) => validateConfig(text, 'gantry.yaml').diagnostics.map((d) => `${d.line}:${d.col}: ${d.message}`);

describe('the security section of gantry.yaml', () => {
  it('is optional: without it every scanner runs with the default policy', () => {
    expect(parseConfig(PIPELINE, 'gantry.yaml').security).toBeUndefined();
    expect(parseConfig(`${PIPELINE}security:\n`, 'gantry.yaml').security).toEqual(DEFAULT_SECURITY_CONFIG);
    expect(DEFAULT_SECURITY_CONFIG).toMatchObject({ secrets: {}, dependencies: {}, dockerfile: true, config: true, shellcheck: true });
  });

  it('configures each scanner, turns others off and carries the policy as written', () => {
    const config = parseConfig(
      `${PIPELINE}environments:\n  staging: {}\n  production: {}\nservice: { run: ./serve }\n` +
        'security:\n' +
        '  secrets: { rules: ci/gitleaks.toml, ignore: .gitleaksignore }\n' +
        '  dependencies: { advisories: osv/all.zip }\n' +
        '  dockerfile: false\n' +
        '  shellcheck: false\n' +
        '  paths: src/**\n' +
        "  exclude: ['**/*.snap', test/fixtures/**]\n" +
        '  policy:\n' +
        '    warn: [medium, high]\n' +
        '    block: [critical]\n' +
        '    environments:\n' +
        '      production: { block: [critical, high] }\n',
      'gantry.yaml',
    );
    expect(config.security).toEqual({
      secrets: { rules: 'ci/gitleaks.toml', ignore: '.gitleaksignore' },
      dependencies: { advisories: 'osv/all.zip' },
      dockerfile: false,
      config: true,
      shellcheck: false,
      paths: ['src/**'],
      exclude: ['**/*.snap', 'test/fixtures/**'],
      policy: { warn: ['medium', 'high'], block: ['critical'], environments: { production: { block: ['critical', 'high'] } } },
    });
    const policy = config.security?.policy ?? DEFAULT_SECURITY_CONFIG.policy;
    expect(securityPolicyFor(policy, 'production')).toEqual({ warn: ['medium', 'high'], block: ['critical', 'high'] });
    expect(securityPolicyFor(policy, 'staging')).toEqual({ warn: ['medium', 'high'], block: ['critical'] });
  });

  it('turns a scanner off with false and keeps it on with true', () => {
    const config = parseConfig(`${PIPELINE}security:\n  secrets: false\n  dependencies: true\n`, 'gantry.yaml');
    expect(config.security).toMatchObject({ secrets: false, dependencies: {}, dockerfile: true });
  });

  it('reports mistakes at their place, with did-you-mean', () => {
    expect(problems(`${PIPELINE}security:\n  secret: false\n`)).toEqual([
      "6:3: unknown key 'secret' in 'security' (did you mean 'secrets'?)",
    ]);
    expect(problems(`${PIPELINE}security:\n  secrets: { rule: x.toml }\n`)).toEqual([
      "6:14: unknown key 'rule' in the secrets scanner (did you mean 'rules'?)",
    ]);
    expect(problems(`${PIPELINE}security:\n  policy:\n    block: [critcal]\n`)[0]).toMatch(
      /^7:13: .*expected 'critical', 'high', 'medium', 'low' or 'info', got 'critcal'/,
    );
    expect(problems(`${PIPELINE}security:\n  policy:\n    blok: [critical]\n`)).toEqual([
      "7:5: unknown key 'blok' in the security policy (did you mean 'block'?)",
    ]);
    expect(problems(`${PIPELINE}security:\n  dockerfile: off\n`)[0]).toMatch(/^6:15: .*expected true or false, got a string/);
  });

  it('refuses a level that both warns and blocks, and a policy for an undeclared environment', () => {
    expect(problems(`${PIPELINE}security:\n  policy: { warn: [high], block: [critical, high] }\n`)).toEqual([
      expect.stringMatching(/^6:\d+: .*'high' both warn and block in the security policy/),
    ]);
    const text =
      `${PIPELINE}environments:\n  staging: {}\n  production: {}\nservice: { run: ./serve }\n` +
      'security:\n  policy:\n    environments:\n      prod: { block: [high] }\n';
    expect(problems(text)).toEqual([
      "12:7: environment 'prod' is not declared in 'environments' (did you mean 'production'?) (declared: staging, production)",
    ]);
  });
});
