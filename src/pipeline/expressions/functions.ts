/**
 * The built-in functions: their arities (checked at parse time) and their behaviour. Names are
 * case-insensitive in source and canonical in the tree.
 */
import type { Value } from '../../core/types.ts';
import { GantryError } from '../../core/errors.ts';
import type { FunctionName } from './ast.ts';
import { foldCase, isContainer, looseEquals, toStringValue } from './coerce.ts';
import { semanticError } from './errors.ts';
import { jsonTextLength } from './json-length.ts';
import type { EvaluationBudget } from './limits.ts';

/** What a function may read besides its arguments, and the budget its work is charged to. */
export interface FunctionEnvironment {
  status: { failed: boolean; cancelled: boolean };
  hashFiles?: ((patterns: string[]) => string) | undefined;
  budget: EvaluationBudget;
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
  /** case(condition, value, …, default): evaluated lazily by the evaluator, like && and ||. */
  { name: 'case', minArgs: 3, maxArgs: Infinity },
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
  if (spec.name === 'case' && count >= spec.minArgs && count % 2 === 0) {
    return `case() takes an odd number of arguments (condition, value pairs, then a default), got ${count}`;
  }
  if (count >= spec.minArgs && count <= spec.maxArgs) return undefined;
  const plural = (n: number) => `${n} argument${n === 1 ? '' : 's'}`;
  let expected: string;
  if (spec.minArgs === spec.maxArgs) expected = plural(spec.minArgs);
  else if (spec.maxArgs === Infinity) expected = `at least ${plural(spec.minArgs)}`;
  else expected = `${spec.minArgs} or ${plural(spec.maxArgs)}`;
  return `${spec.name}() takes ${expected}, got ${count}`;
}

/** Runs a function on evaluated arguments; `offset` positions any error at the call. */
export function callFunction(name: Exclude<FunctionName, 'case'>, args: readonly Value[], env: FunctionEnvironment, offset: number): Value {
  const first = args[0] ?? null;
  const second = args[1] ?? null;
  const budget = env.budget;
  switch (name) {
    case 'contains':
      if (Array.isArray(first)) {
        budget.spend(first.length, offset);
        return first.some((element) => looseEquals(element, second));
      }
      return textTest(first, second, budget, offset, (text, part) => text.includes(part));
    case 'startsWith':
      if (isContainer(first) || isContainer(second)) return false;
      return textTest(first, second, budget, offset, (text, part) => text.startsWith(part));
    case 'endsWith':
      if (isContainer(first) || isContainer(second)) return false;
      return textTest(first, second, budget, offset, (text, part) => text.endsWith(part));
    case 'format':
      return format(toStringValue(first), args.slice(1).map(toStringValue), budget, offset);
    case 'join':
      return join(first, args.length > 1 ? second : undefined, budget, offset);
    case 'toJSON':
      budget.produce(jsonTextLength(first, 2, budget.maxResultLength), offset);
      return JSON.stringify(first, null, 2) ?? 'null';
    case 'fromJSON': {
      const text = toStringValue(first);
      budget.spend(text.length, offset);
      return fromJSON(text, offset);
    }
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
    formatPieces(template, argCount, 0);
    return undefined;
  } catch (error) {
    if (error instanceof GantryError) return error.message;
    throw error;
  }
}

/** format(): the length of the result is known from the pieces, so it is checked before the string is built. */
function format(template: string, values: readonly string[], budget: EvaluationBudget, offset: number): string {
  const pieces = formatPieces(template, values.length, offset);
  let length = 0;
  for (const piece of pieces) length += typeof piece === 'string' ? piece.length : (values[piece]?.length ?? 0);
  budget.produce(length, offset);
  return pieces.map((piece) => (typeof piece === 'string' ? piece : (values[piece] ?? ''))).join('');
}

/** A format string as literal text and argument indexes: `{N}` is argument N; `{{` and `}}` are literal braces; any other brace is an error. */
function formatPieces(template: string, argCount: number, offset: number): (string | number)[] {
  const pieces: (string | number)[] = [];
  let text = '';
  let pos = 0;
  while (pos < template.length) {
    const ch = template[pos];
    if ((ch === '{' || ch === '}') && template[pos + 1] === ch) {
      text += ch;
      pos += 2;
      continue;
    }
    if (ch === '}') throw invalidFormat(template, offset);
    if (ch !== '{') {
      const next = nextBrace(template, pos);
      text += template.slice(pos, next);
      pos = next;
      continue;
    }
    PLACEHOLDER.lastIndex = pos;
    const match = PLACEHOLDER.exec(template);
    if (!match) throw invalidFormat(template, offset);
    const index = Number(match[1]);
    if (index >= argCount) {
      throw semanticError(
        `format(): '{${index}}' is out of range: ${argCount} argument${argCount === 1 ? '' : 's'} given after the format string`,
        offset,
      );
    }
    if (text !== '') pieces.push(text);
    text = '';
    pieces.push(index);
    pos += match[0].length;
  }
  if (text !== '') pieces.push(text);
  return pieces;
}

function nextBrace(template: string, from: number): number {
  const open = template.indexOf('{', from);
  const close = template.indexOf('}', from);
  const candidates = [open, close].filter((at) => at !== -1);
  return candidates.length === 0 ? template.length : Math.min(...candidates);
}

function invalidFormat(template: string, offset: number): Error {
  return semanticError(`format(): invalid format string '${template}' (write '{{' and '}}' for literal braces)`, offset);
}

/** Arrays are joined element-wise; a scalar is its own string; an object joins to ''. A container separator means the default ','. */
function join(value: Value, separator: Value | undefined, budget: EvaluationBudget, offset: number): string {
  const glue = separator === undefined || isContainer(separator) ? ',' : toStringValue(separator);
  if (!Array.isArray(value)) return isContainer(value) ? '' : toStringValue(value);
  const parts = value.map(toStringValue);
  budget.produce(lengthOf(parts) + glue.length * Math.max(0, parts.length - 1), offset);
  return parts.join(glue);
}

function lengthOf(texts: readonly string[]): number {
  let length = 0;
  for (const text of texts) length += text.length;
  return length;
}

/** contains/startsWith/endsWith on two strings, ignoring case; folding copies both, so both are charged. */
function textTest(
  text: Value,
  part: Value,
  budget: EvaluationBudget,
  offset: number,
  test: (text: string, part: string) => boolean,
): boolean {
  const a = toStringValue(text);
  const b = toStringValue(part);
  budget.spend(a.length + b.length, offset);
  return test(foldCase(a), foldCase(b));
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
