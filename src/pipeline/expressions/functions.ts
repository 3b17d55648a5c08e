/**
 * The built-in functions: their arities (checked at parse time) and their behaviour. Names are
 * case-insensitive in source and canonical in the tree.
 */
import type { Value } from '../../core/types.ts';
import { GantryError } from '../../core/errors.ts';
import type { FunctionName } from './ast.ts';
import { foldCase, isContainer, looseEquals, toStringValue } from './coerce.ts';
import { semanticError } from './errors.ts';

/** What a function may read besides its arguments. */
export interface FunctionEnvironment {
  status: { failed: boolean; cancelled: boolean };
  hashFiles?: ((patterns: string[]) => string) | undefined;
}

/** A function's canonical name and how many arguments it takes. */
export interface FunctionSpec {
  name: FunctionName;
  minArgs: number;
  maxArgs: number;
}

const SPECS: readonly FunctionSpec[] = [
  { name: 'contains', minArgs: 2, maxArgs: 2 },
  { name: 'startsWith', minArgs: 2, maxArgs: 2 },
  { name: 'endsWith', minArgs: 2, maxArgs: 2 },
  { name: 'format', minArgs: 1, maxArgs: Infinity },
  { name: 'join', minArgs: 1, maxArgs: 2 },
  { name: 'toJSON', minArgs: 1, maxArgs: 1 },
  { name: 'fromJSON', minArgs: 1, maxArgs: 1 },
  { name: 'hashFiles', minArgs: 1, maxArgs: Infinity },
  { name: 'success', minArgs: 0, maxArgs: 0 },
  { name: 'failure', minArgs: 0, maxArgs: 0 },
  { name: 'always', minArgs: 0, maxArgs: 0 },
  { name: 'cancelled', minArgs: 0, maxArgs: 0 },
];

/** Every function name, for "did you mean" suggestions. */
export const FUNCTION_NAMES: readonly FunctionName[] = SPECS.map((spec) => spec.name);

/** The functions that make an `if:` take charge of its own status check. */
export const STATUS_FUNCTIONS: readonly FunctionName[] = ['success', 'failure', 'always', 'cancelled'];

const BY_LOWER_NAME = new Map(SPECS.map((spec) => [spec.name.toLowerCase(), spec]));

/** The canonical spelling of a function name written in any case, or undefined when unknown. */
export function lookupFunction(name: string): FunctionSpec | undefined {
  return BY_LOWER_NAME.get(name.toLowerCase());
}

/** A message when `count` arguments do not fit the function, else undefined. */
export function arityProblem(spec: FunctionSpec, count: number): string | undefined {
  if (count >= spec.minArgs && count <= spec.maxArgs) return undefined;
  const plural = (n: number) => `${n} argument${n === 1 ? '' : 's'}`;
  let expected: string;
  if (spec.minArgs === spec.maxArgs) expected = plural(spec.minArgs);
  else if (spec.maxArgs === Infinity) expected = `at least ${plural(spec.minArgs)}`;
  else expected = `${spec.minArgs} or ${plural(spec.maxArgs)}`;
  return `${spec.name}() takes ${expected}, got ${count}`;
}

/** Runs a function on evaluated arguments; `offset` positions any error at the call. */
export function callFunction(name: FunctionName, args: readonly Value[], env: FunctionEnvironment, offset: number): Value {
  const first = args[0] ?? null;
  const second = args[1] ?? null;
  switch (name) {
    case 'contains':
      if (Array.isArray(first)) return first.some((element) => looseEquals(element, second));
      return foldCase(toStringValue(first)).includes(foldCase(toStringValue(second)));
    case 'startsWith':
      if (isContainer(first) || isContainer(second)) return false;
      return foldCase(toStringValue(first)).startsWith(foldCase(toStringValue(second)));
    case 'endsWith':
      if (isContainer(first) || isContainer(second)) return false;
      return foldCase(toStringValue(first)).endsWith(foldCase(toStringValue(second)));
    case 'format':
      return formatString(toStringValue(first), args.slice(1), offset);
    case 'join':
      return join(first, args.length > 1 ? second : undefined);
    case 'toJSON':
      return JSON.stringify(first, null, 2) ?? 'null';
    case 'fromJSON':
      return fromJSON(toStringValue(first), offset);
    case 'hashFiles':
      return hashFiles(args.map(toStringValue), env, offset);
    case 'success':
      return !env.status.failed && !env.status.cancelled;
    case 'failure':
      // After a cancel the job is cancelled, not failed: failure() steps do not run then.
      return env.status.failed && !env.status.cancelled;
    case 'always':
      return true;
    case 'cancelled':
      return env.status.cancelled;
  }
}

const PLACEHOLDER = /\{(\d+)\}/y;

/**
 * Checks a format string against an argument count without producing output; returns the problem
 * or undefined. Used at parse time for literal format strings and again at evaluation.
 */
export function formatProblem(template: string, argCount: number): string | undefined {
  try {
    formatString(template, new Array<Value>(argCount).fill(null), 0);
    return undefined;
  } catch (error) {
    if (error instanceof GantryError) return error.message;
    throw error;
  }
}

/** `{N}` is argument N; `{{` and `}}` are literal braces; any other brace is an error. */
function formatString(template: string, args: readonly Value[], offset: number): string {
  let out = '';
  let pos = 0;
  while (pos < template.length) {
    const ch = template[pos];
    if (ch === '{' && template[pos + 1] === '{') {
      out += '{';
      pos += 2;
    } else if (ch === '}' && template[pos + 1] === '}') {
      out += '}';
      pos += 2;
    } else if (ch === '{') {
      PLACEHOLDER.lastIndex = pos;
      const match = PLACEHOLDER.exec(template);
      if (!match) throw semanticError(`format(): invalid format string '${template}' (write '{{' and '}}' for literal braces)`, offset);
      const index = Number(match[1]);
      if (index >= args.length) {
        throw semanticError(
          `format(): '{${index}}' is out of range: ${args.length} argument${args.length === 1 ? '' : 's'} given after the format string`,
          offset,
        );
      }
      out += toStringValue(args[index] ?? null);
      pos += match[0].length;
    } else if (ch === '}') {
      throw semanticError(`format(): invalid format string '${template}' (write '{{' and '}}' for literal braces)`, offset);
    } else {
      out += ch;
      pos++;
    }
  }
  return out;
}

/** Arrays are joined element-wise; a scalar is its own string; an object joins to ''. A container separator means the default ','. */
function join(value: Value, separator: Value | undefined): string {
  const glue = separator === undefined || isContainer(separator) ? ',' : toStringValue(separator);
  if (Array.isArray(value)) return value.map(toStringValue).join(glue);
  if (isContainer(value)) return '';
  return toStringValue(value);
}

function fromJSON(text: string, offset: number): Value {
  try {
    return JSON.parse(text) as Value;
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw semanticError(`fromJSON(): invalid JSON: ${reason}`, offset);
  }
}

function hashFiles(patterns: string[], env: FunctionEnvironment, offset: number): string {
  if (!env.hashFiles) throw semanticError('hashFiles() is not available here (it needs a workspace)', offset);
  try {
    return env.hashFiles(patterns);
  } catch (error) {
    if (error instanceof GantryError) throw error;
    throw semanticError(`hashFiles() failed: ${error instanceof Error ? error.message : String(error)}`, offset);
  }
}
