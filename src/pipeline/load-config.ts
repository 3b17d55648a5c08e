/**
 * gantry.yaml text → GantryConfig, or every problem in it at once, each at its line and column.
 * Stages: YAML syntax, then the zod schema (config-schema.ts), then checks across the file
 * (needs graph, step ids, inputs, cron strings, `${{ }}` expressions; the delivery sections' in
 * config-delivery-checks.ts). Later stages read the raw YAML values defensively, so one run
 * reports problems of every kind together.
 */
import { stat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, type Document, type Node, type Scalar } from 'yaml';
import { z } from 'zod';
import { closestName, didYouMean } from '../core/did-you-mean.ts';
import { ExpressionError, InputError, InvalidConfigError, type Diagnostic } from '../core/errors.ts';
import type { GantryConfig, Value } from '../core/types.ts';
import { checkDelivery } from './config-delivery-checks.ts';
import { checkTriggers, stringEntries } from './config-trigger-checks.ts';
import { checkExperiments, experimentPlace, experimentsSchema } from './config-experiments-schema.ts';
import type { ExperimentConfig } from '../core/chaos-config.ts';
import { checkSecurity, securityPlace } from './config-security-schema.ts';
import { checkSlos, sloPlace } from './config-slo-schema.ts';
import { deliveryContextLabel, deliveryItemName, deliveryMapKind, isDeliveryPath } from './config-delivery-places.ts';
import { KNOWN_KEYS, configErrorMap, gantryConfigSchema, type ConfigMapKind } from './config-schema.ts';
import { referenceProblems, type ReferenceScope } from './expression-references.ts';
import { unreachableAutoDeploys } from './auto-deploy.ts';
import { parseCondition, parseExpression, splitTemplate, type Expr } from './expressions/index.ts';
import { valueEquals } from './plan.ts';

/** The file names `gantry` looks for in a directory, in order. */
export const CONFIG_FILE_NAMES = ['gantry.yaml', 'gantry.yml'] as const;

export interface ValidateOptions {
  /**
   * The text of a stored run or release, which the server accepted before: skip the checks that
   * can refuse what an earlier Gantry accepted (`${{ }}` references that read nothing, exclude
   * entries that match nothing, filter patterns GitHub's syntax cannot mean), so it still loads
   * after an upgrade. A check added later that can refuse a text goes behind this too
   * (docs/decisions/0051).
   */
  stored?: boolean;
}

/** Parses and validates gantry.yaml text. Throws InvalidConfigError carrying every diagnostic. */
export function parseConfig(text: string, file: string, options: ValidateOptions = {}): GantryConfig {
  const { config, diagnostics } = validateConfig(text, file, options);
  if (config === null) throw new InvalidConfigError(diagnostics);
  return config;
}

/**
 * Same checks as parseConfig, for callers that show problems rather than fail (`gantry validate`,
 * the editor endpoint). Diagnostics are sorted by position; empty means valid.
 */
export function validateConfig(
  text: string,
  file: string,
  options: ValidateOptions = {},
): { config: GantryConfig | null; diagnostics: Diagnostic[] } {
  const parsed = parseYaml(text, file);
  if ('diagnostics' in parsed) return { config: null, diagnostics: parsed.diagnostics };
  const { doc, lineCounter, raw } = parsed;
  const checker = new Checker(text, doc, lineCounter, raw);
  const result = gantryConfigSchema.safeParse(raw, { error: configErrorMap, reportInput: true });
  if (!result.success) checker.schemaIssues(result.error.issues, []);
  const stored = options.stored ?? false;
  checkNeeds(checker);
  checkJobs(checker, stored);
  checkTriggers(checker, stored);
  checkExpressions(checker, stored);
  checkDelivery(checker, stored);
  checkSlos(checker);
  checkExperiments(checker);
  checkSecurity(checker);
  if (result.success && !stored)
    for (const problem of unreachableAutoDeploys(result.data)) checker.report(checker.keyOffset(problem.path), problem.message);
  const diagnostics = checker.diagnostics(file);
  return { config: result.success && diagnostics.length === 0 ? result.data : null, diagnostics };
}

/** A YAML text as a document with positions and its plain values, or its syntax problems. */
function parseYaml(text: string, file: string): { doc: Document; lineCounter: LineCounter; raw: unknown } | { diagnostics: Diagnostic[] } {
  const lineCounter = new LineCounter();
  // Merge keys (`<<: *defaults`) are YAML 1.1, but CI users (GitLab's especially) rely on them.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, merge: true });
  if (doc.errors.length > 0) {
    // A broken document yields a partial tree; schema errors on it would only be noise.
    const syntax = new Checker(text, doc, lineCounter, undefined);
    for (const error of doc.errors) syntax.report(error.pos[0], `invalid YAML: ${yamlMessage(error.code, error.message)}`);
    return { diagnostics: syntax.diagnostics(file) };
  }
  try {
    return { doc, lineCounter, raw: doc.toJS({ maxAliasCount: 1000 }) };
  } catch (error) {
    // An alias to an undefined anchor, or an alias bomb.
    const syntax = new Checker(text, doc, lineCounter, undefined);
    syntax.report(0, `invalid YAML: ${(error as Error).message}`);
    return { diagnostics: syntax.diagnostics(file) };
  }
}

