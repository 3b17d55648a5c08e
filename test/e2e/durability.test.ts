/**
 * kill -9 of a real `gantry up` in the middle of a run, then `gantry up` again on the same data
 * directory: no accepted run is lost, the interrupted job is retried once, queued work runs, and
 * the interrupted job's old processes are gone before its retry starts.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeRepo } from '../support/repo.ts';
import { type GantryUp, startGantryUp } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

// The steps write their marks outside the workspace, so no sandbox.
const ENV = { GANTRY_SANDBOX: 'off', GANTRY_DRAIN_MS: '0' };
const ARGS = ['--parallel', '1'];

async function api<T>(s: GantryUp, method: string, path: string, body?: unknown): Promise<T> {
  return (await s.api<T>(method, path, body)).body;
}

describe('durability across kill -9', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('resumes accepted runs, retries the interrupted job once and never runs it twice at once', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'gantry-durable-'));
    const marks = await mkdtemp(join(tmpdir(), 'gantry-marks-'));
    cleanups.push(
      () => rm(dataDir, { recursive: true, force: true }),
      () => rm(marks, { recursive: true, force: true }),
    );
    const repo = await makeRepo({
      'gantry.yaml': `
pipeline:
  jobs:
    first:
      steps:
        - run: |
            echo "start $GANTRY_RUN_ID $$" >> ${marks}/events
            if mkdir ${marks}/first-attempt 2>/dev/null; then
              while [ ! -e ${marks}/go ]; do sleep 0.05; done
            fi
            echo "end $GANTRY_RUN_ID $$" >> ${marks}/events
    second:
      needs: first
      steps:
        - run: echo "second $GANTRY_RUN_ID" >> ${marks}/events
`,
    });
    cleanups.push(() => repo.cleanup());
    const server = await startGantryUp({ dataDir, env: ENV, args: ARGS });
    cleanups.push(() => server.stop());
    await api(server, 'POST', '/api/projects', { path: repo.dir, name: 'durable' });
    const a = (await api<{ run: { id: string } }>(server, 'POST', '/api/projects/durable/runs', {})).run.id;
    const b = (await api<{ run: { id: string } }>(server, 'POST', '/api/projects/durable/runs', {})).run.id;
    const events = () => (existsSync(join(marks, 'events')) ? readFileSync(join(marks, 'events'), 'utf8') : '');
    await waitFor(() => events().includes(`start ${a}`), { what: 'the first job to start', timeoutMs: 20_000 });

    await server.kill('SIGKILL');
    await server.startServer();
    // The very first attempt waits for the `go` file instead of a fixed time, so it cannot end by
    // itself while the server is down, however slow the machine; every later attempt runs
    // through. Once the retry of A has started, `go` appears: had the first attempt's process
    // outlived the restart, it would now write its end too.
    await waitFor(
      () =>
        events()
          .split('\n')
          .filter((l) => l.startsWith(`start ${a}`)).length >= 2,
      {
        what: 'the retry of the interrupted job to start',
        timeoutMs: 30_000,
      },
    );
    writeFileSync(join(marks, 'go'), '');

    const done = async (id: string) => {
      const view = await api<{ status: string; jobs: { key: string; status: string; attempt: number }[] }>(
        server,
        'GET',
        `/api/runs/${id}`,
      );
      return ['success', 'failure', 'cancelled'].includes(view.status) ? view : undefined;
    };
    const runA = await waitFor(() => done(a), { what: 'run A to end', timeoutMs: 40_000 });
    const runB = await waitFor(() => done(b), { what: 'run B to end', timeoutMs: 40_000 });
    expect(runA.status).toBe('success');
    expect(runB.status).toBe('success');
    expect(runA.jobs.find((j) => j.key === 'first')?.attempt).toBe(2);

    const lines = events().trim().split('\n');
    const starts = lines.filter((l) => l.startsWith(`start ${a}`));
    const ends = lines.filter((l) => l.startsWith(`end ${a}`));
    expect(starts).toHaveLength(2);
    // The first attempt was killed before the retry: only the retry's process wrote its end.
    expect(ends).toHaveLength(1);
    expect(ends[0]?.split(' ')[2]).toBe(starts[1]?.split(' ')[2]);
    expect(lines.filter((l) => l.startsWith(`second ${a}`))).toHaveLength(1);
    expect(lines.filter((l) => l.startsWith(`start ${b}`))).toHaveLength(1);

    const log = await api<{ events: { type: string; subject: string }[] }>(server, 'GET', `/api/events?subject=job:${a}/first&limit=1000`);
    expect(log.events.map((e) => e.type).filter((t) => t === 'job.running')).toHaveLength(2);
    await server.stopServer();
    expect(await readFile(join(dataDir, 'admin.token'), 'utf8')).toMatch(/^gnt_/);
  });

  it('on SIGTERM lets a job run until the drain deadline, then stops it so the next start resumes it', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'gantry-drain-'));
    const marks = await mkdtemp(join(tmpdir(), 'gantry-marks-'));
    cleanups.push(
      () => rm(dataDir, { recursive: true, force: true }),
      () => rm(marks, { recursive: true, force: true }),
    );
    const repo = await makeRepo({
      'gantry.yaml': `
pipeline:
  jobs:
    long:
      steps:
        - run: |
            # Only the first attempt outlasts the drain deadline: the resumed one need not wait.
            if [ -e ${marks}/events ]; then pause=0; else pause=4; fi
            echo "start $$" >> ${marks}/events
            sleep $pause
            echo "end $$" >> ${marks}/events
`,
    });
    cleanups.push(() => repo.cleanup());
    const server = await startGantryUp({ dataDir, env: { ...ENV, GANTRY_DRAIN_MS: '300' }, args: ARGS });
    cleanups.push(() => server.stop());
    await api(server, 'POST', '/api/projects', { path: repo.dir, name: 'drain' });
    const runId = (await api<{ run: { id: string } }>(server, 'POST', '/api/projects/drain/runs', {})).run.id;
    const events = () => (existsSync(join(marks, 'events')) ? readFileSync(join(marks, 'events'), 'utf8') : '');
    await waitFor(() => events().includes('start'), { what: 'the job to start', timeoutMs: 20_000 });
    expect(await server.kill('SIGTERM')).toBe(0);
    // The server exited before the first attempt's 4 s were up (the drain deadline, not the job, ended it),
    // and it stopped the job rather than leaving it behind.
    expect(events()).not.toContain('end');

    await server.startServer();
    const view = await waitFor(
      async () => {
        const v = await api<{ status: string; jobs: { attempt: number; status: string }[] }>(server, 'GET', `/api/runs/${runId}`);
        return v.status === 'success' ? v : undefined;
      },
      { what: 'the resumed run to succeed', timeoutMs: 30_000 },
    );
    expect(view.jobs[0]?.attempt).toBe(2);
    expect(
      events()
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('end')),
    ).toHaveLength(1);
    await server.stopServer();
  });
});
