/** Runs and their jobs (RunStore of ./ports.ts) over Kysely. */
import { sql } from 'kysely';
import type { Selectable, Updateable } from 'kysely';
import { newId } from '../core/ids.ts';
import { ConflictError, NotFoundError } from '../core/errors.ts';
import type { JobStatus, MatrixValues, RunStatus, StepResult, TestCounts, TriggerEvent, Value } from '../core/types.ts';
import type { JobPatch, JobRecord, RunPatch, RunRecord, RunStore } from './ports.ts';
import type { JobsTable, RunsTable } from './migrations.ts';
import {
  PG_LOCK_RUN_NUMBER,
  fromDbBool,
  fromJson,
  fromJsonOrNull,
  isForeignKeyViolation,
  isUniqueViolation,
  nowIso,
  toJson,
  toNumber,
  reusableRead,
} from './codec.ts';
import type { Db, StoreContext } from './codec.ts';
import { insertEvents } from './event-store.ts';

/** Job rows per INSERT statement: 17 parameters each, well under either database's bound. */
const JOB_ROWS_PER_INSERT = 1000;

function toRun(row: Selectable<RunsTable>): RunRecord {
  return {
    id: row.id,
    projectId: row.project_id,
    number: toNumber(row.number),
    status: row.status as RunStatus,
    event: fromJson<TriggerEvent>(row.event),
    inputs: fromJson<Record<string, Value>>(row.inputs),
    configText: row.config_text,
    configHash: row.config_hash,
    concurrencyGroup: row.concurrency_group,
    parentRunId: row.parent_run_id,
    cancelRequested: fromDbBool(row.cancel_requested),
    owner: row.owner ?? null,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

function toJob(row: Selectable<JobsTable>): JobRecord {
  return {
    runId: row.run_id,
    key: row.key,
    jobId: row.job_id,
    matrix: fromJsonOrNull<MatrixValues>(row.matrix),
    needs: fromJson<string[]>(row.needs),
    status: row.status as JobStatus,
    attempt: toNumber(row.attempt),
    outputs: fromJson<Record<string, string>>(row.outputs),
    steps: fromJson<StepResult[]>(row.steps),
    tests: fromJsonOrNull<TestCounts>(row.tests),
    logTruncated: fromDbBool(row.log_truncated),
    reason: row.reason,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    reusedFromRunId: row.reused_from_run_id,
    interruptions: toNumber(row.interruptions),
  };
}

function runPatchColumns(patch: RunPatch): Updateable<RunsTable> {
  const set: Updateable<RunsTable> = {};
  if (patch.status !== undefined) set.status = patch.status;
  if (patch.cancelRequested !== undefined) set.cancel_requested = patch.cancelRequested;
  if (patch.startedAt !== undefined) set.started_at = patch.startedAt;
  if (patch.finishedAt !== undefined) set.finished_at = patch.finishedAt;
  return set;
}

function jobPatchColumns(patch: JobPatch): Updateable<JobsTable> {
  const set: Updateable<JobsTable> = {};
  if (patch.status !== undefined) set.status = patch.status;
  if (patch.attempt !== undefined) set.attempt = patch.attempt;
  if (patch.outputs !== undefined) set.outputs = toJson(patch.outputs);
  if (patch.steps !== undefined) set.steps = toJson(patch.steps);
  if (patch.tests !== undefined) set.tests = patch.tests === null ? null : toJson(patch.tests);
  if (patch.logTruncated !== undefined) set.log_truncated = patch.logTruncated;
  if (patch.reason !== undefined) set.reason = patch.reason;
  if (patch.startedAt !== undefined) set.started_at = patch.startedAt;
  if (patch.finishedAt !== undefined) set.finished_at = patch.finishedAt;
  if (patch.reusedFromRunId !== undefined) set.reused_from_run_id = patch.reusedFromRunId;
  if (patch.interruptions !== undefined) set.interruptions = patch.interruptions;
  return set;
}

/**
 * The next run number of a scope, read inside the creating transaction. SQLite transactions are
 * serial (BEGIN IMMEDIATE), so max+1 is safe there; on PostgreSQL concurrent creates in one scope
 * queue on a per-scope advisory lock held until commit, and the unique (scope, number) index
 * stays as the last guard.
 */
async function nextNumber(trx: Db, ctx: StoreContext, scope: string): Promise<number> {
  if (ctx.dialect === 'postgres') {
    await sql`select pg_advisory_xact_lock(${PG_LOCK_RUN_NUMBER}::int, hashtext(${scope}))`.execute(trx);
  }
  const row = await trx
    .selectFrom('runs')
    .select((eb) => eb.fn.max('number').as('max'))
    .where('number_scope', '=', scope)
    .executeTakeFirst();
  const max = row?.max;
  return max === null || max === undefined ? 1 : toNumber(max) + 1;
}

/** Runs numbered 1, 2, 3… per project; every state change persisted as one transaction. */
export function createRunStore(ctx: StoreContext): RunStore {
  const { db } = ctx;
  const runById = reusableRead(db, (id) => db.selectFrom('runs').selectAll().where('id', '=', id));
  const projectOfRun = reusableRead(db, (id) =>
    db
      .selectFrom('runs')
      .leftJoin('projects', 'projects.id', 'runs.project_id')
      .select('projects.name as project')
      .where('runs.id', '=', id),
  );
  return {
    /**
     * Throws NotFoundError when `projectId` names no project, ConflictError when a given `id`
     * is taken.
     */
    async create(run, jobs) {
      const id = run.id ?? newId();
      const createdAt = nowIso();
      const scope = run.projectId ?? '';
      try {
        return await db.transaction().execute(async (trx) => {
          const number = await nextNumber(trx, ctx, scope);
          await trx
            .insertInto('runs')
            .values({
              id,
              project_id: run.projectId,
              number_scope: scope,
              number,
              status: run.status ?? 'queued',
              event: toJson(run.event),
              inputs: toJson(run.inputs),
              config_text: run.configText,
              config_hash: run.configHash,
              concurrency_group: run.concurrencyGroup,
              parent_run_id: run.parentRunId,
              cancel_requested: false,
              // Named only when set: a run without an owner is one any store version can hold.
              ...(run.owner ? { owner: run.owner } : {}),
              created_at: createdAt,
              started_at: null,
              finished_at: null,
            })
            .execute();
          // In slices: one statement's parameters are bounded (SQLite 32,766, PostgreSQL 65,535),
          // and a job row has 17, so a run of ~1,930 jobs or more failed as one insert.
          for (let from = 0; from < jobs.length; from += JOB_ROWS_PER_INSERT) {
            await trx
              .insertInto('jobs')
              .values(
                jobs.slice(from, from + JOB_ROWS_PER_INSERT).map((j, i) => ({
                  run_id: id,
                  key: j.key,
                  position: from + i,
                  job_id: j.jobId,
                  matrix: j.matrix === null ? null : toJson(j.matrix),
                  needs: toJson(j.needs),
                  status: j.status,
                  attempt: j.attempt,
                  outputs: toJson(j.outputs),
                  steps: toJson(j.steps),
                  tests: j.tests === null ? null : toJson(j.tests),
                  log_truncated: j.logTruncated,
                  reason: j.reason,
                  started_at: j.startedAt,
                  finished_at: j.finishedAt,
                  reused_from_run_id: j.reusedFromRunId,
                  interruptions: j.interruptions,
                })),
              )
              .execute();
          }
          const record: RunRecord = {
            id,
            projectId: run.projectId,
            number,
            status: run.status ?? 'queued',
            event: run.event,
            inputs: run.inputs,
            configText: run.configText,
            configHash: run.configHash,
            concurrencyGroup: run.concurrencyGroup,
            parentRunId: run.parentRunId,
            cancelRequested: false,
            owner: run.owner ?? null,
            createdAt,
            startedAt: null,
            finishedAt: null,
          };
          return record;
        });
      } catch (err) {
        if (isForeignKeyViolation(err)) throw new NotFoundError(`project ${run.projectId} not found`, { projectId: run.projectId });
        // With the numbering lock held, the only unique key a create can hit is a caller's id.
        if (isUniqueViolation(err) && run.id !== undefined)
          throw new ConflictError(`a run with id ${run.id} already exists`, { runId: run.id });
        throw err;
      }
    },

    async takeOver(runId, from, owner) {
      let query = db.updateTable('runs').set({ owner }).where('id', '=', runId);
      query = from === null ? query.where('owner', 'is', null) : query.where('owner', '=', from);
      const updated = await query.executeTakeFirst();
      return Number(updated.numUpdatedRows) === 1;
    },

    async projectOf(runId) {
      const [row] = await projectOfRun(runId);
      return row === undefined ? undefined : row.project;
    },

    async get(runId) {
      const [row] = await runById(runId);
      return row === undefined ? undefined : toRun(row);
    },

    async list(filter = {}) {
      if (filter.status !== undefined && filter.status.length === 0) return [];
      // created_at then id: ids are time-sortable and strictly increasing within a process, so
      // runs created in the same millisecond still come out newest first.
      let q = db.selectFrom('runs').selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc');
      if (filter.projectId !== undefined) q = q.where('project_id', '=', filter.projectId);
      if (filter.status !== undefined) q = q.where('status', 'in', filter.status);
      if (filter.concurrencyGroup !== undefined) q = q.where('concurrency_group', '=', filter.concurrencyGroup);
      if (filter.limit !== undefined) q = q.limit(filter.limit);
      return (await q.execute()).map(toRun);
    },

    async jobs(runId) {
      const rows = await db.selectFrom('jobs').selectAll().where('run_id', '=', runId).orderBy('position', 'asc').execute();
      return rows.map(toJob);
    },

    /** Throws NotFoundError (and changes nothing) when the run or any patched job does not exist. */
    async transition(runId, change) {
      await db.transaction().execute(async (trx) => {
        const runSet = change.run === undefined ? {} : runPatchColumns(change.run);
        const found =
          Object.keys(runSet).length > 0
            ? Number((await trx.updateTable('runs').set(runSet).where('id', '=', runId).executeTakeFirst()).numUpdatedRows) > 0
            : (await trx.selectFrom('runs').select('id').where('id', '=', runId).executeTakeFirst()) !== undefined;
        if (!found) throw new NotFoundError(`run ${runId} not found`, { runId });

        for (const { key, patch } of change.jobs ?? []) {
          const jobSet = jobPatchColumns(patch);
          const jobFound =
            Object.keys(jobSet).length > 0
              ? Number(
                  (await trx.updateTable('jobs').set(jobSet).where('run_id', '=', runId).where('key', '=', key).executeTakeFirst())
                    .numUpdatedRows,
                ) > 0
              : (await trx.selectFrom('jobs').select('key').where('run_id', '=', runId).where('key', '=', key).executeTakeFirst()) !==
                undefined;
          if (!jobFound) throw new NotFoundError(`job "${key}" of run ${runId} not found`, { runId, key });
        }

        // Last, so the PostgreSQL event lock is held only until the commit right after.
        await insertEvents(trx, ctx.dialect, change.events ?? []);
      });
    },
  };
}
