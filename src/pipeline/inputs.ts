/**
 * Manual-run inputs (`gantry run -i k=v`, the dashboard's form, the API): strings in, typed
 * values out. Every problem is reported in one InputError so a user fixes them in one go.
 */
import { closestName } from '../core/did-you-mean.ts';
import { InputError } from '../core/errors.ts';
import type { InputConfig, Value } from '../core/types.ts';

/**
 * Resolves manual inputs: coerces 'k=v' strings per declared type (number, boolean
 * 'true'/'false', choice among options), applies defaults, and reports ALL problems at once in one
 * InputError (missing required, wrong type, unknown name with a did-you-mean, choice not among
 * options). Undeclared inputs are an error only when inputs are declared: a pipeline without an
 * `on.manual.inputs` section gets what it is given, as strings.
 * An optional input with no default and no value is '' (string, choice), false (boolean) or null
 * (number), so expressions can test it without a missing-key error.
 */
export function resolveInputs(declared: Record<string, InputConfig> | undefined, given: Record<string, string>): Record<string, Value> {
  const names = Object.keys(declared ?? {});
  if (declared === undefined || names.length === 0) return { ...given };

  const problems: string[] = [];
  for (const name of Object.keys(given)) {
    if (Object.hasOwn(declared, name)) continue;
    const suggestion = closestName(name, names);
    const hint = suggestion === undefined ? `declared inputs: ${names.join(', ')}` : `did you mean '${suggestion}'?`;
    problems.push(`unknown input '${name}' (${hint})`);
  }

  const resolved: Record<string, Value> = {};
  for (const [name, config] of Object.entries(declared)) {
    const raw = Object.hasOwn(given, name) ? given[name] : config.default === undefined ? undefined : String(config.default);
    if (raw === undefined) {
      if (config.required) problems.push(`missing required input '${name}'`);
      else resolved[name] = emptyValue(config);
      continue;
    }
    const coerced = coerce(name, raw, config);
    if ('problem' in coerced) problems.push(coerced.problem);
    else resolved[name] = coerced.value;
  }

  if (problems.length > 0) throw new InputError(`invalid inputs: ${problems.join('; ')}`, { problems });
  return resolved;
}

function coerce(name: string, raw: string, config: InputConfig): { value: Value } | { problem: string } {
  switch (config.type) {
    case 'string':
      return { value: raw };
    case 'number': {
      const n = Number(raw.trim());
      if (raw.trim() === '' || !Number.isFinite(n)) return { problem: `input '${name}' must be a number, got '${raw}'` };
      return { value: n };
    }
    case 'boolean': {
      const text = raw.trim();
      if (text === 'true') return { value: true };
      if (text === 'false') return { value: false };
      return { problem: `input '${name}' must be 'true' or 'false', got '${raw}'` };
    }
    case 'choice': {
      const options = config.options ?? [];
      if (options.includes(raw)) return { value: raw };
      return { problem: `input '${name}' must be one of ${options.map((o) => `'${o}'`).join(', ')}, got '${raw}'` };
    }
  }
}

function emptyValue(config: InputConfig): Value {
  if (config.type === 'boolean') return false;
  if (config.type === 'number') return null;
  return '';
}
