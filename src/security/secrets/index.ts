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
function builtInRaw() {
  const gitleaks = parseRulesFile('gitleaks default rules', GITLEAKS_DEFAULT_TOML);
  const gantry = parseRulesFile('gantry rules', GANTRY_EXTRA_RULES_TOML);
  return { ...gitleaks, rules: [...(gitleaks.rules ?? []), ...(gantry.rules ?? [])] };
}

/** The built-in rules: gitleaks' default configuration and Gantry's own, compiled once. */
export function defaultSecretRules(): SecretRules {
  builtIn ??= compileRules('built-in rules', builtInRaw(), null);
  return builtIn;
}

/**
 * A project's rules file (`.gitleaks.toml` or `security.secrets.rules`), extending the built-in
 * rules when it says `[extend] useDefault = true`.
 */
export function secretRulesFrom(file: string, text: string): SecretRules {
  return compileRules(file, parseRulesFile(file, text), builtInRaw());
}
