/**
 * `gantry findings` and `gantry advisories` against a real server: real runs whose job leaves a
 * SARIF log where the pipeline's scan step does (`<job dir>/sarif.json`), read by the server's
 * security service, then shown, suppressed and imported through the CLI's real processes.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Finding, toSarif } from '../../src/security/index.ts';
import { runCli } from '../support/cli.ts';
import { makeRepo, type TestRepo } from '../support/repo.ts';
import { startTestServer, type TestServer, waitForRunEnd } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

const found = (id: string, level: Finding['level']): Finding => ({
  scanner: 'secrets',
  ruleId: `rule-${id}`,
  ruleName: `Rule ${id}`,
  level,
  message: `finding ${id}`,
  location: { path: 'src/app.ts', startLine: 12 },
  fingerprint: `fp-${id}`,
});
const sarif = (findings: Finding[]) => JSON.stringify(toSarif(findings, { name: 'gantry', version: '0.1.0' }));

describe('gantry findings and advisories', () => {
  let server: TestServer;
  let repo: TestRepo;
  let osv: string;
  const cli = (...args: string[]) => runCli(repo.dir, ['--data', server.dataDir, ...args]);

  /** Commits the findings; the push's run (the repository's git hook triggers it) leaves them as its SARIF log. */
  async function scannedRun(findings: Finding[]): Promise<number> {
    const sha = await repo.commit({ 'sarif.json': sarif(findings) }, 'findings');
    const run = await waitFor(
      async () =>
        (
          await server.api<{ runs: { id: string; number: number; event: { sha: string } }[] }>('GET', '/api/runs?project=shop')
        ).body.runs.find((r) => r.event.sha === sha),
      { what: 'the push run' },
    );
    expect((await waitForRunEnd(server, run.id)).status).toBe('success');
    await waitFor(
      async () =>
        (await server.api<{ run: { number: number } | null }>('GET', '/api/projects/shop/findings')).body.run?.number === run.number,
      { what: `the findings of run #${run.number}` },
    );
    return run.number;
  }

  beforeAll(async () => {
    server = await startTestServer();
    // The job copies the committed SARIF log to where the pipeline's scan step leaves its own.
    const pipeline = `pipeline:\n  jobs:\n    scan:\n      steps:\n        - cp sarif.json "${server.dataDir}/runs/$GANTRY_RUN_ID/jobs/scan/sarif.json"\n`;
    repo = await makeRepo({ 'gantry.yaml': pipeline, 'sarif.json': sarif([]) });
    expect((await server.api('POST', '/api/projects', { path: repo.dir, name: 'shop' })).status).toBe(201);
    osv = await mkdtemp(join(tmpdir(), 'gantry-osv-'));
    await mkdir(join(osv, 'npm'));
    for (const [id, name] of [
      ['GHSA-aaaa-bbbb-cccc', 'left-pad'],
      ['GHSA-dddd-eeee-ffff', 'minimist'],
    ])
      await writeFile(
        join(osv, 'npm', `${id}.json`),
        JSON.stringify({ id, modified: '2026-11-30T08:00:00Z', affected: [{ package: { ecosystem: 'npm', name }, versions: ['1.0.0'] }] }),
      );
  });
  afterAll(async () => {
    await server?.cleanup();
    await repo?.cleanup();
    if (osv) await rm(osv, { recursive: true, force: true });
  });

  // Two real runs and five CLI processes: a few seconds on a quiet machine, far more under load.
  it('shows findings new vs existing vs fixed, suppresses one by fingerprint, and imports advisories', { timeout: 120_000 }, async () => {
    await scannedRun([found('old', 'medium'), found('gone', 'low')]);
    const second = await scannedRun([found('old', 'medium'), found('leak', 'critical')]);

    let result = await cli('findings', 'shop', '--json');
    expect(result.code).toBe(0);
    const view = JSON.parse(result.stdout);
    expect(view.run.number).toBe(second);
    expect(view.findings.map((f: { fingerprint: string; status: string }) => [f.fingerprint, f.status])).toEqual([
      ['fp-leak', 'new'],
      ['fp-old', 'existing'],
    ]);
    expect(view.fixed.map((f: { fingerprint: string }) => f.fingerprint)).toEqual(['fp-gone']);

    result = await cli('findings', 'shop', '--new');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`run #${second}`);
    expect(result.stdout).toMatch(/new\s+critical\s+rule-leak\s+finding leak\s+src\/app\.ts:12\s+fp-leak/);
    expect(result.stdout).not.toContain('fp-old');
    expect(result.stdout).toContain('a release of it: block: 1 critical new finding(s)');
    expect(result.stdout).toContain('advisory database: empty');

    result = await cli('findings', 'suppress', 'fp-leak', '--reason', 'test fixture, not a real key', '--expires', '30d');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^suppressed fp-leak until \d{4}-/);
    const after = (
      await server.api<{ findings: { suppression: { reason: string } | null }[]; gate: { decision: string } }>(
        'GET',
        '/api/projects/shop/findings?new=true',
      )
    ).body;
    expect(after.findings[0]?.suppression?.reason).toBe('test fixture, not a real key');
    expect(after.gate.decision).toBe('pass');

    result = await cli('findings', 'suppress', 'fp-nothing', '--reason', 'x');
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('gantry: no finding has the fingerprint fp-nothing\n');

    result = await cli('advisories', 'import', osv);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('2 added, 0 updated, 0 unchanged, 0 withdrawn, 0 rejected; newest modified 2026-11-30T08:00:00Z\n');
    result = await cli('advisories', 'status');
    expect(result.stdout).toMatch(
      /^advisory database: 2 records, newest modified 2026-11-30T08:00:00Z \(\d+ days ago\), imported \d{4}-.* from \//,
    );
  });
});
