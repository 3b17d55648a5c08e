/** Triggers wired through a real server: polling a URL repository, cron, concurrency groups, live logs. */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestServer, waitForRunEnd, type TestServer } from '../../support/server.ts';
import { waitFor } from '../../support/wait.ts';
import { makeRepo } from '../../support/repo.ts';

interface RunList {
  runs: {
    id: string;
    status: string;
    event: { kind: string; ref: string; sha: string; schedule?: string };
    concurrencyGroup: string | null;
  }[];
}

describe('server triggers', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  let server: TestServer;
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('polls a URL repository and runs new commits', async () => {
    server = await startTestServer({ options: { pollIntervalMs: 200 } });
    cleanups.push(() => server.cleanup());
    const work = await makeRepo({ 'gantry.yaml': 'pipeline:\n  jobs:\n    hello: { steps: [echo polled] }\n' });
    cleanups.push(() => work.cleanup());
    const bareParent = await mkdtemp(join(tmpdir(), 'gantry-bare-'));
    cleanups.push(() => rm(bareParent, { recursive: true, force: true }));
    const bare = join(bareParent, 'remote.git');
    execFileSync('git', ['clone', '-q', '--bare', work.dir, bare]);
    const added = await server.api<{ project: { id: string } }>('POST', '/api/projects', { url: `file://${bare}`, name: 'remote' });
    expect(added.status).toBe(201);
    // The heads at registration are the baseline: a push right after it must start a run.
    const sha = await work.commit({ 'a.txt': 'a' }, 'new');
    execFileSync('git', ['-C', work.dir, 'push', '-q', bare, 'main']);
    await waitFor(
      async () => {
        const { body } = await server.api<RunList>('GET', '/api/runs?project=remote');
        return body.runs.find((r) => r.event.sha === sha);
      },
      { what: 'a run of the pushed commit', timeoutMs: 20_000 },
    );
    const run = (await server.api<RunList>('GET', '/api/runs?project=remote')).body.runs.find((r) => r.event.sha === sha);
    expect(run?.event.kind).toBe('push');
    expect((await waitForRunEnd(server, run!.id)).status).toBe('success');
  });

  it('runs tag pushes by their tag filter, of the commit an annotated tag points to, through the poller and the git hook', async () => {
    const config = [
      'pipeline:',
      '  on:',
      "    push: { tags: ['v*'] }",
      '  jobs:',
      '    release:',
      '      steps:',
      '        - run: echo "release ${{ gantry.ref_name }} $GANTRY_REF_TYPE $GANTRY_REF"',
    ].join('\n');
    const work = await makeRepo({ 'gantry.yaml': config });
    cleanups.push(() => work.cleanup());
    const bareParent = await mkdtemp(join(tmpdir(), 'gantry-bare-'));
    cleanups.push(() => rm(bareParent, { recursive: true, force: true }));
    const bare = join(bareParent, 'tags.git');
    execFileSync('git', ['clone', '-q', '--bare', work.dir, bare]);
    await server.api('POST', '/api/projects', { url: `file://${bare}`, name: 'tagged' });
    await server.api('POST', '/api/projects', { path: work.dir, name: 'tagged-local' });
    const runs = async (project: string) => (await server.api<RunList>('GET', `/api/runs?project=${project}`)).body.runs;
    const ignored = async (project: string) =>
      (
        await server.api<{ events: { data: { reason: string; ref?: string; count?: number } }[] }>(
          'GET',
          `/api/events?type=trigger.ignored&project=${project}`,
        )
      ).body.events;

    // A branch push starts nothing: only tags are filtered.
    const commit = await work.commit({ 'a.txt': 'a' }, 'release me');
    execFileSync('git', ['-C', work.dir, 'push', '-q', bare, 'main']);
    await waitFor(async () => (await ignored('tagged')).some((e) => e.data.ref === 'refs/heads/main'), {
      what: 'the branch push to be ignored',
      timeoutMs: 20_000,
    });
    expect((await ignored('tagged')).find((e) => e.data.ref === 'refs/heads/main')?.data.reason).toBe(
      "push to branch 'main' is not a tag push, and only tags (v*) trigger this pipeline",
    );

    // An annotated tag names a tag object; the run is of its commit. Through the poller (URL project) and the hook (local one).
    work.git('tag', '-a', 'v1.0.0', '-m', 'first release');
    expect(work.git('rev-parse', 'refs/tags/v1.0.0')).not.toBe(commit);
    execFileSync('git', ['-C', work.dir, 'push', '-q', bare, 'v1.0.0']);
    for (const project of ['tagged', 'tagged-local']) {
      const run = await waitFor(async () => (await runs(project)).find((r) => r.event.ref === 'refs/tags/v1.0.0'), {
        what: `a run of the tag in ${project}`,
        timeoutMs: 20_000,
      });
      expect(run.event.sha).toBe(commit);
      expect((await waitForRunEnd(server, run.id)).status).toBe('success');
      const log = await server.api<string>('GET', `/api/runs/${run.id}/jobs/release/log`);
      expect(log.body).toContain('release v1.0.0 tag refs/tags/v1.0.0');
    }
    // A tag of a tree (git allows it) has no commit to run: ignored, with the reason.
    work.git('tag', 'v-tree', 'HEAD^{tree}');
    const treeTag = await waitFor(async () => (await ignored('tagged-local')).find((e) => e.data.ref === 'refs/tags/v-tree'), {
      what: 'the tag of a tree to be ignored',
      timeoutMs: 20_000,
    });
    expect(treeTag.data.reason).toBe("tag 'v-tree' points to no commit");
    work.git('tag', '-d', 'v-tree');
    // The tags below are made one `git tag` (one ref transaction) at a time in the local repository.
    await server.api('DELETE', '/api/projects/tagged-local');

    // Four tags pushed together start nothing, as on GitHub; one tag afterwards runs.
    for (const tag of ['v1.0.1', 'v1.0.2', 'v1.0.3', 'v1.0.4']) work.git('tag', tag);
    execFileSync('git', ['-C', work.dir, 'push', '-q', bare, '--tags']);
    await waitFor(async () => (await ignored('tagged')).some((e) => e.data.count === 4), {
      what: 'the four tags to be ignored',
      timeoutMs: 20_000,
    });
    work.git('tag', 'v2.0.0');
    execFileSync('git', ['-C', work.dir, 'push', '-q', bare, 'v2.0.0']);
    await waitFor(async () => (await runs('tagged')).some((r) => r.event.ref === 'refs/tags/v2.0.0'), {
      what: 'a run of v2.0.0',
      timeoutMs: 20_000,
    });
    expect((await runs('tagged')).map((r) => r.event.ref).sort()).toEqual(['refs/tags/v1.0.0', 'refs/tags/v2.0.0']);
    await server.api('DELETE', '/api/projects/tagged');
  });

  it('records a polled commit with an invalid gantry.yaml once, and a branch without one as ignored, then goes on', async () => {
    const work = await makeRepo({ 'gantry.yaml': 'pipeline:\n  jobs:\n    hello: { steps: [echo ok] }\n' });
    cleanups.push(() => work.cleanup());
    const bareParent = await mkdtemp(join(tmpdir(), 'gantry-bare-'));
    cleanups.push(() => rm(bareParent, { recursive: true, force: true }));
    const bare = join(bareParent, 'flaky.git');
    execFileSync('git', ['clone', '-q', '--bare', work.dir, bare]);
    await server.api('POST', '/api/projects', { url: `file://${bare}`, name: 'flaky' });
    const events = async (type: string) =>
      (
        await server.api<{ events: { data: { sha?: string; ref?: string; reason: string } }[] }>(
          'GET',
          `/api/events?type=${type}&project=flaky`,
        )
      ).body.events;

    const bad = await work.commit({ 'gantry.yaml': 'pipeline:\n  jobs:\n    hello: { stepz: [echo] }\n' }, 'broken');
    execFileSync('git', ['-C', work.dir, 'push', '-q', bare, 'main']);
    await waitFor(async () => (await events('run.rejected')).some((e) => e.data.sha === bad), { what: 'the rejection', timeoutMs: 20_000 });

    // A branch without a gantry.yaml (a gh-pages) has nothing to run: ignored, with the reason.
    work.git('checkout', '-q', '--orphan', 'pages');
    const pages = await work.commit({ 'gantry.yaml': null, 'index.html': '<p>docs</p>' }, 'pages');
    execFileSync('git', ['-C', work.dir, 'push', '-q', bare, 'pages']);
    const ignored = await waitFor(async () => (await events('trigger.ignored')).find((e) => e.data.sha === pages), {
      what: 'the pages branch to be ignored',
      timeoutMs: 20_000,
    });
    expect(ignored.data.reason).toMatch(/has no gantry\.yaml/);

    work.git('checkout', '-q', '-f', 'main');
    const good = await work.commit({ 'gantry.yaml': 'pipeline:\n  jobs:\n    hello: { steps: [echo fixed] }\n' }, 'fixed');
    execFileSync('git', ['-C', work.dir, 'push', '-q', bare, 'main']);
    const run = await waitFor(
      async () => (await server.api<RunList>('GET', '/api/runs?project=flaky')).body.runs.find((r) => r.event.sha === good),
      {
        what: 'a run of the fixed commit',
        timeoutMs: 20_000,
      },
    );
    expect((await waitForRunEnd(server, run.id)).status).toBe('success');
    // Polls ran between the rejection and the fixed commit's run: none offered the broken commit again.
    expect((await events('run.rejected')).filter((e) => e.data.sha === bad)).toHaveLength(1);
    expect((await events('trigger.ignored')).filter((e) => e.data.sha === pages)).toHaveLength(1);
    await server.api('DELETE', '/api/projects/flaky');
  });

  it('runs cron schedules from the default branch', async () => {
    const repo = await makeRepo({
      'gantry.yaml': "pipeline:\n  on:\n    schedule: ['* * * * * *']\n  jobs:\n    nightly: { steps: [echo tick] }\n",
    });
    cleanups.push(() => repo.cleanup());
    await server.api('POST', '/api/projects', { path: repo.dir, name: 'cron' });
    const project = await server.api<{ schedules: { schedule: string; at: string }[] }>('GET', '/api/projects/cron');
    expect(project.body.schedules[0]?.schedule).toBe('* * * * * *');
    const run = await waitFor(
      async () => (await server.api<RunList>('GET', '/api/runs?project=cron')).body.runs.find((r) => r.event.kind === 'schedule'),
      { what: 'a scheduled run', timeoutMs: 10_000 },
    );
    expect(run.event.schedule).toBe('* * * * * *');
    await server.api('DELETE', '/api/projects/cron');
  });

  it('cancels the older run of a concurrency group with cancel-in-progress', async () => {
    const repo = await makeRepo({
      'gantry.yaml': `
pipeline:
  concurrency: { group: "deploy-\${{ gantry.ref }}", cancel-in-progress: true }
  jobs:
    deploy: { steps: ["sleep 30"] }
`,
    });
    cleanups.push(() => repo.cleanup());
    await server.api('POST', '/api/projects', { path: repo.dir, name: 'grouped' });
    const first = (await server.api<{ run: { id: string } }>('POST', '/api/projects/grouped/runs', {})).body.run.id;
    await waitFor(async () => (await server.api<{ status: string }>('GET', `/api/runs/${first}`)).body.status === 'running', {
      what: 'the first run to start',
      timeoutMs: 10_000,
    });
    const second = (await server.api<{ run: { id: string; concurrencyGroup: string } }>('POST', '/api/projects/grouped/runs', {})).body.run;
    expect(second.concurrencyGroup).toBe('deploy-refs/heads/main');
    expect((await waitForRunEnd(server, first)).status).toBe('cancelled');
    await waitFor(async () => (await server.api<{ status: string }>('GET', `/api/runs/${second.id}`)).body.status === 'running', {
      what: 'the second run to start',
      timeoutMs: 10_000,
    });
    await server.api('POST', `/api/runs/${second.id}/cancel`);
    expect((await waitForRunEnd(server, second.id)).status).toBe('cancelled');
  });

  it('runs a concurrency group one run at a time, in order, and cancels a waiting run without starting it', async () => {
    const repo = await makeRepo({
      'gantry.yaml': `
pipeline:
  concurrency: { group: serial }
  jobs:
    work: { steps: ["sleep 1"] }
`,
    });
    cleanups.push(() => repo.cleanup());
    await server.api('POST', '/api/projects', { path: repo.dir, name: 'serial' });
    const trigger = async () => (await server.api<{ run: { id: string } }>('POST', '/api/projects/serial/runs', {})).body.run.id;
    const [first, second, third] = [await trigger(), await trigger(), await trigger()];
    await waitFor(async () => (await server.api<{ status: string }>('GET', `/api/runs/${first}`)).body.status === 'running', {
      what: 'the first run to start',
      timeoutMs: 10_000,
    });
    expect((await server.api<{ status: string }>('GET', `/api/runs/${second}`)).body.status).toBe('queued');
    expect((await server.api<{ status: string }>('GET', `/api/runs/${third}`)).body.status).toBe('queued');
    expect((await server.api('POST', `/api/runs/${third}/cancel`)).status).toBe(200);
    const views = [await waitForRunEnd(server, first), await waitForRunEnd(server, second), await waitForRunEnd(server, third)];
    expect(views.map((v) => v.status)).toEqual(['success', 'success', 'cancelled']);
    const runs = (
      await server.api<{ runs: { id: string; startedAt: string | null; finishedAt: string | null }[] }>('GET', '/api/runs?project=serial')
    ).body.runs;
    const byId = new Map(runs.map((r) => [r.id, r]));
    expect(Date.parse(byId.get(second)!.startedAt!)).toBeGreaterThanOrEqual(Date.parse(byId.get(first)!.finishedAt!));
    expect(byId.get(third)!.startedAt).toBeNull();
  });

  it('streams a job log live while the job writes it', async () => {
    const repo = await makeRepo({
      'gantry.yaml': `
pipeline:
  jobs:
    talk:
      steps:
        - run: for i in 1 2 3; do echo "line $i"; sleep 0.3; done
`,
    });
    cleanups.push(() => repo.cleanup());
    await server.api('POST', '/api/projects', { path: repo.dir, name: 'talker' });
    const runId = (await server.api<{ run: { id: string } }>('POST', '/api/projects/talker/runs', {})).body.run.id;
    const response = await fetch(`${server.url}/api/runs/${runId}/jobs/talk/log?follow=true`, {
      headers: { authorization: `Bearer ${server.token}` },
    });
    const text = await response.text();
    const lines = [...text.matchAll(/event: line\ndata: (.*)\n/g)].map((m) => (JSON.parse(m[1] as string) as { text: string }).text);
    expect(lines.filter((l) => l.startsWith('line '))).toEqual(['line 1', 'line 2', 'line 3']);
    expect(text).toMatch(/event: end\ndata: \{"status":"success"/);
  });
});
