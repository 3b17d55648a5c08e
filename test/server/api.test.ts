import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findJobProcesses } from '../../src/executor/orphans.ts';
import { startTestServer, waitForRunEnd, type RunView, type TestServer } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';
import { makeRepo } from '../support/repo.ts';

const PIPELINE = `
pipeline:
  on:
    push: { branches: [main] }
  jobs:
    build:
      steps:
        - id: v
          run: echo "version=7" >> $GANTRY_OUTPUT
        - run: mkdir -p out && echo built > out/app.txt
      outputs: { version: "\${{ steps.v.outputs.version }}" }
      artifacts: [out/**]
    test:
      needs: build
      steps:
        - run: test "$(cat out/app.txt)" = built && echo "v\${{ needs.build.outputs.version }}"
`;

describe('server API', () => {
  let server: TestServer;
  let repo: Awaited<ReturnType<typeof makeRepo>>;
  let projectId: string;
  let webhookSecret: string;

  beforeAll(async () => {
    server = await startTestServer();
    repo = await makeRepo({ 'gantry.yaml': PIPELINE });
    const added = await server.api<{ project: { id: string }; webhook: { secret: string } }>('POST', '/api/projects', {
      path: repo.dir,
      name: 'shop',
    });
    expect(added.status).toBe(201);
    projectId = added.body.project.id;
    webhookSecret = added.body.webhook.secret;
  });
  afterAll(async () => {
    await server?.cleanup();
    await repo?.cleanup();
  });

  it('answers health without a token and everything else only with one', async () => {
    const health = await fetch(`${server.url}/api/health`);
    expect(health.status).toBe(200);
    for (const path of ['/api/projects', '/api/runs', '/api/openapi.json', '/api/events']) {
      const anonymous = await fetch(`${server.url}${path}`);
      expect(anonymous.status, path).toBe(401);
      expect(((await anonymous.json()) as { error: { code: string } }).error.code).toBe('UNAUTHORIZED');
    }
    const wrong = await fetch(`${server.url}/api/projects`, { headers: { authorization: 'Bearer gnt_wrong' } });
    expect(wrong.status).toBe(401);
  });

  it('serves an OpenAPI document listing its routes', async () => {
    const { status, body } = await server.api<{ openapi: string; paths: Record<string, unknown> }>('GET', '/api/openapi.json');
    expect(status).toBe(200);
    expect(body.openapi).toBe('3.1.0');
    expect(Object.keys(body.paths)).toEqual(
      expect.arrayContaining(['/api/projects/{project}/runs', '/api/runs/{run}/cancel', '/api/runs/{run}/jobs/{job}/log']),
    );
  });

  it('runs a commit of a registered repository through its git hook, with outputs and artifacts between jobs', async () => {
    const sha = await repo.commit({ 'README.md': 'hello\n' }, 'docs');
    const run = await waitFor(
      async () => {
        const { body } = await server.api<{ runs: { id: string; event: { sha: string; kind: string } }[] }>(
          'GET',
          `/api/runs?project=shop`,
        );
        return body.runs.find((r) => r.event.sha === sha);
      },
      { what: 'the hook-triggered run', timeoutMs: 15_000 },
    );
    expect(run.event.kind).toBe('push');
    const view = await waitForRunEnd(server, run.id);
    expect(view.status).toBe('success');
    expect(view.jobs.map((j) => [j.key, j.status])).toEqual([
      ['build', 'success'],
      ['test', 'success'],
    ]);
    expect(view.jobs[0]?.outputs).toEqual({ version: '7' });
    const log = await server.api<string>('GET', `/api/runs/${run.id}/jobs/test/log`);
    expect(log.body).toMatch(/ o v7\n/);
  });

  it('rejects a webhook whose signature does not match, and runs one that does', async () => {
    const sha = repo.git('rev-parse', 'HEAD');
    const payload = JSON.stringify({
      ref: 'refs/heads/main',
      before: '0'.repeat(40),
      after: sha,
      commits: [{ added: [], modified: ['README.md'], removed: [] }],
    });
    const sign = (secret: string) => `sha256=${createHmac('sha256', secret).update(payload).digest('hex')}`;
    const post = (signature: string) =>
      fetch(`${server.url}/api/webhooks/${projectId}`, {
        method: 'POST',
        body: payload,
        headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': signature },
      });
    const before = (await server.api<{ runs: unknown[] }>('GET', '/api/runs')).body.runs.length;
    expect((await post(sign('not-the-secret'))).status).toBe(401);
    expect((await server.api<{ runs: unknown[] }>('GET', '/api/runs')).body.runs.length).toBe(before);
    const accepted = await post(sign(webhookSecret));
    expect(accepted.status).toBe(202);
    const { runId } = (await accepted.json()) as { runId: string };
    expect((await waitForRunEnd(server, runId)).status).toBe('success');
    // Listed without the gantry.yaml it ran, as a run's own view shows it.
    const listed = (await server.api<{ runs: Record<string, unknown>[] }>('GET', '/api/runs')).body.runs.find((r) => r.id === runId);
    expect(listed).toMatchObject({ id: runId, status: 'success', number: expect.any(Number) });
    expect(listed).not.toHaveProperty('configText');
  });

  it('stores secrets encrypted and masks them in logs', async () => {
    const secret = 'hunter2-very-secret';
    expect((await server.api('PUT', `/api/projects/shop/secrets/DEPLOY_KEY`, { value: secret })).status).toBe(200);
    expect((await server.api<{ names: string[] }>('GET', '/api/projects/shop/secrets')).body.names).toEqual(['DEPLOY_KEY']);
    await repo.commit(
      {
        'gantry.yaml': `
pipeline:
  jobs:
    leak:
      steps:
        - run: |
            echo "key=\${{ secrets.DEPLOY_KEY }}"
            printf %s "\${{ secrets.DEPLOY_KEY }}" | base64
`,
      },
      'secret job',
    );
    const { body } = await server.api<{ run: { id: string } }>('POST', '/api/projects/shop/runs', {});
    const view = await waitForRunEnd(server, body.run.id);
    expect(view.status).toBe('success');
    const log = (await server.api<string>('GET', `/api/runs/${body.run.id}/jobs/leak/log`)).body;
    expect(log).toContain('key=***');
    expect(log).not.toContain(secret);
    expect(log).not.toContain(Buffer.from(secret).toString('base64'));
    const database = readFileSync(join(server.dataDir, 'gantry.db'));
    expect(database.includes(Buffer.from(secret))).toBe(false);
  });

  it('cancels a running run and ends its processes', async () => {
    await repo.commit(
      {
        'gantry.yaml': `
pipeline:
  jobs:
    slow:
      steps:
        - run: echo started; sleep 300 & wait
`,
      },
      'slow job',
    );
    const { body } = await server.api<{ run: { id: string } }>('POST', '/api/projects/shop/runs', {});
    const runId = body.run.id;
    await waitFor(async () => (await findJobProcesses(runId, 'slow')).length > 0, { what: 'the job processes', timeoutMs: 15_000 });
    const cancelled = await server.api('POST', `/api/runs/${runId}/cancel`);
    expect(cancelled.status).toBe(200);
    const view = await waitForRunEnd(server, runId);
    expect(view.status).toBe('cancelled');
    expect(view.jobs[0]?.status).toBe('cancelled');
    await waitFor(async () => (await findJobProcesses(runId, 'slow')).length === 0, {
      what: 'the job processes to end',
      timeoutMs: 10_000,
    });
    expect((await server.api('POST', `/api/runs/${runId}/cancel`)).status).toBe(409);
  });

  it('reruns only the failed jobs, reusing the outputs and artifacts of the successful ones', async () => {
    await repo.commit(
      {
        'gantry.yaml': `
pipeline:
  jobs:
    build:
      steps:
        - id: v
          run: echo "stamp=$RANDOM$RANDOM" >> $GANTRY_OUTPUT; mkdir -p out; echo ok > out/a.txt
      outputs: { stamp: "\${{ steps.v.outputs.stamp }}" }
      artifacts: [out/a.txt]
    flaky:
      needs: build
      steps:
        - run: cat out/a.txt; echo "seen-stamp=\${{ needs.build.outputs.stamp }}"; exit 1
`,
      },
      'flaky',
    );
    const first = (await server.api<{ run: { id: string } }>('POST', '/api/projects/shop/runs', {})).body.run.id;
    const failed = await waitForRunEnd(server, first);
    expect(failed.status).toBe('failure');
    const stamp = failed.jobs.find((j) => j.key === 'build')?.outputs.stamp;
    expect(stamp).toMatch(/^\d+$/);
    // A rerun of the failed job must see the very outputs and artifacts of the first run's build.
    const rerun = await server.api<{ run: { id: string } }>('POST', `/api/runs/${first}/rerun`, { failed: true });
    expect(rerun.status).toBe(201);
    const second = await waitForRunEnd(server, rerun.body.run.id);
    expect(second.run.parentRunId).toBe(first);
    const build = second.jobs.find((j) => j.key === 'build');
    expect(build?.status).toBe('success');
    expect(build?.outputs.stamp).toBe(stamp);
    expect(build?.steps.length).toBe(1);
    const flakyLog = (await server.api<string>('GET', `/api/runs/${rerun.body.run.id}/jobs/flaky/log`)).body;
    expect(flakyLog).toMatch(/ o ok\n/); // the reused build's artifact reached the rerun job
    expect(flakyLog).toContain(`seen-stamp=${stamp}`);
  });

  it('streams a run as server-sent events until it ends', async () => {
    await repo.commit(
      {
        'gantry.yaml': `
pipeline:
  jobs:
    a: { steps: [echo a] }
    b: { needs: a, steps: [echo b] }
`,
      },
      'two jobs',
    );
    const { body } = await server.api<{ run: { id: string } }>('POST', '/api/projects/shop/runs', {});
    const response = await fetch(`${server.url}/api/runs/${body.run.id}/stream`, { headers: { authorization: `Bearer ${server.token}` } });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const text = await response.text(); // the server closes the stream when the run ends
    const events = [...text.matchAll(/event: (\w+)\ndata: (.*)\n/g)].map((m) => ({
      event: m[1],
      data: JSON.parse(m[2] as string) as { key?: string; status: string },
    }));
    expect(events.at(-1)).toEqual({ event: 'end', data: { status: 'success' } });
    const bStates = events.filter((e) => e.event === 'job' && e.data.key === 'b').map((e) => e.data.status);
    expect(bStates.at(-1)).toBe('success');
  });

  it('records every state change in the event log', async () => {
    const { body } = await server.api<{
      events: { type: string; subject: string; env: { gantryVersion: string; nodeVersion: string; host: string } }[];
    }>('GET', '/api/events?limit=10000');
    const types = new Set(body.events.map((e) => e.type));
    for (const type of [
      'server.started',
      'project.added',
      'run.created',
      'run.running',
      'job.queued',
      'job.running',
      'job.success',
      'run.success',
      'run.cancel',
      'run.cancelled',
      'secret.set',
    ]) {
      expect(types, type).toContain(type);
    }
    expect(body.events[0]?.env.nodeVersion).toBe(process.version);
  });

  it('explains which jobs would run for a commit before running anything', async () => {
    await repo.commit(
      {
        'gantry.yaml': `
pipeline:
  on:
    push: { branches: [main], paths: ['src/**'] }
  jobs:
    unit: { steps: [echo unit] }
    deploy:
      if: gantry.ref == 'refs/heads/release'
      steps: [echo deploy]
`,
      },
      'plan',
    );
    const runsBefore = (await server.api<{ runs: unknown[] }>('GET', '/api/runs')).body.runs.length;
    const plan = await server.api<{ triggered: boolean; jobs: { key: string; willRun: string; reason: string }[] }>(
      'POST',
      '/api/projects/shop/plan',
      { changedFiles: ['src/a.ts'] },
    );
    expect(plan.body.triggered).toBe(true);
    expect(plan.body.jobs.find((j) => j.key === 'deploy')?.willRun).toBe('no');
    const docsOnly = await server.api<{ triggered: boolean; reason: string }>('POST', '/api/projects/shop/plan', {
      changedFiles: ['README.md'],
    });
    expect(docsOnly.body.triggered).toBe(false);
    expect(docsOnly.body.reason).toMatch(/path/);
    expect((await server.api<{ runs: unknown[] }>('GET', '/api/runs')).body.runs.length).toBe(runsBefore);
  });

  it('refuses a commit whose gantry.yaml reads what it cannot, saying where, before any job starts', async () => {
    await repo.commit(
      {
        'gantry.yaml': `
pipeline:
  jobs:
    build: { outputs: { version: '\${{ steps.meta.outputs.version }}' }, steps: [{ id: meta, run: echo version=1 >> "$GANTRY_OUTPUT" }] }
    deploy: { steps: ['echo \${{ needs.build.outputs.version }}'] }
`,
      },
      'deploy reads build without needing it',
    );
    const runsBefore = (await server.api<{ runs: unknown[] }>('GET', '/api/runs')).body.runs.length;
    const refused = await server.api<{ error: { code: string; message: string } }>('POST', '/api/projects/shop/runs', {});
    expect(refused.status).toBe(422);
    expect(refused.body.error.code).toBe('INVALID_CONFIG');
    expect(refused.body.error.message).toContain(
      "gantry.yaml:5:33: invalid expression in step 1 of job 'deploy': needs.build.outputs.version: job 'deploy' does not need 'build'",
    );
    expect((await server.api<{ runs: unknown[] }>('GET', '/api/runs')).body.runs.length).toBe(runsBefore);
  });

  it('answers unknown things with coded errors', async () => {
    const missing = await server.api<{ error: { code: string } }>('GET', '/api/runs/nope');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('NOT_FOUND');
    const bad = await server.api<{ error: { code: string } }>('POST', '/api/projects', { path: '/definitely/not/here' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('INVALID_INPUT');
  });
});

export type { RunView };
