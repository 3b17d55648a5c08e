import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.ts';
import { compilePlan, jobKey, matrixCells } from '../../src/pipeline/plan.ts';
import { GANTRY, matrixOf, pipeline } from './pipeline-fixtures.ts';

const noCtx = { contexts: {} };

function keys(p: ReturnType<typeof pipeline>, only?: string[], inputs = {}): string[] {
  return compilePlan(p, { inputs, gantry: GANTRY, ...(only ? { only } : {}) }).jobs.map((j) => j.key);
}

describe('compilePlan', () => {
  it('plans one instance per plain job, with needs as job ids', () => {
    const plan = compilePlan(pipeline({ build: {}, test: { needs: ['build', 'build'] } }), { inputs: {}, gantry: GANTRY });
    expect(plan.jobs.map((j) => [j.key, j.jobId, j.matrix, j.needs])).toEqual([
      ['build', 'build', null, []],
      ['test', 'test', null, ['build']],
    ]);
  });

  it('orders jobs so needs come first, otherwise in declaration order', () => {
    const p = pipeline({ deploy: { needs: ['test', 'lint'] }, test: { needs: ['build'] }, lint: {}, build: {} });
    expect(keys(p)).toEqual(['lint', 'build', 'test', 'deploy']);
  });

  it('expands a matrix into one instance per cell', () => {
    const p = pipeline({ test: { matrix: { axes: { n: [1, 2], os: ['linux', 'mac'] } } } });
    const plan = compilePlan(p, { inputs: {}, gantry: GANTRY });
    expect(plan.jobs.map((j) => j.key)).toEqual(['test (1, linux)', 'test (1, mac)', 'test (2, linux)', 'test (2, mac)']);
    expect(plan.jobs[1]?.matrix).toEqual({ n: 1, os: 'mac' });
  });

  it('keeps keys unique by numbering clashes', () => {
    expect(keys(pipeline({ test: { matrix: { axes: { v: ['a', 'a', 'a'] } } } }))).toEqual(['test (a)', 'test (a) #2', 'test (a) #3']);
  });

  it('interpolates matrix values with inputs and gantry', () => {
    const p = pipeline({ test: { matrix: { axes: { target: ['${{ inputs.arch }}-linux', '${{ gantry.sha }}'] } } } });
    expect(keys(p, undefined, { arch: 'arm64' })).toEqual(['test (arm64-linux)', 'test (abc123)']);
  });

  it('expands an axis written as one fromJSON expression', () => {
    const p = pipeline({ test: { matrix: { axes: { node: ['${{ fromJSON(inputs.versions) }}'], os: ['linux'] } } } });
    expect(keys(p, undefined, { versions: '[20, 22, 24]' })).toEqual(['test (20, linux)', 'test (22, linux)', 'test (24, linux)']);
  });

  it('runs only the selected jobs and what they transitively need', () => {
    const p = pipeline({ build: {}, lint: {}, test: { needs: ['build'] }, deploy: { needs: ['test'] }, docs: {} });
    expect(keys(p, ['deploy'])).toEqual(['build', 'test', 'deploy']);
    expect(keys(p, ['lint', 'test'])).toEqual(['build', 'lint', 'test']);
  });

  it('rejects an unknown --job id, naming the known ones', () => {
    const p = pipeline({ build: {}, test: {} });
    expect(() => keys(p, ['tset'])).toThrow(InputError);
    expect(() => keys(p, ['tset'])).toThrow("unknown job 'tset'; the pipeline's jobs are: build, test");
  });

  it('rejects unknown needs and cycles', () => {
    expect(() => keys(pipeline({ a: { needs: ['nope'] } }))).toThrow("job 'a' needs unknown job 'nope'");
    expect(() => keys(pipeline({ a: { needs: ['b'] }, b: { needs: ['a'] }, c: {} }))).toThrow("jobs 'a', 'b' form a dependency cycle");
  });

  it('rejects a matrix with more than 256 cells, or none', () => {
    const big = Array.from({ length: 17 }, (_, i) => i);
    expect(() => keys(pipeline({ t: { matrix: { axes: { a: big, b: big } } } }))).toThrow(
      /job 't': matrix produces 289 combinations; at most 256/,
    );
    expect(() => keys(pipeline({ t: { matrix: { axes: { a: [1] }, exclude: [{ a: 1 }] } } }))).toThrow(
      "job 't': its matrix produces no combinations",
    );
    expect(() => keys(pipeline({ t: { matrix: { axes: { a: ['${{ fromJSON(inputs.x) }}'] } } } }), undefined, { x: '[' })).toThrow(
      InputError,
    );
  });
});

