/**
 * Trigger matching (does this push/schedule/webhook/manual event start the pipeline?) and the
 * plan explanation behind `gantry run --plan`. Pure, so the server's webhook handler, the CLI and
 * tests all give the same answer and the same one-sentence reason.
 */
import type { GantryContext, PipelineConfig, PullRequestAction, TriggerEvent, TriggersConfig, Value } from '../core/types.ts';
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
    case 'pull_request':
      // Unlike pushes, pull requests run only when declared: their code comes from outside.
      if (!on?.pullRequest) return { matched: false, reason: `pull requests do not trigger this pipeline (${describeDeclared(declared)})` };
      return matchPullRequest(on.pullRequest, event);
  }
}

function declaredTriggers(on: TriggersConfig | undefined): string[] {
  if (on === undefined) return [];
  const out: string[] = [];
  if (on.push) out.push('push');
  if (on.pullRequest) out.push('pull_request');
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

/**
 * What a ref is, as GitHub's `ref_type` and `ref_name` say it: a pull request's head ref
 * (`refs/pull/7/head`, GitLab's `refs/merge-requests/7/head`) is named `7/head`, as GitHub names
 * its merge ref `7/merge`.
 */
export function refKind(ref: string): { type: 'branch' | 'tag' | ''; name: string } {
  if (ref.startsWith('refs/heads/')) return { type: 'branch', name: ref.slice('refs/heads/'.length) };
  if (ref.startsWith('refs/tags/')) return { type: 'tag', name: ref.slice('refs/tags/'.length) };
  const pull = /^refs\/(?:pull|merge-requests)\/(\d+\/head)$/.exec(ref);
  return { type: '', name: pull?.[1] ?? ref };
}

/** The `gantry` context of a run: the event's sha and ref, with the ref's kind and short name. */
export function gantryContextOf(event: Pick<TriggerEvent, 'kind' | 'ref' | 'sha' | 'pullRequest'>, runId: string): GantryContext {
  const { type, name } = refKind(event.ref);
  return {
    sha: event.sha,
    ref: event.ref,
    ref_name: name,
    ref_type: type,
    event: event.kind,
    head_ref: event.pullRequest?.headRef ?? '',
    base_ref: event.pullRequest?.baseRef ?? '',
    run_id: runId,
    workspace: '',
  };
}

/**
 * GitHub creates no push event when more than three tags are pushed at once: a `git push --tags`
 * of an imported history must not start a run per tag. Gantry keeps that rule for every push
 * source (git hook, poller).
 */
export const MAX_TAGS_PER_PUSH = 3;

export function tagBurstReason(count: number): string {
  return `${count} tags were pushed at once: as on GitHub, more than ${MAX_TAGS_PER_PUSH} tags pushed together start nothing`;
}

/** The updates of one push: `burst` holds its tags when they are more than MAX_TAGS_PER_PUSH, `kept` the rest. */
export function splitTagBurst<T extends { ref: string }>(updates: readonly T[]): { kept: T[]; burst: T[] } {
  const tags = updates.filter((u) => u.ref.startsWith('refs/tags/'));
  if (tags.length <= MAX_TAGS_PER_PUSH) return { kept: [...updates], burst: [] };
  return { kept: updates.filter((u) => !u.ref.startsWith('refs/tags/')), burst: tags };
}

interface RefFilter {
  /** `branches` or `tags`. */
  key: string;
  include: string[];
  ignore: string[];
  /** How a reason names it: `tags (v*)`, `branches not in branches-ignore (wip/**)`. */
  text: string;
}

function refFilter(key: string, include: string[] = [], ignore: string[] = []): RefFilter | undefined {
  if (include.length === 0 && ignore.length === 0) return undefined;
  const text = include.length > 0 ? `${key} (${include.join(', ')})` : `${key} not in ${key}-ignore (${ignore.join(', ')})`;
  return { key, include, ignore, text };
}

/**
 * GitHub's rules: with only branch filters a tag push starts nothing, with only tag filters a
 * branch push starts nothing, with neither any push does; path filters are not evaluated for tag
 * pushes, and must match too for branch pushes.
 */
function matchPush(push: NonNullable<TriggersConfig['push']>, event: TriggerEvent): TriggerMatch {
  const ref = refKind(event.ref);
  const filters = { branch: refFilter('branches', push.branches, push.branchesIgnore), tag: refFilter('tags', push.tags, push.tagsIgnore) };
  const filtered = filters.branch !== undefined || filters.tag !== undefined;
  let refText = ref.type === '' ? `push to '${event.ref}'` : `push to ${ref.type} '${ref.name}'`;
  if (filtered) {
    const filter = ref.type === '' ? undefined : filters[ref.type];
    if (filter === undefined) {
      const declared = [filters.branch, filters.tag].filter((f) => f !== undefined).map((f) => f.text);
      const only = filters.branch === undefined ? 'a tag' : filters.tag === undefined ? 'a branch' : 'a branch or tag';
      return { matched: false, reason: `${refText} is not ${only} push, and only ${declared.join(' and ')} trigger this pipeline` };
    }
    if (filter.include.length > 0 && !lastMatchWins(ref.name, filter.include)) {
      return { matched: false, reason: `${refText} does not match ${filter.text}` };
    }
    if (filter.ignore.length > 0 && lastMatchWins(ref.name, filter.ignore)) {
      return { matched: false, reason: `${refText} matches ${filter.key}-ignore (${filter.ignore.join(', ')})` };
    }
    refText = `${refText} matches ${filter.text}`;
  }

  if (ref.type === 'tag' && ((push.paths ?? []).length > 0 || (push.pathsIgnore ?? []).length > 0))
    return { matched: true, reason: `${refText}; path filters are not evaluated for tag pushes` };
  return matchPaths(push, event.changedFiles, refText, filtered ? undefined : 'any push triggers this pipeline');
}

/**
 * The path filters of a push or pull request over its changed files. `subject` opens the reason;
 * `unfiltered` ends it when no path filter is set and nothing else was filtered either.
 */
function matchPaths(
  filter: { paths?: string[]; pathsIgnore?: string[] },
  changedFiles: string[] | undefined,
  subject: string,
  unfiltered?: string,
): TriggerMatch {
  const paths = filter.paths ?? [];
  const pathsIgnore = filter.pathsIgnore ?? [];
  if (paths.length === 0 && pathsIgnore.length === 0) return { matched: true, reason: unfiltered ? `${subject}: ${unfiltered}` : subject };
  if (changedFiles === undefined) {
    const list = paths.length > 0 ? paths.join(', ') : `paths-ignore: ${pathsIgnore.join(', ')}`;
    return { matched: true, reason: `${subject}; the changed files are unknown, so the path filter (${list}) is assumed to match` };
  }
  const files = changedFiles;
  if (paths.length > 0) {
    const hit = files.find((file) => lastMatchWins(file, paths));
    return hit === undefined
      ? { matched: false, reason: `${subject}, but none of the ${files.length} changed files match paths (${paths.join(', ')})` }
      : { matched: true, reason: `${subject} and changed file '${hit}' matches paths (${paths.join(', ')})` };
  }
  // paths-ignore: one changed file left out of it is enough.
  const kept = files.find((file) => !lastMatchWins(file, pathsIgnore));
  return kept === undefined
    ? { matched: false, reason: `${subject}, but all ${files.length} changed files match paths-ignore (${pathsIgnore.join(', ')})` }
    : { matched: true, reason: `${subject} and changed file '${kept}' is outside paths-ignore (${pathsIgnore.join(', ')})` };
}

/** The actions GitHub's `pull_request` runs on when `types` is not given. */
export const DEFAULT_PULL_REQUEST_TYPES: readonly PullRequestAction[] = ['opened', 'synchronize', 'reopened'];

/**
 * GitHub's rules for `pull_request`: `types` (default opened, synchronize, reopened) name the
 * actions that run, `branches` filter the base branch, and `paths` the files the pull request
 * changes (against the base branch, from where the two diverged).
 */
function matchPullRequest(filter: NonNullable<TriggersConfig['pullRequest']>, event: TriggerEvent): TriggerMatch {
  const pr = event.pullRequest;
  if (pr === undefined) return { matched: false, reason: 'a pull_request event without its pull request' };
  const types = filter.types ?? DEFAULT_PULL_REQUEST_TYPES;
  let subject = `pull request #${pr.number} (${pr.headRef} into ${pr.baseRef}) ${pr.action === 'synchronize' ? 'got new commits' : `was ${pr.action}`}`;
  if (!types.includes(pr.action))
    return {
      matched: false,
      reason: `${subject}, and only ${types.join(', ')} pull requests trigger this pipeline${filter.types ? '' : ' (the default types)'}`,
    };
  const base = refFilter('branches', filter.branches, filter.branchesIgnore);
  if (base !== undefined) {
    if (base.include.length > 0 && !lastMatchWins(pr.baseRef, base.include))
      return { matched: false, reason: `${subject}, but base branch '${pr.baseRef}' does not match ${base.text}` };
    if (base.ignore.length > 0 && lastMatchWins(pr.baseRef, base.ignore))
      return { matched: false, reason: `${subject}, but base branch '${pr.baseRef}' matches branches-ignore (${base.ignore.join(', ')})` };
    subject = `${subject}; base branch '${pr.baseRef}' matches ${base.text}`;
  }
  return matchPaths(filter, event.changedFiles, subject, base === undefined ? 'any pull request triggers this pipeline' : undefined);
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
  const gantry = gantryContextOf(event, runId ?? '');
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
