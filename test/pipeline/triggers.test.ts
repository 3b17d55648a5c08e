import { describe, expect, it } from 'vitest';
import type { PullRequestAction, TriggerEvent, TriggersConfig } from '../../src/core/types.ts';
import {
  conditionReferences,
  explainPlan,
  gantryContextOf,
  MAX_TAGS_PER_PUSH,
  matchTrigger,
  splitTagBurst,
} from '../../src/pipeline/triggers.ts';
import { pipeline } from './pipeline-fixtures.ts';

function push(ref: string, changedFiles?: string[]): TriggerEvent {
  const event: TriggerEvent = { kind: 'push', ref: ref.startsWith('refs/') ? ref : `refs/heads/${ref}`, sha: 'abc' };
  if (changedFiles !== undefined) event.changedFiles = changedFiles;
  return event;
}

function on(partial: Partial<TriggersConfig>): TriggersConfig {
  return { schedule: [], ...partial };
}

const matched = (t: TriggersConfig, e: TriggerEvent): boolean => matchTrigger(t, e).matched;

describe('matchTrigger: push', () => {
  it('runs every push when no trigger is declared', () => {
    expect(matchTrigger(on({}), push('any/branch'))).toEqual({ matched: true, reason: 'no triggers are declared, so every push runs' });
    expect(matched(on({}), push('refs/tags/v1'))).toBe(true);
  });

  it('matches branches by glob: * stays within a segment, ** crosses /', () => {
    const t = on({ push: { branches: ['main', 'release/*', 'team/**'] } });
    expect(matched(t, push('main'))).toBe(true);
    expect(matched(t, push('release/1.0'))).toBe(true);
    expect(matched(t, push('release/1.0/hotfix'))).toBe(false);
    expect(matched(t, push('team/a/b/c'))).toBe(true);
    expect(matched(t, push('mainline'))).toBe(false);
    expect(matchTrigger(t, push('dev')).reason).toBe("push to branch 'dev' does not match branches (main, release/*, team/**)");
  });

  it('never matches a tag against branch filters', () => {
    const t = on({ push: { branches: ['**'] } });
    const result = matchTrigger(t, push('refs/tags/main'));
    expect(result.matched).toBe(false);
    expect(result.reason).toContain('is not a branch push');
    expect(matched(on({ push: {} }), push('refs/tags/v1'))).toBe(true);
  });

  it('lets the last matching branch pattern decide, with ! excluding', () => {
    const t = on({ push: { branches: ['**', '!wip/**', 'wip/keep'] } });
    expect(matched(t, push('feature/x'))).toBe(true);
    expect(matched(t, push('wip/scratch'))).toBe(false);
    expect(matched(t, push('wip/keep'))).toBe(true);
    const onlyNegative = on({ push: { branches: ['!wip/**'] } });
    expect(matched(onlyNegative, push('main'))).toBe(true);
    expect(matched(onlyNegative, push('wip/x'))).toBe(false);
  });

  it('matches paths when any changed file matches, the last matching pattern deciding', () => {
    const t = on({ push: { paths: ['src/**', '!src/**/*.md', 'src/README.md'] } });
    expect(matched(t, push('main', ['src/lib/a.ts']))).toBe(true);
    expect(matched(t, push('main', ['src/lib/notes.md']))).toBe(false);
    expect(matched(t, push('main', ['src/lib/notes.md', 'src/x.ts']))).toBe(true);
    expect(matched(t, push('main', ['src/README.md']))).toBe(true);
    expect(matched(t, push('main', ['docs/guide.md']))).toBe(false);
    expect(matched(t, push('main', []))).toBe(false);
    expect(matchTrigger(t, push('main', ['src/x.ts'])).reason).toBe(
      "push to branch 'main' and changed file 'src/x.ts' matches paths (src/**, !src/**/*.md, src/README.md)",
    );
  });

  it('matches dotfiles with **', () => {
    expect(matched(on({ push: { paths: ['**/*.yaml'] } }), push('main', ['.gantry/ci.yaml']))).toBe(true);
  });

  it('assumes paths match when the changed files are unknown, and says so', () => {
    const result = matchTrigger(on({ push: { branches: ['main'], paths: ['src/**'] } }), push('main'));
    expect(result.matched).toBe(true);
    expect(result.reason).toBe(
      "push to branch 'main' matches branches (main); the changed files are unknown, so the path filter (src/**) is assumed to match",
    );
  });

  it('requires both branch and path filters to match', () => {
    const t = on({ push: { branches: ['main'], paths: ['src/**'] } });
    expect(matched(t, push('dev', ['src/a.ts']))).toBe(false);
    expect(matched(t, push('main', ['docs/a.md']))).toBe(false);
    expect(matched(t, push('main', ['src/a.ts']))).toBe(true);
  });

  it('does not run pushes when only other triggers are declared', () => {
    const result = matchTrigger(on({ schedule: ['0 3 * * *'], manual: { inputs: {} } }), push('main'));
    expect(result).toEqual({ matched: false, reason: 'pushes do not trigger this pipeline (it declares only schedule, manual)' });
  });
});

