/** Agents and their attempts at jobs (AgentStore of ./ports.ts) over Kysely. */
import type { Selectable } from 'kysely';
import { ConflictError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import type { Db, StoreContext } from './codec.ts';
import { fromJson, isUniqueViolation, nowIso, toJson, toNumber, reusableRead } from './codec.ts';
import type { AgentAttemptsTable, AgentsTable } from './migrations.ts';
import type { AgentAttempt, AgentRecord, AgentStore, AttemptOutcome } from './ports.ts';

export function createAgentStore(ctx: StoreContext): AgentStore {
  const { db } = ctx;
  const byTokenHash = reusableRead(db, (hash) => db.selectFrom('agents').selectAll().where('token_hash', '=', hash));
  return {
    async create(a) {
      const record: AgentRecord = { id: newId(), name: a.name, labels: a.labels, createdAt: nowIso(), revokedAt: null, lastSeenAt: null };
      try {
        await db
          .insertInto('agents')
          .values({
            id: record.id,
            name: record.name,
            token_hash: a.tokenHash,
            labels: toJson(record.labels),
            created_at: record.createdAt,
            revoked_at: null,
            last_seen_at: null,
          })
          .execute();
      } catch (err) {
        if (isUniqueViolation(err)) throw new ConflictError(`an agent named ${a.name} already exists`);
        throw err;
      }
      return record;
    },

    async findByTokenHash(hash) {
      const [row] = await byTokenHash(hash);
      return row === undefined ? undefined : toAgent(row);
    },

    async findByName(name) {
      const row = await db.selectFrom('agents').selectAll().where('name', '=', name).executeTakeFirst();
      return row === undefined ? undefined : toAgent(row);
    },

    async list() {
      const rows = await db.selectFrom('agents').selectAll().orderBy('created_at', 'asc').orderBy('id', 'asc').execute();
      return rows.map(toAgent);
    },

    async revoke(name, at) {
      const result = await db
        .updateTable('agents')
        .set({ revoked_at: at })
        .where('name', '=', name)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },

    async touch(name, at) {
      await db.updateTable('agents').set({ last_seen_at: at }).where('name', '=', name).execute();
    },

    lastFence(runId, jobKey) {
      return maxFence(db, runId, jobKey);
    },

    async beginAttempt(a) {
      await db.transaction().execute(async (tx) => {
        const last = await maxFence(tx, a.runId, a.jobKey);
        if (a.fence <= last) throw new ConflictError(`fencing token ${a.fence} of ${a.runId}/${a.jobKey} is not above ${last}`);
        try {
          await tx
            .insertInto('agent_attempts')
            .values({
              run_id: a.runId,
              job_key: a.jobKey,
              fence: a.fence,
              agent_id: a.agentId,
              started_at: a.startedAt,
              ended_at: null,
              outcome: null,
            })
            .execute();
        } catch (err) {
          if (isUniqueViolation(err)) throw new ConflictError(`fencing token ${a.fence} of ${a.runId}/${a.jobKey} was already granted`);
          throw err;
        }
      });
    },

    async endAttempt(runId, jobKey, fence, outcome, at) {
      const result = await db
        .updateTable('agent_attempts')
        .set({ ended_at: at, outcome })
        .where('run_id', '=', runId)
        .where('job_key', '=', jobKey)
        .where('fence', '=', fence)
        .where('ended_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },

    async attempts(runId) {
      const rows = await db
        .selectFrom('agent_attempts')
        .selectAll()
        .where('run_id', '=', runId)
        .orderBy('job_key', 'asc')
        .orderBy('fence', 'asc')
        .execute();
      return rows.map(toAttempt);
    },
  };
}

/** The highest fencing token of a job's attempts, 0 when it has none. */
async function maxFence(db: Db, runId: string, jobKey: string): Promise<number> {
  const row = await db
    .selectFrom('agent_attempts')
    .select((eb) => eb.fn.max('fence').as('fence'))
    .where('run_id', '=', runId)
    .where('job_key', '=', jobKey)
    .executeTakeFirst();
  return row?.fence === null || row?.fence === undefined ? 0 : toNumber(row.fence);
}

function toAgent(row: Selectable<AgentsTable>): AgentRecord {
  return {
    id: row.id,
    name: row.name,
    labels: fromJson<string[]>(row.labels),
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
    lastSeenAt: row.last_seen_at,
  };
}

function toAttempt(row: Selectable<AgentAttemptsTable>): AgentAttempt {
  return {
    runId: row.run_id,
    jobKey: row.job_key,
    fence: toNumber(row.fence),
    agentId: row.agent_id,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    outcome: row.outcome as AttemptOutcome | null,
  };
}
