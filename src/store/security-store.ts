/** The advisory database and the findings store (AdvisoryStore, FindingStore of ./security-ports.ts) over Kysely. */
import { type Selectable, sql } from 'kysely';
import type { StoreContext } from './codec.ts';
import { type Db, fromDbBool, fromJson, toJson, toNumber } from './codec.ts';
import { insertEvents } from './event-store.ts';
import type { AdvisoryImportsTable, SecurityScansTable, SecuritySuppressionsTable } from './migrations.ts';
import type { AdvisoryImport, AdvisoryStore, FindingStore, ScannedJob, StoredFinding, Suppression } from './security-ports.ts';

/** Rows per insert: well under SQLite's 32,766 and PostgreSQL's 65,535 bound parameters at 12 columns. */
const CHUNK = 500;

function chunks<T>(items: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function toImport(row: Selectable<AdvisoryImportsTable>): AdvisoryImport {
  return {
    source: row.source,
    importedAt: row.imported_at,
    newestModified: row.newest_modified,
    added: toNumber(row.added),
    updated: toNumber(row.updated),
    unchanged: toNumber(row.unchanged),
    withdrawn: toNumber(row.withdrawn),
    rejected: toNumber(row.rejected),
  };
}

export function createAdvisoryStore(ctx: StoreContext): AdvisoryStore {
  const { db } = ctx;
  return {
    async modifiedById() {
      const rows = await db.selectFrom('advisories').select(['id', 'modified']).execute();
      return new Map(rows.map((r) => [r.id, r.modified]));
    },

    async upsert(records) {
      if (records.length === 0) return;
      await db.transaction().execute(async (trx) => {
        for (const part of chunks(records)) {
          await trx
            .deleteFrom('advisory_packages')
            .where(
              'advisory_id',
              'in',
              part.map((r) => r.id),
            )
            .execute();
          await trx
            .insertInto('advisories')
            .values(part.map((r) => ({ id: r.id, modified: r.modified, withdrawn: r.withdrawn, record: r.record })))
            .onConflict((oc) =>
              oc.column('id').doUpdateSet({
                modified: sql`excluded.modified`,
                withdrawn: sql`excluded.withdrawn`,
                record: sql`excluded.record`,
              }),
            )
            .execute();
          const packages = part.flatMap((r) => r.packages.map((p) => ({ ecosystem: p.ecosystem, name: p.name, advisory_id: r.id })));
          for (const rows of chunks(packages)) await trx.insertInto('advisory_packages').values(rows).execute();
        }
      });
    },

    async recordImport(s) {
      await db
        .insertInto('advisory_imports')
        .values({
          source: s.source,
          imported_at: s.importedAt,
          newest_modified: s.newestModified,
          added: s.added,
          updated: s.updated,
          unchanged: s.unchanged,
          withdrawn: s.withdrawn,
          rejected: s.rejected,
        })
        .execute();
    },

    async status() {
      const last = await db.selectFrom('advisory_imports').selectAll().orderBy('id', 'desc').limit(1).executeTakeFirst();
      const counts = await db
        .selectFrom('advisories')
        .select((eb) => [eb.fn.countAll().as('records'), eb.fn.count('withdrawn').as('withdrawn')])
        .executeTakeFirstOrThrow();
      return {
        lastImport: last === undefined ? null : toImport(last),
        records: toNumber(counts.records as number | string),
        withdrawn: toNumber(counts.withdrawn as number | string),
      };
    },

    async byPackages(packages) {
      const byEcosystem = new Map<string, Set<string>>();
      for (const p of packages) {
        const names = byEcosystem.get(p.ecosystem) ?? new Set<string>();
        names.add(p.name);
        byEcosystem.set(p.ecosystem, names);
      }
      const seen = new Set<string>();
      const out: string[] = [];
      for (const [ecosystem, names] of byEcosystem) {
        for (const part of chunks([...names])) {
          const rows = await db
            .selectFrom('advisory_packages as p')
            .innerJoin('advisories as a', 'a.id', 'p.advisory_id')
            .select(['a.id', 'a.record'])
            .where('p.ecosystem', '=', ecosystem)
            .where('p.name', 'in', part)
            .where('a.withdrawn', 'is', null)
            .execute();
          for (const row of rows) {
            if (seen.has(row.id)) continue;
            seen.add(row.id);
            out.push(row.record);
          }
        }
      }
      return out;
    },

    async *current() {
      // Keyset pages: a database of a few hundred thousand records is never held in memory at once.
      let after = '';
      for (;;) {
        const rows = await db
          .selectFrom('advisories')
          .select(['id', 'record'])
          .where('withdrawn', 'is', null)
          .where('id', '>', after)
          .orderBy('id')
          .limit(CHUNK)
          .execute();
        for (const row of rows) yield row.record;
        if (rows.length < CHUNK) return;
        after = (rows.at(-1) as { id: string }).id;
      }
    },
  };
}

function toScannedJob(row: Selectable<SecurityScansTable>): ScannedJob {
  return {
    projectId: row.project_id,
    runId: row.run_id,
    runNumber: toNumber(row.run_number),
    jobKey: row.job_key,
    defaultBranch: fromDbBool(row.default_branch),
    scannedAt: row.scanned_at,
  };
}

function toSuppression(row: Selectable<SecuritySuppressionsTable>): Suppression {
  return {
    id: row.id,
    projectId: row.project_id,
    fingerprint: row.fingerprint,
    ruleId: row.rule_id,
    path: row.path,
    reason: row.reason,
    author: row.author,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    removedAt: row.removed_at,
  };
}

export function createFindingStore(ctx: StoreContext): FindingStore {
  const { db, dialect } = ctx;

  async function moveCursor(trx: Db, name: string, eventId: number): Promise<void> {
    await trx
      .insertInto('event_cursors')
      .values({ name, event_id: eventId })
      .onConflict((oc) => oc.column('name').doUpdateSet({ event_id: sql`excluded.event_id` }))
      .execute();
  }

  return {
    async recordJob(job, findings, events, cursor) {
      await db.transaction().execute(async (trx) => {
        const existing = await trx
          .selectFrom('security_scans')
          .select('run_id')
          .where('run_id', '=', job.runId)
          .where('job_key', '=', job.jobKey)
          .executeTakeFirst();
        if (existing === undefined) {
          await trx
            .insertInto('security_scans')
            .values({
              run_id: job.runId,
              job_key: job.jobKey,
              project_id: job.projectId,
              run_number: job.runNumber,
              default_branch: job.defaultBranch,
              scanned_at: job.scannedAt,
            })
            .execute();
          // One row per fingerprint: a SARIF log may repeat a result (two tools, one rule).
          const unique = [...new Map(findings.map((f) => [f.fingerprint, f])).values()];
          for (const part of chunks(unique)) {
            await trx
              .insertInto('security_findings')
              .values(
                part.map((f) => ({
                  run_id: job.runId,
                  job_key: job.jobKey,
                  fingerprint: f.fingerprint,
                  project_id: job.projectId,
                  scanner: f.scanner,
                  rule_id: f.ruleId,
                  rule_name: f.ruleName,
                  level: f.level,
                  message: f.message,
                  path: f.path,
                  start_line: f.startLine,
                  properties: toJson(f.properties),
                })),
              )
              .execute();
          }
          await insertEvents(trx, dialect, events);
        }
        await moveCursor(trx, cursor.name, cursor.eventId);
      });
    },

    async scannedJobs(runId) {
      const rows = await db.selectFrom('security_scans').selectAll().where('run_id', '=', runId).orderBy('job_key').execute();
      return rows.map(toScannedJob);
    },

    async runFindings(runId) {
      const rows = await db
        .selectFrom('security_findings')
        .selectAll()
        .where('run_id', '=', runId)
        .orderBy('job_key')
        .orderBy('fingerprint')
        .execute();
      const seen = new Set<string>();
      const out: (StoredFinding & { jobKey: string })[] = [];
      for (const r of rows) {
        if (seen.has(r.fingerprint)) continue;
        seen.add(r.fingerprint);
        out.push({
          jobKey: r.job_key,
          fingerprint: r.fingerprint,
          scanner: r.scanner,
          ruleId: r.rule_id,
          ruleName: r.rule_name,
          level: r.level,
          message: r.message,
          path: r.path,
          startLine: r.start_line === null ? null : toNumber(r.start_line),
          properties: fromJson<Record<string, unknown>>(r.properties),
        });
      }
      return out;
    },

    async baselineRun(projectId, beforeNumber) {
      let q = db
        .selectFrom('security_scans')
        .select(['run_id', 'run_number'])
        .where('project_id', '=', projectId)
        .where('default_branch', '=', true)
        .orderBy('run_number', 'desc')
        .limit(1);
      if (beforeNumber !== undefined) q = q.where('run_number', '<', beforeNumber);
      const row = await q.executeTakeFirst();
      return row === undefined ? undefined : { runId: row.run_id, runNumber: toNumber(row.run_number) };
    },

    async trend(projectId, limit) {
      const runs = await db
        .selectFrom('security_scans')
        .select((eb) => ['run_id', 'run_number', eb.fn.min('scanned_at').as('scanned_at')])
        .where('project_id', '=', projectId)
        .groupBy(['run_id', 'run_number'])
        .orderBy('run_number', 'desc')
        .limit(limit)
        .execute();
      if (runs.length === 0) return [];
      const counts = await db
        .selectFrom('security_findings')
        .select((eb) => ['run_id', 'level', eb.fn.count('fingerprint').distinct().as('n')])
        .where(
          'run_id',
          'in',
          runs.map((r) => r.run_id),
        )
        .groupBy(['run_id', 'level'])
        .execute();
      return runs.map((r) => ({
        runId: r.run_id,
        runNumber: toNumber(r.run_number),
        scannedAt: String(r.scanned_at),
        levels: Object.fromEntries(counts.filter((c) => c.run_id === r.run_id).map((c) => [c.level, toNumber(c.n as number | string)])),
      }));
    },

    async projectsWithFingerprint(fingerprint) {
      const rows = await db
        .selectFrom('security_findings')
        .select('project_id')
        .distinct()
        .where('fingerprint', '=', fingerprint)
        .execute();
      return rows.map((r) => r.project_id);
    },

    async addSuppression(s, events) {
      await db.transaction().execute(async (trx) => {
        await trx
          .insertInto('security_suppressions')
          .values({
            id: s.id,
            project_id: s.projectId,
            fingerprint: s.fingerprint,
            rule_id: s.ruleId,
            path: s.path,
            reason: s.reason,
            author: s.author,
            created_at: s.createdAt,
            expires_at: s.expiresAt,
            removed_at: s.removedAt,
          })
          .execute();
        await insertEvents(trx, dialect, events);
      });
    },

    async removeSuppression(id, removedAt, events) {
      await db.transaction().execute(async (trx) => {
        await trx.updateTable('security_suppressions').set({ removed_at: removedAt }).where('id', '=', id).execute();
        await insertEvents(trx, dialect, events);
      });
    },

    async getSuppression(id) {
      const row = await db.selectFrom('security_suppressions').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? undefined : toSuppression(row);
    },

    async suppressions(projectId) {
      const rows = await db
        .selectFrom('security_suppressions')
        .selectAll()
        .where('project_id', '=', projectId)
        .where('removed_at', 'is', null)
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .execute();
      return rows.map(toSuppression);
    },

    async policy(projectId) {
      const row = await db.selectFrom('security_policies').select('policy').where('project_id', '=', projectId).executeTakeFirst();
      return row?.policy;
    },

    async setPolicy(projectId, policy, events) {
      await db.transaction().execute(async (trx) => {
        await trx
          .insertInto('security_policies')
          .values({ project_id: projectId, policy, updated_at: new Date().toISOString() })
          .onConflict((oc) => oc.column('project_id').doUpdateSet({ policy: sql`excluded.policy`, updated_at: sql`excluded.updated_at` }))
          .execute();
        await insertEvents(trx, dialect, events);
      });
    },

    async cursor(name) {
      const row = await db.selectFrom('event_cursors').select('event_id').where('name', '=', name).executeTakeFirst();
      return row === undefined ? 0 : toNumber(row.event_id);
    },

    async setCursor(name, eventId) {
      await moveCursor(db, name, eventId);
    },
  };
}