/** What an experiment file may name, from the gantry.yaml beside it. */
export interface ExperimentFileContext {
  environments: readonly string[];
  slos: readonly string[];
  /** Whether gantry.yaml gives the service a `tmp-size` (a disk-full fault needs one). */
  tmpSize?: boolean;
}

/** An experiment file's experiments, each with the line and column of its name. */
export interface ExperimentFileResult {
  experiments: ExperimentConfig[] | null;
  /** Where each experiment's name is written. */
  places: Record<string, { line: number; col: number }>;
  diagnostics: Diagnostic[];
}

const experimentFileSchema = z.strictObject({ experiments: experimentsSchema }, { error: 'expected a map with experiments' });

/**
 * Validates one `.gantry/experiments/*.yaml` file: the same `experiments:` map as gantry.yaml's,
 * with positions and did-you-mean in the file's own name; the environments and SLOs it names
 * must be declared in the gantry.yaml beside it (`context`).
 */
export function validateExperimentFile(text: string, file: string, context: ExperimentFileContext): ExperimentFileResult {
  const places: ExperimentFileResult['places'] = {};
  const parsed = parseYaml(text, file);
  if ('diagnostics' in parsed) return { experiments: null, places, diagnostics: parsed.diagnostics };
  const { doc, lineCounter, raw } = parsed;
  // The cross-section checks read the declared environments, SLOs and tmp-size as if they were in this file.
  const declared = Object.fromEntries(context.environments.map((e) => [e, {}]));
  const slos = Object.fromEntries(context.slos.map((e) => [e, {}]));
  const service = context.tmpSize === true ? { 'tmp-size': 'declared in gantry.yaml' } : {};
  const checker = new Checker(text, doc, lineCounter, isObject(raw) ? { ...raw, environments: declared, slos, service } : raw);
  const result = experimentFileSchema.safeParse(raw, { error: configErrorMap, reportInput: true });
  if (!result.success) checker.schemaIssues(result.error.issues, []);
  checkExperiments(checker);
  const experiments = checker.rawAt(['experiments']);
  if (isObject(experiments))
    for (const name of Object.keys(experiments)) places[name] = lineCounter.linePos(checker.keyOffset(['experiments', name]));
  const diagnostics = checker.diagnostics(file);
  return { experiments: result.success && diagnostics.length === 0 ? result.data.experiments : null, places, diagnostics };
}

/** Where each experiment of a gantry.yaml text is named (for messages about duplicates); empty when it does not parse. */
export function experimentPlaces(text: string): Record<string, { line: number; col: number }> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, merge: true });
  const out: Record<string, { line: number; col: number }> = {};
  const section = doc.get('experiments', true);
  if (!isMap(section)) return out;
  for (const item of section.items)
    if (isScalar(item.key) && item.key.range) out[String(item.key.value)] = lineCounter.linePos(item.key.range[0]);
  return out;
}

/**
 * Reads FILE, or gantry.yaml / gantry.yml in a directory (default: the current one).
 * Throws InputError when there is no file (saying how to create one), InvalidConfigError when invalid.
 */
export async function loadConfigFile(pathOrDir = '.'): Promise<{ config: GantryConfig; text: string; file: string }> {
  const info = await stat(pathOrDir).catch(() => null);
  if (info === null) throw new InputError(`${pathOrDir} does not exist: run 'gantry init' to create a gantry.yaml`);
  let file = pathOrDir;
  if (info.isDirectory()) {
    const found = await firstFile(CONFIG_FILE_NAMES.map((name) => join(pathOrDir, name)));
    if (found === undefined) throw new InputError(`no gantry.yaml in ${pathOrDir}: run 'gantry init' to create one`);
    file = found;
  }
  const text = await readFile(file, 'utf8');
  return { config: parseConfig(text, file), text, file };
}

async function firstFile(candidates: string[]): Promise<string | undefined> {
  for (const candidate of candidates) {
    const info = await stat(candidate).catch(() => null);
    if (info?.isFile() === true) return candidate;
  }
  return undefined;
}

function yamlMessage(code: string, message: string): string {
  if (code === 'MULTIPLE_DOCS') return "the file must hold one YAML document (remove the second '---')";
  if (code === 'DUPLICATE_KEY') return 'this key appears twice in the same map';
  return message.charAt(0).toLowerCase() + message.slice(1);
}

// ---------------------------------------------------------------- positions

type Path = readonly (string | number)[];

