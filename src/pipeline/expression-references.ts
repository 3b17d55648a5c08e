/**
 * References in `${{ }}` that can only read nothing: `needs.<job>` of a job not needed,
 * `needs.<job>.outputs.<name>` not declared, `matrix.<axis>` of no axis, `steps.<id>` of no step
 * (or of a later one), `inputs.<name>` not declared, `gantry.<name>` and `job.<name>` that do not
 * exist; and comparisons that never match (`needs.build.result == 'sucess'`). GitHub evaluates
 * such a reference to null, so a typo turns silently into an empty string or a false condition;
 * actionlint refuses them, and so does `gantry validate`. Pure: the caller says what each place
 * of gantry.yaml can see.
 */
import { didYouMean } from '../core/did-you-mean.ts';
import { childrenOf, type Expr } from './expressions/index.ts';

/** What an expression at one place of gantry.yaml can read; an absent field is not checked there. */
export interface ReferenceScope {
  /** The job the place belongs to. */
  job?: string;
  /** The jobs that job needs, each with the outputs it declares. */
  needs?: ReadonlyMap<string, readonly string[]>;
  /** Matrix keys (axes and the keys `include` adds); null when the job has no matrix. */
  matrix?: readonly string[] | null;
  /** Step ids that have run when the place is evaluated, and those of the job's later steps. */
  steps?: { readonly before: readonly string[]; readonly after: readonly string[] };
  /** The pipeline's declared inputs (none declared: any input is accepted, as a string). */
  inputs?: readonly string[];
}

export interface ReferenceProblem {
  /** Where the reference starts in the expression's source. */
  offset: number;
  message: string;
}

/** The properties of the contexts Gantry fills in itself (job-runner's expression context). */
const GANTRY_PROPERTIES = ['sha', 'ref', 'ref_name', 'ref_type', 'event', 'head_ref', 'base_ref', 'run_id', 'workspace'];
const JOB_PROPERTIES = ['status'];
const NEEDS_PROPERTIES = ['result', 'outputs'];
const STEP_PROPERTIES = ['outputs', 'outcome', 'conclusion'];

/** A read like `needs.build.outputs.version`: the context and the names after it, up to the first that is computed. */
interface Reference {
  context: string;
  names: string[];
  offset: number;
}

export function referenceProblems(tree: Expr, scope: ReferenceScope): ReferenceProblem[] {
  const problems: ReferenceProblem[] = [];
  for (const reference of referencesIn(tree)) {
    const message = problemOf(reference, scope);
    if (message !== undefined) problems.push({ offset: reference.offset, message });
  }
  problems.push(...comparisonProblems(tree));
  return problems.sort((a, b) => a.offset - b.offset);
}

const OUTCOMES = ['success', 'failure', 'cancelled', 'skipped'];

/** The values a property can have when Gantry sets it from a fixed set (executor/ports.ts, job-runner.ts, core/types.ts). */
function valuesOf({ context, names }: Reference): readonly string[] | undefined {
  const last = names.at(-1)?.toLowerCase();
  if (context === 'needs' && names.length === 2 && last === 'result') return OUTCOMES;
  if (context === 'steps' && names.length === 2 && (last === 'outcome' || last === 'conclusion')) return OUTCOMES;
  if (context === 'job' && names.length === 1 && last === 'status') return ['success', 'failure', 'cancelled'];
  if (context === 'gantry' && names.length === 1 && last === 'event') return ['push', 'pull_request', 'schedule', 'manual', 'webhook'];
  if (context === 'gantry' && names.length === 1 && last === 'ref_type') return ['branch', 'tag', ''];
  return undefined;
}

/**
 * `needs.build.result == 'sucess'`: a property of a fixed set of values compared with a string
 * outside it never matches (`!=` always does), whatever the run does. Compared case-insensitively,
 * as the evaluator compares strings.
 */
function comparisonProblems(tree: Expr): ReferenceProblem[] {
  const problems: ReferenceProblem[] = [];
  const visit = (node: Expr): void => {
    if (node.kind === 'compare' && (node.operator === '==' || node.operator === '!=')) {
      for (const [side, other] of [
        [node.left, node.right],
        [node.right, node.left],
      ] as const) {
        const reference = accessChain(side)?.reference;
        const values = reference === undefined ? undefined : valuesOf(reference);
        if (reference === undefined || values === undefined || other.kind !== 'literal' || typeof other.value !== 'string') continue;
        if (findName(other.value, values) !== undefined) continue;
        const written = `${reference.context}.${reference.names.join('.')}`;
        problems.push({
          offset: other.offset,
          message: `'${other.value}' is never a value of ${written} (${values.map((v) => (v === '' ? "''" : v)).join(', ')})${didYouMean(other.value, values)}`,
        });
      }
    }
    for (const child of childrenOf(node)) visit(child);
  };
  visit(tree);
  return problems;
}

