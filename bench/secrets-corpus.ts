/**
 * Recall and precision of the built-in secret rules on the labelled corpus
 * (test/security/secrets-corpus.ts): how many of the fake credentials of each provider are found,
 * and how many findings are on traps or are not the planted secret. In process; a second or two.
 */
import { type SecretRules, defaultSecretRules, detectSecrets } from '../src/security/secrets/index.ts';
import { buildCorpus } from '../test/security/secrets-corpus.ts';

const started = performance.now();
const rules = defaultSecretRules();
const compiledMs = performance.now() - started;
const corpus = buildCorpus();
const scanStarted = performance.now();
const builtIn = score(rules);
const scanMs = performance.now() - scanStarted;
// The peer: gitleaks' default rules alone, on the same corpus.
const gitleaksOnly = score({ ...rules, rules: rules.rules.filter((r) => !r.tags.includes('gantry')) });

function score(rules: SecretRules) {
  let truePositives = 0;
  let falseNegatives = 0;
  let falsePositives = 0;
  const missed: string[] = [];
  const wrong: string[] = [];
  for (const sample of corpus) {
    const findings = detectSecrets(rules, { raw: sample.text, path: sample.path });
    const hit =
      sample.secret !== null &&
      findings.some((f) => sample.secret?.includes(f.secret) && f.secret.length >= Math.min(8, sample.secret.length));
    if (sample.secret !== null) {
      if (hit) truePositives++;
      else {
        falseNegatives++;
        missed.push(sample.id);
      }
    }
    for (const f of findings) {
      if (sample.secret === null || !sample.secret.includes(f.secret)) {
        falsePositives++;
        wrong.push(`${sample.id}: ${f.ruleId}`);
      }
    }
  }
  return {
    recall: +(truePositives / (truePositives + falseNegatives)).toFixed(4),
    precision: +(truePositives / Math.max(1, truePositives + falsePositives)).toFixed(4),
    missed,
    false_positives: wrong,
    rules: rules.rules.length,
  };
}

const positives = corpus.filter((s) => s.secret !== null);
console.log(
  JSON.stringify(
    {
      bench: 'secrets-corpus',
      samples: corpus.length,
      providers: new Set(positives.map((s) => s.provider)).size,
      planted_secrets: positives.length,
      traps: corpus.length - positives.length,
      built_in: builtIn,
      gitleaks_default_rules_only: gitleaksOnly,
      rules_compile_ms: Math.round(compiledMs),
      scan_ms: Math.round(scanMs),
      loadavg_1m: (await import('node:os')).loadavg()[0],
    },
    null,
    2,
  ),
);
