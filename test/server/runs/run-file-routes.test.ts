import { symlinkSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobArtifactsDir } from '../../../src/engine/run-paths.ts';
import { startTestServer, waitForRunEnd, type TestServer } from '../../support/server.ts';
import { makeRepo } from '../../support/repo.ts';

const REPORT = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="all">
  <testsuite name="math">
    <testcase classname="math" name="adds" time="0.012"/>
    <testcase classname="math" name="pending"><skipped message="later"/></testcase>
    <testcase classname="math" name="divides" time="1.5">
      <failure message="expected 2 to be 3" type="AssertionError">at divide (math.ts:3)</failure>
    </testcase>
  </testsuite>
  <testsuite name="strings">
    <testcase classname="strings" name="trims"/>
    <testcase classname="strings" name="pads"><error message="boom"/></testcase>
  </testsuite>
</testsuites>`;

const PIPELINE = `
pipeline:
  jobs:
    unit:
      matrix: { shard: [1] }
      steps:
        - run: mkdir -p reports out/nested && cp fixtures/report.xml reports/junit.xml
        - run: printf 'hello artifact' > out/nested/app.txt
      reports: { junit: "reports/*.xml" }
      artifacts: [out/**]
    plain:
      steps:
        - run: echo no report && exit 3
`;

interface Tests {
  summary: { passed: number; failed: number; skipped: number } | null;
  cases: { suite: string; classname: string; name: string; status: string; timeMs: number; message?: string; details?: string }[];
}

describe('run file routes', () => {
  let server: TestServer;
  let repo: Awaited<ReturnType<typeof makeRepo>>;
  let runId: string;
  let unitKey: string;

  beforeAll(async () => {
    server = await startTestServer();
    repo = await makeRepo({ 'gantry.yaml': PIPELINE, 'fixtures/report.xml': REPORT });
    expect((await server.api('POST', '/api/projects', { path: repo.dir, name: 'files' })).status).toBe(201);
    const { body } = await server.api<{ run: { id: string } }>('POST', '/api/projects/files/runs', {});
    runId = body.run.id;
    const view = await waitForRunEnd(server, runId);
    expect(view.status).toBe('failure');
    unitKey = view.jobs.find((j) => j.id === 'unit')?.key ?? '';
    expect(unitKey).toMatch(/^unit .*1/);
    // A link planted in the artifact store must not serve what it points to.
    symlinkSync('/etc/hostname', `${jobArtifactsDir(server.dataDir, runId, unitKey)}/out/link.txt`);
  }, 60_000);
  afterAll(async () => {
    await server?.cleanup();
    await repo?.cleanup();
  });

  const jobPath = () => `/api/runs/${runId}/jobs/${encodeURIComponent(unitKey)}`;

  it('serves the saved test cases failing first, then skipped, then passed', async () => {
    const { status, body } = await server.api<Tests>('GET', `${jobPath()}/tests`);
    expect(status).toBe(200);
    expect(body.summary).toEqual({ passed: 2, failed: 2, skipped: 1 });
    expect(body.cases.map((c) => [c.status, `${c.suite} › ${c.name}`])).toEqual([
      ['failed', 'math › divides'],
      ['failed', 'strings › pads'],
      ['skipped', 'math › pending'],
      ['passed', 'math › adds'],
      ['passed', 'strings › trims'],
    ]);
    expect(body.cases[0]).toEqual({
      suite: 'math',
      classname: 'math',
      name: 'divides',
      status: 'failed',
      timeMs: 1500,
      message: 'expected 2 to be 3',
      details: 'at divide (math.ts:3)',
    });
    expect(body.cases[2]?.message).toBe('later');
    expect(body.cases[3]?.timeMs).toBe(12);
  });

  it('answers a job without a report with summary null, and 404 for an unknown job', async () => {
    expect((await server.api<Tests>('GET', `/api/runs/${runId}/jobs/plain/tests`)).body).toEqual({ summary: null, cases: [] });
    const missing = await server.api<{ error: { code: string } }>('GET', `/api/runs/${runId}/jobs/nope/tests`);
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('NOT_FOUND');
  });

  it('lists artifacts with their sizes, and none for a job that saved nothing', async () => {
    const { body } = await server.api<{ files: { path: string; bytes: number }[] }>('GET', `${jobPath()}/artifacts`);
    expect(body.files).toEqual([
      { path: 'out/link.txt', bytes: 0 },
      { path: 'out/nested/app.txt', bytes: 14 },
    ]);
    expect((await server.api('GET', `/api/runs/${runId}/jobs/plain/artifacts`)).body).toEqual({ files: [] });
  });

  it('downloads an artifact as an attachment', async () => {
    const response = await fetch(`${server.url}${jobPath()}/artifacts/out/nested/app.txt`, {
      headers: { authorization: `Bearer ${server.token}` },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/octet-stream');
    expect(response.headers.get('content-disposition')).toMatch(/^attachment; filename="app\.txt"/);
    expect(await response.text()).toBe('hello artifact');
  });

  it('refuses paths escaping the artifact directory, through .. or a link', async () => {
    const get = (rel: string) =>
      fetch(`${server.url}${jobPath()}/artifacts/${rel}`, { headers: { authorization: `Bearer ${server.token}` } });
    for (const rel of [
      '..%2Flog',
      'out%2F..%2F..%2Flog',
      '%2E%2E/%2E%2E/%2E%2E/%2E%2E/%2E%2E/etc/hostname',
      'out/link.txt',
      'out',
      'out/missing.txt',
      '%2Fetc%2Fhostname',
    ]) {
      const response = await get(rel);
      expect(response.status, rel).toBe(404);
      expect(((await response.json()) as { error: { code: string } }).error.code, rel).toBe('NOT_FOUND');
    }
  });

  it('serves the files of a job reused by a rerun of the failed jobs from the run that ran it', async () => {
    const { body } = await server.api<{ run: { id: string } }>('POST', `/api/runs/${runId}/rerun`, { failed: true });
    await waitForRunEnd(server, body.run.id);
    const again = `/api/runs/${body.run.id}/jobs/${encodeURIComponent(unitKey)}`;
    expect((await server.api<Tests>('GET', `${again}/tests`)).body.summary).toEqual({ passed: 2, failed: 2, skipped: 1 });
    const file = await fetch(`${server.url}${again}/artifacts/out/nested/app.txt`, {
      headers: { authorization: `Bearer ${server.token}` },
    });
    expect(await file.text()).toBe('hello artifact');
    // Its log too, whole and paged.
    const log = (await server.api<string>('GET', `${again}/log`)).body;
    expect(log).toContain('cp fixtures/report.xml');
    const page = (await server.api<{ lines: string[]; total: number }>('GET', `${again}/log/lines?from=0&count=100`)).body;
    expect(page.total).toBeGreaterThan(0);
    expect(page.lines.join('\n')).toContain('cp fixtures/report.xml');
  });

  it('refuses without a token', async () => {
    expect((await fetch(`${server.url}${jobPath()}/artifacts/out/nested/app.txt`)).status).toBe(401);
  });
});
