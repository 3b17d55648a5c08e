/** `gantry run --plan`: which jobs would run and why not, without running anything. */
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { git, jobLog, makeRepo, type TestRepo } from '../support/repo.ts';

const PIPELINE = `
pipeline:
  on:
    push:
      branches: [release/*]
      tags: ['v*']
  jobs:
    build:
      steps: [echo build]
    deploy:
      needs: build
      if: gantry.ref == 'refs/heads/main'
      steps: [echo deploy]
    notify:
      needs: build
      if: failure()
      steps: [echo notify]
`;

interface PlanJson {
  triggered: boolean;
  reason: string;
  jobs: Array<{ key: string; jobId: string; willRun: 'yes' | 'no' | 'depends'; reason: string }>;
}

const repos: TestRepo[] = [];
afterEach(async () => {
  await Promise.all(repos.splice(0).map((r) => r.cleanup()));
});

async function repoOn(branch: string): Promise<TestRepo> {
  const repo = await makeRepo({ 'gantry.yaml': PIPELINE });
  repos.push(repo);
  if (branch !== 'main') git(repo.dir, 'checkout', '-q', '-b', branch);
  return repo;
}

describe('gantry run --plan', () => {
  it('names the branch filter when a push to this branch would not start the pipeline', async () => {
    const repo = await repoOn('main');
    const result = await runCli(repo.dir, ['run', '--plan']);

    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/not triggered: .*'main'.*release\/\*/);
    for (const key of ['build', 'deploy', 'notify']) expect(result.stdout).toMatch(new RegExp(`${key}\\s+no\\s`));
    expect(await repo.runIds()).toEqual([]);
  });

  it('--json: yes, no (a false condition) or depends (decided at run time), per job', async () => {
    const repo = await repoOn('release/1.0');
    const result = await runCli(repo.dir, ['run', '--plan', '--json']);

    expect(result.code).toBe(0);
    const plan = JSON.parse(result.stdout) as PlanJson;
    expect(plan.triggered).toBe(true);
    const verdict = Object.fromEntries(plan.jobs.map((j) => [j.key, j]));
    expect(verdict.build?.willRun).toBe('yes');
    expect(verdict.deploy).toMatchObject({ willRun: 'no' });
    expect(verdict.deploy?.reason).toMatch(/gantry\.ref == 'refs\/heads\/main'.*false/);
    expect(verdict.notify?.willRun).toBe('depends');
    expect(await repo.runIds()).toEqual([]);
  });

  it('with --job, shows only that job and what it needs; an unknown --job is a usage error', async () => {
    const repo = await repoOn('release/1.0');
    const result = await runCli(repo.dir, ['run', '--plan', '--json', '--job', 'deploy']);
    expect(result.code).toBe(0);
    const plan = JSON.parse(result.stdout) as PlanJson;
    expect(plan.jobs.map((j) => j.key)).toEqual(['build', 'deploy']);

    const unknown = await runCli(repo.dir, ['run', '--plan', '--job', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^gantry: .*'nope'/);
  });

  it('--ref plans a push of another tag (or branch), one not made yet too; a ref that is neither is a usage error', async () => {
    const repo = await repoOn('main');
    git(repo.dir, 'tag', '-a', 'v1.0.0', '-m', 'release');
    const tagged = JSON.parse((await runCli(repo.dir, ['run', '--plan', '--json', '--ref', 'v1.0.0'])).stdout) as PlanJson;
    expect(tagged).toMatchObject({ triggered: true, reason: "push to tag 'v1.0.0' matches tags (v*)" });

    const future = await runCli(repo.dir, ['run', '--plan', '--ref', 'refs/tags/nightly']);
    expect(future.stdout).toMatch(/^not triggered: push to tag 'nightly' does not match tags \(v\*\)/);

    const unknown = await runCli(repo.dir, ['run', '--plan', '--ref', 'v9']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe(
      "gantry: --ref: no branch or tag 'v9' in this repository; to try one not made yet, write it in full (refs/tags/v9 or refs/heads/v9)\n",
    );
  });

  it('--ref names the ref a local run is for: gantry.ref_name and $GANTRY_REF_TYPE', async () => {
    const repo = await makeRepo({
      'gantry.yaml': 'pipeline:\n  jobs:\n    show:\n      steps:\n        - run: echo "ref ${{ gantry.ref_name }} $GANTRY_REF_TYPE"\n',
    });
    repos.push(repo);
    const result = await runCli(repo.dir, ['run', '--ref', 'refs/tags/v2.0.0', '--json', '--no-sandbox']);
    expect(result.code).toBe(0);
    const [runId] = await repo.runIds();
    expect(await jobLog(repo, runId as string, 'show')).toContain('ref v2.0.0 tag');
  });

  it('--event pull_request plans and runs a pull request of this branch into --base, filtered on base...HEAD', async () => {
    const repo = await makeRepo({
      'gantry.yaml': [
        'pipeline:',
        '  on:',
        "    pull_request: { branches: [main], paths: ['src/**'] }",
        '  jobs:',
        '    check:',
        '      steps:',
        '        - run: echo "${{ gantry.event }} of $GANTRY_HEAD_REF into ${{ gantry.base_ref }}"',
      ].join('\n'),
      'src/app.txt': 'v1',
    });
    repos.push(repo);
    git(repo.dir, 'checkout', '-q', '-b', 'feature');
    await repo.commit({ 'docs/guide.md': 'how to' }, 'docs only');
    const docsOnly = await runCli(repo.dir, ['run', '--plan', '--event', 'pull_request']);
    expect(docsOnly.stdout).toContain(
      "not triggered: pull request #0 (feature into main) was opened; base branch 'main' matches branches (main), but none of the 1 changed files match paths (src/**)",
    );
    await repo.commit({ 'src/app.txt': 'v2' }, 'code');
    const run = await runCli(repo.dir, ['run', '--event', 'pull_request', '--json', '--no-sandbox']);
    expect(run.code).toBe(0);
    const [runId] = await repo.runIds();
    expect(await jobLog(repo, runId as string, 'check')).toContain('pull_request of feature into main');
    const noBase = await runCli(repo.dir, ['run', '--plan', '--event', 'pull_request', '--base', 'develop']);
    expect(noBase.code).toBe(2);
    expect(noBase.stderr.trim()).toBe("gantry: --base: no branch 'develop' in this repository to compare feature with");
  });
});
