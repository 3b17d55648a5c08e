/** Secrets in text: gitleaks-format rules (built in: gitleaks' own defaults and a few of Gantry's), the detector, redaction. */
import { GANTRY_EXTRA_RULES_TOML } from './gantry-rules.ts';
import { GITLEAKS_DEFAULT_TOML } from './gitleaks-default-rules.ts';
import { type SecretRules, compileRules, parseRulesFile } from './rules-config.ts';

export {
  type DetectOptions,
  type Fragment,
  type SecretFinding,
  detectSecrets,
  fingerprintOf,
  parseIgnoreFile,
  redactFinding,
  shannonEntropy,
} from './detector.ts';
export { goRegexSource } from './go-regex.ts';
export type { SecretRule, SecretRules } from './rules-config.ts';

let builtIn: SecretRules | undefined;

/** gitleaks' defaults and Gantry's few own rules, as one rules file (what `useDefault` extends). */
function builtInRaw(trusted = false) {
  const gitleaks = parseRulesFile('gitleaks default rules', GITLEAKS_DEFAULT_TOML, trusted);
  const gantry = parseRulesFile('gantry rules', GANTRY_EXTRA_RULES_TOML, trusted);
  return { ...gitleaks, rules: [...(gitleaks.rules ?? []), ...(gantry.rules ?? [])] };
}

/**
 * The built-in rules: gitleaks' default configuration and Gantry's own, compiled once, each
 * rule's regular expression when first needed. `checked`: validated and compiled whole, as the
 * tests do to prove the built-in files sound (what lets a hook skip it).
 */
export function defaultSecretRules(checked = false): SecretRules {
  if (checked) return compileRules('built-in rules', builtInRaw(), null);
  builtIn ??= compileRules('built-in rules', builtInRaw(true), null, true);
  return builtIn;
}

/**
 * A project's rules file (`.gitleaks.toml` or `security.secrets.rules`), extending the built-in
 * rules when it says `[extend] useDefault = true`.
 */
export function secretRulesFrom(file: string, text: string): SecretRules {
  return compileRules(file, parseRulesFile(file, text), builtInRaw());
}
