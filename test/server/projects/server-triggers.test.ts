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
  runs: { id: string; status: string; event: { kind: string; sha: string; schedule?: string }; concurrencyGroup: string | null }[];
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
