/**
 * The Store contract of src/store/ports.ts, written once and run against every implementation:
 * a SQLite file in a temp dir and a fresh PostgreSQL database. Tests share one database per
 * dialect (as the server's components do), so each one scopes its reads to rows it made.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConflictError, InputError, NotFoundError } from '../../src/core/errors.ts';
import type { MatrixValues, StepResult, TestCounts } from '../../src/core/types.ts';
import { openStore } from '../../src/store/index.ts';
import type { EventEnvironment, MetricRollup, NewEvent, NewRun, RolloutRecord, Store } from '../../src/store/index.ts';
import { pgAvailable, pgTestDatabase, sqliteTestDatabase } from '../support/databases.ts';
import type { TestDatabase } from '../support/databases.ts';
import { jobRow as job } from '../support/run-records.ts';

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

function event(subject: string, overrides: Partial<NewEvent> = {}): NewEvent {
  return { type: 'test.event', subject, actor: 'cli', data: {}, env: ENV, ...overrides };
}

type NewRelease = Parameters<Store['releases']['create']>[0];
type NewRollout = Parameters<Store['rollouts']['create']>[0];

function newRelease(projectId: string, overrides: Partial<NewRelease> = {}): NewRelease {
  return {
    projectId,
    runId: null,
    sha: 'f00dfeed',
    ref: 'refs/heads/main',
    configText: 'service:\n  run: node server.js\n',
    configHash: 'cfg-1',
    artifactsPath: 'releases/x',
    createdBy: 'cli',
    ...overrides,
  };
}

function newRollout(projectId: string, environment: string, releaseId: string, overrides: Partial<NewRollout> = {}): NewRollout {
  return {
    id: uniq('RO'),
    projectId,
    environment,
    releaseId,
    previousReleaseId: null,
    phase: 'pending',
    state: { step: 0, weights: { stable: 100, canary: 0 }, note: 'ü', checks: [true, null, 1.5] },
    createdBy: 'cli',
    ...overrides,
  };
}

function rollup(projectId: string, startMs: number, overrides: Partial<MetricRollup> = {}): MetricRollup {
  return {
    projectId,
    environment: 'production',
    version: 'r1',
    pool: 'stable',
    startMs,
    endMs: startMs + 10_000,
    requests: 120,
    errors: 3,
    data: {
      latency: [
        { valueMs: 5, count: 100 },
        { valueMs: 250, count: 20 },
      ],
      routes: { 'GET /': 120 },
    },
    ...overrides,
  };
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
        const created = await store.projects.create({
          name,
          source: { kind: 'url', url: 'https://example.test/r.git' },
          webhookSecret: 'v1:abc',
        });
        expect(created).toMatchObject({
          name,
          source: { kind: 'url', url: 'https://example.test/r.git' },
          webhookSecret: 'v1:abc',
          state: {},
        });
        expect(created.id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
        expect(created.createdAt).toMatch(ISO);
        expect(await store.projects.get(created.id)).toEqual(created);
        expect(await store.projects.get(name)).toEqual(created);
        expect(await store.projects.get(uniq('missing'))).toBeUndefined();
      });

      it("finds by id before by name: a name equal to another project's id does not shadow that project", async () => {
        const first = await project('first');
        const second = await store.projects.create({ name: first.id, source: { kind: 'local', path: '/srv/b' }, webhookSecret: 'w' });
        expect(await store.projects.get(first.id)).toEqual(first);
        expect(await store.projects.get(second.id)).toEqual(second);
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

      it('deletes a project together with its runs, secrets, releases, rollouts, environments and roll-ups', async () => {
        const p = await project();
        const kept = await project();
        const run = await store.runs.create(newRun(p.id), [job('build')]);
        await store.secrets.set(p.id, 'TOKEN', 'v1:xyz');
        await store.secrets.set(p.id, 'TOKEN', 'v1:env', 'production');
        const release = await store.releases.create(newRelease(p.id, { runId: run.id }));
        const rollout = await store.rollouts.create(newRollout(p.id, 'production', release.id));
        await store.rollouts.transition(rollout.id, {
          phase: 'canary',
          state: {},
          environment: { projectId: p.id, name: 'production', currentReleaseId: release.id, previousReleaseId: null, port: 1 },
        });
        await store.metrics.append([rollup(p.id, 1_700_000_000_000), rollup(kept.id, 1_700_000_000_000)]);
        const keptRelease = await store.releases.create(newRelease(kept.id));
        await store.secrets.set(kept.id, 'TOKEN', 'v1:kept', 'production');

        await store.projects.delete(p.id);
        expect(await store.projects.get(p.id)).toBeUndefined();
        expect(await store.runs.get(run.id)).toBeUndefined();
        expect(await store.runs.jobs(run.id)).toEqual([]);
        expect(await store.secrets.names(p.id)).toEqual([]);
        expect(await store.secrets.names(p.id, 'production')).toEqual([]);
        expect(await store.releases.get(release.id)).toBeUndefined();
        expect(await store.releases.list(p.id)).toEqual([]);
        expect(await store.rollouts.get(rollout.id)).toBeUndefined();
        expect(await store.rollouts.list({ projectId: p.id })).toEqual([]);
        expect((await store.rollouts.listActive()).map((r) => r.id)).not.toContain(rollout.id);
        expect(await store.rollouts.environments(p.id)).toEqual([]);
        expect(await store.metrics.query({ projectId: p.id, sinceMs: 0, untilMs: 2 ** 50 })).toEqual([]);
        // Another project's rows stay.
        expect(await store.releases.get(keptRelease.id)).toEqual(keptRelease);
        expect(await store.metrics.query({ projectId: kept.id, sinceMs: 0, untilMs: 2 ** 50 })).toHaveLength(1);
        expect(await store.secrets.get(kept.id, 'TOKEN', 'production')).toBe('v1:kept');
        await expect(store.projects.delete(p.id)).rejects.toBeInstanceOf(NotFoundError);
        // The name is free again.
        await expect(store.projects.create({ name: p.name, source: p.source, webhookSecret: '' })).resolves.toMatchObject({ name: p.name });
      });
    });

    describe('runs', () => {
      it('creates a run with its jobs and reads both back unchanged', async () => {
        const p = await project();
        const matrix: MatrixValues = {
          os: 'linux',
          node: 24,
          flags: ['a', 'b'],
          opts: { deep: { x: null, y: false } },
          label: 'ü 🚀',
          ratio: 0.125,
        };
        const steps: StepResult[] = [
          { name: 'checkout', status: 'success', exitCode: 0, durationMs: 12 },
          { name: 'test', status: 'failure', exitCode: 1, durationMs: 3400 },
          { name: 'never', status: 'skipped', exitCode: null, durationMs: 0 },
        ];
        const tests: TestCounts = { passed: 10, failed: 1, skipped: 2, failures: ['suite › it fails'] };
        const jobs = [
          job('build', { status: 'queued', outputs: { version: '1.2.3', empty: '' } }),
          job('test (linux, 24)', {
            jobId: 'test',
            matrix,
            needs: ['build'],
            status: 'success',
            attempt: 2,
            steps,
            tests,
            logTruncated: true,
            reason: 'why',
            startedAt: '2024-01-01T00:00:00.000Z',
            finishedAt: '2024-01-01T00:01:00.000Z',
            reusedFromRunId: 'R0',
            interruptions: 1,
          }),
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

      it('names a run’s project: null for a run of none, undefined for no such run', async () => {
        const p = await project('owner');
        const run = await store.runs.create(newRun(p.id), []);
        const local = await store.runs.create(newRun(null), []);
        expect(await store.runs.projectOf(run.id)).toBe(p.name);
        expect(await store.runs.projectOf(local.id)).toBeNull();
        expect(await store.runs.projectOf(uniq('missing'))).toBeUndefined();
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

      // One INSERT of every job row went past the bound on a statement's parameters (SQLite's
      // 32,766 at ~1,930 jobs, PostgreSQL's 65,535 at ~3,860): issue 14's benchmark size.
      it('stores a run of 10,000 jobs whole, in the order given', async () => {
        const jobs = Array.from({ length: 10_000 }, (_, i) => job(`j${i}`, { needs: i === 0 ? [] : [`j${i - 1}`] }));
        const run = await store.runs.create(newRun(null), jobs);
        const stored = await store.runs.jobs(run.id);
        expect(stored.map((j) => j.key)).toEqual(jobs.map((j) => j.key));
        expect(stored.at(-1)).toEqual({ ...jobs.at(-1), runId: run.id });
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

      it('records the owner and hands the run to another only from the owner it still has (compare and set)', async () => {
        const p = await project();
        const owned = await store.runs.create(newRun(p.id, { owner: 'server-a' }), []);
        expect(owned.owner).toBe('server-a');
        expect(await store.runs.takeOver(owned.id, 'server-b', 'server-c')).toBe(false);
        expect(await store.runs.takeOver(owned.id, 'server-a', 'server-b')).toBe(true);
        expect(await store.runs.takeOver(owned.id, 'server-a', 'server-c')).toBe(false);
        expect((await store.runs.get(owned.id))?.owner).toBe('server-b');
        const unowned = await store.runs.create(newRun(p.id), []);
        expect(unowned.owner).toBeNull();
        expect(await store.runs.takeOver(unowned.id, null, 'server-c')).toBe(true);
        expect((await store.runs.get(unowned.id))?.owner).toBe('server-c');
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
            {
              key: 'build',
              patch: {
                status: 'success',
                attempt: 2,
                outputs: { sha: 'abc' },
                steps,
                tests,
                logTruncated: true,
                reason: 'ok',
                startedAt: '2024-05-01T10:00:01.000Z',
                finishedAt: '2024-05-01T10:00:02.000Z',
                reusedFromRunId: 'OLD',
                interruptions: 1,
              },
            },
            { key: 'test', patch: { status: 'queued' } },
          ],
          events: [
            event(subject, { type: 'run.started', data: { number: run.number } }),
            event(`job:${run.id}/build`, {
              type: 'job.finished',
              data: { status: 'success', nested: { a: [1, null] } },
              at: '2024-05-01T10:00:02.000Z',
            }),
          ],
        });

        expect(await store.runs.get(run.id)).toEqual({
          ...run,
          status: 'running',
          startedAt: '2024-05-01T10:00:00.000Z',
          cancelRequested: true,
        });
        const [build, test] = await store.runs.jobs(run.id);
        expect(build).toEqual({
          ...job('build'),
          runId: run.id,
          status: 'success',
          attempt: 2,
          outputs: { sha: 'abc' },
          steps,
          tests,
          logTruncated: true,
          reason: 'ok',
          startedAt: '2024-05-01T10:00:01.000Z',
          finishedAt: '2024-05-01T10:00:02.000Z',
          reusedFromRunId: 'OLD',
          interruptions: 1,
        });
        expect(test).toMatchObject({ key: 'test', status: 'queued', needs: ['build'] });

        const events = await store.events.list({ subjectPrefix: `run:${run.id}` });
        expect(events).toHaveLength(1);
        expect(events[0]).toMatchObject({ type: 'run.started', actor: 'cli', data: { number: run.number }, env: ENV });
        const jobEvents = await store.events.list({ subjectPrefix: `job:${run.id}/` });
        expect(jobEvents).toEqual([
          {
            id: expect.any(Number),
            type: 'job.finished',
            subject: `job:${run.id}/build`,
            actor: 'cli',
            at: '2024-05-01T10:00:02.000Z',
            data: { status: 'success', nested: { a: [1, null] } },
            env: ENV,
          },
        ]);
        expect(jobEvents[0]!.id).toBeGreaterThan(events[0]!.id);

        // Clearing fields back to null, and un-setting cancelRequested, also persist.
        await store.runs.transition(run.id, {
          run: { startedAt: null, cancelRequested: false },
          jobs: [{ key: 'build', patch: { tests: null, reason: null, logTruncated: false } }],
        });
        expect(await store.runs.get(run.id)).toMatchObject({ startedAt: null, cancelRequested: false, status: 'running' });
        expect((await store.runs.jobs(run.id))[0]).toMatchObject({ tests: null, reason: null, logTruncated: false, attempt: 2 });
      });

      it('rolls back the run patch, earlier job patches and events when a job patch fails', async () => {
        const p = await project();
        const run = await store.runs.create(newRun(p.id), [job('build', { status: 'queued' })]);
        const before = await store.events.list({ subjectPrefix: `run:${run.id}` });
        const failing = store.runs.transition(run.id, {
          run: { status: 'running', startedAt: '2024-05-01T10:00:00.000Z' },
          jobs: [
            { key: 'build', patch: { status: 'running' } },
            { key: 'no-such-job', patch: { status: 'running' } },
          ],
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
        expect(await ids({ type: 'job.started', afterId: a.id })).toContain(b.id);
        // `types`: any of exact types (what DORA reads), never a family.
        expect(await ids({ subjectPrefix: `${tag}:`, types: ['job.started', 'run.created'] })).toEqual([a.id, b.id, c.id]);
        expect(await ids({ subjectPrefix: `${tag}:`, types: ['job.started', 'run.*'] })).toEqual([b.id]);
        expect(await ids({ subjectPrefix: `${tag}:`, types: [] })).toEqual([]);
      });

      it('keeps ids unique and in list order under concurrent appends and transitions', async () => {
        const tag = uniq('conc');
        const run = await store.runs.create(newRun(null), []);
        const appended = await Promise.all([
          ...Array.from({ length: 15 }, (_, i) => store.events.append(event(`${tag}:${i}`))),
          ...Array.from({ length: 5 }, () =>
            store.runs.transition(run.id, { events: [event(`${tag}:t`), event(`${tag}:t`)] }).then(() => undefined),
          ),
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

      it('trades a one-time token for a new one with its events in one transaction, once', async () => {
        const consumed = uniq('hash');
        const subject = uniq('trade');
        await store.tokens.create({ name: 'one-time', hash: consumed });
        const created = { name: 'session', hash: uniq('hash'), owner: 'carol' };
        const made = await store.tokens.trade(consumed, created, (t) => [event(subject, { data: { session: t.id } })]);
        expect(made).toMatchObject(created);
        expect(await store.tokens.findByHash(consumed)).toBeUndefined();
        expect(await store.tokens.findByHash(created.hash)).toEqual(made);
        expect((await store.events.list({ subjectPrefix: subject })).map((e) => e.data)).toEqual([{ session: made!.id }]);

        // Gone: nothing is written, not the token nor its events.
        const again = { name: 'session', hash: uniq('hash') };
        expect(await store.tokens.trade(consumed, again, () => [event(subject)])).toBeNull();
        expect(await store.tokens.findByHash(again.hash)).toBeUndefined();
        expect(await store.events.list({ subjectPrefix: subject })).toHaveLength(1);
      });

      it('gives a one-time token to exactly one of several trades at the same moment', async () => {
        const consumed = uniq('hash');
        const subject = uniq('trade-race');
        await store.tokens.create({ name: 'one-time', hash: consumed });
        const wanted = Array.from({ length: 4 }, () => ({ name: 'session', hash: uniq('hash') }));
        const results = await Promise.all(wanted.map((t) => store.tokens.trade(consumed, t, () => [event(subject)])));
        const made = results.filter((r) => r !== null);
        expect(made).toHaveLength(1);
        const held = await Promise.all(wanted.map((t) => store.tokens.findByHash(t.hash)));
        expect(held.filter((t) => t !== undefined)).toEqual(made);
        expect(await store.events.list({ subjectPrefix: subject })).toHaveLength(1);
      });

      it('undoes the consumption when the new token cannot be made', async () => {
        const consumed = uniq('hash');
        const taken = uniq('hash');
        const subject = uniq('trade-conflict');
        await store.tokens.create({ name: 'one-time', hash: consumed });
        await store.tokens.create({ name: 'other', hash: taken });
        await expect(store.tokens.trade(consumed, { name: 'session', hash: taken }, () => [event(subject)])).rejects.toMatchObject({
          code: 'CONFLICT',
        });
        expect(await store.tokens.findByHash(consumed)).toMatchObject({ name: 'one-time' });
        expect(await store.events.list({ subjectPrefix: subject })).toEqual([]);
      });
    });

    describe('releases', () => {
      it('creates a release and finds it by id, by <projectId>#<number> and by number', async () => {
        const p = await project();
        const run = await store.runs.create(newRun(p.id), []);
        const input = newRelease(p.id, { runId: run.id, configText: 'service:\n  name: ü 🚀\n' });
        const release = await store.releases.create(input);
        expect(release).toEqual({ ...input, id: expect.any(String), number: 1, createdAt: expect.stringMatching(ISO) });
        expect(release.id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
        expect(await store.releases.get(release.id)).toEqual(release);
        expect(await store.releases.get(`${p.id}#1`)).toEqual(release);
        expect(await store.releases.getByNumber(p.id, 1)).toEqual(release);

        for (const missing of [
          `${p.id}#2`,
          `${p.id}#0`,
          `${p.id}#01`,
          `${p.id}#-1`,
          `${p.id}#1.0`,
          `${p.id}#x`,
          `${p.id}#`,
          '#1',
          `${p.id}#99999999999`,
          uniq('nope'),
        ]) {
          expect(await store.releases.get(missing), missing).toBeUndefined();
        }
        expect(await store.releases.getByNumber(p.id, 2)).toBeUndefined();
        expect(await store.releases.getByNumber(p.id, 0.5)).toBeUndefined();
        expect(await store.releases.getByNumber(p.id, 2 ** 40)).toBeUndefined();
      });

      it('finds the newest release of a ref, in its own project only', async () => {
        const p = await project();
        const other = await project();
        const tagged = { ref: 'refs/tags/v1.0.0' };
        const first = await store.releases.create(newRelease(p.id, tagged));
        await store.releases.create(newRelease(p.id));
        const again = await store.releases.create(newRelease(p.id, tagged));
        await store.releases.create(newRelease(other.id, tagged));
        expect(first.number).toBe(1);
        expect(await store.releases.latestOfRef(p.id, 'refs/tags/v1.0.0')).toEqual(again);
        expect(await store.releases.latestOfRef(p.id, 'refs/heads/main')).toMatchObject({ number: 2 });
        expect(await store.releases.latestOfRef(p.id, 'refs/tags/v2.0.0')).toBeUndefined();
      });

      it('uses an id the caller chose, refuses a taken one with ConflictError and an unknown project with NotFoundError', async () => {
        const p = await project();
        const id = uniq('RELID');
        const release = await store.releases.create({ ...newRelease(p.id), id });
        expect(release.id).toBe(id);
        await expect(store.releases.create({ ...newRelease(p.id), id })).rejects.toBeInstanceOf(ConflictError);
        const missing = uniq('no-such-project');
        await expect(store.releases.create(newRelease(missing))).rejects.toBeInstanceOf(NotFoundError);
        expect(await store.releases.list(missing)).toEqual([]);
        // Neither failure used up a number.
        expect((await store.releases.create(newRelease(p.id))).number).toBe(2);
      });

      it('gives 10 concurrent creates in each of two projects the numbers 1..10 exactly once', async () => {
        const a = await project('a');
        const b = await project('b');
        const made = await Promise.all(
          Array.from({ length: 20 }, (_, i) => store.releases.create(newRelease(i % 2 === 0 ? a.id : b.id, { sha: `sha${i}` }))),
        );
        const oneToTen = Array.from({ length: 10 }, (_, i) => i + 1);
        for (const p of [a, b]) {
          expect(
            made
              .filter((r) => r.projectId === p.id)
              .map((r) => r.number)
              .sort((x, y) => x - y),
          ).toEqual(oneToTen);
          const stored = await store.releases.list(p.id);
          expect(stored.map((r) => r.number)).toEqual([...oneToTen].reverse());
          for (const r of stored) expect(await store.releases.get(`${p.id}#${r.number}`)).toEqual(r);
        }
        expect(new Set(made.map((r) => r.id)).size).toBe(20);
      });

      it("lists a project's releases newest first, with a limit", async () => {
        const p = await project();
        const other = await project();
        const r1 = await store.releases.create(newRelease(p.id));
        const r2 = await store.releases.create(newRelease(p.id));
        await store.releases.create(newRelease(other.id));
        const r3 = await store.releases.create(newRelease(p.id));
        expect(await store.releases.list(p.id)).toEqual([r3, r2, r1]);
        expect(await store.releases.list(p.id, 2)).toEqual([r3, r2]);
        expect(await store.releases.list(uniq('nobody'))).toEqual([]);
      });
    });

    describe('rollouts', () => {
      async function projectWithRelease() {
        const p = await project();
        const release = await store.releases.create(newRelease(p.id));
        return { p, release };
      }

      it('creates a rollout and reads it back by id, as active and among listActive', async () => {
        const { p, release } = await projectWithRelease();
        const input = newRollout(p.id, 'production', release.id, { previousReleaseId: 'PREV', phase: 'canary' });
        const rollout = await store.rollouts.create(input);
        expect(rollout).toEqual({ ...input, createdAt: expect.stringMatching(ISO), updatedAt: rollout.createdAt, finishedAt: null });
        expect(await store.rollouts.get(rollout.id)).toEqual(rollout);
        expect(await store.rollouts.active(p.id, 'production')).toEqual(rollout);
        expect(await store.rollouts.active(p.id, 'staging')).toBeUndefined();
        expect(await store.rollouts.get(uniq('missing'))).toBeUndefined();
        expect((await store.rollouts.listActive()).filter((r) => r.projectId === p.id)).toEqual([rollout]);
      });

      it('allows one unfinished rollout per environment: a second is a ConflictError until the first finishes', async () => {
        const { p, release } = await projectWithRelease();
        const other = await projectWithRelease();
        const first = await store.rollouts.create(newRollout(p.id, 'production', release.id));
        const second = store.rollouts.create(newRollout(p.id, 'production', release.id));
        await expect(second).rejects.toBeInstanceOf(ConflictError);
        await expect(second).rejects.toMatchObject({ code: 'CONFLICT', httpStatus: 409 });
        // Other environments, and the same name in another project, are independent.
        const staging = await store.rollouts.create(newRollout(p.id, 'staging', release.id));
        await store.rollouts.create(newRollout(other.p.id, 'production', other.release.id));
        expect(await store.rollouts.active(p.id, 'production')).toEqual(first);

        await store.rollouts.transition(first.id, { phase: 'succeeded', state: { done: true }, finishedAt: '2024-06-01T00:00:00.000Z' });
        expect(await store.rollouts.active(p.id, 'production')).toBeUndefined();
        const next = await store.rollouts.create(newRollout(p.id, 'production', release.id));
        expect(await store.rollouts.active(p.id, 'production')).toEqual(next);
        expect((await store.rollouts.listActive()).filter((r) => r.projectId === p.id).map((r) => r.id)).toEqual([staging.id, next.id]);

        // Reopening the finished one beside the new active one breaks the rule too.
        const reopen = store.rollouts.transition(first.id, { phase: 'canary', state: {}, finishedAt: null });
        await expect(reopen).rejects.toBeInstanceOf(ConflictError);
        expect(await store.rollouts.get(first.id)).toMatchObject({ phase: 'succeeded', finishedAt: '2024-06-01T00:00:00.000Z' });
      });

      it('lets exactly one of 6 concurrent creates for one environment win', async () => {
        const { p, release } = await projectWithRelease();
        const results = await Promise.allSettled(
          Array.from({ length: 6 }, () => store.rollouts.create(newRollout(p.id, 'production', release.id))),
        );
        const won = results.filter((r) => r.status === 'fulfilled');
        expect(won).toHaveLength(1);
        for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(ConflictError);
        expect((await store.rollouts.list({ projectId: p.id })).map((r) => r.id)).toEqual([
          (won[0] as PromiseFulfilledResult<RolloutRecord>).value.id,
        ]);
      });

      it('refuses a taken id with ConflictError and an unknown project or release with NotFoundError', async () => {
        const { p, release } = await projectWithRelease();
        const made = await store.rollouts.create(newRollout(p.id, 'production', release.id));
        await expect(store.rollouts.create(newRollout(p.id, 'staging', release.id, { id: made.id }))).rejects.toBeInstanceOf(ConflictError);
        await expect(store.rollouts.create(newRollout(p.id, 'qa', uniq('no-release')))).rejects.toBeInstanceOf(NotFoundError);
        await expect(store.rollouts.create(newRollout(uniq('no-project'), 'qa', release.id))).rejects.toBeInstanceOf(NotFoundError);
        expect((await store.rollouts.list({ projectId: p.id })).map((r) => r.id)).toEqual([made.id]);
      });

      it('lists newest first, filtered by project, environment and limit', async () => {
        const { p, release } = await projectWithRelease();
        const done = { phase: 'succeeded', state: {}, finishedAt: '2024-06-01T00:00:00.000Z' };
        const a = await store.rollouts.create(newRollout(p.id, 'production', release.id));
        await store.rollouts.transition(a.id, done);
        const b = await store.rollouts.create(newRollout(p.id, 'staging', release.id));
        const c = await store.rollouts.create(newRollout(p.id, 'production', release.id));
        const ids = async (f: Parameters<Store['rollouts']['list']>[0]) => (await store.rollouts.list(f)).map((r) => r.id);
        expect(await ids({ projectId: p.id })).toEqual([c.id, b.id, a.id]);
        expect(await ids({ projectId: p.id, environment: 'production' })).toEqual([c.id, a.id]);
        expect(await ids({ projectId: p.id, limit: 2 })).toEqual([c.id, b.id]);
        const all = await ids({});
        expect(all.indexOf(c.id)).toBeLessThan(all.indexOf(a.id));
      });

      it('persists phase, state, finishedAt, the environment and events of a transition together', async () => {
        const { p, release } = await projectWithRelease();
        const rollout = await store.rollouts.create(newRollout(p.id, 'production', release.id));
        const subject = `rollout:${rollout.id}`;
        const state = { step: 2, weights: { stable: 50, canary: 50 }, analysis: [{ pass: true, p: 0.01 }], none: null };
        await store.rollouts.transition(rollout.id, {
          phase: 'analysing',
          state,
          events: [event(subject, { type: 'rollout.step', data: { step: 2 } }), event(subject, { type: 'rollout.analysis' })],
        });
        const mid = await store.rollouts.get(rollout.id);
        expect(mid).toEqual({ ...rollout, phase: 'analysing', state, updatedAt: expect.stringMatching(ISO) });
        expect(mid!.updatedAt >= rollout.updatedAt).toBe(true);
        expect(await store.rollouts.environment(p.id, 'production')).toBeUndefined();

        await store.rollouts.transition(rollout.id, {
          phase: 'succeeded',
          state: { step: 3 },
          finishedAt: '2024-06-01T12:00:00.000Z',
          environment: { projectId: p.id, name: 'production', currentReleaseId: release.id, previousReleaseId: null, port: 8080 },
          events: [event(subject, { type: 'rollout.succeeded' })],
        });
        expect(await store.rollouts.get(rollout.id)).toMatchObject({
          phase: 'succeeded',
          state: { step: 3 },
          finishedAt: '2024-06-01T12:00:00.000Z',
        });
        expect(await store.rollouts.environment(p.id, 'production')).toEqual({
          projectId: p.id,
          name: 'production',
          currentReleaseId: release.id,
          previousReleaseId: null,
          port: 8080,
          updatedAt: expect.stringMatching(ISO),
        });
        const events = await store.events.list({ subjectPrefix: subject });
        expect(events.map((e) => e.type)).toEqual(['rollout.step', 'rollout.analysis', 'rollout.succeeded']);
        expect(events[0]).toMatchObject({ data: { step: 2 }, env: ENV });

        // A transition without finishedAt leaves it; the environment row is upserted, not duplicated.
        const r2 = await store.releases.create(newRelease(p.id));
        await store.rollouts.transition(rollout.id, {
          phase: 'succeeded',
          state: { step: 4 },
          environment: { projectId: p.id, name: 'production', currentReleaseId: r2.id, previousReleaseId: release.id, port: null },
        });
        expect(await store.rollouts.get(rollout.id)).toMatchObject({ state: { step: 4 }, finishedAt: '2024-06-01T12:00:00.000Z' });
        expect(await store.rollouts.environments(p.id)).toEqual([
          {
            projectId: p.id,
            name: 'production',
            currentReleaseId: r2.id,
            previousReleaseId: release.id,
            port: null,
            updatedAt: expect.stringMatching(ISO),
          },
        ]);
      });

      it('rolls back the phase, state and environment when an event insert fails', async () => {
        const { p, release } = await projectWithRelease();
        const rollout = await store.rollouts.create(newRollout(p.id, 'production', release.id));
        const subject = `rollout:${rollout.id}`;
        await store.rollouts.setEnvironment({
          projectId: p.id,
          name: 'production',
          currentReleaseId: 'OLD',
          previousReleaseId: null,
          port: 9000,
        });
        const envBefore = await store.rollouts.environment(p.id, 'production');
        // The second event breaks the events table's NOT NULL on type, after the rollout update,
        // the environment upsert and the first event were written in the transaction.
        const failing = store.rollouts.transition(rollout.id, {
          phase: 'succeeded',
          state: { changed: true },
          finishedAt: '2024-06-01T12:00:00.000Z',
          environment: { projectId: p.id, name: 'production', currentReleaseId: release.id, previousReleaseId: 'OLD', port: 9001 },
          events: [event(subject, { type: 'rollout.succeeded' }), event(subject, { type: null as unknown as string })],
        });
        await expect(failing).rejects.toThrow();
        expect(await store.rollouts.get(rollout.id)).toEqual(rollout);
        expect(await store.rollouts.active(p.id, 'production')).toEqual(rollout);
        expect(await store.rollouts.environment(p.id, 'production')).toEqual(envBefore);
        expect(await store.events.list({ subjectPrefix: subject })).toEqual([]);
        // The store is still usable after the rollback.
        await store.rollouts.transition(rollout.id, { phase: 'canary', state: {}, events: [event(subject)] });
        expect((await store.rollouts.get(rollout.id))?.phase).toBe('canary');
        expect(await store.events.list({ subjectPrefix: subject })).toHaveLength(1);
      });

      it('refuses an unknown rollout with NotFoundError, and another environment with InputError, changing nothing', async () => {
        const { p, release } = await projectWithRelease();
        const missing = uniq('no-rollout');
        const unknown = store.rollouts.transition(missing, {
          phase: 'succeeded',
          state: {},
          environment: { projectId: p.id, name: 'production', currentReleaseId: release.id, previousReleaseId: null, port: 1 },
          events: [event(`rollout:${missing}`)],
        });
        await expect(unknown).rejects.toBeInstanceOf(NotFoundError);
        await expect(unknown).rejects.toMatchObject({ code: 'NOT_FOUND' });
        expect(await store.rollouts.get(missing)).toBeUndefined();
        expect(await store.rollouts.environments(p.id)).toEqual([]);
        expect(await store.events.list({ subjectPrefix: `rollout:${missing}` })).toEqual([]);

        const rollout = await store.rollouts.create(newRollout(p.id, 'staging', release.id));
        const elsewhere = store.rollouts.transition(rollout.id, {
          phase: 'succeeded',
          state: {},
          environment: { projectId: p.id, name: 'production', currentReleaseId: release.id, previousReleaseId: null, port: 1 },
          events: [event(`rollout:${rollout.id}`)],
        });
        await expect(elsewhere).rejects.toBeInstanceOf(InputError);
        expect(await store.rollouts.get(rollout.id)).toEqual(rollout);
        expect(await store.rollouts.environments(p.id)).toEqual([]);
        expect(await store.events.list({ subjectPrefix: `rollout:${rollout.id}` })).toEqual([]);
      });
    });

    describe('environments', () => {
      it("upserts environments and lists a project's sorted by name", async () => {
        const p = await project();
        const other = await project();
        await store.rollouts.setEnvironment({
          projectId: p.id,
          name: 'staging',
          currentReleaseId: null,
          previousReleaseId: null,
          port: null,
        });
        await store.rollouts.setEnvironment({
          projectId: p.id,
          name: 'production',
          currentReleaseId: 'R1',
          previousReleaseId: null,
          port: 8443,
        });
        await store.rollouts.setEnvironment({
          projectId: other.id,
          name: 'production',
          currentReleaseId: 'X',
          previousReleaseId: null,
          port: 1,
        });
        await store.rollouts.setEnvironment({
          projectId: p.id,
          name: 'staging',
          currentReleaseId: 'R2',
          previousReleaseId: 'R1',
          port: 7000,
        });

        const envs = await store.rollouts.environments(p.id);
        expect(envs).toEqual([
          {
            projectId: p.id,
            name: 'production',
            currentReleaseId: 'R1',
            previousReleaseId: null,
            port: 8443,
            updatedAt: expect.stringMatching(ISO),
          },
          {
            projectId: p.id,
            name: 'staging',
            currentReleaseId: 'R2',
            previousReleaseId: 'R1',
            port: 7000,
            updatedAt: expect.stringMatching(ISO),
          },
        ]);
        expect(await store.rollouts.environment(p.id, 'staging')).toEqual(envs[1]);
        expect(await store.rollouts.environment(p.id, 'qa')).toBeUndefined();
        expect(await store.rollouts.environments(uniq('nobody'))).toEqual([]);
      });

      it('refuses an environment of an unknown project with NotFoundError', async () => {
        const missing = uniq('nobody');
        await expect(
          store.rollouts.setEnvironment({ projectId: missing, name: 'x', currentReleaseId: null, previousReleaseId: null, port: null }),
        ).rejects.toBeInstanceOf(NotFoundError);
        expect(await store.rollouts.environments(missing)).toEqual([]);
      });
    });

    describe('metrics', () => {
      // Epoch milliseconds of today: beyond 32 bits, so the columns must hold 64-bit values.
      const T = 1_700_000_000_000;

      it('returns the rows overlapping [sinceMs, untilMs), oldest first', async () => {
        const p = await project();
        const other = await project();
        // Appended out of order; buckets [T, T+10s), [T+10s, T+20s), [T+20s, T+30s).
        const b2 = rollup(p.id, T + 10_000, { requests: 7, errors: 0 });
        const b1 = rollup(p.id, T);
        const b3 = rollup(p.id, T + 20_000, { data: {} });
        await store.metrics.append([b2, b1]);
        await store.metrics.append([b3]);
        await store.metrics.append([rollup(other.id, T)]);
        const window = (sinceMs: number, untilMs: number) => store.metrics.query({ projectId: p.id, sinceMs, untilMs });

        expect(await window(T - 50_000, T + 50_000)).toEqual([b1, b2, b3]);
        // Start inclusive, end exclusive: a bucket ending exactly at sinceMs or starting at untilMs is out.
        expect(await window(T + 10_000, T + 20_000)).toEqual([b2]);
        expect(await window(T + 5_000, T + 25_000)).toEqual([b1, b2, b3]);
        expect(await window(T + 15_000, T + 15_001)).toEqual([b2]);
        expect(await window(T + 9_999, T + 10_001)).toEqual([b1, b2]);
        expect(await window(T + 30_000, T + 40_000)).toEqual([]);
        expect(await window(T - 10_000, T)).toEqual([]);
      });

      it('filters by environment and version', async () => {
        const p = await project();
        const stable = rollup(p.id, T, { version: 'r1', pool: 'stable' });
        const canary = rollup(p.id, T, { version: 'r2', pool: 'canary', requests: 5, errors: 5 });
        const staging = rollup(p.id, T + 1, { environment: 'staging' });
        await store.metrics.append([stable, canary, staging]);
        const q = (f: { environment?: string; version?: string }) =>
          store.metrics.query({ projectId: p.id, sinceMs: T, untilMs: T + 10_000, ...f });
        expect(await q({})).toEqual([stable, canary, staging]);
        expect(await q({ environment: 'production' })).toEqual([stable, canary]);
        expect(await q({ environment: 'production', version: 'r2' })).toEqual([canary]);
        expect(await q({ version: 'r1' })).toEqual([stable, staging]);
        expect(await q({ environment: 'qa' })).toEqual([]);
      });

      it('appends all rows or none, and refuses an unknown project with NotFoundError', async () => {
        const p = await project();
        await store.metrics.append([]);
        const failing = store.metrics.append([rollup(p.id, T), rollup(uniq('nobody'), T)]);
        await expect(failing).rejects.toBeInstanceOf(NotFoundError);
        expect(await store.metrics.query({ projectId: p.id, sinceMs: T, untilMs: T + 1 })).toEqual([]);
        // A batch larger than one INSERT's chunk.
        const many = Array.from({ length: 1_200 }, (_, i) => rollup(p.id, T + i * 10_000, { requests: i }));
        await store.metrics.append(many);
        expect(await store.metrics.query({ projectId: p.id, sinceMs: T, untilMs: T + 12_000_000 })).toEqual(many);
      });

      it('stores a roll-up once: one appended again (same project, environment, version, pool, start) is skipped', async () => {
        const p = await project();
        const first = rollup(p.id, T, { requests: 10 });
        const canary = rollup(p.id, T, { version: 'r2', pool: 'canary', requests: 2 });
        await store.metrics.append([first]);
        // A server killed before acknowledging reads the batch again, with the roll-up already stored.
        await store.metrics.append([rollup(p.id, T, { requests: 10 }), canary, rollup(p.id, T + 10_000)]);
        const rows = await store.metrics.query({ projectId: p.id, sinceMs: T, untilMs: T + 20_000 });
        expect(rows).toEqual([first, canary, rollup(p.id, T + 10_000)]);
      });

      it('prunes the rows that ended at or before beforeMs and says how many', async () => {
        // Long ago, so no other test's rows are this old.
        const OLD = 1_000_000_000_000;
        const p = await project();
        const old1 = rollup(p.id, OLD);
        const old2 = rollup(p.id, OLD + 10_000, { environment: 'staging' });
        const straddling = rollup(p.id, OLD + 15_000);
        const recent = rollup(p.id, T);
        await store.metrics.append([old1, old2, straddling, recent]);
        expect(await store.metrics.prune(OLD + 20_000)).toBe(2);
        expect(await store.metrics.query({ projectId: p.id, sinceMs: 0, untilMs: T + 1 })).toEqual([straddling, recent]);
        expect(await store.metrics.prune(OLD + 20_000)).toBe(0);
      });
    });

    describe('environment secrets', () => {
      it("keeps an environment's secrets apart from the project's and from other environments'", async () => {
        const p = await project();
        await store.secrets.set(p.id, 'TOKEN', 'v1:project');
        await store.secrets.set(p.id, 'TOKEN', 'v1:prod', 'production');
        await store.secrets.set(p.id, 'DB_URL', 'v1:prod-db', 'production');
        await store.secrets.set(p.id, 'TOKEN', 'v1:staging', 'staging');
        await store.secrets.set(p.id, 'TOKEN', 'v1:prod2', 'production');

        expect(await store.secrets.get(p.id, 'TOKEN')).toBe('v1:project');
        expect(await store.secrets.get(p.id, 'TOKEN', 'production')).toBe('v1:prod2');
        expect(await store.secrets.get(p.id, 'TOKEN', 'staging')).toBe('v1:staging');
        expect(await store.secrets.get(p.id, 'DB_URL')).toBeUndefined();
        expect(await store.secrets.get(p.id, 'TOKEN', 'qa')).toBeUndefined();
        expect(await store.secrets.names(p.id)).toEqual(['TOKEN']);
        expect(await store.secrets.names(p.id, 'production')).toEqual(['DB_URL', 'TOKEN']);
        expect(await store.secrets.all(p.id)).toEqual({ TOKEN: 'v1:project' });
        expect(await store.secrets.all(p.id, 'production')).toEqual({ DB_URL: 'v1:prod-db', TOKEN: 'v1:prod2' });
        expect(await store.secrets.all(p.id, 'qa')).toEqual({});

        expect(await store.secrets.delete(p.id, 'TOKEN', 'production')).toBe(true);
        expect(await store.secrets.delete(p.id, 'TOKEN', 'production')).toBe(false);
        expect(await store.secrets.get(p.id, 'TOKEN')).toBe('v1:project');
        expect(await store.secrets.get(p.id, 'TOKEN', 'staging')).toBe('v1:staging');
        expect(await store.secrets.delete(p.id, 'DB_URL')).toBe(false);
        expect(await store.secrets.delete(p.id, 'TOKEN')).toBe(true);
        expect(await store.secrets.names(p.id, 'production')).toEqual(['DB_URL']);
      });

      it('refuses an environment secret for an unknown project with NotFoundError', async () => {
        await expect(store.secrets.set(uniq('nobody'), 'X', 'v1:x', 'production')).rejects.toBeInstanceOf(NotFoundError);
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
        await first.secrets.set(p.id, 'S', 'v1:env-s', 'production');
        const release = await first.releases.create(newRelease(p.id, { runId: run.id }));
        const rollout = await first.rollouts.create(newRollout(p.id, 'production', release.id));
        const envRecord = { projectId: p.id, name: 'production', currentReleaseId: release.id, previousReleaseId: null, port: 8080 };
        await first.rollouts.transition(rollout.id, {
          phase: 'canary',
          state: { step: 1 },
          environment: envRecord,
          events: [event(`rollout:${rollout.id}`)],
        });
        const movedRollout = await first.rollouts.get(rollout.id);
        const metric = rollup(p.id, 1_700_000_000_000);
        await first.metrics.append([metric]);
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
          expect(await second.secrets.get(p.id, 'S', 'production')).toBe('v1:env-s');
          expect(await second.releases.get(`${p.id}#1`)).toEqual(release);
          expect(await second.rollouts.get(rollout.id)).toEqual(movedRollout);
          expect(await second.rollouts.active(p.id, 'production')).toEqual(movedRollout);
          expect(await second.rollouts.environment(p.id, 'production')).toMatchObject(envRecord);
          expect(await second.events.list({ subjectPrefix: `rollout:${rollout.id}` })).toHaveLength(1);
          expect(await second.metrics.query({ projectId: p.id, sinceMs: 0, untilMs: 2 ** 50 })).toEqual([metric]);
          // Numbering continues after a reopen, and the one-active-rollout rule still holds.
          expect((await second.runs.create(newRun(p.id), [])).number).toBe(2);
          expect((await second.releases.create(newRelease(p.id))).number).toBe(2);
          await expect(second.rollouts.create(newRollout(p.id, 'production', release.id))).rejects.toBeInstanceOf(ConflictError);
        } finally {
          await second.close();
        }
      });
    });
  });
}

storeContract('SQLite', sqliteTestDatabase, false);
storeContract('PostgreSQL', pgTestDatabase, !pgAvailable());
