/**
 * `reports: { sarif: glob }`: a real job step writes the SARIF files real scanners write
 * (gitleaks' and osv-scanner's own expected outputs, test/security/reference/), and the job
 * leaves one SARIF 2.1.0 log with all their runs at `<job dir>/sarif.json`, valid by the OASIS
 * schema. A file that is not SARIF is left out with a line in the log and an error notification
 * in the merged log; the job does not fail because of it.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import AjvDraft04 from 'ajv-draft-04';
import ajvFormats from 'ajv-formats';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobConfig } from '../../src/core/types.ts';
import { jobSarifFile } from '../../src/engine/run-paths.ts';
import { runJob } from '../../src/executor/job-runner.ts';
import { parseLogLine } from '../../src/executor/log-writer.ts';
import type { JobSpec } from '../../src/executor/ports.ts';
import { gantryContextOf } from '../../src/pipeline/triggers.ts';
import { fromSarif } from '../../src/security/index.ts';

const REFERENCE = join(import.meta.dirname, '..', 'security', 'reference');
let root = '';
let data = '';
let source = '';

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'gantry-sarif-job-'));
  data = join(root, 'data');
  source = join(root, 'source');
  mkdirSync(join(source, 'vendor'), { recursive: true });
  cpSync(join(REFERENCE, 'gitleaks-sarif-simple.sarif'), join(source, 'vendor', 'gitleaks.sarif'));
  cpSync(join(REFERENCE, 'osv-scanner-vuln-results.sarif'), join(source, 'vendor', 'osv-scanner.sarif'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function spec(run: string, sarif: string): JobSpec {
  const key = 'scan';
  const config: JobConfig = {
    needs: [],
    env: {},
    retry: 0,
    outputs: {},
    artifacts: [],
    reports: { sarif },
    network: false,
    steps: [{ run, env: {}, continueOnError: false }],
  };
  return {
    runId: 'run1',
    job: { key, jobId: key, matrix: null, needs: [], config },
    context: {
      env: {},
      inputs: {},
      secrets: {},
      needs: {},
      gantry: gantryContextOf({ kind: 'push', ref: 'refs/heads/main', sha: 'abc' }, 'run1'),
    },
    sourceDir: source,
    workspaceDir: join(data, 'work', 'run1', key),
    artifactsIn: [],
    artifactsOut: join(data, 'runs', 'run1', 'jobs', key, 'artifacts'),
    cacheDir: join(data, 'cache'),
    logFile: join(data, 'runs', 'run1', 'jobs', key, 'log'),
    logCapBytes: 1024 * 1024,
    sandbox: 'off',
    hiddenPaths: [data],
    killGraceMs: 500,
    signal: new AbortController().signal,
  };
}

const systemLines = (s: JobSpec) =>
  readFileSync(s.logFile, 'utf8')
    .split('\n')
    .slice(0, -1)
    .map(parseLogLine)
    .filter((l) => l.stream === 's')
    .map((l) => l.text);

describe('SARIF reports of a job', () => {
  it("merges the scanners' SARIF files into one valid SARIF 2.1.0 log in the job's directory", async () => {
    // The step plays the scanners: it writes their reports where the job collects them.
    const s = spec('mkdir -p reports && cp vendor/gitleaks.sarif vendor/osv-scanner.sarif reports/', 'reports/*.sarif');
    const result = await runJob(s);
    expect(result.status).toBe('success');
    const file = jobSarifFile(data, 'run1', 'scan');
    const log = JSON.parse(readFileSync(file, 'utf8'));
    expect(log.version).toBe('2.1.0');
    expect(log.runs.map((r: { tool: { driver: { name: string } } }) => r.tool.driver.name)).toEqual(['gitleaks', 'osv-scanner']);
    const ajv = new AjvDraft04.default({ allErrors: true, strict: false });
    ajvFormats.default(ajv);
    const validate = ajv.compile(JSON.parse(readFileSync(join(REFERENCE, 'sarif-schema-2.1.0.json'), 'utf8')));
    expect(validate(log), JSON.stringify(validate.errors)).toBe(true);
    const findings = fromSarif(log, 'sarif.json');
    expect(findings.map((f) => [f.scanner, f.ruleId, f.location?.path])).toEqual([
      ['gitleaks', 'test-rule', 'auth.py'],
      ['osv-scanner', 'CVE-2022-24713', '/path/to/sub-rust-project/Cargo.lock'],
      ['osv-scanner', 'CVE-2021-3121', '/path/to/go.mod'],
      ['osv-scanner', 'CVE-2022-24713', '/path/to/sub-rust-project/Cargo.lock'],
    ]);
    expect(systemLines(s)).toContain('[gantry] security: 4 finding(s) from 2 SARIF report(s)');
  });

  it('leaves out a file that is not SARIF, saying so in the log and in the merged log, without failing the job', async () => {
    const s = spec(
      'mkdir -p reports && cp vendor/gitleaks.sarif reports/ && echo \'{"version":"1.0.0","runs":[]}\' > reports/old.sarif && echo "not json" > reports/broken.sarif',
      'reports/*.sarif',
    );
    const result = await runJob(s);
    expect(result.status).toBe('success');
    const lines = systemLines(s);
    expect(lines).toContainEqual(expect.stringMatching(/^⚠ SARIF report left out: reports\/broken\.sarif: not JSON/));
    expect(lines).toContainEqual(
      expect.stringMatching(/^⚠ SARIF report left out: reports\/old\.sarif: not a SARIF 2\.1\.0 log at version/),
    );
    const log = JSON.parse(readFileSync(jobSarifFile(data, 'run1', 'scan'), 'utf8'));
    expect(log.runs[0].tool.driver.name).toBe('gitleaks');
    const notifications = log.runs[1].invocations[0].toolExecutionNotifications;
    expect(notifications.map((n: { level: string; message: { text: string } }) => [n.level, n.message.text.split(':')[0]])).toEqual([
      ['error', 'reports/broken.sarif'],
      ['error', 'reports/old.sarif'],
    ]);
    expect(fromSarif(log, 'sarif.json')).toHaveLength(1);
  });

  it('writes nothing and says so when no file matches', async () => {
    const s = spec('true', 'reports/*.sarif');
    expect((await runJob(s)).status).toBe('success');
    expect(existsSync(jobSarifFile(data, 'run1', 'scan'))).toBe(false);
    expect(systemLines(s)).toContain('[gantry] no SARIF report matches reports/*.sarif');
  });
});
