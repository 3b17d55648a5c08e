/**
 * The built-in rules on the labelled corpus: every planted credential of the 44 kinds is found
 * as the exact secret, and no trap yields a finding. `npm run bench:secrets` prints the figures,
 * with gitleaks' default rules alone beside them.
 */
import { describe, expect, it } from 'vitest';
import { defaultSecretRules, detectSecrets } from '../../src/security/secrets/index.ts';
import { buildCorpus } from './secrets-corpus.ts';

const rules = defaultSecretRules();
const corpus = buildCorpus();

describe('secret corpus', () => {
  it('has at least 30 providers and as many traps', () => {
    expect(new Set(corpus.filter((s) => s.provider).map((s) => s.provider)).size).toBeGreaterThanOrEqual(30);
    expect(corpus.filter((s) => s.secret === null).length).toBeGreaterThanOrEqual(30);
  });

  it('finds every planted secret', () => {
    const missed = corpus
      .filter((s) => s.secret !== null)
      .filter(
        (s) =>
          !detectSecrets(rules, { raw: s.text, path: s.path }).some(
            (f) => f.secret === s.secret || (s.secret?.includes(f.secret) && f.secret.length >= 16),
          ),
      )
      .map((s) => s.id);
    expect(missed).toEqual([]);
  });

  it('reports nothing on the traps', () => {
    const flagged = corpus
      .filter((s) => s.secret === null)
      .flatMap((s) => detectSecrets(rules, { raw: s.text, path: s.path }).map((f) => `${s.id}: ${f.ruleId}`));
    expect(flagged).toEqual([]);
  });
});