describe('matrixCells', () => {
  it('removes cells that partially match an exclude entry', () => {
    const cells = matrixCells(
      matrixOf({ axes: { os: ['linux', 'mac'], node: [20, 22] }, exclude: [{ os: 'mac', node: 20 }, { node: 24 }] }),
      noCtx,
    );
    expect(cells).toEqual([
      { os: 'linux', node: 20 },
      { os: 'linux', node: 22 },
      { os: 'mac', node: 22 },
    ]);
  });

  it('excludes by a single key too', () => {
    const cells = matrixCells(matrixOf({ axes: { os: ['linux', 'mac'], node: [20, 22] }, exclude: [{ os: 'mac' }] }), noCtx);
    expect(cells).toEqual([
      { os: 'linux', node: 20 },
      { os: 'linux', node: 22 },
    ]);
  });

  it('applies includes with GitHub semantics (the documented fruit/animal example)', () => {
    const cells = matrixCells(
      matrixOf({
        axes: { fruit: ['apple', 'pear'], animal: ['cat', 'dog'] },
        include: [
          { color: 'green' },
          { color: 'pink', animal: 'cat' },
          { fruit: 'apple', shape: 'circle' },
          { fruit: 'banana' },
          { fruit: 'banana', animal: 'cat' },
        ],
      }),
      noCtx,
    );
    expect(cells).toEqual([
      { fruit: 'apple', animal: 'cat', color: 'pink', shape: 'circle' },
      { fruit: 'apple', animal: 'dog', color: 'green', shape: 'circle' },
      { fruit: 'pear', animal: 'cat', color: 'pink' },
      { fruit: 'pear', animal: 'dog', color: 'green' },
      { fruit: 'banana' },
      { fruit: 'banana', animal: 'cat' },
    ]);
  });

  it('never overwrites an original axis value from an include', () => {
    const cells = matrixCells(
      matrixOf({
        axes: { os: ['linux'] },
        include: [
          { os: 'linux', os_extra: 1 },
          { os: 'windows', exe: true },
        ],
      }),
      noCtx,
    );
    expect(cells).toEqual([
      { os: 'linux', os_extra: 1 },
      { os: 'windows', exe: true },
    ]);
  });

  it('applies excludes before includes, so an include can bring an excluded cell back', () => {
    const cells = matrixCells(
      matrixOf({ axes: { os: ['linux', 'mac'] }, exclude: [{ os: 'mac' }], include: [{ os: 'mac', arm: true }] }),
      noCtx,
    );
    expect(cells).toEqual([{ os: 'linux' }, { os: 'mac', arm: true }]);
  });

  it('makes each include a cell when there are no axes', () => {
    const cells = matrixCells(matrixOf({ include: [{ target: 'a' }, { target: 'b', extra: 1 }] }), noCtx);
    expect(cells).toEqual([{ target: 'a' }, { target: 'b', extra: 1 }]);
  });

  it('compares structured values by value', () => {
    const cells = matrixCells(matrixOf({ axes: { cfg: [{ a: 1 }, { a: 2 }] }, exclude: [{ cfg: { a: 1 } }] }), noCtx);
    expect(cells).toEqual([{ cfg: { a: 2 } }]);
  });

  it('interpolates include and exclude entries', () => {
    const ctx = { contexts: { inputs: { skip: 'mac', label: 'L' } } };
    const cells = matrixCells(
      matrixOf({ axes: { os: ['linux', 'mac'] }, exclude: [{ os: '${{ inputs.skip }}' }], include: [{ label: 'x-${{ inputs.label }}' }] }),
      ctx,
    );
    expect(cells).toEqual([{ os: 'linux', label: 'x-L' }]);
  });

  it('keeps the type of a value that is one whole expression, and makes mixed text a string', () => {
    const ctx = { contexts: { inputs: { n: 3, list: [1, 2] } } };
    expect(matrixCells(matrixOf({ axes: { v: ['${{ inputs.n }}', 'n=${{ inputs.n }}', ' ${{ inputs.list }} '] } }), ctx)).toEqual([
      { v: 3 },
      { v: 'n=3' },
      { v: [1, 2] },
    ]);
  });

  it('treats a fromJSON axis that yields a scalar as one value', () => {
    expect(matrixCells(matrixOf({ axes: { v: ["${{ fromJSON('3') }}"] } }), noCtx)).toEqual([{ v: 3 }]);
  });
});

describe('jobKey', () => {
  it('is the job id for a plain job and lists cell values for a matrix cell', () => {
    expect(jobKey('build', null)).toBe('build');
    expect(jobKey('test', { n: 1, os: 'linux' })).toBe('test (1, linux)');
    expect(jobKey('test', { on: true, cfg: { a: 1 }, none: null, list: [1, 'x'] })).toBe('test (true, {"a":1}, null, [1,"x"])');
  });
});
