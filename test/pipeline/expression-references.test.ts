/**
 * References that can only read nothing (src/pipeline/expression-references.ts): GitHub turns them
 * into null at run time, actionlint refuses them before; `gantry validate` says where and why.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { referenceProblems } from '../../src/pipeline/expression-references.ts';
import { parseExpression } from '../../src/pipeline/expressions/index.ts';
import { parseConfig, validateConfig } from '../../src/pipeline/load-config.ts';
import { parseCommitConfig, parseStoredConfig } from '../../src/pipeline/stored-config.ts';

/** `line:col: message` for each diagnostic. */
function problems(...lines: string[]): string[] {
  return validateConfig(lines.join('\n'), 'gantry.yaml').diagnostics.map((d) => `${d.line}:${d.col}: ${d.message}`);
}

/** Two jobs: `build` (outputs version, tag; steps meta, pack) and `test` needing it, with a matrix. */
function pipeline(...testSteps: string[]): string[] {
  return [
    'pipeline:',
    '  on:',
    '    manual:',
    '      inputs:',
    '        level: {}',
    '  jobs:',
    '    build:',
    '      outputs:',
    '        version: ${{ steps.meta.outputs.version }}',
    '        tag: ${{ steps.pack.outputs.tag }}',
    '      steps:',
    '        - id: meta',
    '          run: echo version=1 >> "$GANTRY_OUTPUT"',
    '        - id: pack',
    '          run: echo tag=v1 >> "$GANTRY_OUTPUT"',
    '    test:',
    '      needs: [build]',
    '      matrix:',
    '        node: [20, 22]',
    '        include: [{ node: 22, experimental: true }]',
    '      steps:',
    ...testSteps.map((step) => `        - ${step}`),
  ];
}

