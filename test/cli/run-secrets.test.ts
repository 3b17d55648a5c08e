/**
 * Secrets for `gantry run`: from a named environment variable or a dotenv file, never from the
 * command line, and never in what the run stores (also not base64-encoded).
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseReport, runCli, type CliResult, type RunReportJson } from '../support/cli.ts';
import { makeRepo, type TestRepo } from '../support/repo.ts';

const ENV_SECRET = 'env-secret-7f3a9c1e';
const FILE_SECRET = 'file-secret-0d5b2e84';
const sha = (value: string) => createHash('sha256').update(value).digest('hex');
const b64 = (value: string) => Buffer.from(value).toString('base64');

// The job proves it received each secret (by its hash), prints it plainly and base64-encoded,
// then fails so the CLI prints the log's tail too.
const PIPELINE = `
pipeline:
  jobs:
    leak:
      env:
        FROM_ENV: \${{ secrets.DEPLOY_TOKEN }}
        FROM_FILE: \${{ secrets.FILE_TOKEN }}
      steps:
        - run: |
            echo "env-hash=$(printf %s "$FROM_ENV" | sha256sum | cut -d' ' -f1)"
            echo "file-hash=$(printf %s "$FROM_FILE" | sha256sum | cut -d' ' -f1)"
            echo "plain=$FROM_ENV and $FROM_FILE"
            echo "b64=$(printf %s "$FROM_ENV" | base64) $(printf %s "$FROM_FILE" | base64)"
            echo "inline=\${{ secrets.DEPLOY_TOKEN }}" >&2
            exit 1
`;

let repo: TestRepo;
let plain: CliResult;
let json: CliResult;
let report: RunReportJson;

beforeAll(async () => {
  repo = await makeRepo({ 'gantry.yaml': PIPELINE, '.gitignore': 'secrets.env\n' });
  await repo.write({ 'secrets.env': `# local secrets\nFILE_TOKEN="${FILE_SECRET}"\n` });
  const args = ['run', '--no-sandbox', '--secret', 'DEPLOY_TOKEN', '--secrets-file', 'secrets.env'];
  const env = { DEPLOY_TOKEN: ENV_SECRET };
  [plain, json] = await Promise.all([runCli(repo.dir, args, { env }), runCli(repo.dir, [...args, '--json'], { env })]);
  report = parseReport(json.stdout);
});

afterAll(async () => {
  await repo.cleanup();
});

describe('gantry run secrets', () => {
  it('hands the job the secret from the environment and the one from the dotenv file', async () => {
    expect(json.code).toBe(1);
    const files = await repo.runFiles(report.id);
    const log = files.get('jobs/leak/log') ?? '';
    expect(log).toContain(`env-hash=${sha(ENV_SECRET)}`);
    expect(log).toContain(`file-hash=${sha(FILE_SECRET)}`);
    expect(log).toMatch(/plain=\*\*\* and \*\*\*/);
  });

  it('keeps the values, plain or base64, out of every stored file and of the CLI output', async () => {
    const runs = await repo.runIds();
    expect(runs).toHaveLength(2);
    const forbidden = [ENV_SECRET, FILE_SECRET, b64(ENV_SECRET), b64(FILE_SECRET)];
    for (const runId of runs) {
      const files = await repo.runFiles(runId);
      expect(files.has('jobs/leak/log')).toBe(true);
      expect([...files.keys()].some((f) => f.endsWith('secrets.env'))).toBe(false); // ignored, so not snapshotted
      for (const [name, content] of files) {
        for (const secret of forbidden) expect(content, `${name} holds a secret`).not.toContain(secret);
      }
    }
    expect(plain.code).toBe(1);
    expect(plain.stderr).toMatch(/leak failed/); // the tail is printed...
    for (const out of [plain.stdout, plain.stderr, json.stdout, json.stderr]) {
      for (const secret of forbidden) expect(out).not.toContain(secret); // ...masked
    }
  });

  it('refuses a secret whose environment variable is not set (exit 2, no value on the command line)', async () => {
    const result = await runCli(repo.dir, ['run', '--no-sandbox', '--secret', 'NOT_SET_ANYWHERE']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^gantry: .*NOT_SET_ANYWHERE/);
  });
});
