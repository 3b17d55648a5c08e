/**
 * The Store contract of src/store/ports.ts, written once and run against every implementation:
 * a SQLite file in a temp dir and a fresh PostgreSQL database. Tests share one database per
 * dialect (as the server's components do), so each one scopes its reads to rows it made.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConflictError, NotFoundError } from '../../src/core/errors.ts';
import type { MatrixValues, StepResult, TestCounts } from '../../src/core/types.ts';
import { openStore } from '../../src/store/index.ts';
import type { EventEnvironment, JobRecord, NewEvent, NewRun, Store } from '../../src/store/index.ts';
import { pgAvailable, pgTestDatabase, sqliteTestDatabase } from '../support/databases.ts';
import type { TestDatabase } from '../support/databases.ts';

const ENV: EventEnvironment = { gantryVersion: '0.1.0', nodeVersion: 'v24.0.0', host: 'test-host', configHash: 'cafe' };

let unique = 0;
/** A name no other test in this database uses. */
function uniq(prefix: string): string {
  unique += 1;
  return `${prefix}-${Date.now().toString(36)}-${unique}`;
}

function newRun(projectId: string | null, overrides: Partial<NewRun> = {}): NewRun {
  return {
    projectId,
    event: { kind: 'push', ref: 'refs/heads/main', sha: 'a1b2c3', changedFiles: ['src/a.ts', 'ünïcode/ß.md'] },
    inputs: { flag: true, count: 3, name: 'x', nothing: null, list: [1, 'two', { three: 3 }] },
    configText: 'pipeline:\n  jobs: {}\n',
    configHash: 'hash-1',
    concurrencyGroup: null,
    parentRunId: null,
    ...overrides,
  };
}

function job(key: string, overrides: Partial<Omit<JobRecord, 'runId'>> = {}): Omit<JobRecord, 'runId'> {
  return {
    key,
    jobId: key.split(' ')[0] ?? key,
    matrix: null,
    needs: [],
    status: 'waiting',
    attempt: 1,
    outputs: {},
    steps: [],
    tests: null,
    logTruncated: false,
    reason: null,
    startedAt: null,
    finishedAt: null,
    reusedFromRunId: null,
    interruptions: 0,
    ...overrides,
  };
}