// GitHub's documentation of on.push (workflow syntax, "Using filters"): "If you define only
// tags/tags-ignore or only branches/branches-ignore, the workflow won't run for events affecting the
// undefined Git ref. If you define neither tags/tags-ignore or branches/branches-ignore, the workflow
// will run for events affecting either branches or tags." And: "Path filters are not evaluated for
// pushes of tags." Each rule below is one of those sentences.
describe('matchTrigger: tag pushes, by the rules GitHub documents', () => {
  const tag = (name: string, changedFiles?: string[]) => push(`refs/tags/${name}`, changedFiles);

  it('runs branch and tag pushes alike when neither is filtered', () => {
    for (const t of [on({ push: {} }), on({ push: { paths: ['src/**'] } }), on({ push: { pathsIgnore: ['docs/**'] } })]) {
      expect(matched(t, tag('v1'))).toBe(true);
      expect(matched(t, push('main'))).toBe(true);
    }
  });

  it('leaves tag pushes out when only branches are filtered, and branch pushes when only tags are', () => {
    expect(matchTrigger(on({ push: { branches: ['**'] } }), tag('v1')).reason).toBe(
      "push to tag 'v1' is not a branch push, and only branches (**) trigger this pipeline",
    );
    expect(matched(on({ push: { branchesIgnore: ['wip/**'] } }), tag('v1'))).toBe(false);
    expect(matchTrigger(on({ push: { tags: ['v*'] } }), push('main')).reason).toBe(
      "push to branch 'main' is not a tag push, and only tags (v*) trigger this pipeline",
    );
    // tags-ignore defines the tag filter as well: branches stay undefined, so they start nothing.
    expect(matched(on({ push: { tagsIgnore: ['nightly-*'] } }), push('main'))).toBe(false);
    expect(matched(on({ push: { tagsIgnore: ['nightly-*'] } }), tag('v1'))).toBe(true);
  });

  it('filters tags with the same pattern syntax as branches', () => {
    const t = on({ push: { tags: ['v[0-9]+.[0-9]+.[0-9]+', '!v0.*'] } });
    expect(matchTrigger(t, tag('v1.2.3'))).toEqual({
      matched: true,
      reason: "push to tag 'v1.2.3' matches tags (v[0-9]+.[0-9]+.[0-9]+, !v0.*)",
    });
    expect(matched(t, tag('v0.9.1'))).toBe(false);
    expect(matched(t, tag('v1.2'))).toBe(false);
    expect(matched(t, tag('release/v1.2.3'))).toBe(false);
    expect(matchTrigger(on({ push: { tagsIgnore: ['*-rc*'] } }), tag('v2.0.0-rc1')).reason).toBe(
      "push to tag 'v2.0.0-rc1' matches tags-ignore (*-rc*)",
    );
  });

  it('filters both when both are set', () => {
    const t = on({ push: { branches: ['main'], tags: ['v*'] } });
    expect(matched(t, push('main'))).toBe(true);
    expect(matched(t, push('dev'))).toBe(false);
    expect(matched(t, tag('v1'))).toBe(true);
    expect(matched(t, tag('nightly'))).toBe(false);
    expect(matched(t, push('refs/notes/commits'))).toBe(false);
  });

  it('does not evaluate path filters for tag pushes, and does for branch pushes', () => {
    const t = on({ push: { branches: ['main'], tags: ['v*'], paths: ['src/**'] } });
    expect(matchTrigger(t, tag('v1', ['docs/a.md']))).toEqual({
      matched: true,
      reason: "push to tag 'v1' matches tags (v*); path filters are not evaluated for tag pushes",
    });
    expect(matched(t, push('main', ['docs/a.md']))).toBe(false);
    expect(matched(on({ push: { paths: ['src/**'] } }), tag('v1', []))).toBe(true);
    expect(matched(on({ push: { pathsIgnore: ['**'] } }), tag('v1', ['a.txt']))).toBe(true);
  });

  it('starts nothing for more than three tags pushed at once, as GitHub creates no event then', () => {
    const update = (ref: string) => ({ ref, after: 'a1' });
    const three = ['refs/heads/main', 'refs/tags/v1', 'refs/tags/v2', 'refs/tags/v3'].map(update);
    expect(splitTagBurst(three)).toEqual({ kept: three, burst: [] });
    const four = [...three, update('refs/tags/v4')];
    expect(MAX_TAGS_PER_PUSH).toBe(3);
    expect(splitTagBurst(four)).toEqual({ kept: [update('refs/heads/main')], burst: four.slice(1) });
  });

  it("names the ref's kind and short name as GitHub's ref_type and ref_name do", () => {
    const context = (ref: string) => gantryContextOf({ kind: 'push', ref, sha: 'a1' }, 'r1');
    expect(context('refs/heads/feature/x')).toMatchObject({ ref_name: 'feature/x', ref_type: 'branch' });
    expect(context('refs/tags/v1.2.0')).toMatchObject({ ref: 'refs/tags/v1.2.0', ref_name: 'v1.2.0', ref_type: 'tag' });
    expect(context('refs/notes/commits')).toMatchObject({ ref_name: 'refs/notes/commits', ref_type: '' });
  });
});

