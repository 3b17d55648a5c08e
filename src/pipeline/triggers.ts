/**
 * Trigger matching (does this push/schedule/webhook/manual event start the pipeline?) and the
 * plan explanation behind `gantry run --plan`. Pure, so the server's webhook handler, the CLI and
 * tests all give the same answer and the same one-sentence reason.
 */
import type { GantryContext, PipelineConfig, TriggerEvent, TriggersConfig, Value } from '../core/types.ts';
import { evaluateCondition } from './expressions/index.ts';
import { lastMatchWins } from './filter-patterns.ts';
import { compilePlan, wholeExpression } from './plan.ts';

export interface TriggerMatch {
  matched: boolean;
  /** One readable sentence, shown by `--plan` and in the server's "why didn't it run?" log. */
  reason: string;
}

/** Does this event trigger the pipeline? Pure. `reason` is one readable sentence. */
export function matchTrigger(on: TriggersConfig | undefined, event: TriggerEvent): TriggerMatch {
  const declared = declaredTriggers(on);
  switch (event.kind) {
    case 'manual':
      return {
        matched: true,
        reason: on?.manual ? 'started by hand' : 'started by hand (manual runs always run, even without an `on.manual` trigger)',
      };
    case 'schedule':
      return matchSchedule(on, event);
    case 'webhook':
      return on?.webhook
        ? { matched: true, reason: 'webhook triggers are declared' }
        : { matched: false, reason: `webhook events do not trigger this pipeline (${describeDeclared(declared)})` };
    case 'push':
      if (declared.length === 0) return { matched: true, reason: 'no triggers are declared, so every push runs' };
      if (!on?.push) return { matched: false, reason: `pushes do not trigger this pipeline (${describeDeclared(declared)})` };
      return matchPush(on.push, event);
  }
}

function declaredTriggers(on: TriggersConfig | undefined): string[] {
  if (on === undefined) return [];
  const out: string[] = [];
  if (on.push) out.push('push');
  if ((on.schedule ?? []).length > 0) out.push('schedule');
  if (on.manual) out.push('manual');
  if (on.webhook) out.push('webhook');
  return out;
}

function describeDeclared(declared: string[]): string {
  return declared.length === 0 ? 'no triggers are declared' : `it declares only ${declared.join(', ')}`;
}

function matchSchedule(on: TriggersConfig | undefined, event: TriggerEvent): TriggerMatch {
  const schedules = on?.schedule ?? [];
  if (schedules.length === 0) return { matched: false, reason: 'no schedule is declared' };
  if (event.schedule === undefined) return { matched: true, reason: 'scheduled run' };
  if (schedules.includes(event.schedule)) return { matched: true, reason: `schedule '${event.schedule}' is declared` };
  return { matched: false, reason: `schedule '${event.schedule}' is not among the declared schedules (${schedules.join(', ')})` };
}

