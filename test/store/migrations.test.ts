/**
 * Upgrading a database that an earlier Gantry made: a store migrated only to 0001 (as shipped
 * before progressive delivery) keeps its data when opened by this version, and gains the
 * delivery tables with their rules. Runs on SQLite and PostgreSQL alike.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Kysely, PostgresDialect } from 'kysely';
import { Migrator } from 'kysely/migration';
import pg from 'pg';
import { ConflictError } from '../../src/core/errors.ts';
import { migrations } from '../../src/store/migrations.ts';
import type { Database, StoreDialect } from '../../src/store/migrations.ts';
import { NodeSqliteDialect, openSqliteDatabase } from '../../src/store/sqlite-dialect.ts';
import { createKyselyStore, openStore } from '../../src/store/index.ts';
import { pgAvailable, pgTestDatabase, sqliteTestDatabase } from '../support/databases.ts';
import type { TestDatabase } from '../support/databases.ts';
import { manualRun } from '../support/run-records.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A Kysely handle on the test database, bypassing openStore (which would migrate to the latest). */
function rawDb(database: TestDatabase, dialect: StoreDialect): Kysely<Database> {
  if (dialect === 'postgres')
    return new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: database.url, max: 2 }) }) });
  return new Kysely<Database>({ dialect: new NodeSqliteDialect({ database: openSqliteDatabase(database.url.slice('sqlite:'.length)) }) });
}

function upgradeSuite(name: string, dialect: StoreDialect, factory: () => Promise<TestDatabase | null>, skip: boolean): void {
  describe.skipIf(skip)(`migrations: ${name}`, () => {
    it('upgrades a 0001 database to 0002 keeping its projects, runs and secrets', async () => {
      const database = await factory();
      if (database === null) throw new Error(`${name}: no test database`);
      cleanups.push(database.cleanup);

      const old = rawDb(database, dialect);
      const initial = migrations(dialect)['0001_initial'];
      if (initial === undefined) throw new Error('0001_initial is missing');
      const migrator = new Migrator({
        db: old,
        provider: { getMigrations: async () => ({ '0001_initial': initial }) },
        migrationTableName: 'gantry_migrations',
        migrationLockTableName: 'gantry_migrations_lock',
      });
      const { error } = await migrator.migrateToLatest();
      expect(error).toBeUndefined();
      // The stores of 0001 work on the old schema as they did then.
      const before = createKyselyStore(old, dialect);
      const project = await before.projects.create({ name: 'legacy', source: { kind: 'local', path: '/srv' }, webhookSecret: 's' });
      await before.secrets.set(project.id, 'TOKEN', 'v1:old');
      const run = await before.runs.create(manualRun({ projectId: project.id }), []);
      await before.close();

      const store = await openStore({ url: database.url });
      try {
        expect(await store.projects.get(project.id)).toEqual(project);
        expect(await store.runs.get(run.id)).toEqual(run);
        expect(await store.secrets.get(project.id, 'TOKEN')).toBe('v1:old');
        expect(await store.secrets.get(project.id, 'TOKEN', 'production')).toBeUndefined();

        const release = await store.releases.create({
          projectId: project.id,
          runId: run.id,
          sha: 'abc',
          ref: 'refs/heads/main',
          configText: '',
          configHash: 'h',
          artifactsPath: 'r/1',
          createdBy: 'cli',
        });
        expect(release.number).toBe(1);
        const rollout = {
          projectId: project.id,
          environment: 'production',
          releaseId: release.id,
          previousReleaseId: null,
          phase: 'pending',
          state: {},
          createdBy: 'cli',
        };
        await store.rollouts.create({ ...rollout, id: 'RO-1' });
        await expect(store.rollouts.create({ ...rollout, id: 'RO-2' })).rejects.toBeInstanceOf(ConflictError);
        await store.metrics.append([
          {
            projectId: project.id,
            environment: 'production',
            version: 'r1',
            pool: 'stable',
            startMs: 0,
            endMs: 10,
            requests: 1,
            errors: 0,
            data: {},
          },
        ]);
        await store.projects.delete(project.id);
        expect(await store.releases.list(project.id)).toEqual([]);
      } finally {
        await store.close();
      }
    });
  });
}

upgradeSuite('SQLite', 'sqlite', sqliteTestDatabase, false);
upgradeSuite('PostgreSQL', 'postgres', pgTestDatabase, !pgAvailable());