// GitHub's documentation of `on.pull_request`: "By default, a workflow only runs when a
// pull_request event's activity type is opened, synchronize, or reopened"; "the branches filter
// … evaluate[s] against the base branch"; paths are compared "against the base branch"; and
// a pull request runs only when the workflow declares the event.
describe('matchTrigger: pull requests, by the rules GitHub documents', () => {
  function pr(action: PullRequestAction, base = 'main', changedFiles?: string[]): TriggerEvent {
    return {
      kind: 'pull_request',
      ref: 'refs/pull/7/head',
      sha: 'abc',
      ...(changedFiles ? { changedFiles } : {}),
      pullRequest: { number: 7, action, baseRef: base, headRef: 'feature/x', fork: false },
    };
  }

  it('runs only when declared: not by default, and not for push filters', () => {
    expect(matchTrigger(on({}), pr('opened'))).toEqual({
      matched: false,
      reason: 'pull requests do not trigger this pipeline (no triggers are declared)',
    });
    expect(matchTrigger(on({ push: {} }), pr('opened')).reason).toBe('pull requests do not trigger this pipeline (it declares only push)');
    expect(matchTrigger(on({ pullRequest: {} }), pr('opened'))).toEqual({
      matched: true,
      reason: 'pull request #7 (feature/x into main) was opened: any pull request triggers this pipeline',
    });
  });

  it('runs on opened, synchronize and reopened by default, and on closed only when types says so', () => {
    for (const action of ['opened', 'synchronize', 'reopened'] as const) expect(matched(on({ pullRequest: {} }), pr(action))).toBe(true);
    expect(matchTrigger(on({ pullRequest: {} }), pr('closed')).reason).toBe(
      'pull request #7 (feature/x into main) was closed, and only opened, synchronize, reopened pull requests trigger this pipeline (the default types)',
    );
    const closing = on({ pullRequest: { types: ['closed'] } });
    expect(matched(closing, pr('closed'))).toBe(true);
    expect(matchTrigger(closing, pr('synchronize')).reason).toBe(
      'pull request #7 (feature/x into main) got new commits, and only closed pull requests trigger this pipeline',
    );
  });

  it('filters the base branch, not the source branch', () => {
    const t = on({ pullRequest: { branches: ['main', 'release/**'] } });
    expect(matched(t, pr('opened', 'main'))).toBe(true);
    expect(matched(t, pr('opened', 'release/1.x'))).toBe(true);
    expect(matchTrigger(t, pr('opened', 'dev')).reason).toBe(
      "pull request #7 (feature/x into dev) was opened, but base branch 'dev' does not match branches (main, release/**)",
    );
    // The source branch is feature/x: a filter on it would not match, the base one does.
    expect(matched(on({ pullRequest: { branches: ['feature/*'] } }), pr('opened', 'main'))).toBe(false);
    expect(matchTrigger(on({ pullRequest: { branchesIgnore: ['gh-pages'] } }), pr('opened', 'gh-pages')).reason).toBe(
      "pull request #7 (feature/x into gh-pages) was opened, but base branch 'gh-pages' matches branches-ignore (gh-pages)",
    );
  });

  it('filters the files the pull request changes, with the base branch filter', () => {
    const t = on({ pullRequest: { branches: ['main'], paths: ['src/**'] } });
    expect(matchTrigger(t, pr('synchronize', 'main', ['src/a.ts', 'README.md']))).toEqual({
      matched: true,
      reason:
        "pull request #7 (feature/x into main) got new commits; base branch 'main' matches branches (main) and changed file 'src/a.ts' matches paths (src/**)",
    });
    expect(matched(t, pr('synchronize', 'main', ['docs/a.md']))).toBe(false);
    expect(matched(on({ pullRequest: { pathsIgnore: ['docs/**'] } }), pr('opened', 'main', ['docs/a.md']))).toBe(false);
    expect(matchTrigger(t, pr('opened', 'main')).reason).toContain(
      'the changed files are unknown, so the path filter (src/**) is assumed to match',
    );
  });

  it("names the pull request's branches as GitHub's head_ref and base_ref, and its ref N/head", () => {
    expect(gantryContextOf(pr('opened', 'main'), 'r1')).toMatchObject({
      event: 'pull_request',
      ref: 'refs/pull/7/head',
      ref_name: '7/head',
      ref_type: '',
      head_ref: 'feature/x',
      base_ref: 'main',
    });
    expect(gantryContextOf({ kind: 'push', ref: 'refs/merge-requests/12/head', sha: 'a' }, 'r1').ref_name).toBe('12/head');
    expect(gantryContextOf(push('main'), 'r1')).toMatchObject({ head_ref: '', base_ref: '' });
  });
});

