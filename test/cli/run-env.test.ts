/** `gantry run` honours GANTRY_PASS_ENV like the server, and refuses a secret-looking name in it. */
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { jobLog, makeRepo, type TestRepo } from '../support/repo.ts';

const repos: TestRepo[] = [];
afterAll(async () => {
  await Promise.all(repos.splice(0).map((r) => r.cleanup()));
});

const PIPELINE = `
pipeline:
  jobs:
    show:
      steps:
        - run: echo "extra=$EXTRA_NAME proxy=$HTTPS_PROXY unlisted=\${UNLISTED_HOST_VAR:-unset}"
`;

describe('GANTRY_PASS_ENV with gantry run', () => {
  it('passes the named host variables and the proxy settings to steps, nothing else', async () => {
    const repo = await makeRepo({ 'gantry.yaml': PIPELINE });
    repos.push(repo);
    const run = await runCli(repo.dir, ['run', '--no-sandbox'], {
      env: { GANTRY_PASS_ENV: 'EXTRA_NAME', EXTRA_NAME: 'named', HTTPS_PROXY: 'http://proxy.example:3128', UNLISTED_HOST_VAR: 'x' },
    });
    expect(run.code).toBe(0);
    const [runId] = await repo.runIds();
    expect(await jobLog(repo, runId as string, 'show')).toContain(' o extra=named proxy=http://proxy.example:3128 unlisted=unset\n');
  });

  it('refuses a secret-looking name before running anything', async () => {
    const repo = await makeRepo({ 'gantry.yaml': PIPELINE });
    repos.push(repo);
    const run = await runCli(repo.dir, ['run', '--no-sandbox'], { env: { GANTRY_PASS_ENV: 'EXTRA_NAME,NPM_TOKEN' } });
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('gantry: GANTRY_PASS_ENV: NPM_TOKEN looks like a secret (give it to jobs as a project secret)\n');
    expect(await repo.runIds()).toEqual([]);
  });
});
