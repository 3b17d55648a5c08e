/**
 * Three real `gantry up` on one PostgreSQL, each driving a run of its own: when the owner of the
 * background loops dies, the new owner resumes the dead server's run and leaves the runs of the
 * live third server alone, and the resumed job's log is its second attempt's alone; when a server
 * that does not own the loops dies, the owner resumes its run too (within about a lease). Each run's one job holds until the test opens its gate, so
 * what is running when is up to the test, not the timing.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgAvailable } from '../support/databases.ts';
import { makeRepo } from '../support/repo.ts';
import type { GantryUp } from '../support/server.ts';
import { apiOk as api, type ServerGroup, type StoredEvent, startServerGroup } from '../support/server-group.ts';
import { waitFor } from '../support/wait.ts';

interface RunView {
  status: string;
  jobs: { key: string; status: string; attempt: number }[];
}

describe.skipIf(!pgAvailable())('runs of a dead server, with three servers', () => {
  let group: ServerGroup;
  let gates: string;
  let repo: Awaited<ReturnType<typeof makeRepo>>;

  beforeAll(async () => {
    group = await startServerGroup(3);
    gates = mkdtempSync(join(tmpdir(), 'gantry-gates-'));
    repo = await makeRepo({
      'gantry.yaml': [
        'pipeline:',
        '  on: { manual: { inputs: { gate: { required: true } } } }',
        '  jobs:',
        '    work:',
        `      steps: ["echo attempt started by $$; while [ ! -e ${gates}/\${{ inputs.gate }} ]; do sleep 0.1; done; echo attempt done"]`,
        '',
      ].join('\n'),
    });
    await api(group.servers[0]!, 'POST', '/api/projects', { path: repo.dir, name: 'gated' });
  }, 90_000);
  afterAll(async () => {
    // Open every gate so no job is left waiting, whichever server runs it.
    for (const gate of ['a', 'b', 'c', 'later']) writeFileSync(join(gates, gate), '');
    await group?.cleanup();
    await repo?.cleanup();
    await rm(gates, { recursive: true, force: true });
  });

  const start = async (s: GantryUp, gate: string) =>
    (await api<{ run: { id: string } }>(s, 'POST', '/api/projects/gated/runs', { inputs: { gate } })).run.id;
  const runOf = (s: GantryUp, id: string) => api<RunView>(s, 'GET', `/api/runs/${id}`);
  const leaseHolders = async (s: GantryUp) =>
    (await api<{ events: StoredEvent[] }>(s, 'GET', '/api/events?type=server.lease.acquired')).events.map((e) => e.data.url);

  it("resumes a dead owner's run on the new owner, never a live server's, and a dead non-owner's too", async () => {
    const [a, b, c] = group.servers as [GantryUp, GantryUp, GantryUp];
    expect(await leaseHolders(b)).toEqual([a.url]);
    const runs = { a: await start(a, 'a'), b: await start(b, 'b'), c: await start(c, 'c') };
    for (const id of Object.values(runs))
      await waitFor(async () => (await runOf(b, id)).jobs[0]?.status === 'running', { what: `run ${id} to run`, timeoutMs: 30_000 });

    await a.kill('SIGKILL');
    const owner = await waitFor(
      async () => {
        const url = (await leaseHolders(b)).find((u) => u !== a.url);
        return url === b.url ? b : url === c.url ? c : undefined;
      },
      { what: 'a survivor to take the loops over', timeoutMs: 20_000 },
    );
    const other = owner === b ? c : b;
    await waitFor(async () => (await runOf(owner, runs.a)).jobs[0]?.attempt === 2, {
      what: "the dead owner's run to be resumed",
      timeoutMs: 20_000,
    });
    for (const gate of ['a', 'b', 'c']) writeFileSync(join(gates, gate), '');
    for (const id of Object.values(runs))
      await waitFor(async () => (await runOf(owner, id)).status === 'success', { what: `run ${id} to succeed`, timeoutMs: 30_000 });
    // The live servers' runs ran once, where they started.
    expect((await runOf(owner, runs.b)).jobs[0]?.attempt).toBe(1);
    expect((await runOf(owner, runs.c)).jobs[0]?.attempt).toBe(1);
    // The resumed run's log is its second attempt's alone, on the server that ran it and elsewhere.
    const logOn = async (s: GantryUp) => String((await s.api<string>('GET', `/api/runs/${runs.a}/jobs/work/log`)).body);
    const resumedLog = await logOn(owner);
    expect(resumedLog.match(/attempt started by \d+/g)).toHaveLength(1);
    expect(resumedLog).toContain('attempt done');
    expect(await logOn(other)).toBe(resumedLog);

    // The server that does not own the loops dies with a run under way: the owner resumes it.
    const later = await start(other, 'later');
    await waitFor(async () => (await runOf(owner, later)).jobs[0]?.status === 'running', {
      what: 'the later run to run',
      timeoutMs: 30_000,
    });
    await other.kill('SIGKILL');
    await waitFor(async () => (await runOf(owner, later)).jobs[0]?.attempt === 2, {
      what: "the dead server's run to be resumed by the owner",
      timeoutMs: 20_000,
    });
    writeFileSync(join(gates, 'later'), '');
    await waitFor(async () => (await runOf(owner, later)).status === 'success', { what: 'the later run to succeed', timeoutMs: 30_000 });
  });
});