describe('matchTrigger: other kinds', () => {
  const base = { ref: 'refs/heads/main', sha: 'abc' };

  it('always runs manual events', () => {
    expect(matchTrigger(on({ push: { branches: ['x'] } }), { ...base, kind: 'manual' }).matched).toBe(true);
    expect(matchTrigger(on({ manual: { inputs: {} } }), { ...base, kind: 'manual' }).reason).toBe('started by hand');
  });

  it('runs schedule events only for declared schedules', () => {
    const t = on({ schedule: ['0 3 * * *'] });
    expect(matchTrigger(t, { ...base, kind: 'schedule', schedule: '0 3 * * *' }).matched).toBe(true);
    expect(matchTrigger(t, { ...base, kind: 'schedule', schedule: '0 4 * * *' }).matched).toBe(false);
    expect(matchTrigger(on({}), { ...base, kind: 'schedule', schedule: '0 3 * * *' })).toEqual({
      matched: false,
      reason: 'no schedule is declared',
    });
  });

  it('runs webhook events only when declared', () => {
    expect(matchTrigger(on({ webhook: true }), { ...base, kind: 'webhook' }).matched).toBe(true);
    expect(matchTrigger(on({ push: {} }), { ...base, kind: 'webhook' })).toEqual({
      matched: false,
      reason: 'webhook events do not trigger this pipeline (it declares only push)',
    });
  });
});

