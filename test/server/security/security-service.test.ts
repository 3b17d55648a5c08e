/**
 * SecurityService on a real SQLite store and real files: SARIF logs written where the pipeline
 * leaves them (`<job dir>/sarif.json`), read once by the event-log cursor; findings compared with
 * the default branch; suppressions expiring on a ManualClock; the deploy gate; advisory imports.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.ts';
import { GantryError } from '../../../src/core/errors.ts';
import { jobDir } from '../../../src/engine/run-paths.ts';
import { type Finding, toSarif } from '../../../src/security/index.ts';
import { advisoriesFor, SecurityService } from '../../../src/server/security/index.ts';
import type { Project, ReleaseRecord, RunRecord, Store } from '../../../src/store/index.ts';
import { openStore } from '../../../src/store/index.ts';
import { sqliteTestDatabase, type TestDatabase } from '../../support/databases.ts';
import { jobRow } from '../../support/run-records.ts';

const ENV = { gantryVersion: '0.1.0', nodeVersion: 'v24', host: 'test' };
const CONFIG =
  'pipeline:\n  jobs:\n    scan: { steps: ["true"] }\nservice:\n  run: node server.js\nenvironments:\n  staging: {}\n  production: {}\n';

const found = (id: string, level: Finding['level'], path = 'src/app.ts'): Finding => ({
  scanner: 'secrets',
  ruleId: `rule-${id}`,
  ruleName: `Rule ${id}`,
  level,
  message: `finding ${id}`,
  location: { path, startLine: 7 },
  fingerprint: `fp-${id}`,
});

describe('SecurityService', () => {
  let database: TestDatabase;
  let store: Store;
  let dataDir: string;
  let clock: ManualClock;
  let project: Project;

  beforeEach(async () => {
    database = await sqliteTestDatabase();
    store = await openStore({ url: database.url });
    dataDir = await mkdtemp(join(tmpdir(), 'gantry-security-'));
    clock = new ManualClock(Date.UTC(2026, 11, 6, 10));
    project = await store.projects.create({ name: 'shop', source: { kind: 'local', path: '/x' }, webhookSecret: 'w' });
  });
  afterEach(async () => {
    await store.close();
    await database.cleanup();
    await rm(dataDir, { recursive: true, force: true });
  });

  function service(): SecurityService {
    return new SecurityService({
      store,
      clock,
      dataDir,
      defaultRef: async () => 'refs/heads/main',
      eventEnv: () => ENV,
      warn: () => undefined,
    });
  }

  /** A run whose `scan` job finished after writing these findings as SARIF (null: no SARIF log). */
  async function scannedRun(ref: string, findings: Finding[] | null): Promise<RunRecord> {
    const run = await store.runs.create(
      {
        projectId: project.id,
        event: { kind: 'push', ref, sha: 'abc123' },
        inputs: {},
        configText: CONFIG,
        configHash: 'h',
        concurrencyGroup: null,
        parentRunId: null,
      },
      [jobRow('scan', { status: 'running' })],
    );
    if (findings !== null) {
      const dir = jobDir(dataDir, run.id, 'scan');
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'sarif.json'), JSON.stringify(toSarif(findings, { name: 'gantry', version: '0.1.0' })));
    }
    await store.runs.transition(run.id, {
      jobs: [{ key: 'scan', patch: { status: 'success' } }],
      events: [
        {
          type: 'job.success',
          subject: `job:${run.id}/scan`,
          actor: 'server',
          data: { runId: run.id, key: 'scan', status: 'success' },
          env: ENV,
        },
      ],
    });
    return run;
  }

  async function release(run: RunRecord, configText = CONFIG): Promise<ReleaseRecord> {
    return store.releases.create({
      projectId: project.id,
      runId: run.id,
      sha: run.event.sha,
      ref: run.event.ref,
      configText,
      configHash: 'h',
      artifactsPath: 'releases/r',
      createdBy: 'test',
    });
  }

  it("reads each finished job's SARIF log exactly once, across restarts of the service", async () => {
    const run = await scannedRun('refs/heads/main', [found('a', 'high'), found('b', 'low')]);
    await scannedRun('refs/heads/main', null);
    await service().readJobs();
    await service().readJobs();
    const again = service();
    await again.readJobs();
    expect((await store.events.list({ type: 'security.scanned' })).map((e) => [e.subject, e.data.findings, e.data.high])).toEqual([
      [`job:${run.id}/scan`, 2, 1],
    ]);
    const view = await again.runSecurity(project, run);
    expect(view.scanned).toBe(true);
    expect(view.findings.map((f) => [f.fingerprint, f.status, f.path, f.startLine])).toEqual([
      ['fp-a', 'new', 'src/app.ts', 7],
      ['fp-b', 'new', 'src/app.ts', 7],
    ]);
  });

  it('leaves a job whose SARIF log does not parse unscanned, and says why in the server log', async () => {
    const warnings: { message: string; data: Record<string, unknown> }[] = [];
    const security = new SecurityService({
      store,
      clock,
      dataDir,
      defaultRef: async () => 'refs/heads/main',
      eventEnv: () => ENV,
      warn: (message, data) => warnings.push({ message, data }),
    });
    const run = await scannedRun('refs/heads/main', []);
    await writeFile(join(jobDir(dataDir, run.id, 'scan'), 'sarif.json'), '{"version": "2.0.0", "runs": []}');
    await security.readJobs();
    expect((await security.runSecurity(project, run)).scanned).toBe(false);
    expect(warnings).toEqual([
      { message: 'a job left a SARIF log that cannot be read', data: expect.objectContaining({ runId: run.id, key: 'scan' }) },
    ]);
    expect(String(warnings[0]?.data.error)).toContain('not a SARIF 2.1.0 log at version');
  });

  it('tells new, existing and fixed relative to the newest scanned default-branch run before it', async () => {
    const security = service();
    await scannedRun('refs/heads/main', [found('old', 'high')]);
    await scannedRun('refs/heads/main', [found('a', 'high'), found('b', 'medium')]);
    const branch = await scannedRun('refs/heads/feature', [found('b', 'medium'), found('c', 'critical')]);
    // A later default-branch run does not change what the branch run was compared with.
    await scannedRun('refs/heads/main', [found('c', 'critical')]);
    await security.readJobs();
    const view = await security.runSecurity(project, branch);
    expect(view.baseline?.number).toBe(2);
    expect(view.findings.map((f) => [f.fingerprint, f.status])).toEqual([
      ['fp-b', 'existing'],
      ['fp-c', 'new'],
    ]);
    expect(view.fixed.map((f) => [f.fingerprint, f.status])).toEqual([['fp-a', 'fixed']]);
    expect(view.counts).toEqual({ new: 1, existing: 1, fixed: 1, suppressed: 0 });
    expect(view.gate.decision).toBe('block');
  });

  it("follows the release's gantry.yaml policy unless the server sets one for the project", async () => {
    const security = service();
    await scannedRun('refs/heads/main', []);
    const run = await scannedRun('refs/heads/main', [found('c2', 'critical')]);
    await security.readJobs();
    const lenient = `${CONFIG}security:\n  policy:\n    warn: [critical, high]\n    block: []\n`;
    const rel = await release(run, lenient);
    await security.checkDeploy(project, rel, 'production', 'api:ann', undefined);
    expect((await security.releaseSecurity(project, rel)).environments.find((e) => e.environment === 'production')?.gate.decision).toBe(
      'warn',
    );
    // The same as the default, so later tests see no difference.
    await security.setPolicy(project, { block: ['critical'] }, 'api:ann');
    await expect(security.checkDeploy(project, rel, 'production', 'api:ann', undefined)).rejects.toMatchObject({
      code: 'SECURITY_GATE_BLOCKED',
    });
  });

  it('refuses a deploy of a release with a new critical finding unless overridden, and records who and why', async () => {
    const security = service();
    await scannedRun('refs/heads/main', []);
    const run = await scannedRun('refs/heads/main', [found('c', 'critical'), found('h', 'high')]);
    await security.readJobs();
    const rel = await release(run);
    const refused = await security.checkDeploy(project, rel, 'production', 'api:ann', undefined).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(GantryError);
    expect((refused as GantryError).code).toBe('SECURITY_GATE_BLOCKED');
    expect((refused as GantryError).message).toContain('--override-security "reason"');
    await security.checkDeploy(project, rel, 'production', 'api:ann', { reason: 'hotfix, key rotated already' });
    const [override] = await store.events.list({ type: 'deploy.security-override' });
    expect(override?.actor).toBe('api:ann');
    expect(override?.subject).toBe(`environment:${project.id}/production`);
    expect(override?.data.overrideReason).toBe('hotfix, key rotated already');
    expect(override?.data.blocking).toEqual(['fp-c']);

    const page = await security.releaseSecurity(project, rel);
    expect(page.environments.map((e) => [e.environment, e.gate.decision])).toEqual([
      ['staging', 'block'],
      ['production', 'block'],
    ]);
    expect(page.sbom.available).toBe(false);

    await security.setPolicy(project, { environments: { staging: { block: [] } } }, 'ann');
    await security.checkDeploy(project, rel, 'staging', 'api:ann', undefined);
    expect((await store.events.list({ type: 'deploy.security-warning' })).map((e) => e.data.warning)).toEqual([['fp-h']]);
  });

  it('lets a suppression lift a finding from the gate until it expires, each change an event', async () => {
    const security = service();
    const run = await scannedRun('refs/heads/main', [found('c', 'critical')]);
    await security.readJobs();
    const rel = await release(run);
    const suppression = await security.suppress(
      project,
      { fingerprint: 'fp-c' },
      'test fixture, not a real key',
      new Date(clock.now() + 30 * 86_400_000).toISOString(),
      'ann',
    );
    await security.checkDeploy(project, rel, 'production', 'ann', undefined);
    expect((await security.runSecurity(project, run)).findings[0]?.suppression?.id).toBe(suppression.id);
    clock.advance(31 * 86_400_000);
    expect((await security.suppressions(project)).map((s) => s.expired)).toEqual([true]);
    await expect(security.checkDeploy(project, rel, 'production', 'ann', undefined)).rejects.toMatchObject({
      code: 'SECURITY_GATE_BLOCKED',
    });
    const rule = await security.suppress(project, { ruleId: 'rule-c', path: 'src/' }, 'vendored', null, 'bob');
    await security.checkDeploy(project, rel, 'production', 'ann', undefined);
    await security.unsuppress(project, rule.id, 'bob');
    await expect(security.checkDeploy(project, rel, 'production', 'ann', undefined)).rejects.toMatchObject({
      code: 'SECURITY_GATE_BLOCKED',
    });
    expect((await store.events.list({ type: 'finding.*' })).map((e) => [e.type, e.actor, e.data.reason ?? null])).toEqual([
      ['finding.suppressed', 'ann', 'test fixture, not a real key'],
      ['finding.suppressed', 'bob', 'vendored'],
      ['finding.unsuppressed', 'bob', null],
    ]);
    await expect(security.suppress(project, { path: 'src/' }, 'x', null, 'bob')).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('imports OSV advisories incrementally, keeps withdrawn ones marked, and answers lookups by package', async () => {
    const security = service();
    const osv = join(dataDir, 'osv');
    await mkdir(osv);
    const record = (id: string, modified: string, name: string, extra: Record<string, unknown> = {}) =>
      writeFile(
        join(osv, `${id}.json`),
        JSON.stringify({
          id,
          modified,
          affected: [
            { package: { ecosystem: 'npm', name }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '1.2.3' }] }] },
          ],
          ...extra,
        }),
      );
    await record('GHSA-aaaa', '2026-01-01T00:00:00Z', 'left-pad');
    await record('GHSA-bbbb', '2026-01-02T00:00:00Z', 'minimist');
    await writeFile(join(osv, 'broken.json'), '{"id": 3}');
    expect(await security.importAdvisories(osv, 'ann')).toMatchObject({ added: 2, updated: 0, unchanged: 0, rejected: 1 });
    expect(await security.importAdvisories(osv, 'ann')).toMatchObject({ added: 0, updated: 0, unchanged: 2 });
    await record('GHSA-bbbb', '2026-02-01T00:00:00Z', 'minimist', { withdrawn: '2026-02-01T00:00:00Z' });
    await record('GHSA-cccc', '2026-02-02T00:00:00Z', 'left-pad');
    expect(await security.importAdvisories(osv, 'ann')).toMatchObject({ added: 1, updated: 1, unchanged: 1, withdrawn: 1 });
    expect(
      (
        await advisoriesFor(store.advisories, [
          { ecosystem: 'npm', name: 'left-pad' },
          { ecosystem: 'npm', name: 'minimist' },
        ])
      )
        .map((r) => r.id)
        .sort(),
    ).toEqual(['GHSA-aaaa', 'GHSA-cccc']);
    expect(await security.advisoryAge()).toEqual({
      records: 3,
      withdrawn: 1,
      newestModified: '2026-02-02T00:00:00Z',
      importedAt: new Date(clock.now()).toISOString(),
    });
    expect((await store.events.list({ type: 'advisories.imported' })).length).toBe(3);
  });
});