interface Located {
  /** The node at the end of the path, or the deepest one found when the path does not exist. */
  node: Node | null;
  /** The key naming that node when it is a map value. */
  key: Node | null;
  found: boolean;
}

/** Collects diagnostics against the YAML document, mapping value paths to source offsets. */
class Checker {
  readonly text: string;
  readonly doc: Document;
  readonly lineCounter: LineCounter;
  /** The document as plain values, which the checks after the schema read defensively. */
  readonly raw: unknown;
  private readonly problems: { offset: number; message: string }[] = [];

  constructor(text: string, doc: Document, lineCounter: LineCounter, raw: unknown) {
    this.text = text;
    this.doc = doc;
    this.lineCounter = lineCounter;
    this.raw = raw;
  }

  report(offset: number, message: string): void {
    this.problems.push({ offset, message });
  }

  diagnostics(file: string): Diagnostic[] {
    const seen = new Set<string>();
    const out: Diagnostic[] = [];
    for (const { offset, message } of this.problems) {
      const { line, col } = this.lineCounter.linePos(Math.min(Math.max(offset, 0), this.text.length));
      const key = `${line}:${col}:${message}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ file, line, col, message });
    }
    return out.sort((a, b) => a.line - b.line || a.col - b.col || a.message.localeCompare(b.message));
  }

  locate(path: Path): Located {
    let node: unknown = this.doc.contents;
    let key: Node | null = null;
    for (const segment of path) {
      if (isAlias(node)) node = node.resolve(this.doc) ?? null;
      if (isMap(node)) {
        const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(segment));
        if (pair === undefined) return { node: node as Node, key, found: false };
        key = pair.key as Node;
        node = pair.value;
      } else if (isSeq(node) && typeof segment === 'number' && segment < node.items.length) {
        key = null;
        node = node.items[segment];
      } else {
        return { node: (node as Node | null) ?? null, key, found: false };
      }
    }
    return { node: (node as Node | null) ?? null, key, found: true };
  }

  /** Where a value starts; an empty value (`steps:`) points at its key instead. */
  valueOffset(path: Path): number {
    const { node, key } = this.locate(path);
    const empty = node === null || (isScalar(node) && node.value === null && node.range?.[0] === node.range?.[1]);
    if (empty || node?.range === undefined || node.range === null) return startOf(key) ?? startOf(node) ?? 0;
    return node.range[0];
  }

  /** Where character `at` of a string value is in the source (escapes and folding followed). */
  charOffset(path: Path, at: number): number {
    const { node } = this.locate(path);
    return isScalar(node) ? scalarSourceOffset(node, this.text, at) : this.valueOffset(path);
  }

  /** Where the key naming a value starts (a list item: where the item starts). */
  keyOffset(path: Path): number {
    const { node, key, found } = this.locate(path);
    if (!found) return this.keyOffset(path.slice(0, -1));
    return startOf(key) ?? startOf(node) ?? 0;
  }

  /** The raw value at a path (undefined when absent). */
  rawAt(path: Path): unknown {
    let value = this.raw;
    for (const segment of path) {
      if (!isObject(value) && !Array.isArray(value)) return undefined;
      value = (value as Record<string | number, unknown>)[segment];
    }
    return value;
  }

  schemaIssues(issues: readonly z.core.$ZodIssue[], base: Path): void {
    const suggestedKeys = new Set<string>();
    const missing: { path: Path; key: string }[] = [];
    for (const issue of issues) this.schemaIssue(issue, base, suggestedKeys, missing);
    for (const { path, key } of missing) {
      // "unknown key 'rnu' (did you mean 'run'?)" already says it; "missing 'run'" would repeat it.
      if (suggestedKeys.has(`${path.join('\0')}\0${key}`)) continue;
      this.report(this.keyOffset(path), `missing required key '${key}' ${contextLabel(path)}`);
    }
  }

  private schemaIssue(issue: z.core.$ZodIssue, base: Path, suggested: Set<string>, missing: { path: Path; key: string }[]): void {
    const path = [...base, ...issue.path.map((segment) => (typeof segment === 'symbol' ? String(segment) : segment))];
    const last = path.at(-1);
    const parent = this.rawAt(path.slice(0, -1));
    if (
      typeof last === 'string' &&
      isObject(parent) &&
      !Object.hasOwn(parent, last) &&
      (issue.code === 'invalid_type' || issue.code === 'invalid_union')
    ) {
      missing.push({ path: path.slice(0, -1), key: last });
      return;
    }
    switch (issue.code) {
      case 'invalid_union': {
        const branch = matchingBranch(issue.errors);
        if (branch !== undefined) {
          for (const inner of branch) this.schemaIssue(inner, path, suggested, missing);
          return;
        }
        break;
      }
      case 'unrecognized_keys':
        for (const key of issue.keys) {
          const suggestion = closestName(key, knownKeys(path));
          if (suggestion !== undefined) suggested.add(`${path.join('\0')}\0${suggestion}`);
          const hint = suggestion === undefined ? '' : ` (did you mean '${suggestion}'?)`;
          this.report(this.keyOffset([...path, key]), `unknown key '${key}' ${contextLabel(path)}${hint}`);
        }
        return;
      case 'invalid_key':
        this.report(this.keyOffset(path), issue.issues[0]?.message ?? issue.message);
        return;
      case 'custom':
        // A problem with a key itself (`latency-99`, a percentile checked twice): at the key, which the message names.
        if ((issue.params as { at?: unknown } | undefined)?.at === 'key') {
          this.report(this.keyOffset(path), issue.message);
          return;
        }
        break;
      case 'invalid_type':
        if (path.length === 0 && (this.raw === null || this.raw === undefined)) {
          this.report(0, "the file is empty: it needs a pipeline with at least one job (run 'gantry init' for a starter)");
          return;
        }
        break;
      default:
        break;
    }
    this.report(this.valueOffset(path), path.length === 0 ? issue.message : `${describePath(path)}: ${issue.message}`);
  }
}

function startOf(node: Node | null | undefined): number | undefined {
  return node?.range?.[0];
}

/**
 * In a failed union, the branch that accepted the value's type and failed deeper (a map with a
 * misspelt key), so its precise issues are reported instead of "expected A or B".
 */
function matchingBranch(branches: readonly (readonly z.core.$ZodIssue[])[]): readonly z.core.$ZodIssue[] | undefined {
  const typeMatched = branches.filter(
    (issues) =>
      !issues.some((i) => i.path.length === 0 && (i.code === 'invalid_type' || i.code === 'invalid_value' || i.code === 'invalid_union')),
  );
  return typeMatched.length === 1 ? typeMatched[0] : undefined;
}

// ---------------------------------------------------------------- naming places in messages

function jobPath(path: Path): string | undefined {
  return path[0] === 'pipeline' && path[1] === 'jobs' && path.length >= 3 ? String(path[2]) : undefined;
}

const FIXED_MAPS: Readonly<Record<string, ConfigMapKind>> = {
  '': 'file',
  pipeline: 'pipeline',
  'pipeline.on': 'on',
  'pipeline.on.push': 'push',
  'pipeline.on.pull_request': 'pullRequest',
  'pipeline.on.manual': 'manual',
  'pipeline.on.webhook': 'webhook',
  'pipeline.concurrency': 'concurrency',
};

/** Which kind of map sits at a path, when it is one with fixed keys. */
function mapKind(path: Path): ConfigMapKind | undefined {
  if (isDeliveryPath(path)) return deliveryMapKind(path);
  if (path[0] === 'slos') return sloPlace(path)?.kind;
  if (path[0] === 'experiments') return experimentPlace(path)?.kind;
  if (path[0] === 'security') return securityPlace(path)?.kind;
  if (jobPath(path) !== undefined) {
    if (path.length === 3) return 'job';
    if (path.length === 5 && path[3] === 'steps' && typeof path[4] === 'number') return 'step';
    if (path.length === 4 && (path[3] === 'matrix' || path[3] === 'cache' || path[3] === 'reports')) return path[3];
    return undefined;
  }
  if (path.length === 5 && path.slice(0, 4).join('.') === 'pipeline.on.manual.inputs') return 'input';
  return FIXED_MAPS[path.join('.')];
}

function knownKeys(path: Path): readonly string[] {
  const kind = mapKind(path);
  return kind === undefined ? [] : KNOWN_KEYS[kind];
}

/** Where a map sits, as a phrase: "in job 'test'", "in step 2 of job 'test'". */
function contextLabel(path: Path): string {
  const delivery = deliveryContextLabel(path) ?? sloPlace(path)?.context ?? experimentPlace(path)?.context ?? securityPlace(path)?.context;
  if (delivery !== undefined) return delivery;
  const kind = mapKind(path);
  const job = jobPath(path);
  if (kind === 'file') return 'at the top level';
  if (kind === 'job') return `in job '${job}'`;
  if (kind === 'step') return `in step ${Number(path[4]) + 1} of job '${job}'`;
  if (kind === 'matrix' || kind === 'cache' || kind === 'reports') return `in the ${kind} of job '${job}'`;
  if (kind === 'input') return `in input '${String(path[4])}'`;
  return `in '${path.join('.')}'`;
}

/** What a value is, as a phrase: "'needs' in job 'test'", "step 3 of job 'test'". */
function describePath(path: Path): string {
  if (path.length === 0) return 'the file';
  const item = deliveryItemName(path);
  if (item !== undefined) return item;
  const last = path.at(-1);
  const parent = path.slice(0, -1);
  const job = jobPath(path);
  if (typeof last === 'number') {
    if (job !== undefined && path.length === 5 && path[3] === 'steps') return `step ${last + 1} of job '${job}'`;
    return `item ${last + 1} of ${describePath(parent)}`;
  }
  if (job !== undefined && path.length === 3) return `job '${job}'`;
  if (mapKind(path) === 'input') return `input '${String(last)}'`;
  return `'${String(last)}' ${contextLabel(parent)}`;
}

// ---------------------------------------------------------------- checks across the file

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Each job's raw map, by id, in file order (job ids cannot look like integers, so order holds). */
function rawJobs(checker: Checker): [string, Record<string, unknown>][] {
  const jobs = checker.rawAt(['pipeline', 'jobs']);
  if (!isObject(jobs)) return [];
  return Object.entries(jobs).filter((entry): entry is [string, Record<string, unknown>] => isObject(entry[1]));
}

function checkNeeds(checker: Checker): void {
  const jobs = rawJobs(checker);
  const ids = jobs.map(([id]) => id);
  const edges = new Map<string, { target: string; path: Path }[]>();
  for (const [id, job] of jobs) {
    const valid: { target: string; path: Path }[] = [];
    for (const { value: target, path } of stringEntries(job.needs, ['pipeline', 'jobs', id, 'needs'])) {
      if (target === id) {
        checker.report(checker.valueOffset(path), `job '${id}' needs itself`);
      } else if (!ids.includes(target)) {
        const others = ids.filter((other) => other !== id);
        checker.report(checker.valueOffset(path), `job '${id}' needs '${target}', which does not exist${didYouMean(target, others)}`);
      } else {
        valid.push({ target, path });
      }
    }
    edges.set(id, valid);
  }
  for (const cycle of findCycles(ids, edges)) {
    const [first, second] = cycle;
    const edge = edges.get(first ?? '')?.find((e) => e.target === second);
    checker.report(edge === undefined ? 0 : checker.valueOffset(edge.path), `needs cycle: ${cycle.join(' → ')}`);
  }
}

/** Cycles found by a depth-first walk, each starting at its job that comes first in the file, closed (a → b → a). */
function findCycles(ids: readonly string[], edges: ReadonlyMap<string, readonly { target: string }[]>): string[][] {
  const state = new Map<string, 'active' | 'done'>();
  const stack: string[] = [];
  const cycles = new Map<string, string[]>();
  const visit = (id: string): void => {
    state.set(id, 'active');
    stack.push(id);
    for (const { target } of edges.get(id) ?? []) {
      const seen = state.get(target);
      if (seen === 'active') {
        const loop = stack.slice(stack.indexOf(target));
        const start = loop.reduce((best, job, index) => (ids.indexOf(job) < ids.indexOf(loop[best] ?? '') ? index : best), 0);
        const rotated = [...loop.slice(start), ...loop.slice(0, start)];
        const closed = [...rotated, rotated[0] ?? ''];
        cycles.set(closed.join('\0'), closed);
      } else if (seen === undefined) {
        visit(target);
      }
    }
    stack.pop();
    state.set(id, 'done');
  };
  for (const id of ids) if (!state.has(id)) visit(id);
  return [...cycles.values()];
}

const MATRIX_OPTIONS: readonly string[] = KNOWN_KEYS.matrix;

function checkJobs(checker: Checker, stored: boolean): void {
  for (const [id, job] of rawJobs(checker)) {
    const jobPathPrefix = ['pipeline', 'jobs', id];
    if (Array.isArray(job.steps)) {
      const firstUse = new Map<string, number>();
      job.steps.forEach((step, index) => {
        if (!isObject(step) || typeof step.id !== 'string') return;
        const earlier = firstUse.get(step.id);
        if (earlier === undefined) {
          firstUse.set(step.id, index);
          return;
        }
        const path = [...jobPathPrefix, 'steps', index, 'id'];
        checker.report(checker.valueOffset(path), `duplicate step id '${step.id}' in job '${id}' (step ${earlier + 1} already uses it)`);
      });
    }
    if (isObject(job.matrix)) {
      const axes = Object.keys(job.matrix).filter((key) => !MATRIX_OPTIONS.includes(key));
      const include = job.matrix.include;
      if (axes.length === 0 && !(Array.isArray(include) && include.length > 0)) {
        checker.report(
          checker.keyOffset([...jobPathPrefix, 'matrix']),
          `the matrix of job '${id}' has no axes and no include: add an axis (name: [values]) or include combinations`,
        );
      }
      if (!stored) checkExcludes(checker, id, job.matrix);
    }
  }
}

/**
 * An `exclude` entry that can match no combination: a key that is no axis (exclude applies to
 * the axes' product, before include adds its keys), or a value the axis does not hold (compared
 * as the plan compares, by type and value: `"20"` is not `20`). Such an entry silently excludes
 * nothing; actionlint refuses it too. Axes or entries computed by `${{ }}` are not judged.
 */
function checkExcludes(checker: Checker, id: string, matrix: Record<string, unknown>): void {
  if (!Array.isArray(matrix.exclude)) return;
  const axes = new Map(
    Object.entries(matrix).filter(([key, values]) => !MATRIX_OPTIONS.includes(key) && Array.isArray(values)) as [string, Value[]][],
  );
  const axisNames = [...axes.keys()];
  for (const [index, entry] of matrix.exclude.entries()) {
    if (!isObject(entry)) continue;
    for (const [key, value] of Object.entries(entry)) {
      const path = ['pipeline', 'jobs', id, 'matrix', 'exclude', index, key];
      const where = `exclude entry ${index + 1} of job '${id}'`;
      const values = axes.get(key);
      if (values === undefined) {
        checker.report(
          checker.keyOffset(path),
          `${where}: '${key}' is no axis of the matrix, so the entry excludes nothing (axes: ${axisNames.join(', ')})${didYouMean(key, axisNames)}`,
        );
        continue;
      }
      if (isComputed(value) || values.some(isComputed) || values.some((v) => valueEquals(v, value as Value))) continue;
      const sameText = values.some((v) => String(v) === String(value));
      const hint = sameText ? ` (${describeType(value)} here, ${describeType(values[0])} in the axis)` : '';
      checker.report(
        checker.valueOffset(path),
        `${where}: ${JSON.stringify(value)} is no value of axis '${key}', so the entry excludes nothing (values: ${values.map((v) => JSON.stringify(v)).join(', ')})${hint}`,
      );
    }
  }
}

/** A matrix value the plan computes (`${{ }}`): what it will be is not known here. */
function isComputed(value: unknown): boolean {
  return typeof value === 'string' && value.includes('${{');
}

function describeType(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'a list' : typeof value === 'object' ? 'a map' : `a ${typeof value}`;
}

// ---------------------------------------------------------------- expressions

interface ExpressionSite {
  path: Path;
  text: string;
  condition: boolean;
}

/** Every string gantry evaluates: conditions, and templates that may hold `${{ }}`. */
function expressionSites(checker: Checker): ExpressionSite[] {
  const sites: ExpressionSite[] = [];
  const template = (value: unknown, path: Path): void => {
    for (const entry of stringEntries(value, path)) sites.push({ path: entry.path, text: entry.value, condition: false });
  };
  const stringMap = (value: unknown, path: Path): void => {
    if (isObject(value))
      for (const [name, text] of Object.entries(value)) template(typeof text === 'string' ? text : undefined, [...path, name]);
  };
  const condition = (value: unknown, path: Path): void => {
    if (typeof value === 'string') sites.push({ path, text: value, condition: true });
  };
  stringMap(checker.rawAt(['pipeline', 'env']), ['pipeline', 'env']);
  const concurrency = checker.rawAt(['pipeline', 'concurrency']);
  if (typeof concurrency === 'string') template(concurrency, ['pipeline', 'concurrency']);
  else if (isObject(concurrency))
    template(typeof concurrency.group === 'string' ? concurrency.group : undefined, ['pipeline', 'concurrency', 'group']);

  for (const [id, job] of rawJobs(checker)) {
    const base = ['pipeline', 'jobs', id];
    condition(job.if, [...base, 'if']);
    stringMap(job.env, [...base, 'env']);
    stringMap(job.outputs, [...base, 'outputs']);
    if (isObject(job.cache)) {
      template(typeof job.cache.key === 'string' ? job.cache.key : undefined, [...base, 'cache', 'key']);
      template(job.cache['restore-keys'], [...base, 'cache', 'restore-keys']);
    }
    if (isObject(job.matrix)) {
      for (const [key, value] of Object.entries(job.matrix)) {
        if (key === 'include' || key === 'exclude') {
          if (Array.isArray(value)) for (const [index, cell] of value.entries()) stringMap(cell, [...base, 'matrix', key, index]);
        } else if (Array.isArray(value)) {
          template(value, [...base, 'matrix', key]);
        }
      }
    }
    if (Array.isArray(job.steps)) {
      job.steps.forEach((step, index) => {
        const stepPath = [...base, 'steps', index];
        if (typeof step === 'string') {
          template(step, stepPath);
        } else if (isObject(step)) {
          template(typeof step.run === 'string' ? step.run : undefined, [...stepPath, 'run']);
          condition(step.if, [...stepPath, 'if']);
          stringMap(step.env, [...stepPath, 'env']);
          // Also evaluated when the step runs (job-runner.ts): its shown name and its directory.
          template(typeof step.name === 'string' ? step.name : undefined, [...stepPath, 'name']);
          const directory = step['working-directory'];
          template(typeof directory === 'string' ? directory : undefined, [...stepPath, 'working-directory']);
        }
      });
    }
  }
  return sites;
}

function checkExpressions(checker: Checker, stored: boolean): void {
  const scopes = referenceScopes(checker);
  for (const site of expressionSites(checker)) {
    const parsed = site.condition ? conditionTrees(site.text) : templateTrees(site.text);
    let problems: ExpressionProblem[] = [];
    if ('problem' in parsed) problems = [parsed.problem];
    else if (!stored && parsed.trees.length > 0) {
      const scope = scopes(site.path);
      problems = parsed.trees.flatMap(({ tree, offset }) =>
        referenceProblems(tree, scope).map((p) => ({ offset: offset + p.offset, message: p.message })),
      );
    }
    for (const problem of problems) {
      checker.report(checker.charOffset(site.path, problem.offset), `invalid expression in ${describePath(site.path)}: ${problem.message}`);
    }
  }
}

interface ExpressionProblem {
  /** Offset inside the string value. */
  offset: number;
  message: string;
}

type ParsedSite = { trees: { tree: Expr; offset: number }[] } | { problem: ExpressionProblem };

function templateTrees(text: string): ParsedSite {
  if (!text.includes('${{')) return { trees: [] };
  const trees: { tree: Expr; offset: number }[] = [];
  try {
    for (const part of splitTemplate(text)) {
      if (part.kind !== 'expr') continue;
      try {
        trees.push({ tree: parseExpression(part.source), offset: part.offset });
      } catch (error) {
        const problem = expressionProblem(error);
        return { problem: { offset: part.offset + problem.offset, message: problem.message } };
      }
    }
    return { trees };
  } catch (error) {
    return { problem: expressionProblem(error) };
  }
}

/** Conditions follow the runtime's rules exactly (bare, or one whole `${{ }}`), hence the runtime's own parser. */
function conditionTrees(text: string): ParsedSite {
  try {
    const parsed = parseCondition(text);
    return { trees: parsed === undefined ? [] : [parsed] };
  } catch (error) {
    return { problem: expressionProblem(error) };
  }
}

/**
 * What an expression can read at each place (expression-references.ts): a job's places see the
 * jobs it needs and its matrix; a step's see the steps before it; the job's outputs see all its
 * steps, its if, env and cache key none (they are evaluated before the first step).
 */
function referenceScopes(checker: Checker): (path: Path) => ReferenceScope {
  const jobs = new Map(rawJobs(checker));
  const declared = checker.rawAt(['pipeline', 'on', 'manual', 'inputs']);
  const inputs = isObject(declared) && Object.keys(declared).length > 0 ? Object.keys(declared) : undefined;
  const outputsOf = (id: string): string[] => {
    const outputs = jobs.get(id)?.outputs;
    return isObject(outputs) ? Object.keys(outputs) : [];
  };
  return (path) => {
    const id = jobPath(path);
    const job = id === undefined ? undefined : jobs.get(id);
    if (id === undefined || job === undefined) return { inputs };
    const needs = new Map(
      stringEntries(job.needs, [])
        .filter(({ value }) => jobs.has(value) && value !== id)
        .map(({ value }) => [value, outputsOf(value)]),
    );
    const matrix = isObject(job.matrix) ? matrixKeys(job.matrix) : null;
    const stepIds = Array.isArray(job.steps)
      ? job.steps.map((step) => (isObject(step) && typeof step.id === 'string' ? step.id : undefined))
      : [];
    const ids = (from: number, to: number) => stepIds.slice(from, to).filter((stepId) => stepId !== undefined);
    const scope: ReferenceScope = { job: id, needs, inputs, ...(path[3] === 'matrix' ? {} : { matrix }) };
    if (path[3] === 'steps' && typeof path[4] === 'number')
      return { ...scope, steps: { before: ids(0, path[4]), after: ids(path[4], stepIds.length) } };
    if (path[3] === 'outputs') return { ...scope, steps: { before: ids(0, stepIds.length), after: [] } };
    return { ...scope, steps: { before: [], after: ids(0, stepIds.length) } };
  };
}

/** A matrix's axes and the keys its include entries add. */
function matrixKeys(matrix: Record<string, unknown>): string[] {
  const keys = new Set(Object.keys(matrix).filter((key) => !MATRIX_OPTIONS.includes(key)));
  if (Array.isArray(matrix.include))
    for (const cell of matrix.include) if (isObject(cell)) for (const key of Object.keys(cell)) keys.add(key);
  return [...keys];
}

function expressionProblem(error: unknown): ExpressionProblem {
  if (!(error instanceof ExpressionError)) throw error;
  // The diagnostic gives the file position, so the expression-relative column would only confuse.
  const message = error.message.replace(` at column ${error.offset + 1}`, '');
  return { offset: error.offset, message };
}

/**
 * The source offset of character `valueOffset` of a scalar's value. Exact for plain and quoted
 * scalars on one line and for block scalars; folded multi-line scalars are aligned line by line.
 */
function scalarSourceOffset(node: Scalar, text: string, valueOffset: number): number {
  const range = node.range;
  if (range === undefined || range === null) return 0;
  const value = String(node.value);
  const segments: { valueStart: number; sources: number[] }[] = [];
  let cursor = 0;
  for (const chunk of sourceChunks(node, text, range[0], range[1])) {
    if (chunk.chars === '') continue;
    const at = value.indexOf(chunk.chars, cursor);
    if (at === -1) break;
    segments.push({ valueStart: at, sources: chunk.sources });
    cursor = at + chunk.chars.length;
  }
  let best = range[0];
  for (const segment of segments) {
    if (valueOffset < segment.valueStart) break;
    const inside = valueOffset - segment.valueStart;
    const last = segment.sources.length - 1;
    best = inside <= last ? (segment.sources[inside] ?? best) : (segment.sources[last] ?? best) + (inside - last);
  }
  return best;
}

interface Chunk {
  /** Value characters this source line contributes. */
  chars: string;
  /** Source offset of each of those characters. */
  sources: number[];
}

/** One chunk per source line of the scalar, with escapes decoded and indentation removed. */
function sourceChunks(node: Scalar, text: string, start: number, end: number): Chunk[] {
  const type = node.type;
  if (type === 'BLOCK_LITERAL' || type === 'BLOCK_FOLDED') return blockChunks(text, start, end);
  const quote = type === 'QUOTE_DOUBLE' || type === 'QUOTE_SINGLE' ? 1 : 0;
  const chunks: Chunk[] = [];
  let lineStart = start + quote;
  const contentEnd = end - quote;
  while (lineStart <= contentEnd) {
    let lineEnd = text.indexOf('\n', lineStart);
    if (lineEnd === -1 || lineEnd > contentEnd) lineEnd = contentEnd;
    let from = lineStart;
    // Continuation lines lose their indentation when folded.
    if (lineStart !== start + quote) while (from < lineEnd && (text[from] === ' ' || text[from] === '\t')) from++;
    chunks.push(decodeLine(text, from, lineEnd, type));
    lineStart = lineEnd + 1;
  }
  return chunks;
}

function decodeLine(text: string, from: number, to: number, type: Scalar['type']): Chunk {
  let chars = '';
  const sources: number[] = [];
  for (let pos = from; pos < to; pos++) {
    const ch = text[pos] ?? '';
    if (type === 'QUOTE_SINGLE' && ch === "'" && text[pos + 1] === "'") {
      chars += "'";
      sources.push(pos);
      pos++;
    } else if (type === 'QUOTE_DOUBLE' && ch === '\\' && pos + 1 >= to) {
      break; // an escaped line break joins the next line without a space
    } else if (type === 'QUOTE_DOUBLE' && ch === '\\') {
      const escaped = text[pos + 1] ?? '';
      const hexDigits = escaped === 'x' ? 2 : escaped === 'u' ? 4 : escaped === 'U' ? 8 : 0;
      const decoded = hexDigits > 0 ? String.fromCodePoint(Number.parseInt(text.slice(pos + 2, pos + 2 + hexDigits), 16) || 0xfffd) : '?';
      for (let i = 0; i < decoded.length; i++) sources.push(pos);
      chars += hexDigits > 0 ? decoded : (ESCAPES[escaped] ?? escaped);
      pos += 1 + hexDigits;
    } else {
      chars += ch;
      sources.push(pos);
    }
  }
  return { chars: chars.trimEnd(), sources: sources.slice(0, chars.trimEnd().length) };
}

const ESCAPES: Readonly<Record<string, string>> = {
  n: '\n',
  t: '\t',
  r: '\r',
  '0': '\0',
  '"': '"',
  '\\': '\\',
  '/': '/',
  ' ': ' ',
  e: '\x1b',
  a: '\x07',
  b: '\b',
  f: '\f',
  v: '\v',
};

/** Block scalars: skip the `|`/`>` header line, strip the indentation of the first content line. */
function blockChunks(text: string, start: number, end: number): Chunk[] {
  const headerEnd = text.indexOf('\n', start);
  if (headerEnd === -1 || headerEnd >= end) return [];
  const lines: { from: number; to: number }[] = [];
  let lineStart = headerEnd + 1;
  while (lineStart < end) {
    let lineEnd = text.indexOf('\n', lineStart);
    if (lineEnd === -1 || lineEnd > end) lineEnd = end;
    lines.push({ from: lineStart, to: lineEnd });
    lineStart = lineEnd + 1;
  }
  const firstContent = lines.find((line) => text.slice(line.from, line.to).trim() !== '');
  if (firstContent === undefined) return [];
  let indent = 0;
  while (text[firstContent.from + indent] === ' ') indent++;
  return lines.map(({ from, to }) => {
    const contentFrom = Math.min(from + indent, to);
    const chars = text.slice(contentFrom, to);
    return { chars, sources: Array.from({ length: chars.length }, (_, i) => contentFrom + i) };
  });
}