describe('references in expressions', () => {
  it('refuses each kind of reference that reads nothing, at its place, with what exists', () => {
    expect(
      problems(
        ...pipeline(
          'run: echo ${{ needs.biuld.result }}',
          'run: echo ${{ needs.build.outputs.versoin }}',
          'run: echo ${{ needs.build.reslt }}',
          'run: echo ${{ matrix.nod }}',
          'run: echo ${{ inputs.levle }}',
          'run: echo ${{ gantry.sah }}',
          'run: echo ${{ steps.later.outputs.x }}',
          '{ id: later, run: echo }',
          'run: echo ${{ steps.later.outcom }}',
        ),
      ),
    ).toEqual([
      "22:25: invalid expression in 'run' in step 1 of job 'test': needs.biuld.result: job 'test' does not need 'biuld' (its needs: build; a job reads only the jobs it needs) (did you mean 'build'?)",
      "23:25: invalid expression in 'run' in step 2 of job 'test': needs.build.outputs.versoin: job 'build' declares no output 'versoin' (did you mean 'version'?)",
      "24:25: invalid expression in 'run' in step 3 of job 'test': needs.build.reslt: needs.build has no 'reslt' (did you mean 'result'?)",
      "25:25: invalid expression in 'run' in step 4 of job 'test': matrix.nod: the matrix of job 'test' has no 'nod' (did you mean 'node'?)",
      "26:25: invalid expression in 'run' in step 5 of job 'test': inputs.levle: no input 'levle' is declared (did you mean 'level'?)",
      "27:25: invalid expression in 'run' in step 6 of job 'test': gantry.sah: the gantry context has no 'sah' (did you mean 'sha'?)",
      "28:25: invalid expression in 'run' in step 7 of job 'test': steps.later.outputs.x: step 'later' runs after this place, so it has no result yet",
      "30:25: invalid expression in 'run' in step 9 of job 'test': steps.later.outcom: steps.later has no 'outcom' (did you mean 'outcome'?)",
    ]);
  });

  it('names what there is when nothing is close', () => {
    expect(
      problems(...pipeline('run: echo ${{ needs.deploy.result }} ${{ matrix.os }} ${{ gantry.branch }} ${{ steps.x.outputs.y }}')),
    ).toEqual([
      "22:25: invalid expression in 'run' in step 1 of job 'test': needs.deploy.result: job 'test' does not need 'deploy' (its needs: build; a job reads only the jobs it needs)",
      "22:52: invalid expression in 'run' in step 1 of job 'test': matrix.os: the matrix of job 'test' has no 'os' (its keys: node, experimental)",
      "22:69: invalid expression in 'run' in step 1 of job 'test': gantry.branch: the gantry context has no 'branch' (it has: sha, ref, ref_name, ref_type, event, head_ref, base_ref, run_id, workspace)",
      "22:90: invalid expression in 'run' in step 1 of job 'test': steps.x.outputs.y: no step with id 'x' runs before this place in job 'test'",
    ]);
  });

  it('knows what each place of a job can read: its outputs see all its steps, its if, env and cache key none, matrix only with a matrix', () => {
    expect(
      problems(
        'pipeline:',
        '  jobs:',
        '    build:',
        "      if: steps.meta.outcome == 'success'",
        '      env:',
        '        V: ${{ matrix.node }}',
        '      outputs:',
        '        version: ${{ steps.meta.outputs.version }}',
        '      steps:',
        '        - id: meta',
        '          run: echo version=1 >> "$GANTRY_OUTPUT"',
      ),
    ).toEqual([
      "4:11: invalid expression in 'if' in job 'build': steps.meta.outcome: step 'meta' runs after this place, so it has no result yet",
      "6:16: invalid expression in 'V' in 'pipeline.jobs.build.env': matrix.node: job 'build' has no matrix",
    ]);
  });

  it('accepts what reads something: any case, include keys, earlier steps, computed indexes, env and secrets, undeclared inputs when none are declared', () => {
    expect(
      problems(
        ...pipeline(
          '{ id: first, run: echo }',
          'run: echo ${{ Needs.Build.Outputs.Version }} ${{ needs.build.result }} ${{ matrix.experimental }} ${{ steps.first.outputs.x }}',
          "run: echo ${{ needs['build'].outputs.tag }} ${{ needs.*.result }} ${{ env.ANYTHING }} ${{ secrets.ANY_SECRET }} ${{ inputs.level }}",
          'run: echo ${{ fromJSON(inputs.level).whatever }} ${{ gantry.run_id }} ${{ job.status }}',
        ),
      ),
    ).toEqual([]);
    expect(problems('pipeline:', '  jobs:', '    a:', '      steps:', '        - run: echo ${{ inputs.anything }}')).toEqual([]);
  });

  it('refuses a comparison with a value the property never has: a result, an outcome, a status, an event, a ref type', () => {
    expect(
      problems(
        ...pipeline(
          '{ id: first, run: echo }',
          "run: echo\n          if: needs.build.result == 'sucess' || steps.first.conclusion != 'failed'",
          "run: echo\n          if: job.status == 'skipped' && gantry.event == 'pull-request' && 'Success' == needs.build.result",
          "run: echo ${{ gantry.ref_name }}\n          if: gantry.ref_type == 'tags' || gantry.ref_type == ''",
        ),
      ),
    ).toEqual([
      "24:37: invalid expression in 'if' in step 2 of job 'test': 'sucess' is never a value of needs.build.result (success, failure, cancelled, skipped) (did you mean 'success'?)",
      "24:75: invalid expression in 'if' in step 2 of job 'test': 'failed' is never a value of steps.first.conclusion (success, failure, cancelled, skipped)",
      "26:29: invalid expression in 'if' in step 3 of job 'test': 'skipped' is never a value of job.status (success, failure, cancelled)",
      "26:58: invalid expression in 'if' in step 3 of job 'test': 'pull-request' is never a value of gantry.event (push, pull_request, schedule, manual, webhook) (did you mean 'pull_request'?)",
      "28:34: invalid expression in 'if' in step 4 of job 'test': 'tags' is never a value of gantry.ref_type (branch, tag, '') (did you mean 'tag'?)",
    ]);
  });

  it("checks a step's name and working directory too, which are evaluated when it runs", () => {
    expect(
      problems(...pipeline('name: Test on ${{ matrix.nod }}\n          working-directory: ${{ matrix.dir }}\n          run: npm test')),
    ).toEqual([
      "22:29: invalid expression in 'name' in step 1 of job 'test': matrix.nod: the matrix of job 'test' has no 'nod' (did you mean 'node'?)",
      "23:34: invalid expression in 'working-directory' in step 1 of job 'test': matrix.dir: the matrix of job 'test' has no 'dir' (its keys: node, experimental)",
    ]);
  });

  it('checks what a computed index is computed from', () => {
    expect(problems(...pipeline('run: echo ${{ needs[matrix.nope].result }}'))).toEqual([
      "22:31: invalid expression in 'run' in step 1 of job 'test': matrix.nope: the matrix of job 'test' has no 'nope' (did you mean 'node'?)",
    ]);
  });

  it('refuses to load such a file, as any invalid one, but for a text the server accepted before the check existed', () => {
    const text = pipeline('run: echo ${{ matrix.nod }}').join('\n');
    expect(() => parseConfig(text, 'gantry.yaml')).toThrow(/matrix.nod/);
    expect(() => parseCommitConfig(text, 'gantry.yaml')).toThrow(/matrix.nod/);
    // A stored run or release is read again on every rollout step and after a restart: an upgrade must not strand it.
    expect(parseStoredConfig(text).pipeline.jobs.test?.steps).toHaveLength(1);
    expect(() => parseCommitConfig(text, 'gantry.yaml')).toThrow(/matrix.nod/);
  });

  it('reports each reference once, at its start, with offsets in the expression', () => {
    const tree = parseExpression("needs.a.outputs.x == 'y' && contains(matrix.b, steps.c.outcome)");
    expect(referenceProblems(tree, { job: 'j', needs: new Map([['a', ['x']]]), matrix: ['a'], steps: { before: [], after: [] } })).toEqual([
      { offset: 37, message: "matrix.b: the matrix of job 'j' has no 'b' (its keys: a)" },
      { offset: 47, message: "steps.c.outcome: no step with id 'c' runs before this place in job 'j'" },
    ]);
  });

  it("finds none in the README's gantry.yaml (its deploy job read needs.build without needing build)", () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const example = /## gantry\.yaml\n\n```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(example).toContain('needs.build.outputs.version');
    expect(validateConfig(example ?? '', 'README.md').diagnostics).toEqual([]);
  });

  /** actionlint's test data in gantry.yaml's syntax (actionlint-references/README.md), its findings as comments. */
  const ACTIONLINT = new URL('./actionlint-references/', import.meta.url);
  const fixtures = readdirSync(ACTIONLINT).filter((name) => name.endsWith('.yaml'));

  it.each(fixtures)('reports what actionlint reports in %s, on the same lines, and nothing else', (name) => {
    const text = readFileSync(new URL(name, ACTIONLINT), 'utf8');
    const expected = text.split('\n').flatMap((line, index) => {
      const property = /# actionlint \d+:\d+: property "([^"]+)"/.exec(line)?.[1];
      return property === undefined ? [] : [`${index + 1} ${property}`];
    });
    expect(expected.length).toBeGreaterThan(0);
    const found = validateConfig(text, name).diagnostics.map((d) => {
      // "invalid expression in …: needs.install.outputs.foo: job 'install' declares no output 'foo'": the reference's names.
      const reference = /: ((?:needs|matrix|steps|inputs|gantry|job)(?:\.[\w-]+)+): /.exec(d.message)?.[1] ?? d.message;
      const names = reference.split('.');
      const property = expected.map((e) => e.split(' ')[1] as string).find((p) => names.includes(p)) ?? reference;
      return `${d.line} ${property}`;
    });
    expect(found).toEqual(expected);
  });
});
