/**
 * A new run's jobs start while its commit is checked out. A real server and a real repository
 * whose object store lost a file of the commit (its gantry.yaml is still readable): the checkout
 * fails after the run was accepted.
 */
import { rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, waitForRunEnd, type TestServer } from '../../support/server.ts';
import { makeRepo, type TestRepo } from '../../support/repo.ts';
import { waitFor } from '../../support/wait.ts';

describe('a run whose checkout fails', () => {
  let server: TestServer;
  let repo: TestRepo;

  beforeAll(async () => {
    server = await startTestServer();
    repo = await makeRepo({
      'gantry.yaml': 'pipeline:\n  jobs:\n    build: { steps: [cat data.txt] }\n    lint: { steps: [echo lint] }\n',
      'data.txt': 'a file whose object goes missing\n',
    });
    const blob = repo.git('rev-parse', 'HEAD:data.txt');
    await rm(join(repo.dir, '.git', 'objects', blob.slice(0, 2), blob.slice(2)));
    expect((await server.api('POST', '/api/projects', { path: repo.dir, name: 'broken' })).status).toBe(201);
  });

  afterAll(async () => {
    await server?.cleanup();
    await repo?.cleanup();
  });

  it('ends failed, each job saying why, instead of staying queued', async () => {
    const created = await server.api<{ run: { id: string } }>('POST', '/api/projects/broken/runs', {});
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const view = await waitForRunEnd(server, created.body.run.id, 20_000);
    expect(view.status).toBe('failure');
    for (const job of view.jobs) {
      expect(job.status).toBe('failure');
      expect(job.steps.map((s) => s.status)).toEqual(['skipped']);
    }
    const log = await server.api<string>('GET', `/api/runs/${created.body.run.id}/jobs/build/log`);
    expect(String(log.body), String(log.body)).toMatch(/job setup failed: git .*unable to read .* of data.txt/);
    // Nothing of the failed checkout is left once the server has let go of the run (just after its end is stored).
    const partial = join(server.dataDir, 'runs', created.body.run.id, 'source.partial');
    await waitFor(() => !existsSync(partial), { what: `${partial} to be removed` });
  });
});
