/** `gantry validate` on the delivery sections, as a user runs it: the real CLI in a temp repo. */
import { describe, it } from 'vitest';
import { runCli, type CliResult } from '../support/cli.ts';
import { makeRepo } from '../support/repo.ts';

/** `gantry validate` in a fresh repo holding `text` as gantry.yaml; the repo is removed afterwards. */
async function validate(text: string): Promise<CliResult> {
  const repo = await makeRepo({ 'gantry.yaml': text });
  try {
    return await runCli(repo.dir, ['validate']);
  } finally {
    await repo.cleanup();
  }
}

const BROKEN = [
  'pipeline:', //                                                      1
  '  jobs: { build: { steps: [make] } }', //                           2
  'service:', //                                                       3
  '  run: node server.js', //                                          4
  '  helth: { path: /healthz }', //                                    5  unknown key, did you mean
  'environments:', //                                                  6
  '  staging: { port: 8080 }', //                                      7
  '  production:', //                                                  8
  '    port: 8080', //                                                 9  port taken
  '    strategy:', //                                                  10
  '      canary:', //                                                  11
  '        steps: [{ weight: 50, pause: 1m }, { weight: 10, pause: until-promoted }]', // 12 weights
  '        analysis: { latency-99: { max: 300ms } }', //               13 latency key
  '',
].join('\n');

// Concurrent: each test is one CLI start, independent of the other.
describe.concurrent('gantry validate: service and environments', () => {
  it('reports delivery problems as FILE:LINE:COL: message and exits 2', async ({ expect }) => {
    const result = await validate(BROKEN);
    expect(result.stderr.split('\n')).toEqual([
      "gantry.yaml:5:3: unknown key 'helth' in 'service' (did you mean 'health'?)",
      "gantry.yaml:9:11: port 8080 is already used by environment 'staging'",
      "gantry.yaml:12:54: 'weight' in canary step 2 of environment 'production': weights must increase (step 1 has 50)",
      "gantry.yaml:13:21: invalid latency key 'latency-99': use latency-p<NN>, such as latency-p50, latency-p99 or latency-p999 (99.9%)",
      '4 problems found',
      '',
    ]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
  });

  it('accepts the same file once fixed', async ({ expect }) => {
    const fixed = BROKEN.replace('helth', 'health')
      .replace('port: 8080\n    strategy', 'port: 8081\n    strategy')
      .replace('weight: 10', 'weight: 100')
      .replace('latency-99', 'latency-p99');
    const result = await validate(fixed);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('gantry.yaml is valid\n');
    expect(result.code).toBe(0);
  });
});