function event(subject: string, overrides: Partial<NewEvent> = {}): NewEvent {
  return { type: 'test.event', subject, actor: 'cli', data: {}, env: ENV, ...overrides };
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** The whole contract, for one implementation. `factory` makes an empty database (null: skip). */
function storeContract(name: string, factory: () => Promise<TestDatabase | null>, skip: boolean): void {
  describe.skipIf(skip)(`Store contract: ${name}`, () => {
    let database: TestDatabase;
    let store: Store;

    beforeAll(async () => {
      const made = await factory();
      if (made === null) throw new Error(`${name}: no test database`);
      database = made;
      store = await openStore({ url: database.url });
    });

    afterAll(async () => {
      await store?.close();
      await database?.cleanup();
    });

    async function project(prefix = 'proj') {
      return store.projects.create({ name: uniq(prefix), source: { kind: 'local', path: '/srv/repo' }, webhookSecret: 'whsec' });
    }

    describe('projects', () => {
      it('creates a project and finds it by id and by name', async () => {
        const name = uniq('app');
        const created = await store.projects.create({ name, source: { kind: 'url', url: 'https://example.test/r.git' }, webhookSecret: 'v1:abc' });
        expect(created).toMatchObject({ name, source: { kind: 'url', url: 'https://example.test/r.git' }, webhookSecret: 'v1:abc', state: {} });
        expect(created.id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
        expect(created.createdAt).toMatch(ISO);
        expect(await store.projects.get(created.id)).toEqual(created);
        expect(await store.projects.get(name)).toEqual(created);
        expect(await store.projects.get(uniq('missing'))).toBeUndefined();
      });

      it('refuses a duplicate name with ConflictError and keeps the first project', async () => {
        const first = await project('dup');
        const again = store.projects.create({ name: first.name, source: { kind: 'local', path: '/other' }, webhookSecret: 'other' });
        await expect(again).rejects.toBeInstanceOf(ConflictError);
        await expect(again).rejects.toMatchObject({ code: 'CONFLICT', httpStatus: 409 });
        expect(await store.projects.get(first.name)).toEqual(first);
      });

      it('lists projects sorted by name', async () => {
        const tag = uniq('list');
        await store.projects.create({ name: `${tag}-b`, source: { kind: 'local', path: '/b' }, webhookSecret: '' });
        await store.projects.create({ name: `${tag}-a`, source: { kind: 'local', path: '/a' }, webhookSecret: '' });
        await store.projects.create({ name: `${tag}-c`, source: { kind: 'local', path: '/c' }, webhookSecret: '' });
        const names = (await store.projects.list()).map((p) => p.name).filter((n) => n.startsWith(tag));
        expect(names).toEqual([`${tag}-a`, `${tag}-b`, `${tag}-c`]);
      });

      it('replaces the state with a JSON value and reads it back', async () => {
        const p = await project();
        const state = { 'refs/heads/main': 'abc123', nested: { list: [1, 2.5, -3, true, null, 'ü'] }, empty: {} };
        await store.projects.setState(p.id, state);
        expect((await store.projects.get(p.id))?.state).toEqual(state);
        await store.projects.setState(p.id, { only: 'this' });
        expect((await store.projects.get(p.id))?.state).toEqual({ only: 'this' });
        await expect(store.projects.setState(uniq('nope'), {})).rejects.toBeInstanceOf(NotFoundError);
      });

      it('deletes a project together with its runs and secrets', async () => {
        const p = await project();
        const run = await store.runs.create(newRun(p.id), [job('build')]);
        await store.secrets.set(p.id, 'TOKEN', 'v1:xyz');
        await store.projects.delete(p.id);
        expect(await store.projects.get(p.id)).toBeUndefined();
        expect(await store.runs.get(run.id)).toBeUndefined();
        expect(await store.runs.jobs(run.id)).toEqual([]);
        expect(await store.secrets.names(p.id)).toEqual([]);
        await expect(store.projects.delete(p.id)).rejects.toBeInstanceOf(NotFoundError);
        // The name is free again.
        await expect(store.projects.create({ name: p.name, source: p.source, webhookSecret: '' })).resolves.toMatchObject({ name: p.name });
      });
    });

    describe('runs', () => {
      it('creates a run with its jobs and reads both back unchanged', async () => {
        const p = await project();
        const matrix: MatrixValues = { os: 'linux', node: 24, flags: ['a', 'b'], opts: { deep: { x: null, y: false } }, label: 'ü 🚀', ratio: 0.125 };
        const steps: StepResult[] = [
          { name: 'checkout', status: 'success', exitCode: 0, durationMs: 12 },
          { name: 'test', status: 'failure', exitCode: 1, durationMs: 3400 },
          { name: 'never', status: 'skipped', exitCode: null, durationMs: 0 },
        ];
        const tests: TestCounts = { passed: 10, failed: 1, skipped: 2, failures: ['suite › it fails'] };
        const jobs = [
          job('build', { status: 'queued', outputs: { version: '1.2.3', empty: '' } }),
          job('test (linux, 24)', { jobId: 'test', matrix, needs: ['build'], status: 'success', attempt: 2, steps, tests, logTruncated: true, reason: 'why', startedAt: '2024-01-01T00:00:00.000Z', finishedAt: '2024-01-01T00:01:00.000Z', reusedFromRunId: 'R0', interruptions: 1 }),
          job('deploy', { needs: ['build', 'test (linux, 24)'], status: 'skipped', reason: 'needs failed' }),
        ];
        const input = newRun(p.id, { concurrencyGroup: 'deploy-prod', parentRunId: 'PARENT', status: 'running' });
        const run = await store.runs.create(input, jobs);

        expect(run).toMatchObject({ ...input, number: 1, status: 'running', cancelRequested: false, startedAt: null, finishedAt: null });
        expect(run.createdAt).toMatch(ISO);
        expect(await store.runs.get(run.id)).toEqual(run);
        // Jobs come back in the order they were given, not sorted by key.
        expect(await store.runs.jobs(run.id)).toEqual(jobs.map((j) => ({ ...j, runId: run.id })));
      });

      it('defaults a new run to queued and accepts a run without jobs', async () => {
        const run = await store.runs.create(newRun((await project()).id), []);
        expect(run.status).toBe('queued');
        expect(await store.runs.get(run.id)).toEqual(run);
        expect(await store.runs.jobs(run.id)).toEqual([]);
        expect(await store.runs.get(uniq('missing'))).toBeUndefined();
        expect(await store.runs.jobs(uniq('missing'))).toEqual([]);
      });

      it('uses an id the caller chose, and refuses one that is taken with ConflictError', async () => {
        const id = uniq('RUNID');
        const run = await store.runs.create({ ...newRun(null), id }, [job('a')]);
        expect(run.id).toBe(id);
        expect(await store.runs.get(id)).toEqual(run);
        const again = store.runs.create({ ...newRun(null), id }, [job('b')]);
        await expect(again).rejects.toBeInstanceOf(ConflictError);
        expect((await store.runs.jobs(id)).map((j) => j.key)).toEqual(['a']);
      });

      it('numbers runs 1, 2, 3… per project, and local runs in a sequence of their own', async () => {
        const a = await project('a');
        const b = await project('b');
        const numbers = [];
        for (const projectId of [a.id, a.id, b.id, a.id, b.id]) numbers.push((await store.runs.create(newRun(projectId), [])).number);
        expect(numbers).toEqual([1, 2, 1, 3, 2]);

        const local1 = await store.runs.create(newRun(null), [job('x')]);
        const local2 = await store.runs.create(newRun(null), []);
        expect(local1.projectId).toBeNull();
        expect(local2.number).toBe(local1.number + 1);
      });

      it('gives 20 concurrent creates in one project the numbers 1..20 exactly once', async () => {
        const p = await project();
        const runs = await Promise.all(Array.from({ length: 20 }, (_, i) => store.runs.create(newRun(p.id), [job(`j${i}`)])));
        expect(runs.map((r) => r.number).sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
        expect(new Set(runs.map((r) => r.id)).size).toBe(20);
        const stored = await store.runs.list({ projectId: p.id });
        expect(stored.map((r) => r.number).sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
        for (const r of runs) expect((await store.runs.jobs(r.id)).map((j) => j.key)).toHaveLength(1);
      });

      it('refuses a run for an unknown project with NotFoundError and stores nothing', async () => {
        const missing = uniq('no-such-project');
        await expect(store.runs.create(newRun(missing), [job('a')])).rejects.toBeInstanceOf(NotFoundError);
        expect(await store.runs.list({ projectId: missing })).toEqual([]);
      });

      it('lists newest first and filters by project, status, concurrency group and limit', async () => {
        const p = await project();
        const other = await project();
        const r1 = await store.runs.create(newRun(p.id, { concurrencyGroup: 'g1' }), []);
        const r2 = await store.runs.create(newRun(p.id, { status: 'running', concurrencyGroup: 'g1' }), []);
        const r3 = await store.runs.create(newRun(p.id, { status: 'success' }), []);
        const r4 = await store.runs.create(newRun(p.id, { status: 'running' }), []);
        await store.runs.create(newRun(other.id, { status: 'running' }), []);

        const ids = async (filter: Parameters<Store['runs']['list']>[0]) => (await store.runs.list(filter)).map((r) => r.id);
        expect(await ids({ projectId: p.id })).toEqual([r4.id, r3.id, r2.id, r1.id]);
        expect(await ids({ projectId: p.id, status: ['running'] })).toEqual([r4.id, r2.id]);
        expect(await ids({ projectId: p.id, status: ['queued', 'success'] })).toEqual([r3.id, r1.id]);
        expect(await ids({ projectId: p.id, status: [] })).toEqual([]);
        expect(await ids({ projectId: p.id, limit: 2 })).toEqual([r4.id, r3.id]);
        const group = uniq('group');
        const g1 = await store.runs.create(newRun(other.id, { concurrencyGroup: group }), []);
        const g2 = await store.runs.create(newRun(null, { concurrencyGroup: group, status: 'running' }), []);
        expect(await ids({ concurrencyGroup: group })).toEqual([g2.id, g1.id]);
        expect(await ids({ concurrencyGroup: group, status: ['running'] })).toEqual([g2.id]);
        // Without a filter every run is there, still newest first.
        const all = await store.runs.list();
        expect(all.map((r) => r.id).indexOf(g2.id)).toBeLessThan(all.map((r) => r.id).indexOf(r1.id));
      });
    });

    describe('transition', () => {
      it('applies the run patch, job patches and events together', async () => {
        const p = await project();
        const run = await store.runs.create(newRun(p.id), [job('build', { status: 'queued' }), job('test', { needs: ['build'] })]);
        const steps: StepResult[] = [{ name: 'make', status: 'success', exitCode: 0, durationMs: 5 }];
        const tests: TestCounts = { passed: 3, failed: 0, skipped: 1, failures: [] };
        const subject = `run:${run.id}`;
        await store.runs.transition(run.id, {
          run: { status: 'running', startedAt: '2024-05-01T10:00:00.000Z', cancelRequested: true },
          jobs: [
            { key: 'build', patch: { status: 'success', attempt: 2, outputs: { sha: 'abc' }, steps, tests, logTruncated: true, reason: 'ok', startedAt: '2024-05-01T10:00:01.000Z', finishedAt: '2024-05-01T10:00:02.000Z', reusedFromRunId: 'OLD', interruptions: 1 } },
            { key: 'test', patch: { status: 'queued' } },
          ],
          events: [
            event(subject, { type: 'run.started', data: { number: run.number } }),
            event(`job:${run.id}/build`, { type: 'job.finished', data: { status: 'success', nested: { a: [1, null] } }, at: '2024-05-01T10:00:02.000Z' }),
          ],
        });

        expect(await store.runs.get(run.id)).toEqual({ ...run, status: 'running', startedAt: '2024-05-01T10:00:00.000Z', cancelRequested: true });
        const [build, test] = await store.runs.jobs(run.id);
        expect(build).toEqual({ ...job('build'), runId: run.id, status: 'success', attempt: 2, outputs: { sha: 'abc' }, steps, tests, logTruncated: true, reason: 'ok', startedAt: '2024-05-01T10:00:01.000Z', finishedAt: '2024-05-01T10:00:02.000Z', reusedFromRunId: 'OLD', interruptions: 1 });
        expect(test).toMatchObject({ key: 'test', status: 'queued', needs: ['build'] });

        const events = await store.events.list({ subjectPrefix: `run:${run.id}` });
        expect(events).toHaveLength(1);
        expect(events[0]).toMatchObject({ type: 'run.started', actor: 'cli', data: { number: run.number }, env: ENV });
        const jobEvents = await store.events.list({ subjectPrefix: `job:${run.id}/` });
        expect(jobEvents).toEqual([{ id: expect.any(Number), type: 'job.finished', subject: `job:${run.id}/build`, actor: 'cli', at: '2024-05-01T10:00:02.000Z', data: { status: 'success', nested: { a: [1, null] } }, env: ENV }]);
        expect(jobEvents[0]!.id).toBeGreaterThan(events[0]!.id);

        // Clearing fields back to null, and un-setting cancelRequested, also persist.
        await store.runs.transition(run.id, { run: { startedAt: null, cancelRequested: false }, jobs: [{ key: 'build', patch: { tests: null, reason: null, logTruncated: false } }] });
        expect(await store.runs.get(run.id)).toMatchObject({ startedAt: null, cancelRequested: false, status: 'running' });
        expect((await store.runs.jobs(run.id))[0]).toMatchObject({ tests: null, reason: null, logTruncated: false, attempt: 2 });
      });

      it('rolls back the run patch, earlier job patches and events when a job patch fails', async () => {
        const p = await project();
        const run = await store.runs.create(newRun(p.id), [job('build', { status: 'queued' })]);
        const before = await store.events.list({ subjectPrefix: `run:${run.id}` });
        const failing = store.runs.transition(run.id, {
          run: { status: 'running', startedAt: '2024-05-01T10:00:00.000Z' },
          jobs: [{ key: 'build', patch: { status: 'running' } }, { key: 'no-such-job', patch: { status: 'running' } }],
          events: [event(`run:${run.id}`, { type: 'run.started' })],
        });
        await expect(failing).rejects.toBeInstanceOf(NotFoundError);
        await expect(failing).rejects.toMatchObject({ code: 'NOT_FOUND' });
        expect(await store.runs.get(run.id)).toEqual(run);
        expect((await store.runs.jobs(run.id))[0]?.status).toBe('queued');
        expect(await store.events.list({ subjectPrefix: `run:${run.id}` })).toEqual(before);
        // The store is still usable after the rollback.
        await store.runs.transition(run.id, { run: { status: 'running' } });
        expect((await store.runs.get(run.id))?.status).toBe('running');
      });

      it('refuses an unknown run with NotFoundError and appends no event', async () => {
        const missing = uniq('no-run');
        await expect(store.runs.transition(missing, { events: [event(`run:${missing}`)] })).rejects.toBeInstanceOf(NotFoundError);
        await expect(store.runs.transition(missing, { run: { status: 'running' } })).rejects.toBeInstanceOf(NotFoundError);
        expect(await store.events.list({ subjectPrefix: `run:${missing}` })).toEqual([]);
      });

      it('accepts a change with events only, or an empty job patch', async () => {
        const run = await store.runs.create(newRun(null), [job('a')]);
        await store.runs.transition(run.id, { jobs: [{ key: 'a', patch: {} }], events: [event(`run:${run.id}`, { type: 'run.note' })] });
        expect(await store.runs.get(run.id)).toEqual(run);
        expect((await store.events.list({ subjectPrefix: `run:${run.id}` })).map((e) => e.type)).toEqual(['run.note']);
      });
    });

    describe('events', () => {
      it('appends with increasing ids, a default timestamp and JSON data and env', async () => {
        const subject = uniq('subj');
        const data = { n: 1, s: 'ü', list: [true, null, { deep: [1.5] }], empty: {} };
        const first = await store.events.append(event(subject, { data }));
        const second = await store.events.append(event(subject, { at: '2020-01-01T00:00:00.000Z', env: { ...ENV, commit: 'deadbeef' } }));
        expect(first).toMatchObject({ type: 'test.event', subject, actor: 'cli', data, env: ENV });
        expect(first.at).toMatch(ISO);
        expect(typeof first.id).toBe('number');
        expect(second.id).toBeGreaterThan(first.id);
        expect(second.at).toBe('2020-01-01T00:00:00.000Z');
        expect(await store.events.list({ subjectPrefix: subject })).toEqual([first, second]);
      });

      it('lists oldest first, filtered by afterId, type, subject prefix and limit', async () => {
        const tag = uniq('ev');
        const a = await store.events.append(event(`${tag}:a`, { type: 'run.created' }));
        const b = await store.events.append(event(`${tag}:b`, { type: 'job.started' }));
        const c = await store.events.append(event(`${tag}:a/1`, { type: 'run.created' }));
        const d = await store.events.append(event(`${tag.toUpperCase()}:a`, { type: 'run.created' }));
        const ids = async (f: Parameters<Store['events']['list']>[0]) => (await store.events.list(f)).map((e) => e.id);

        expect(await ids({ subjectPrefix: `${tag}:` })).toEqual([a.id, b.id, c.id]);
        expect(await ids({ subjectPrefix: `${tag}:a` })).toEqual([a.id, c.id]);
        expect(await ids({ subjectPrefix: `${tag}:`, type: 'run.created' })).toEqual([a.id, c.id]);
        expect(await ids({ subjectPrefix: `${tag}:`, afterId: a.id })).toEqual([b.id, c.id]);
        expect(await ids({ subjectPrefix: `${tag}:`, limit: 2 })).toEqual([a.id, b.id]);
        expect(await ids({ afterId: a.id, limit: 1 })).toEqual([b.id]);
        expect(await ids({ afterId: d.id })).toEqual([]);
        // The prefix is literal and case-sensitive: LIKE wildcards match nothing special.
        expect(await ids({ subjectPrefix: `${tag}:_` })).toEqual([]);
        expect(await ids({ subjectPrefix: `${tag}%` })).toEqual([]);
        expect(await ids({ subjectPrefix: tag.toUpperCase() })).toEqual([d.id]);
        expect((await ids({ type: 'job.started', afterId: a.id }))).toContain(b.id);
      });

      it('keeps ids unique and in list order under concurrent appends and transitions', async () => {
        const tag = uniq('conc');
        const run = await store.runs.create(newRun(null), []);
        const appended = await Promise.all([
          ...Array.from({ length: 15 }, (_, i) => store.events.append(event(`${tag}:${i}`))),
          ...Array.from({ length: 5 }, () => store.runs.transition(run.id, { events: [event(`${tag}:t`), event(`${tag}:t`)] }).then(() => undefined)),
        ]);
        const listed = await store.events.list({ subjectPrefix: tag });
        expect(listed).toHaveLength(25);
        const ids = listed.map((e) => e.id);
        expect(new Set(ids).size).toBe(25);
        expect([...ids].sort((x, y) => x - y)).toEqual(ids);
        for (const e of appended) if (e !== undefined) expect(ids).toContain(e.id);
      });
    });

    describe('secrets', () => {
      it('sets, overwrites, lists, reads and deletes ciphertexts per project', async () => {
        const p = await project();
        const q = await project();
        await store.secrets.set(p.id, 'B_TOKEN', 'v1:b');
        await store.secrets.set(p.id, 'A_KEY', 'v1:a');
        await store.secrets.set(q.id, 'A_KEY', 'v1:other');
        await store.secrets.set(p.id, 'B_TOKEN', 'v1:b2');

        expect(await store.secrets.get(p.id, 'B_TOKEN')).toBe('v1:b2');
        expect(await store.secrets.get(p.id, 'MISSING')).toBeUndefined();
        expect(await store.secrets.names(p.id)).toEqual(['A_KEY', 'B_TOKEN']);
        expect(await store.secrets.all(p.id)).toEqual({ A_KEY: 'v1:a', B_TOKEN: 'v1:b2' });
        expect(await store.secrets.all(q.id)).toEqual({ A_KEY: 'v1:other' });

        expect(await store.secrets.delete(p.id, 'A_KEY')).toBe(true);
        expect(await store.secrets.delete(p.id, 'A_KEY')).toBe(false);
        expect(await store.secrets.names(p.id)).toEqual(['B_TOKEN']);
        expect(await store.secrets.get(q.id, 'A_KEY')).toBe('v1:other');
        expect(await store.secrets.all(uniq('nobody'))).toEqual({});
      });

      it('refuses a secret for an unknown project with NotFoundError', async () => {
        await expect(store.secrets.set(uniq('nobody'), 'X', 'v1:x')).rejects.toBeInstanceOf(NotFoundError);
      });
    });

    describe('tokens', () => {
      it('creates tokens, finds them by hash and lists them oldest first', async () => {
        const h1 = uniq('hash');
        const h2 = uniq('hash');
        const t1 = await store.tokens.create({ name: 'ci', hash: h1 });
        const t2 = await store.tokens.create({ name: 'ci', hash: h2 });
        expect(t1).toMatchObject({ name: 'ci', hash: h1 });
        expect(t1.createdAt).toMatch(ISO);
        expect(t1.id).not.toBe(t2.id);
        expect(await store.tokens.findByHash(h2)).toEqual(t2);
        expect(await store.tokens.findByHash(uniq('nohash'))).toBeUndefined();
        const listed = (await store.tokens.list()).filter((t) => t.hash === h1 || t.hash === h2);
        expect(listed).toEqual([t1, t2]);
      });

      it('refuses a duplicate hash with ConflictError', async () => {
        const hash = uniq('hash');
        await store.tokens.create({ name: 'a', hash });
        await expect(store.tokens.create({ name: 'b', hash })).rejects.toMatchObject({ code: 'CONFLICT' });
      });
    });

    describe('lifecycle', () => {
      it('reports its dialect', () => {
        expect(store.dialect).toBe(name === 'PostgreSQL' ? 'postgres' : 'sqlite');
      });

      it('keeps every kind of data across close and reopen', async () => {
        const first = await openStore({ url: database.url });
        const p = await first.projects.create({ name: uniq('durable'), source: { kind: 'local', path: '/d' }, webhookSecret: 's' });
        await first.projects.setState(p.id, { last: 'sha' });
        const run = await first.runs.create(newRun(p.id), [job('build', { matrix: { os: 'linux' } })]);
        await first.runs.transition(run.id, { run: { status: 'success' }, events: [event(`run:${run.id}`)] });
        await first.secrets.set(p.id, 'S', 'v1:s');
        const token = await first.tokens.create({ name: 'durable', hash: uniq('hash') });
        await first.close();
        await first.close(); // idempotent

        const second = await openStore({ url: database.url });
        try {
          expect(await second.projects.get(p.id)).toEqual({ ...p, state: { last: 'sha' } });
          expect(await second.runs.get(run.id)).toEqual({ ...run, status: 'success' });
          expect(await second.runs.jobs(run.id)).toEqual([{ ...job('build', { matrix: { os: 'linux' } }), runId: run.id }]);
          expect(await second.events.list({ subjectPrefix: `run:${run.id}` })).toHaveLength(1);
          expect(await second.secrets.get(p.id, 'S')).toBe('v1:s');
          expect(await second.tokens.findByHash(token.hash)).toEqual(token);
          // Numbering continues after a reopen.
          expect((await second.runs.create(newRun(p.id), [])).number).toBe(2);
        } finally {
          await second.close();
        }
      });
    });
  });
}

storeContract('SQLite', sqliteTestDatabase, false);
storeContract('PostgreSQL', pgTestDatabase, !pgAvailable());
