/** `gantry validate` checks `.gantry/experiments/*.yaml` too, as the server reads them at each release. */
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { makeRepo } from '../support/repo.ts';

const GANTRY_YAML = [
  'pipeline:',
  '  jobs: { build: { steps: [make] } }',
  'service: { run: node server.js }',
  'environments:',
  '  staging: {}',
  'experiments:',
  '  slow: { environment: staging, hypothesis: { error-rate: { max: 1% } }, faults: [{ reset: {} }], duration: 1m }',
  '',
].join('\n');

describe('gantry validate with experiment files', () => {
  it('names the bad file, line and column, and a name declared twice, and exits 2', async () => {
    const repo = await makeRepo({
      'gantry.yaml': GANTRY_YAML,
      '.gantry/experiments/kill.yaml':
        'experiments:\n  kill-one: { environment: staging, hypothesis: { error-rate: { max: 5% } }, faults: [{ kil: {} }], duration: 30s }\n',
      '.gantry/experiments/again.yaml':
        'experiments:\n  slow: { environment: staging, hypothesis: { error-rate: { max: 1% } }, faults: [{ reset: {} }], duration: 1m }\n',
      '.gantry/experiments/notes.txt': 'not an experiment file',
    });
    try {
      const result = await runCli(repo.dir, ['validate']);
      expect(result.code).toBe(2);
      const lines = result.stderr.trim().split('\n');
      expect(lines).toContainEqual(expect.stringMatching(/^\.gantry\/experiments\/kill\.yaml:2:\d+: .*kil/));
      expect(lines).toContainEqual(
        expect.stringMatching(/^\.gantry\/experiments\/again\.yaml:2:3: experiment 'slow' is declared twice: here and in gantry\.yaml:7:3/),
      );
      await repo.commit({ '.gantry/experiments/kill.yaml': null, '.gantry/experiments/again.yaml': null }, 'fix');
      expect((await runCli(repo.dir, ['validate'])).code).toBe(0);
    } finally {
      await repo.cleanup();
    }
  });
});