function problemOf({ context, names }: Reference, scope: ReferenceScope): string | undefined {
  const [first, second, third] = names;
  if (first === undefined) return undefined;
  const written = `${context}.${names.join('.')}`;
  switch (context) {
    case 'gantry':
      return unknownName(first, GANTRY_PROPERTIES, `${written}: the gantry context has no '${first}'`, 'it has');
    case 'job':
      return unknownName(first, JOB_PROPERTIES, `${written}: the job context has no '${first}'`, 'it has');
    case 'inputs':
      if (scope.inputs === undefined) return undefined;
      return unknownName(first, scope.inputs, `${written}: no input '${first}' is declared`, 'declared');
    case 'matrix':
      if (scope.matrix === undefined) return undefined;
      if (scope.matrix === null) return `${written}: job '${scope.job}' has no matrix`;
      return unknownName(first, scope.matrix, `${written}: the matrix of job '${scope.job}' has no '${first}'`, 'its keys');
    case 'needs':
      return needsProblem(written, first, second, third, scope);
    case 'steps':
      return stepsProblem(written, first, second, scope);
    default:
      // env and secrets are filled in at run time (the host, the server's secrets): nothing to check here.
      return undefined;
  }
}

function needsProblem(
  written: string,
  job: string,
  property: string | undefined,
  output: string | undefined,
  scope: ReferenceScope,
): string | undefined {
  if (scope.needs === undefined) return undefined;
  const needed = [...scope.needs.keys()];
  const found = findName(job, needed);
  if (found === undefined) {
    const list = needed.length === 0 ? 'it needs no job' : `its needs: ${needed.join(', ')}`;
    return `${written}: job '${scope.job}' does not need '${job}' (${list}; a job reads only the jobs it needs)${didYouMean(job, needed)}`;
  }
  if (property === undefined) return undefined;
  const propertyProblem = unknownName(property, NEEDS_PROPERTIES, `${written}: needs.${job} has no '${property}'`, 'it has');
  if (propertyProblem !== undefined || output === undefined || property.toLowerCase() !== 'outputs') return propertyProblem;
  const outputs = scope.needs.get(found) ?? [];
  if (outputs.length === 0) return `${written}: job '${found}' declares no outputs (add them under its outputs:)`;
  return unknownName(output, outputs, `${written}: job '${found}' declares no output '${output}'`, 'its outputs');
}

function stepsProblem(written: string, step: string, property: string | undefined, scope: ReferenceScope): string | undefined {
  if (scope.steps === undefined) return undefined;
  const { before, after } = scope.steps;
  if (findName(step, before) === undefined) {
    if (findName(step, after) !== undefined) return `${written}: step '${step}' runs after this place, so it has no result yet`;
    const where = `job '${scope.job}'`;
    if (before.length === 0) return `${written}: no step with id '${step}' runs before this place in ${where}`;
    return `${written}: no step with id '${step}' runs before this place in ${where} (earlier steps with an id: ${before.join(', ')})${didYouMean(step, before)}`;
  }
  if (property === undefined) return undefined;
  return unknownName(property, STEP_PROPERTIES, `${written}: steps.${step} has no '${property}'`, 'it has');
}

/** Context properties match case-insensitively, as the evaluator looks them up. */
function findName(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  return known.find((candidate) => candidate.toLowerCase() === lower);
}

function unknownName(name: string, known: readonly string[], problem: string, listed: string): string | undefined {
  if (findName(name, known) !== undefined) return undefined;
  const hint = didYouMean(name, known);
  return hint === '' ? `${problem} (${listed}: ${known.join(', ')})` : `${problem}${hint}`;
}

/**
 * Every read of a context, longest first: `needs.a.outputs.x` once, not also `needs.a`. Names end
 * at a computed index or a `*` filter; what an index computes is walked for reads of its own.
 */
function referencesIn(tree: Expr): Reference[] {
  const found: Reference[] = [];
  const visit = (node: Expr): void => {
    const chain = accessChain(node);
    if (chain !== undefined) {
      if (chain.reference !== undefined) found.push(chain.reference);
      for (const inner of chain.computed) visit(inner);
      return;
    }
    for (const child of childrenOf(node)) visit(child);
  };
  visit(tree);
  return found;
}

/** For a context or an access into one: the reference, and the index expressions to walk on their own. */
function accessChain(node: Expr): { reference: Reference | undefined; computed: Expr[] } | undefined {
  if (node.kind !== 'context' && node.kind !== 'property' && node.kind !== 'index' && node.kind !== 'wildcard') return undefined;
  const steps: Expr[] = [];
  let base: Expr = node;
  while (base.kind === 'property' || base.kind === 'index' || base.kind === 'wildcard') {
    steps.unshift(base);
    base = base.object;
  }
  const computed: Expr[] = [];
  if (base.kind !== 'context') {
    // `fromJSON(x).a`: not a context read; what it is built from may hold some.
    computed.push(base);
    for (const step of steps) if (step.kind === 'index') computed.push(step.index);
    return { reference: undefined, computed };
  }
  const names: string[] = [];
  let known = true;
  for (const step of steps) {
    if (step.kind === 'index') computed.push(step.index);
    if (!known) continue;
    const name = step.kind === 'property' ? step.name : step.kind === 'index' ? literalName(step.index) : undefined;
    if (name === undefined) known = false;
    else names.push(name);
  }
  return { reference: { context: base.name, names, offset: base.offset }, computed };
}

/** `a['b']` reads `b`, as `a.b` does; other indexes are computed. */
function literalName(index: Expr): string | undefined {
  return index.kind === 'literal' && typeof index.value === 'string' ? index.value : undefined;
}
