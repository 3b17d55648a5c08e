/**
 * The plan compiler: a normalised pipeline in, the run's job instances out (matrices expanded,
 * `--job` selection applied, jobs in dependency order). Pure: no fs, no clock, no network, so the
 * CLI's `--plan`, the local runner and the server all compile exactly the same DAG.
 */
import { GantryError, InputError } from '../core/errors.ts';
import type { GantryContext, JobConfig, MatrixConfig, MatrixValues, PipelineConfig, Plan, PlannedJob, Value } from '../core/types.ts';
import { evaluate, hasExpression, interpolate, splitTemplate } from './expressions/index.ts';
import type { ExpressionContext } from './expressions/index.ts';

/** GitHub's limit; beyond it a matrix is almost always a mistake (a typo'd fromJSON, a runaway axis). */
export const MAX_MATRIX_CELLS = 256;

/** What a plan is compiled against: the run's resolved inputs and `gantry` context. */
export interface CompilePlanOptions {
  inputs: Record<string, Value>;
  gantry: GantryContext;
  /** Job ids to run (the `--job` flag); the jobs they transitively need are added. */
  only?: string[];
}

/**
 * Compiles a pipeline into the instances a run executes. Matrix values are interpolated with the
 * `inputs` and `gantry` contexts because that is all that is known before anything runs.
 * Throws InputError for an unknown `only` id, an unknown need, a dependency cycle or a bad matrix.
 */
export function compilePlan(pipeline: PipelineConfig, opts: CompilePlanOptions): Plan {
  const ids = selectJobs(pipeline.jobs, opts.only);
  const ordered = topologicalOrder(pipeline.jobs, ids);
  const ctx: ExpressionContext = { contexts: { inputs: opts.inputs, gantry: gantryValue(opts.gantry) } };
  const used = new Set<string>();
  const jobs: PlannedJob[] = [];
  for (const jobId of ordered) {
    const config = pipeline.jobs[jobId] as JobConfig;
    const needs = unique(config.needs);
    const cells: (MatrixValues | null)[] = config.matrix ? matrixCellsOf(jobId, config.matrix, ctx) : [null];
    for (const cell of cells) {
      jobs.push({ key: uniqueKey(jobKey(jobId, cell), used), jobId, matrix: cell, needs, config });
    }
  }
  return { jobs };
}

/**
 * Expands a matrix with GitHub's semantics: the cartesian product of the axes (in key order),
 * minus `exclude` entries (partial matches), then `include` entries extend every original cell
 * whose axis values they match (never overwriting an axis value) or, matching none, add a cell.
 * Strings holding `${{ }}` are interpolated; an axis that is one whole `${{ }}` yielding an array
 * (typically `fromJSON(inputs.targets)`) becomes that array.
 */
export function matrixCells(matrix: MatrixConfig, ctx: ExpressionContext): MatrixValues[] {
  const axisNames = Object.keys(matrix.axes);
  const axes = axisNames.map((name) => ({ name, values: expandAxis(matrix.axes[name] ?? [], ctx) }));
  const productSize = axes.reduce((n, axis) => n * axis.values.length, axes.length === 0 ? 0 : 1);
  // Excludes may shrink a large product, but a product this large is never intended and would
  // only burn memory before failing.
  if (productSize > MAX_MATRIX_CELLS * 64) throw tooManyCells(productSize);

  let cells: MatrixValues[] = axes.length === 0 ? [] : [{}];
  for (const axis of axes) {
    cells = cells.flatMap((cell) => axis.values.map((value) => ({ ...cell, [axis.name]: value })));
  }

  const excludes = matrix.exclude.map((entry) => interpolateRecord(entry, ctx));
  cells = cells.filter((cell) => !excludes.some((entry) => matchesAll(cell, entry, Object.keys(entry))));

  const axisSet = new Set(axisNames);
  const originals = cells.map((cell) => ({ ...cell }));
  const added: MatrixValues[] = [];
  for (const rawEntry of matrix.include) {
    const entry = interpolateRecord(rawEntry, ctx);
    const axisKeys = Object.keys(entry).filter((key) => axisSet.has(key));
    let matched = false;
    for (const cell of originals) {
      if (!matchesAll(cell, entry, axisKeys)) continue;
      matched = true;
      // Values added by earlier includes may be overwritten; original axis values never are.
      for (const [key, value] of Object.entries(entry)) {
        if (!axisSet.has(key)) cell[key] = value;
      }
    }
    if (!matched) added.push(orderCell(entry, axisNames));
  }

  const all = [...originals, ...added];
  if (all.length > MAX_MATRIX_CELLS) throw tooManyCells(all.length);
  return all;
}

/**
 * The instance key shown everywhere (logs, API, dashboard): the job id, plus the cell's values in
 * order for a matrix cell, e.g. `test (1, linux)`.
 */
export function jobKey(jobId: string, cell: MatrixValues | null): string {
  if (cell === null) return jobId;
  const values = Object.values(cell).map(displayValue);
  return `${jobId} (${values.join(', ')})`;
}

