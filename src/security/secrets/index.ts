/** Secrets in text: gitleaks-format rules (built in: gitleaks' own defaults), the detector, redaction. */
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

/** The built-in rules: gitleaks' default configuration, compiled once. */
export function defaultSecretRules(): SecretRules {
  builtIn ??= compileRules('gitleaks default rules', parseRulesFile('gitleaks default rules', GITLEAKS_DEFAULT_TOML), null);
  return builtIn;
}

/**
 * A project's rules file (`.gitleaks.toml` or `security.secrets.rules`), extending the built-in
 * rules when it says `[extend] useDefault = true`.
 */
export function secretRulesFrom(file: string, text: string): SecretRules {
  return compileRules(file, parseRulesFile(file, text), parseRulesFile('gitleaks default rules', GITLEAKS_DEFAULT_TOML));
}
