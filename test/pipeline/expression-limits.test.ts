/**
 * The limits that keep one evaluation cheap (limits.ts): nesting, length, result size and work
 * fail the expression with EXPRESSION_LIMIT, before the memory is spent.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { Value } from '../../src/core/types.ts';
import { evaluate, evaluateCondition, interpolate, parseExpression, type ExpressionContext } from '../../src/pipeline/expressions/index.ts';
import { expressionError } from './expression-error.ts';

const run = promisify(execFile);
const EXPRESSIONS = join(import.meta.dirname, '../../src/pipeline/expressions/index.ts');

/**
 * The case: a 356-character `if:` of nested format() calls, each repeating its argument
 * ten times, whose result would be 56 million characters (~280 MB and ~1 s before the limits).
 */
function nestedFormatCondition(): string {
  let inner = `'${'x'.repeat(56)}'`;
  for (let level = 0; level < 6; level++) inner = `format('${'{0}'.repeat(10)}', ${inner})`;
  return `matrix.os == 'linux' && startsWith(${inner}, 'gantry')`;
}

const matrix: ExpressionContext = { contexts: { matrix: { os: 'linux' } } };
const small = (contexts: Record<string, Value>, maxResultLength: number, maxWork: number): ExpressionContext => ({
  contexts,
  limits: { maxResultLength, maxWork },
});

describe('result size', () => {
  it('fails the 356-character nested format() condition with EXPRESSION_LIMIT', () => {
    const condition = nestedFormatCondition();
    expect(condition).toHaveLength(356);
    const e = expressionError(() => evaluateCondition(condition, matrix));
    expect(e.code).toBe('EXPRESSION_LIMIT');
    expect(e.message).toBe('expression result is too large (56,000,000 characters; the limit is 10,485,760)');
    expect(condition.slice(e.offset)).toMatch(/^format\('(\{0\}){10}', format/);
  });

  it('evaluates that condition within a 48 MB heap (the result it refuses would need more than 56 MB)', async () => {
    const script = `
      const { evaluateCondition } = await import(${JSON.stringify(EXPRESSIONS)});
      try { evaluateCondition(process.env.CONDITION, { contexts: { matrix: { os: 'linux' } } }); console.log('no error'); }
      catch (error) { console.log(error.code); }`;
    const { stdout } = await run(process.execPath, ['--max-old-space-size=48', '--input-type=module', '-e', script], {
      env: { ...process.env, CONDITION: nestedFormatCondition() },
    });
    expect(stdout.trim()).toBe('EXPRESSION_LIMIT');
  });

  it.each<[string, string]>([
    ['format()', "format('{0}{0}{0}', env.TEXT)"],
    ['join()', 'join(fromJSON(\'["0123456789", "0123456789", "0123456789"]\'), \'\')'],
    ['toJSON()', 'toJSON(env)'],
  ])('bounds what %s builds, before building it', (_what, src) => {
    const ctx = small({ env: { TEXT: '0123456789' } }, 25, 1_000);
    const e = expressionError(() => evaluate(src, ctx));
    expect(e.code).toBe('EXPRESSION_LIMIT');
    expect(e.message).toMatch(/^expression result is too large \(\d+ characters; the limit is 25\)$/);
    expect(evaluate(src, small({ env: { TEXT: '0123456789' } }, 40, 1_000))).toEqual(expect.any(String));
  });

  it('bounds a template as one result: its parts together', () => {
    const ctx = small({ env: { TEXT: '0123456789' } }, 25, 1_000);
    expect(interpolate('${{ env.TEXT }}${{ env.TEXT }}', ctx)).toBe('01234567890123456789');
    const e = expressionError(() => interpolate('${{ env.TEXT }}${{ env.TEXT }}-${{ env.TEXT }}', ctx));
    expect(e.code).toBe('EXPRESSION_LIMIT');
    expect(e.offset).toBe(34); // where the third expression starts
  });
});

describe('work', () => {
  it('fails an evaluation past its work budget, even when each result is small', () => {
    const src = Array.from({ length: 40 }, () => "contains(format('{0}{0}{0}{0}', env.TEXT), 'z')").join(' || ');
    const ctx = (maxWork: number) => small({ env: { TEXT: '0123456789' } }, 1_000, maxWork);
    const e = expressionError(() => evaluate(src, ctx(2_000)));
    expect(e.code).toBe('EXPRESSION_LIMIT');
    expect(e.message).toBe('expression does too much work (more than 2,000 steps)');
    expect(evaluate(src, ctx(20_000))).toBe(false);
  });

  it('charges the elements a wildcard visits', () => {
    const items = Array.from({ length: 500 }, (_, i) => ({ result: i === 499 ? 'failure' : 'success' }));
    const src = "contains(needs.*.result, 'failure')";
    expect(evaluate(src, small({ needs: items as unknown as Value }, 1_000, 5_000))).toBe(true);
    expect(expressionError(() => evaluate(src, small({ needs: items as unknown as Value }, 1_000, 800))).code).toBe('EXPRESSION_LIMIT');
  });
});

describe('depth', () => {
  it("allows 50 levels and refuses 51 (GitHub's limit), with EXPRESSION_LIMIT", () => {
    expect(evaluate(`${'!'.repeat(49)}true`, { contexts: {} })).toBe(false);
    const e = expressionError(() => parseExpression(`${'!'.repeat(50)}true`));
    expect(e.code).toBe('EXPRESSION_LIMIT');
    expect(e.message).toMatch(/^expression is nested too deeply \(the limit is 50 levels\) at column \d+$/);
  });
});