/** How a matrix value reads inside a key: strings bare, everything else as JSON. */
export function displayValue(value: Value): string {
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

// ---------------------------------------------------------------- selection and order

function selectJobs(jobs: Record<string, JobConfig>, only: string[] | undefined): Set<string> {
  const known = Object.keys(jobs);
  if (only === undefined || only.length === 0) return new Set(known);
  const unknown = only.filter((id) => !Object.hasOwn(jobs, id));
  if (unknown.length > 0) {
    const names = unknown.map((id) => `'${id}'`).join(', ');
    throw new InputError(`unknown job ${names}; the pipeline's jobs are: ${known.join(', ')}`, { unknown, known });
  }
  const selected = new Set<string>();
  const visit = (id: string): void => {
    if (selected.has(id)) return;
    selected.add(id);
    for (const need of jobs[id]?.needs ?? []) visit(need);
  };
  for (const id of only) visit(id);
  return selected;
}

/** Kahn's algorithm, ties broken by declaration order so the plan reads like the file. */
function topologicalOrder(jobs: Record<string, JobConfig>, ids: Set<string>): string[] {
  const declared = Object.keys(jobs).filter((id) => ids.has(id));
  for (const id of declared) {
    for (const need of jobs[id]?.needs ?? []) {
      if (!Object.hasOwn(jobs, need)) {
        throw new InputError(`job '${id}' needs unknown job '${need}'; the pipeline's jobs are: ${Object.keys(jobs).join(', ')}`);
      }
    }
  }
  const done = new Set<string>();
  const order: string[] = [];
  while (order.length < declared.length) {
    const next = declared.find((id) => !done.has(id) && (jobs[id]?.needs ?? []).every((need) => done.has(need)));
    if (next === undefined) {
      const stuck = declared.filter((id) => !done.has(id));
      throw new InputError(`jobs ${stuck.map((id) => `'${id}'`).join(', ')} form a dependency cycle through 'needs'`);
    }
    done.add(next);
    order.push(next);
  }
  return order;
}

// ---------------------------------------------------------------- matrix helpers

function matrixCellsOf(jobId: string, matrix: MatrixConfig, ctx: ExpressionContext): MatrixValues[] {
  let cells: MatrixValues[];
  try {
    cells = matrixCells(matrix, ctx);
  } catch (error) {
    // One error class for every way a matrix can be wrong, named after the job it belongs to.
    if (error instanceof GantryError) throw new InputError(`job '${jobId}': ${error.message}`, { code: error.code });
    throw error;
  }
  if (cells.length === 0) throw new InputError(`job '${jobId}': its matrix produces no combinations`);
  return cells;
}

/** The source of a string that is exactly one `${{ }}` (blank text around it allowed), else undefined. */
export function wholeExpression(text: string): string | undefined {
  if (!hasExpression(text)) return undefined;
  const parts = splitTemplate(text);
  const expressions = parts.filter((part) => part.kind === 'expr');
  const [only] = expressions;
  if (expressions.length !== 1 || only === undefined) return undefined;
  return parts.every((part) => part.kind === 'expr' || part.text.trim() === '') ? only.source : undefined;
}

function expandAxis(values: Value[], ctx: ExpressionContext): Value[] {
  const [first] = values;
  if (values.length === 1 && typeof first === 'string') {
    const expanded = interpolateValue(first, ctx);
    if (Array.isArray(expanded)) return expanded;
    return [expanded];
  }
  return values.map((value) => interpolateValue(value, ctx));
}

/**
 * A string that is one whole `${{ }}` keeps the type of its result (`${{ inputs.count }}` stays a
 * number, `${{ fromJSON(x) }}` may be a list); a string mixing text and expressions is text.
 */
function interpolateValue(value: Value, ctx: ExpressionContext): Value {
  if (typeof value === 'string') {
    const whole = wholeExpression(value);
    if (whole !== undefined) return evaluate(whole, ctx);
    return hasExpression(value) ? interpolate(value, ctx) : value;
  }
  if (Array.isArray(value)) return value.map((item) => interpolateValue(item, ctx));
  if (value !== null && typeof value === 'object') return interpolateRecord(value, ctx);
  return value;
}

function interpolateRecord(record: Record<string, Value>, ctx: ExpressionContext): Record<string, Value> {
  const out: Record<string, Value> = {};
  for (const [key, value] of Object.entries(record)) out[key] = interpolateValue(value, ctx);
  return out;
}

function matchesAll(cell: MatrixValues, entry: Record<string, Value>, keys: string[]): boolean {
  return keys.every((key) => Object.hasOwn(cell, key) && valueEquals(cell[key] as Value, entry[key] as Value));
}

/** Axis keys first (in axis order) so an include-only cell reads like the others. */
function orderCell(entry: Record<string, Value>, axisNames: string[]): MatrixValues {
  const out: MatrixValues = {};
  for (const name of axisNames) if (Object.hasOwn(entry, name)) out[name] = entry[name] as Value;
  for (const [key, value] of Object.entries(entry)) if (!Object.hasOwn(out, key)) out[key] = value;
  return out;
}

/** Structural equality for JSON-like values (matrix entries are compared by value, not identity). */
export function valueEquals(a: Value, b: Value): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => valueEquals(item, b[i] as Value));
  }
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((key) => Object.hasOwn(b, key) && valueEquals(a[key] as Value, b[key] as Value));
}

function tooManyCells(count: number): InputError {
  return new InputError(`matrix produces ${count} combinations; at most ${MAX_MATRIX_CELLS} are allowed`);
}

function uniqueKey(key: string, used: Set<string>): string {
  let candidate = key;
  for (let n = 2; used.has(candidate); n++) candidate = `${key} #${n}`;
  used.add(candidate);
  return candidate;
}

function unique(items: string[]): string[] {
  return [...new Set(items)];
}

function gantryValue(gantry: GantryContext): Value {
  return { ...gantry };
}
