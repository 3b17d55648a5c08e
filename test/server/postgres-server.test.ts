/** The whole server on PostgreSQL: a run through the API, then a restart that keeps everything (and finds it by search). */
import { describe, expect, it } from 'vitest';
import { dropPgTestDatabase, pgAvailable, pgTestUrl } from '../support/databases.ts';
import { startTestServer, waitForRunEnd } from '../support/server.ts';
import { makeRepo } from '../support/repo.ts';

describe.skipIf(!pgAvailable())('server on PostgreSQL', () => {
  it('runs a pipeline and keeps its runs across a restart', async () => {
    const url = await pgTestUrl();
    if (!url) return;
    const repo = await makeRepo({
      'gantry.yaml':
        "pipeline:\n  jobs:\n    a: { steps: [{ id: x, run: 'echo \"out=1\" >> $GANTRY_OUTPUT' }], outputs: { out: '${{ steps.x.outputs.out }}' } }\n    b: { needs: a, steps: [echo b] }\n",
    });
    try {
      let server = await startTestServer({ options: { store: url } });
      await server.api('POST', '/api/projects', { path: repo.dir, name: 'pg' });
      const runId = (await server.api<{ run: { id: string } }>('POST', '/api/projects/pg/runs', {})).body.run.id;
      const view = await waitForRunEnd(server, runId);
      expect(view.status).toBe('success');
      expect(view.jobs.map((j) => j.status)).toEqual(['success', 'success']);
      await server.cleanup();
      // Same database, fresh data directory: the runs and events live in PostgreSQL.
      server = await startTestServer({ options: { store: url } });
      const runs = await server.api<{ runs: { id: string; status: string }[] }>('GET', '/api/runs');
      expect(runs.body.runs).toEqual([expect.objectContaining({ id: runId, status: 'success' })]);
      // Search on PostgreSQL (tsvector, GIN): the jobs of the run, found by their commit's prefix.
      const sha = repo.git('rev-parse', 'HEAD').slice(0, 8);
      const found = await server.api<{ results: { link: string }[] }>(
        'GET',
        `/api/search?q=${encodeURIComponent(`commit:${sha} type:job`)}`,
      );
      expect(found.body.results.map((r) => r.link).sort()).toEqual([`/runs/${runId}/jobs/a`, `/runs/${runId}/jobs/b`]);
      await server.cleanup();
    } finally {
      await repo.cleanup();
      await dropPgTestDatabase(url);
    }
  });
});
