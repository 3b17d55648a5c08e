/**
 * The server's own log, end to end: a real server with a project secret runs a job that prints
 * it and a job whose executor fails with it in the error; the server's log destination sees the
 * runs and the failure, never the secret (plain, base64 or URL-encoded) nor the admin token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runJob } from '../../src/executor/index.ts';
import type { RunJob } from '../../src/executor/ports.ts';
import { makeRepo } from '../support/repo.ts';
import { startTestServer, type TestServer, waitForRunEnd } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

const SECRET = 'hunter2/very+secret=@x';

const PIPELINE = `
pipeline:
  jobs:
    leak:
      steps:
        - run: |
            echo "key=\${{ secrets.DEPLOY_KEY }}"
            printf %s "\${{ secrets.DEPLOY_KEY }}" | base64
    boom:
      steps:
        - run: echo never
`;

describe("the server's log", () => {
  let server: TestServer;
  let repo: Awaited<ReturnType<typeof makeRepo>>;
  let written = '';

  // The executor, except that the `boom` job fails the way a buggy executor would: with the secret in its error.
  const leakyRunJob: RunJob = async (spec) => {
    if (spec.job.key !== 'boom') return runJob(spec);
    const value = spec.context.secrets.DEPLOY_KEY ?? '';
    throw new Error(
      `cannot reach https://deploy:${encodeURIComponent(value)}@example.test (token ${value}, basic ${Buffer.from(value).toString('base64')})`,
    );
  };

  beforeAll(async () => {
    server = await startTestServer({
      options: { logLevel: 'debug', logFormat: 'json' },
      start: { runJob: leakyRunJob, logDestination: { write: (line: string) => (written += line) } },
    });
    repo = await makeRepo({ 'gantry.yaml': PIPELINE });
    expect((await server.api('POST', '/api/projects', { path: repo.dir, name: 'shop' })).status).toBe(201);
  });
  afterAll(async () => {
    await server?.cleanup();
    await repo?.cleanup();
  });

  it('carries the runs and the executor failure, with the secret masked everywhere', async () => {
    expect((await server.api('PUT', '/api/projects/shop/secrets/DEPLOY_KEY', { value: SECRET })).status).toBe(200);
    const { body } = await server.api<{ run: { id: string } }>('POST', '/api/projects/shop/runs', {});
    const view = await waitForRunEnd(server, body.run.id);
    expect(view.jobs.find((j) => j.key === 'leak')?.status).toBe('success');
    expect(view.jobs.find((j) => j.key === 'boom')?.status).toBe('failure');
    const jobLog = (await server.api<string>('GET', `/api/runs/${body.run.id}/jobs/leak/log`)).body;
    expect(jobLog).toContain('key=***');

    const entries = await waitFor(
      () => {
        const parsed = written
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line) as Record<string, unknown>);
        return parsed.some((e) => e.msg === 'job finished' && e.jobId === 'leak') ? parsed : undefined;
      },
      { what: 'the job-finished log line' },
    );
    expect(entries[0]).toMatchObject({ level: 'info', component: 'server', msg: 'server listening' });
    expect(entries).toContainEqual(
      expect.objectContaining({ component: 'runs', runId: body.run.id, jobId: 'leak', msg: 'job finished', status: 'success' }),
    );
    const thrown = entries.find((e) => e.msg === 'the executor threw while running a job');
    expect(thrown).toMatchObject({ level: 'warn', component: 'runs', runId: body.run.id, jobId: 'boom' });
    expect((thrown as { err: { message: string } }).err.message).toBe(
      'cannot reach https://deploy:***@example.test (token ***, basic ***)',
    );

    for (const form of [SECRET, Buffer.from(SECRET).toString('base64'), encodeURIComponent(SECRET), server.token])
      expect(written).not.toContain(form);
  });
});
