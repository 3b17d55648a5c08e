/**
 * Checks on `on:` and on the filters that name refs and paths (`on.push`, `on.pull_request`, an environment's
 * `auto`): cron strings that never fire or are not 5 or 6 fields, filter patterns GitHub's syntax
 * cannot mean, a list with its `-ignore` twin, manual inputs whose default is not among their
 * options or of their type. They read the raw YAML values defensively, so they report alongside
 * the schema's own problems.
 */
import { Cron } from 'croner';
import { type FilterKind, filterPatternProblem } from './filter-patterns.ts';
import { type ConfigCheckSink, type ConfigPath, isObject } from './config-common.ts';

/** A string-or-list field as (value, path) pairs, skipping entries of the wrong type. */
export function stringEntries(value: unknown, path: ConfigPath): { value: string; path: ConfigPath }[] {
  if (typeof value === 'string') return [{ value, path }];
  if (!Array.isArray(value)) return [];
  return value.flatMap((item, index) => (typeof item === 'string' ? [{ value: item, path: [...path, index] }] : []));
}

/**
 * Runs the trigger checks. `stored`: a text an earlier Gantry accepted (a stored run's), which the
 * checks added since must not refuse (ADR 0051).
 */
export function checkTriggers(checker: ConfigCheckSink, stored: boolean): void {
  for (const { value, path } of stringEntries(checker.rawAt(['pipeline', 'on', 'schedule']), ['pipeline', 'on', 'schedule'])) {
    const problem = cronProblem(value);
    if (problem !== undefined) checker.report(checker.valueOffset(path), `invalid cron schedule '${value}': ${problem}`);
  }
  if (!stored) checkFilterPatterns(checker);
  const inputs = checker.rawAt(['pipeline', 'on', 'manual', 'inputs']);
  if (!isObject(inputs)) return;
  for (const [name, input] of Object.entries(inputs)) {
    if (!isObject(input)) continue;
    const path = ['pipeline', 'on', 'manual', 'inputs', name];
    const type = input.type ?? 'string';
    const fallback = input.default;
    if (type === 'choice') {
      const options = Array.isArray(input.options) ? input.options.map(String) : [];
      if (options.length === 0) {
        checker.report(checker.keyOffset(path), `input '${name}' is a choice but has no options: list them under options`);
      } else if (fallback !== undefined && fallback !== null && !options.includes(String(fallback))) {
        const listed = options.map((option) => `'${option}'`).join(', ');
        checker.report(
          checker.valueOffset([...path, 'default']),
          `default '${String(fallback)}' of input '${name}' is not one of its options (${listed})`,
        );
      }
    } else if ((type === 'number' || type === 'boolean') && fallback !== undefined && typeof fallback !== type) {
      checker.report(
        checker.valueOffset([...path, 'default']),
        `default of input '${name}' must be a ${type}, got ${JSON.stringify(fallback)}`,
      );
    }
  }
}

/** Branch, tag and path filters GitHub's syntax cannot mean (filter-patterns.ts), at the character. */
function checkFilterPatterns(checker: ConfigCheckSink): void {
  const push = ['pipeline', 'on', 'push'];
  const pullRequest = ['pipeline', 'on', 'pull_request'];
  for (const [key, kind] of [
    ['branches', 'branch'],
    ['branches-ignore', 'branch'],
    ['tags', 'tag'],
    ['tags-ignore', 'tag'],
    ['paths', 'path'],
    ['paths-ignore', 'path'],
  ] as const) {
    reportFilterProblems(checker, [...push, key], kind);
    if (kind !== 'tag') reportFilterProblems(checker, [...pullRequest, key], kind);
  }
  const environments = checker.rawAt(['environments']);
  for (const name of isObject(environments) ? Object.keys(environments) : []) {
    reportFilterProblems(checker, ['environments', name, 'auto', 'branches'], 'branch');
    reportFilterProblems(checker, ['environments', name, 'auto', 'tags'], 'tag');
  }
  // As on GitHub: a list and its -ignore twin together would leave it unclear which decides.
  for (const [trigger, keys] of [
    [push, ['branches', 'tags', 'paths']],
    [pullRequest, ['branches', 'paths']],
  ] as const) {
    for (const key of keys) {
      if (checker.rawAt([...trigger, key]) !== undefined && checker.rawAt([...trigger, `${key}-ignore`]) !== undefined)
        checker.report(
          checker.keyOffset([...trigger, `${key}-ignore`]),
          `use ${key} or ${key}-ignore, not both: a '!pattern' in ${key} excludes what it matches`,
        );
    }
  }
}

function reportFilterProblems(checker: ConfigCheckSink, path: ConfigPath, kind: FilterKind): void {
  for (const entry of stringEntries(checker.rawAt(path), path)) {
    const problem = filterPatternProblem(entry.value, kind);
    if (problem !== undefined)
      checker.report(checker.charOffset(entry.path, problem.offset), `${kind} filter '${entry.value}': ${problem.message}`);
  }
}

/** Why a cron string is unusable, or undefined. Croner also takes 7 fields and nicknames; Gantry keeps to 5 or 6. */
function cronProblem(pattern: string): string | undefined {
  const fields = pattern
    .trim()
    .split(/\s+/)
    .filter((field) => field !== '').length;
  if (fields !== 5 && fields !== 6) {
    return `expected 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, got ${fields}`;
  }
  try {
    const cron = new Cron(pattern, { paused: true });
    if (cron.nextRun() === null) return 'it never fires';
    return undefined;
  } catch (error) {
    return (error as Error).message.replace(/^CronPattern:\s*/, '');
  }
}
