/**
 * Building blocks shared by the schemas of gantry.yaml's sections (config-schema.ts for the
 * pipeline and the file, config-delivery-schema.ts for service and environments): readable
 * "expected X, got Y" messages, env maps, durations, ids. Kept apart so each section's schema
 * module can import them without importing the other.
 */
import { z } from 'zod';
import { didYouMean } from '../core/did-you-mean.ts';
import { parseDuration } from './durations.ts';

/** Job ids, step ids, input and output names: safe in expressions (`needs.<id>`) and file names. */
export const ID_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]*$/;
/** Environment variable names, and secret names (the server's secret API accepts the same). */
export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** How a value is named in messages: "got a number", "got nothing". */
export function describeValue(value: unknown): string {
  if (value === undefined || value === null) return 'nothing';
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : 'a list';
  if (typeof value === 'object') return 'a map';
  if (typeof value === 'string') return value === '' ? 'an empty string' : 'a string';
  if (typeof value === 'number') return Number.isFinite(value) ? 'a number' : String(value); // YAML's .nan and .inf
  return `a ${typeof value}`;
}

/** An error option for a schema: "expected <what>, got <the value's kind>". */
export function expected(what: string): { error: (issue: { input?: unknown }) => string } {
  return { error: (issue) => `expected ${what}, got ${describeValue(issue.input)}` };
}

const EXPECTED_LABELS: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  array: 'a list',
  object: 'a map',
  record: 'a map',
  null: 'nothing',
};

/**
 * Readable messages for the issues whose schema has no message of its own. Pass it to
 * safeParse (`{ error: configErrorMap }`) so no module-level zod configuration is needed.
 */
export function configErrorMap(issue: z.core.$ZodRawIssue): string | undefined {
  const got = describeValue(issue.input);
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${EXPECTED_LABELS[issue.expected] ?? issue.expected}, got ${got}`;
    case 'invalid_value': {
      const listed = issue.values
        .map((v) => `'${String(v)}'`)
        .join(', ')
        .replace(/, ([^,]*)$/, ' or $1');
      if (typeof issue.input !== 'string') return `expected ${listed}, got ${got}`;
      return `expected ${listed}, got '${issue.input}'${didYouMean(issue.input, issue.values.map(String))}`;
    }
    case 'too_small':
      if (issue.origin === 'array') return `expected at least ${String(issue.minimum)} item${issue.minimum === 1 ? '' : 's'}, got ${got}`;
      if (issue.origin === 'string') return `expected a non-empty string, got ${got}`;
      return `expected a number ${issue.inclusive ? '≥' : '>'} ${String(issue.minimum)}, got ${String(issue.input)}`;
    case 'too_big':
      return `expected a number ${issue.inclusive ? '≤' : '<'} ${String(issue.maximum)}, got ${String(issue.input)}`;
    default:
      return undefined;
  }
}

/** A string, number or boolean (YAML scalars a user may write where a string is meant). */
export const scalar = z.union([z.string(), z.number(), z.boolean()], expected('a string, number or boolean'));

/** An environment variable name as a record key. */
export const envName = z.string().regex(ENV_NAME_PATTERN, {
  error: (issue) => `invalid variable name '${String(issue.input)}': use letters, digits and _, not starting with a digit`,
});

/** `NAME: value` pairs; numbers and booleans become strings, as a process environment holds only strings. */
export const envMap = z
  .record(
    envName,
    scalar.transform((value) => String(value)),
    expected('a map of variable names to values'),
  )
  .describe('Environment variables (name → value). Numbers and booleans become strings; values may use ${{ }} expressions.');

/** A duration in milliseconds, written as durations.ts accepts (`500ms`, `30s`, `1h30m`, or seconds). */
export const duration = z.union([z.string(), z.number()], expected('a duration such as 30s, 5m or 1h30m')).transform((value, ctx) => {
  try {
    return parseDuration(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message, input: value });
    return z.NEVER;
  }
});

/** A string matching ID_PATTERN, with a message naming what the id is for. */
export function idString(what: string): z.ZodString {
  return z.string(expected('a string')).regex(ID_PATTERN, {
    error: (issue) => `invalid ${what} '${String(issue.input)}': use letters, digits, - and _, starting with a letter or _`,
  });
}

/** Drops undefined values so the normalised config has no `key: undefined` noise. */
export function compact<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** A string or a list of strings, always a list once parsed (`needs: build` ≡ `needs: [build]`). */
export function stringOrList(what: string): z.ZodType<string[], string | string[]> {
  return z
    .union([z.string(), z.array(z.string(), expected(`a list of ${what}`))], expected(`a list of ${what} or a string`))
    .transform((value) => (typeof value === 'string' ? [value] : value));
}

/** Where a value sits in gantry.yaml: keys and list indexes from the root. */
export type ConfigPath = readonly (string | number)[];

/** What the checks across entries (config-*-checks.ts) need from load-config's diagnostics collector. */
export interface ConfigCheckSink {
  /** The raw value at a path (undefined when absent). */
  rawAt(path: ConfigPath): unknown;
  /** Where the key naming a value starts. */
  keyOffset(path: ConfigPath): number;
  /** Where a value starts. */
  valueOffset(path: ConfigPath): number;
  /** Where the character at `at` of a string value is. */
  charOffset(path: ConfigPath, at: number): number;
  report(offset: number, message: string): void;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