function matchPush(push: NonNullable<TriggersConfig['push']>, event: TriggerEvent): TriggerMatch {
  const branches = push.branches ?? [];
  const ignored = push.branchesIgnore ?? [];
  let branchText = `push to '${event.ref}'`;
  if (branches.length > 0 || ignored.length > 0) {
    const filter = branches.length > 0 ? `branches (${branches.join(', ')})` : `branches not in branches-ignore (${ignored.join(', ')})`;
    if (!event.ref.startsWith('refs/heads/')) {
      return { matched: false, reason: `${branchText} is not a branch push, and only ${filter} trigger this pipeline` };
    }
    const branch = event.ref.slice('refs/heads/'.length);
    branchText = `push to branch '${branch}'`;
    if (branches.length > 0 && !lastMatchWins(branch, branches)) {
      return { matched: false, reason: `${branchText} does not match branches (${branches.join(', ')})` };
    }
    if (ignored.length > 0 && lastMatchWins(branch, ignored)) {
      return { matched: false, reason: `${branchText} matches branches-ignore (${ignored.join(', ')})` };
    }
    branchText = `${branchText} matches ${filter}`;
  }

  const paths = push.paths ?? [];
  const pathsIgnore = push.pathsIgnore ?? [];
  const filtered = branches.length > 0 || ignored.length > 0;
  if (paths.length === 0 && pathsIgnore.length === 0)
    return { matched: true, reason: filtered ? branchText : `${branchText}: any push triggers this pipeline` };
  if (event.changedFiles === undefined) {
    const list = paths.length > 0 ? paths.join(', ') : `paths-ignore: ${pathsIgnore.join(', ')}`;
    return { matched: true, reason: `${branchText}; the changed files are unknown, so the path filter (${list}) is assumed to match` };
  }
  const files = event.changedFiles;
  if (paths.length > 0) {
    const hit = files.find((file) => lastMatchWins(file, paths));
    return hit === undefined
      ? { matched: false, reason: `${branchText}, but none of the ${files.length} changed files match paths (${paths.join(', ')})` }
      : { matched: true, reason: `${branchText} and changed file '${hit}' matches paths (${paths.join(', ')})` };
  }
  // paths-ignore: one changed file left out of it is enough.
  const kept = files.find((file) => !lastMatchWins(file, pathsIgnore));
  return kept === undefined
    ? { matched: false, reason: `${branchText}, but all ${files.length} changed files match paths-ignore (${pathsIgnore.join(', ')})` }
    : { matched: true, reason: `${branchText} and changed file '${kept}' is outside paths-ignore (${pathsIgnore.join(', ')})` };
}

// ---------------------------------------------------------------- plan explanation

/** The answer to "what would this push run?", one verdict and sentence per job instance. */
export interface PlanExplanation {
  triggered: boolean;
  reason: string;
  jobs: { key: string; jobId: string; willRun: 'yes' | 'no' | 'depends'; reason: string }[];
}

/** Contexts whose values are fixed before the run starts, so a condition using only them can be decided now. */
const STATIC_CONTEXTS = new Set(['gantry', 'inputs', 'matrix', 'env']);
/** Functions whose result depends on how other jobs end (or on files), never known at plan time. */
const RUNTIME_FUNCTIONS = new Set(['always', 'failure', 'cancelled', 'hashfiles']);

/**
 * For `gantry run --plan`: which jobs would run for this event and why the others would not.
 * Conditions that only use contexts known before the run (gantry, inputs, matrix, env) are
 * evaluated now; anything that depends on how other jobs end is reported as 'depends'.
 */
export function explainPlan(pipeline: PipelineConfig, event: TriggerEvent, inputs: Record<string, Value>, runId?: string): PlanExplanation {
  const trigger = matchTrigger(pipeline.on, event);
  const gantry: GantryContext = { sha: event.sha, ref: event.ref, event: event.kind, run_id: runId ?? '', workspace: '' };
  const plan = compilePlan(pipeline, { inputs, gantry });
  if (!trigger.matched) {
    return {
      triggered: false,
      reason: trigger.reason,
      jobs: plan.jobs.map((job) => ({ key: job.key, jobId: job.jobId, willRun: 'no', reason: trigger.reason })),
    };
  }

  type Verdict = PlanExplanation['jobs'][number];
  const byJobId = new Map<string, Verdict[]>();
  const jobs: Verdict[] = [];
  for (const job of plan.jobs) {
    const verdict = explainJob(job.config.if, job.needs, byJobId, {
      contexts: { inputs, gantry: { ...gantry }, env: { ...pipeline.env }, matrix: job.matrix ?? {} },
    });
    const entry: Verdict = { key: job.key, jobId: job.jobId, ...verdict };
    jobs.push(entry);
    byJobId.set(job.jobId, [...(byJobId.get(job.jobId) ?? []), entry]);
  }
  return { triggered: true, reason: trigger.reason, jobs };
}

