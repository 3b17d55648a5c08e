/**
 * The security job of server runs (docs/decisions/0029), with a real server, a real repository
 * and its git hook, and `gantry scan` run by the job in its sandbox without network: a push of
 * two commits, the first adding a secret and the second removing it, is caught from the push's
 * added lines though the tree no longer holds it; the tree's Dockerfile problems are found too;
 * and the lockfile's vulnerable package, checked against the advisories the server was given
 * (GANTRY_ADVISORIES, the seam for the server's own database); all land in the job's one SARIF log.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobSarifFile, securityInputDir } from '../../../src/engine/run-paths.ts';
import { fromSarif } from '../../../src/security/index.ts';
import { type TestRepo, GIT_VARS, makeRepo } from '../../support/repo.ts';
import { hasBubblewrap } from '../../support/requirements.ts';
import { GITHUB_PAT, QS_ADVISORY, QS_LOCK } from '../../support/security-samples.ts';
import { type RunView, type TestServer, startTestServer, waitForRunEnd } from '../../support/server.ts';
import { waitFor } from '../../support/wait.ts';

const PIPELINE = 'pipeline:\n  jobs:\n    build:\n      steps: [echo built]\n';
const SANDBOX = hasBubblewrap() ? 'auto' : 'off';

describe(`the security job of server runs (sandbox ${SANDBOX})`, () => {
  let server: TestServer;
  let repo: TestRepo;
  let advisories: string;

  beforeAll(async () => {
    advisories = await mkdtemp(join(tmpdir(), 'gantry-osv-'));
    await writeFile(join(advisories, `${QS_ADVISORY.id}.json`), JSON.stringify(QS_ADVISORY));
    server = await startTestServer({ options: { securityScans: 'on', sandbox: SANDBOX, advisories } });
    repo = await makeRepo({
      'gantry.yaml': PIPELINE,
      Dockerfile: 'FROM node:latest\nRUN echo hi\n',
      'package-lock.json': JSON.stringify(QS_LOCK),
      'app.ts': 'export const a = 1;\n',
    });
    expect((await server.api('POST', '/api/projects', { path: repo.dir, name: 'sec' })).status).toBe(201);
  }, 60_000);
  afterAll(async () => {
    await server?.cleanup();
    await repo?.cleanup();
    await rm(advisories, { recursive: true, force: true });
  });

  async function runOf(sha: string): Promise<RunView> {
    const run = await waitFor(
      async () => {
        const { body } = await server.api<{ runs: { id: string; event: { sha: string } }[] }>('GET', '/api/runs?project=sec');
        return body.runs.find((r) => r.event.sha === sha);
      },
      { what: `the run of ${sha}`, timeoutMs: 20_000 },
    );
    return waitForRunEnd(server, run.id, 60_000);
  }

  it("finds a secret the push added and removed again, and the tree's Dockerfile problems, in the job's SARIF log", async () => {
    const base = repo.git('rev-parse', 'HEAD');
    // Two commits made off the branch, then the branch moved once: one push of two commits.
    repo.git('checkout', '-q', '--detach');
    await repo.commit({ 'app.env': `GITHUB_TOKEN=${GITHUB_PAT}\n` }, 'add a token');
    const after = await repo.commit({ 'app.env': null }, 'remove it again');
    execFileSync('git', ['update-ref', 'refs/heads/main', after, base], { cwd: repo.dir, env: { ...process.env, ...GIT_VARS } });
    repo.git('checkout', '-q', 'main');

    const view = await runOf(after);
    expect(view.jobs.map((j) => [j.key, j.status])).toEqual(
      expect.arrayContaining([
        ['build', 'success'],
        ['security', 'success'],
      ]),
    );
    const sarif = JSON.parse(await readFile(jobSarifFile(server.dataDir, view.run.id, 'security'), 'utf8'));
    const findings = fromSarif(sarif, 'sarif.json');
    const secrets = findings.filter((f) => f.scanner.endsWith('secrets'));
    expect(secrets.map((f) => [f.location?.path, f.location?.startLine])).toEqual([['app.env', 1]]);
    expect(JSON.stringify(sarif)).not.toContain(GITHUB_PAT);
    expect(findings.some((f) => f.scanner.endsWith('dockerfile') && f.location?.path === 'Dockerfile')).toBe(true);
    expect(findings.filter((f) => f.ruleId === 'CVE-2022-24999').map((f) => [f.level, f.location?.path])).toEqual([
      ['high', 'package-lock.json'],
    ]);

    // The push's diff is the server's input to the job, not a record: gone once the run has ended.
    await waitFor(() => !existsSync(securityInputDir(server.dataDir, view.run.id)), { what: 'the security input removed' });
    const { body: log } = await server.api<string>('GET', `/api/runs/${view.run.id}/jobs/security/log`);
    expect(String(log)).toContain('[gantry] security:');
  });
});

describe(`the security job reads the advisories imported into the store (sandbox ${SANDBOX})`, () => {
  let server: TestServer;
  let repo: TestRepo;
  let osv: string;

  beforeAll(async () => {
    osv = await mkdtemp(join(tmpdir(), 'gantry-osv-'));
    // No `advisories` option: the database is what `gantry advisories import` stored.
    server = await startTestServer({ options: { securityScans: 'on', sandbox: SANDBOX } });
    repo = await makeRepo({ 'gantry.yaml': PIPELINE, 'package-lock.json': JSON.stringify(QS_LOCK) });
    expect((await server.api('POST', '/api/projects', { path: repo.dir, name: 'sec2' })).status).toBe(201);
  }, 60_000);
  afterAll(async () => {
    await server?.cleanup();
    await repo?.cleanup();
    await rm(osv, { recursive: true, force: true });
  });

  async function advisoryFindings(files: Record<string, string>): Promise<string[]> {
    const sha = await repo.commit(files, 'change');
    const run = await waitFor(
      async () => {
        const { body } = await server.api<{ runs: { id: string; event: { sha: string } }[] }>('GET', '/api/runs?project=sec2');
        return body.runs.find((r) => r.event.sha === sha);
      },
      { what: `the run of ${sha}`, timeoutMs: 20_000 },
    );
    const view = await waitForRunEnd(server, run.id, 60_000);
    expect(view.jobs.find((j) => j.key === 'security')?.status).toBe('success');
    const sarif = JSON.parse(await readFile(jobSarifFile(server.dataDir, view.run.id, 'security'), 'utf8'));
    return fromSarif(sarif, 'sarif.json')
      .filter((f) => f.scanner.endsWith('dependencies'))
      .map((f) => f.ruleId);
  }

  async function importFolder(record: object): Promise<void> {
    await writeFile(join(osv, 'qs.json'), JSON.stringify(record));
    const { status } = await server.api('POST', '/api/advisories/import', { path: osv });
    expect(status).toBe(200);
  }

  it('finds the vulnerable package after an import, and no longer once the advisory is withdrawn', async () => {
    await importFolder(QS_ADVISORY);
    expect(await advisoryFindings({ 'a.txt': '1\n' })).toEqual(['CVE-2022-24999']);
    await importFolder({ ...QS_ADVISORY, modified: '2026-11-02T00:00:00Z', withdrawn: '2026-11-02T00:00:00Z' });
    expect(await advisoryFindings({ 'a.txt': '2\n' })).toEqual([]);
  });
});