describe('explainPlan', () => {
  const p = pipeline(
    {
      build: {},
      deploy: { needs: ['build'], if: "gantry.ref == 'refs/heads/main'" },
      notify: { needs: ['deploy'] },
      report: { needs: ['build'], if: 'always()' },
      gate: { needs: ['build'], if: "needs.build.outputs.ok == 'yes'" },
      after_gate: { needs: ['gate'] },
      flagged: { if: '${{ inputs.extra }}' },
      linux_only: { matrix: { axes: { os: ['linux', 'mac'] } }, if: "matrix.os == 'linux'" },
      env_check: { if: "env.STAGE == 'prod' && success()" },
    },
    { env: { STAGE: 'prod' }, on: { push: { branches: ['main', 'dev'] } } },
  );

  it('explains every job as not running when the event does not trigger', () => {
    const explanation = explainPlan(p, push('feature/x'), {});
    expect(explanation.triggered).toBe(false);
    expect(new Set(explanation.jobs.map((j) => j.willRun))).toEqual(new Set(['no']));
    expect(explanation.jobs[0]?.reason).toBe("push to branch 'feature/x' does not match branches (main, dev)");
  });

  it('decides static conditions now and defers run-time ones', () => {
    const explanation = explainPlan(p, push('dev'), { extra: true }, 'run-7');
    expect(explanation.triggered).toBe(true);
    const byKey = Object.fromEntries(explanation.jobs.map((j) => [j.key, [j.willRun, j.reason]]));
    expect(byKey).toEqual({
      build: ['yes', 'no condition'],
      deploy: ['no', "condition `gantry.ref == 'refs/heads/main'` is false"],
      notify: ['no', "needed job 'deploy' will not run"],
      report: ['depends', 'decided at run time: condition `always()` uses always()'],
      gate: ['depends', "decided at run time: condition `needs.build.outputs.ok == 'yes'` uses needs"],
      after_gate: ['depends', "decided at run time: needed job 'gate' may be skipped"],
      flagged: ['yes', 'condition `inputs.extra` is true'],
      'linux_only (linux)': ['yes', "condition `matrix.os == 'linux'` is true"],
      'linux_only (mac)': ['no', "condition `matrix.os == 'linux'` is false"],
      env_check: ['yes', "condition `env.STAGE == 'prod' && success()` is true"],
    });
  });

  it('runs the main-branch chain on main', () => {
    const explanation = explainPlan(p, push('main'), { extra: false });
    const byKey = Object.fromEntries(explanation.jobs.map((j) => [j.key, j.willRun]));
    expect(byKey).toMatchObject({ deploy: 'yes', notify: 'yes', flagged: 'no' });
  });

  it('reports a broken condition as an error that stops the job', () => {
    const explanation = explainPlan(pipeline({ a: { if: 'inputs.x ==' } }), push('main'), {});
    expect(explanation.jobs[0]?.willRun).toBe('no');
    expect(explanation.jobs[0]?.reason).toMatch(/^condition error: /);
  });
});

describe('conditionReferences', () => {
  it('finds contexts and functions, ignoring string literals and property names', () => {
    const refs = conditionReferences("${{ contains(inputs.list, 'needs.x') && github.event.steps == 'it''s always()' && failure() }}");
    expect([...refs.contexts].sort()).toEqual(['github', 'inputs']);
    expect([...refs.functions].sort()).toEqual(['contains', 'failure']);
  });
});
