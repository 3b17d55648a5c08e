/** `gantry validate` and `gantry schema` as a user runs them: exit codes and FILE:LINE:COL lines. */
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { makeRepo, type TestRepo } from '../support/repo.ts';

const repos: TestRepo[] = [];
afterEach(async () => {
  await Promise.all(repos.splice(0).map((r) => r.cleanup()));
});

async function repoWith(files: Record<string, string>): Promise<TestRepo> {
  const repo = await makeRepo(files);
  repos.push(repo);
  return repo;
}

// Every kind of problem the spec names, one each, so one run shows they are all reported at once.
const BROKEN = [
  'pipeline:', //                                   1
  '  on:', //                                       2
  '    push:', //                                   3
  '      branchs: [main]', //                       4  unknown key, did you mean
  '    schedule: "not a cron"', //                  5  bad cron
  '  jobs:', //                                     6
  '    a:', //                                      7
  '      needs: b', //                              8  cycle a → b → a
  '      retry: three', //                          9  wrong type
  '      steps:', //                                10
  '        - run: echo ${{ 1 + }}', //              11 bad expression
  '    b:', //                                      12
  '      needs: [a, ghost]', //                     13 unknown job
  '      steps: [echo hi]', //                      14
  '',
].join('\n');

describe('gantry validate', () => {
  it('prints every problem as FILE:LINE:COL: message on stderr and exits 2', async () => {
    const repo = await repoWith({ 'gantry.yaml': BROKEN });
    const result = await runCli(repo.dir, ['validate']);

    expect(result.code).toBe(2);
    const lines = result.stderr.split('\n').filter((l) => /^gantry\.yaml:\d+:\d+: /.test(l));
    const at = (line: number) => lines.filter((l) => l.startsWith(`gantry.yaml:${line}:`));
    expect(at(4).join()).toMatch(/gantry\.yaml:4:7: .*unknown key 'branchs'.*did you mean 'branches'/);
    expect(at(5).join()).toMatch(/cron/);
    expect(lines.join('\n')).toMatch(/needs cycle: (a → b → a|b → a → b)/);
    expect(at(9).join()).toMatch(/retry.*expected a number, got a string/);
    // The column points into `${{ 1 + }}`, which spans columns 21 to 30 of line 11.
    expect(at(11).join()).toMatch(/^gantry\.yaml:11:(\d+): .*expression/);
    const col = Number(/^gantry\.yaml:11:(\d+)/.exec(at(11)[0] ?? '')?.[1]);
    expect(col).toBeGreaterThanOrEqual(21);
    expect(col).toBeLessThanOrEqual(30);
    expect(at(13).join()).toMatch(/'ghost'/);
    expect(lines.length).toBeGreaterThanOrEqual(6);
    expect(result.stdout).toBe('');
  });

  it('exits 0 and says so for a valid file; takes a file argument', async () => {
    const repo = await repoWith({
      'ci/pipeline.yaml': 'pipeline:\n  jobs:\n    a:\n      steps: [echo hi]\n',
      'gantry.yaml': BROKEN,
    });
    const valid = await runCli(repo.dir, ['validate', 'ci/pipeline.yaml']);
    expect(valid.code).toBe(0);
    expect(valid.stdout).toMatch(/valid/);
    expect(valid.stderr).toBe('');

    const invalid = await runCli(repo.dir, ['validate', 'gantry.yaml']);
    expect(invalid.code).toBe(2);
  });

  it('reports a missing file as one gantry: line with exit 2', async () => {
    const repo = await repoWith({});
    const result = await runCli(repo.dir, ['validate']);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^gantry: .*gantry\.yaml/);
  });
});

describe('gantry schema', () => {
  it('prints the JSON Schema of gantry.yaml as valid JSON', async () => {
    const repo = await repoWith({});
    const result = await runCli(repo.dir, ['schema']);
    expect(result.code).toBe(0);
    const schema = JSON.parse(result.stdout) as { $schema?: string; properties?: Record<string, unknown> };
    expect(schema.$schema).toMatch(/json-schema\.org/);
    expect(Object.keys(schema.properties ?? {})).toContain('pipeline');
  });
});
