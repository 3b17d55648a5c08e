/**
 * The security API in process (`app.inject()` over the server as `gantry up` wires it, real
 * SQLite): the deploy route refusing a release with a new critical finding, findings of a run and
 * of a release, suppressions with an expiry, the policy, the release's SBOM and the advisories.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Project, ReleaseRecord, StoredFinding } from '../../../src/store/index.ts';
import { buildTestApp, type TestApp } from '../../support/app.ts';

const ENV = { gantryVersion: '0.1.0', nodeVersion: 'v24', host: 'test' };
const CONFIG = 'pipeline:\n  jobs:\n    scan: { steps: ["true"] }\nservice:\n  run: node server.js\nenvironments:\n  production: {}\n';

const critical: StoredFinding = {
  fingerprint: 'fp-critical',
  scanner: 'dependencies',
  ruleId: 'CVE-2026-0001',
  ruleName: 'Prototype pollution',
  level: 'critical',
  message: 'lodash@4.17.0 (npm) is affected by CVE-2026-0001',
  path: 'package-lock.json',
  startLine: null,
  properties: {},
};

describe('security routes', () => {
  let t: TestApp;
  let project: Project;
  let release: ReleaseRecord;

  const admin = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: object) =>
    t.app.inject({ method, url, headers: { authorization: `Bearer ${t.token}` }, ...(payload === undefined ? {} : { payload }) });

  beforeAll(async () => {
    t = await buildTestApp();
    project = await t.store.projects.create({ name: 'shop', source: { kind: 'local', path: '/nowhere' }, webhookSecret: 'w' });
    const run = await t.store.runs.create(
      {
        projectId: project.id,
        event: { kind: 'push', ref: 'refs/heads/main', sha: 'abc' },
        inputs: {},
        configText: CONFIG,
        configHash: 'h',
        concurrencyGroup: null,
        parentRunId: null,
      },
      [],
    );
    await t.store.findings.recordJob(
      {
        projectId: project.id,
        runId: run.id,
        runNumber: run.number,
        jobKey: 'scan',
        defaultBranch: true,
        scannedAt: new Date().toISOString(),
      },
      [critical],
      [],
      { name: 'security-routes-test', eventId: 0 },
    );
    release = await t.store.releases.create({
      projectId: project.id,
      runId: run.id,
      sha: 'abc',
      ref: 'refs/heads/main',
      configText: CONFIG,
      configHash: 'h',
      artifactsPath: 'releases/r1',
      createdBy: 'test',
    });
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  it('refuses to deploy a release with a new critical finding to production, saying how to override', async () => {
    const res = await admin('POST', `/api/projects/shop/environments/production/deploy`, { release: String(release.number) });
    expect(res.statusCode).toBe(409);
    const { error } = res.json() as { error: { code: string; message: string } };
    expect(error.code).toBe('SECURITY_GATE_BLOCKED');
    expect(error.message).toContain('1 critical new finding(s)');
    expect(error.message).toContain('gantry deploy shop 1 --env production --override-security "reason"');
    expect(await t.store.rollouts.list({ projectId: project.id })).toEqual([]);
  });

  it('shows a release with its findings, the gate per environment, the advisory age and whether it has an SBOM', async () => {
    let res = await admin('GET', `/api/projects/shop/findings?release=${release.number}&new=true`);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.findings.map((f: { fingerprint: string; status: string }) => [f.fingerprint, f.status])).toEqual([['fp-critical', 'new']]);
    expect(body.environments).toEqual([{ environment: 'production', gate: expect.objectContaining({ decision: 'block' }) }]);
    expect(body.advisories).toEqual({ records: 0, withdrawn: 0, newestModified: null, importedAt: null });
    expect(body.sbom.available).toBe(false);
    res = await admin('GET', `/api/projects/shop/releases/${release.number}/sbom`);
    expect(res.statusCode).toBe(404);
    expect(res.json().error.message).toBe('release #1 of shop has no SBOM (made before releases had one)');

    const dir = join(t.dataDir, 'releases', release.id);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'sbom.cdx.json'), '{"bomFormat":"CycloneDX","specVersion":"1.6"}');
    res = await admin('GET', `/api/projects/shop/releases/${release.number}/sbom`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('application/vnd.cyclonedx+json');
    expect(res.json().bomFormat).toBe('CycloneDX');
  });

  it('suppresses by fingerprint with an expiry, lifts it, and keeps the policy per project', async () => {
    let res = await admin('POST', '/api/suppressions', { fingerprint: 'fp-critical', reason: 'not reachable', expires: '30d' });
    expect(res.statusCode).toBe(201);
    const { suppression } = res.json();
    expect(Date.parse(suppression.expiresAt) - Date.parse(suppression.createdAt)).toBe(30 * 86_400_000);
    res = await admin('GET', '/api/projects/shop/findings');
    expect(res.json().findings[0].suppression.id).toBe(suppression.id);
    expect(res.json().gate.decision).toBe('pass');
    res = await admin('POST', '/api/projects/shop/suppressions', { ruleId: 'x', reason: 'r', expires: 'soon' });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.message).toContain('neither a span');
    res = await admin('DELETE', `/api/projects/shop/suppressions/${suppression.id}`);
    expect(res.statusCode).toBe(200);
    expect((await admin('GET', '/api/projects/shop/suppressions')).json().suppressions).toEqual([]);
    const types = (await t.store.events.list({ type: 'finding.*' })).map((e) => e.type);
    expect(types).toEqual(['finding.suppressed', 'finding.unsuppressed']);

    res = await admin('PUT', '/api/projects/shop/security-policy', {
      policy: { warn: ['high'], environments: { production: { block: [] } } },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().policy).toEqual({ warn: ['high'], block: ['critical'], environments: { production: { block: [] } } });
    res = await admin('PUT', '/api/projects/shop/security-policy', { policy: { block: ['severe'] } });
    expect(res.statusCode).toBe(400);
    res = await admin('GET', '/api/advisories/status');
    expect(res.json()).toMatchObject({ records: 0, lastImport: null });
  });
});