function explainJob(
  condition: string | undefined,
  needs: string[],
  earlier: Map<string, { willRun: 'yes' | 'no' | 'depends' }[]>,
  ctx: { contexts: Record<string, Value> },
): { willRun: 'yes' | 'no' | 'depends'; reason: string } {
  const shown = condition === undefined ? '' : `condition \`${unwrap(condition).trim()}\``;
  if (condition !== undefined) {
    const refs = conditionReferences(condition);
    const runtime = [
      ...[...refs.contexts].filter((name) => !STATIC_CONTEXTS.has(name)),
      ...[...refs.functions].filter((name) => RUNTIME_FUNCTIONS.has(name.toLowerCase())).map((name) => `${name}()`),
    ];
    if (runtime.length > 0) return { willRun: 'depends', reason: `decided at run time: ${shown} uses ${runtime.join(', ')}` };
  }

  // A static condition that is false settles it whatever the needs do; evaluated with no
  // failures, so the implicit success() is true.
  let result: boolean;
  try {
    result = evaluateCondition(condition, ctx);
  } catch (error) {
    return { willRun: 'no', reason: `condition error: ${error instanceof Error ? error.message : String(error)}` };
  }
  if (!result) return { willRun: 'no', reason: `${shown} is false` };

  // With the default success() a job runs only if everything it needs ran.
  for (const need of needs) {
    if ((earlier.get(need) ?? []).some((v) => v.willRun === 'no')) {
      return { willRun: 'no', reason: `needed job '${need}' will not run` };
    }
  }
  for (const need of needs) {
    if ((earlier.get(need) ?? []).some((v) => v.willRun !== 'yes')) {
      return { willRun: 'depends', reason: `decided at run time: needed job '${need}' may be skipped` };
    }
  }
  if (condition === undefined) {
    return { willRun: 'yes', reason: needs.length === 0 ? 'no condition' : 'no condition, and every job it needs runs' };
  }
  return { willRun: 'yes', reason: `${shown} is true` };
}

/** `${{ expr }}` → `expr`; conditions may be written either way. */
function unwrap(condition: string): string {
  try {
    return wholeExpression(condition) ?? condition;
  } catch {
    // Unclosed `${{`: show it as written; evaluating it reports the error.
    return condition;
  }
}

/**
 * The context names and function names an expression refers to, found lexically (string
 * literals skipped, property names after `.` ignored). Lexical on purpose: it needs no knowledge
 * of the parser's tree and a mistake here only changes what `--plan` says, never what runs.
 */
export function conditionReferences(condition: string): { contexts: Set<string>; functions: Set<string> } {
  const src = unwrap(condition);
  const contexts = new Set<string>();
  const functions = new Set<string>();
  const keywords = new Set(['true', 'false', 'null', 'NaN', 'Infinity']);
  let i = 0;
  while (i < src.length) {
    const ch = src[i] as string;
    if (ch === "'") {
      i++;
      while (i < src.length) {
        if (src[i] === "'" && src[i + 1] === "'") i += 2;
        else if (src[i] === "'") break;
        else i++;
      }
      i++;
      continue;
    }
    if (/[A-Za-z_]/.test(ch)) {
      const start = i;
      while (i < src.length && /[A-Za-z0-9_-]/.test(src[i] as string)) i++;
      const word = src.slice(start, i);
      const before = src.slice(0, start).trimEnd();
      if (before.endsWith('.') || keywords.has(word)) continue;
      const after = src.slice(i).trimStart();
      if (after.startsWith('(')) functions.add(word);
      else contexts.add(word);
      continue;
    }
    if (/[0-9]/.test(ch)) {
      // Skip a number literal whole so `1e3` or `0x1f` is not read as an identifier.
      while (i < src.length && /[0-9A-Za-z_.]/.test(src[i] as string)) i++;
      continue;
    }
    i++;
  }
  return { contexts, functions };
}
