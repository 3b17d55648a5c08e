/** The AdvisoryStore and FindingStore contracts (src/store/security-ports.ts) on a SQLite file and on PostgreSQL. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NewEvent, StoredAdvisory, StoredFinding, Store } from '../../src/store/index.ts';
import { openStore } from '../../src/store/index.ts';
import type { TestDatabase } from '../support/databases.ts';
import { pgAvailable, pgTestDatabase, sqliteTestDatabase } from '../support/databases.ts';

const ENV = { gantryVersion: '0.1.0', nodeVersion: 'v24.0.0', host: 'test-host' };

const advisory = (id: string, modified: string, names: string[], withdrawn: string | null = null): StoredAdvisory => ({
  id,
  modified,
  withdrawn,
  record: JSON.stringify({ id, modified, affected: names.map((name) => ({ package: { ecosystem: 'npm', name } })) }),
  packages: names.map((name) => ({ ecosystem: 'npm', name })),
});

const finding = (fingerprint: string, level = 'high'): StoredFinding => ({
  fingerprint,
  scanner: 'secrets',
  ruleId: 'generic-api-key',
  ruleName: 'Generic API Key',
  level,
  message: 'a secret',
  path: 'src/config.ts',
  startLine: 3,
  properties: { entropy: 4.1 },
});

function contract(name: string, factory: () => Promise<TestDatabase | null>, skip: boolean): void {
  describe.skipIf(skip)(`AdvisoryStore and FindingStore: ${name}`, () => {
    let database: TestDatabase;
    let store: Store;
    let projectId = '';

    beforeAll(async () => {
      const made = await factory();
      if (made === null) throw new Error(`${name}: no test database`);
      database = made;
      store = await openStore({ url: database.url });
      projectId = (await store.projects.create({ name: 'sec-shop', source: { kind: 'local', path: '/srv/x' }, webhookSecret: 'w' })).id;
    });
    afterAll(async () => {
      await store?.close();
      await database?.cleanup();
    });

    it('upserts advisories, replaces their package rows, and leaves withdrawn ones out of lookups', async () => {
      await store.advisories.upsert([
        advisory('GHSA-1', '2026-01-01T00:00:00Z', ['lodash', 'lodash-es']),
        advisory('GHSA-2', '2026-01-02T00:00:00Z', ['minimist']),
      ]);
      expect(await store.advisories.modifiedById()).toEqual(
        new Map([
          ['GHSA-1', '2026-01-01T00:00:00Z'],
          ['GHSA-2', '2026-01-02T00:00:00Z'],
        ]),
      );
      await store.advisories.upsert([advisory('GHSA-1', '2026-02-01T00:00:00Z', ['lodash'])]);
      const ids = (texts: string[]) => texts.map((t) => (JSON.parse(t) as { id: string }).id).sort();
      expect(ids(await store.advisories.byPackages([{ ecosystem: 'npm', name: 'lodash' }]))).toEqual(['GHSA-1']);
      expect(await store.advisories.byPackages([{ ecosystem: 'npm', name: 'lodash-es' }])).toEqual([]);
      expect(await store.advisories.byPackages([{ ecosystem: 'PyPI', name: 'lodash' }])).toEqual([]);
      await store.advisories.upsert([advisory('GHSA-2', '2026-03-01T00:00:00Z', ['minimist'], '2026-03-01T00:00:00Z')]);
      expect(await store.advisories.byPackages([{ ecosystem: 'npm', name: 'minimist' }])).toEqual([]);
      const current: string[] = [];
      for await (const text of store.advisories.current()) current.push(text);
      expect(ids(current)).toEqual(['GHSA-1']);
      await store.advisories.recordImport({
        source: '/osv/npm.zip',
        importedAt: '2026-12-06T10:00:00.000Z',
        newestModified: '2026-03-01T00:00:00Z',
        added: 2,
        updated: 0,
        unchanged: 0,
        withdrawn: 1,
        rejected: 0,
      });
      const status = await store.advisories.status();
      expect(status.records).toBe(2);
      expect(status.withdrawn).toBe(1);
      expect(status.lastImport?.newestModified).toBe('2026-03-01T00:00:00Z');
    });

    it('stores a job once with its events and cursor, and finds the baseline and trend', async () => {
      const events = (runId: string): NewEvent[] => [
        { type: 'security.scanned', subject: `job:${runId}/scan`, actor: 'server', data: {}, env: ENV },
      ];
      const job = (runId: string, runNumber: number, defaultBranch: boolean) => ({
        projectId,
        runId,
        runNumber,
        jobKey: 'scan',
        defaultBranch,
        scannedAt: `2026-12-06T10:0${runNumber}:00.000Z`,
      });
      await store.findings.recordJob(job('run-1', 1, true), [finding('a'), finding('b'), finding('b')], events('run-1'), {
        name: 'sec-test',
        eventId: 10,
      });
      await store.findings.recordJob(job('run-2', 2, false), [finding('a', 'critical')], events('run-2'), {
        name: 'sec-test',
        eventId: 11,
      });
      // Read again after a crash between reading and moving on: nothing doubles, the cursor moves.
      await store.findings.recordJob(job('run-2', 2, false), [finding('zzz')], events('run-2'), { name: 'sec-test', eventId: 12 });
      await store.findings.recordJob(job('run-3', 3, true), [], events('run-3'), { name: 'sec-test', eventId: 13 });
      expect(await store.findings.cursor('sec-test')).toBe(13);
      expect((await store.findings.runFindings('run-1')).map((f) => f.fingerprint)).toEqual(['a', 'b']);
      expect((await store.findings.runFindings('run-2')).map((f) => [f.fingerprint, f.level, f.jobKey])).toEqual([
        ['a', 'critical', 'scan'],
      ]);
      expect((await store.findings.runFindings('run-1'))[0]?.properties).toEqual({ entropy: 4.1 });
      expect((await store.events.list({ type: 'security.scanned', subjectPrefix: 'job:run-2/' })).length).toBe(1);
      expect(await store.findings.baselineRun(projectId, 3)).toEqual({ runId: 'run-1', runNumber: 1 });
      expect(await store.findings.baselineRun(projectId)).toEqual({ runId: 'run-3', runNumber: 3 });
      expect(await store.findings.baselineRun(projectId, 1)).toBeUndefined();
      expect((await store.findings.scannedJobs('run-3')).map((j) => j.defaultBranch)).toEqual([true]);
      expect(await store.findings.trend(projectId, 2)).toEqual([
        { runId: 'run-3', runNumber: 3, scannedAt: '2026-12-06T10:03:00.000Z', levels: {} },
        { runId: 'run-2', runNumber: 2, scannedAt: '2026-12-06T10:02:00.000Z', levels: { critical: 1 } },
      ]);
      expect(await store.findings.projectsWithFingerprint('a')).toEqual([projectId]);
    });

    it('keeps suppressions (lifted ones marked, not deleted) and policies', async () => {
      const base = { projectId, ruleId: null, path: null, reason: 'test key', author: 'ann', expiresAt: null, removedAt: null };
      await store.findings.addSuppression({ ...base, id: 's1', fingerprint: 'a', createdAt: '2026-12-06T10:00:00.000Z' }, []);
      await store.findings.addSuppression({ ...base, id: 's2', fingerprint: 'b', createdAt: '2026-12-06T11:00:00.000Z' }, []);
      await store.findings.removeSuppression('s1', '2026-12-06T12:00:00.000Z', []);
      expect((await store.findings.suppressions(projectId)).map((s) => s.id)).toEqual(['s2']);
      expect((await store.findings.getSuppression('s1'))?.removedAt).toBe('2026-12-06T12:00:00.000Z');
      expect(await store.findings.policy(projectId)).toBeUndefined();
      await store.findings.setPolicy(projectId, '{"block":["high"]}', []);
      await store.findings.setPolicy(projectId, '{"block":["critical"]}', []);
      expect(await store.findings.policy(projectId)).toBe('{"block":["critical"]}');
    });

    it('reads every current record across pages, in id order, withdrawn ones left out', async () => {
      const many = Array.from({ length: 1201 }, (_, i) => advisory(`PAGE-${String(i).padStart(4, '0')}`, '2026-01-01T00:00:00Z', ['p']));
      await store.advisories.upsert([...many, advisory('PAGE-X', '2026-01-01T00:00:00Z', ['p'], '2026-02-01T00:00:00Z')]);
      const ids: string[] = [];
      for await (const text of store.advisories.current()) ids.push((JSON.parse(text) as { id: string }).id);
      const paged = ids.filter((id) => id.startsWith('PAGE-'));
      expect(paged).toEqual(many.map((a) => a.id));
    });
  });
}

contract('SQLite', () => sqliteTestDatabase(), false);
contract('PostgreSQL', () => pgTestDatabase(), !pgAvailable());
