import { describe, expect, it } from 'vitest';
import { ExpressionError } from '../../src/core/errors.ts';
import type { Value } from '../../src/core/types.ts';
import {
  conditionRunsAfterFailure,
  evaluate,
  evaluateCondition,
  hasExpression,
  interpolate,
  parseExpression,
  splitTemplate,
  toDisplayString,
  type ExpressionContext,
} from '../../src/pipeline/expressions/index.ts';
import { expressionError } from './expression-error.ts';

const contexts: Record<string, Value> = {
  env: { NAME: 'gantry', EMPTY: '', ZERO: '0', 'with-dash': 'dashed' },
  matrix: { os: 'linux', node: 22, list: [1, 2, 3], nested: { deep: { value: 'x' } }, flag: true },
  needs: {
    build: { result: 'success', outputs: { version: '1.2.3' } },
    lint: { result: 'failure', outputs: {} },
    docs: { result: 'skipped' },
  },
  steps: { 'my-step': { outputs: { answer: '42' } } },
  inputs: { items: [{ name: 'a', tags: ['x', 'y'] }, { name: 'b', tags: ['z'] }, { other: 1 }] },
};
const ctx: ExpressionContext = { contexts };
const run = (src: string, c: ExpressionContext = ctx): Value => evaluate(src, c);

describe('literals', () => {
  it.each<[string, Value]>([
    ['null', null],
    ['true', true],
    ['false', false],
    ['711', 711],
    ['-9.2', -9.2],
    ['+3', 3],
    ['.5', 0.5],
    ['-.5', -0.5],
    ['0xff', 255],
    ['0xFF', 255],
    ['0o10', 8],
    ['-2.99e-2', -0.0299],
    ['1.2E+2', 120],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
    ['+Infinity', Infinity],
    ["'Mona'", 'Mona'],
    ["'It''s open source!'", "It's open source!"],
    ["''", ''],
    ["''''", "'"],
    ["  'padded'  ", 'padded'],
  ])('%s → %j', (src, expected) => {
    expect(run(src)).toEqual(expected);
  });

  it('NaN is a number literal', () => {
    expect(Number.isNaN(run('NaN'))).toBe(true);
  });
});

describe('property access', () => {
  it.each<[string, Value]>([
    ['env.NAME', 'gantry'],
    ['env.name', 'gantry'], // case-insensitive fallback, like GitHub contexts
    ['ENV.NAME', 'gantry'],
    ["env['NAME']", 'gantry'],
    ['env.with-dash', 'dashed'],
    ['steps.my-step.outputs.answer', '42'],
    ['matrix.nested.deep.value', 'x'],
    ["matrix['nested']['deep'].value", 'x'],
    ['matrix.list[0]', 1],
    ['matrix.list[2]', 3],
    ["matrix.list['1']", 2],
    ['matrix.list[1.9]', 2],
    ['matrix.list[true]', 2],
    ['matrix.list[3]', null],
    ['matrix.list[-1]', null],
    ["matrix.list['x']", null],
    ['matrix.missing', null],
    ['matrix.missing.deeper.still', null],
    ['matrix.os.length', null],
    ['matrix[0]', null],
    ['env.true', null],
    ['secrets', {}],
    ['secrets.TOKEN', null],
    ['gantry.sha', null],
    ['needs.*.result', ['success', 'failure', 'skipped']],
    ['needs[*].result', ['success', 'failure', 'skipped']],
    ['needs.*.outputs.version', ['1.2.3']],
    ['inputs.items.*.name', ['a', 'b']],
    ['inputs.items.*.tags.*', ['x', 'y', 'z']],
    ['inputs.items.*.tags[0]', ['x', 'z']],
    ['matrix.list.*', [1, 2, 3]],
    ['matrix.os.*', []],
    ['secrets.*', []],
    ['(matrix).os', 'linux'],
    ['fromJSON(\'{"one": 1}\').one', 1],
    ["fromJSON('[[1, 2], [3]]')[1][0]", 3],
  ])('%s → %j', (src, expected) => {
    expect(run(src)).toEqual(expected);
  });

  it('prefers an exact key over a case-insensitive match', () => {
    const both: ExpressionContext = { contexts: { env: { a: 'lower', A: 'upper', Mixed: 'm' } } };
    expect(evaluate('env.a', both)).toBe('lower');
    expect(evaluate('env.A', both)).toBe('upper');
    expect(evaluate('env.MIXED', both)).toBe('m');
  });

  it('returns context values as they are', () => {
    expect(run('matrix.list')).toBe((contexts.matrix as Record<string, Value>).list);
  });
});

describe('operators', () => {
  it.each<[string, Value]>([
    ['!true', false],
    ['!0', true],
    ["!''", true],
    ['!null', true],
    ["!'a'", false],
    ['!matrix', false],
    ['!!matrix.list', true],
    ['1 < 2', true],
    ['2 < 1', false],
    ['1 <= 1', true],
    ['2 <= 1', false],
    ['2 > 1', true],
    ['1 > 1', false],
    ['1 >= 1', true],
    ['0 >= 1', false],
    ["'abc' < 'def'", true],
    ["'ABC' < 'abd'", true],
    ["'b' > 'A'", true],
    ["'abc' <= 'ABC'", true],
    ['1 == 1', true],
    ['1 != 1', false],
    ['1 != 2', true],
    ['true && true', true],
    ['true && false', false],
    ["'a' && 'b'", 'b'],
    ["0 && 'b'", 0],
    ["'' && 'b'", ''],
    ['null && true', null],
    ['true && true && 3', 3],
    ["0 || 'x'", 'x'],
    ['false || null', null],
    ['0 || 0 || 2 || 3', 2],
    ["'a' || 'b'", 'a'],
    ["matrix.missing || 'default'", 'default'],
    ["matrix.os == 'linux' && 'yes' || 'no'", 'yes'],
    ["matrix.os == 'mac' && 'yes' || 'no'", 'no'],
    // precedence: ! above comparison, comparison above equality, && above ||
    ['!2 < 3', true],
    ['!(2 < 3)', false],
    ['1 < 2 == 2 < 3', true],
    ['2 == 1 < 2', false],
    ['1 == 1 < 2', true], // 1 == (1 < 2) → 1 == true
    ['true || false && false', true],
    ['(true || false) && false', false],
    ['false && true || true', true],
    ['!matrix.flag', false],
    ['3 > matrix.node', false],
    ["matrix['node'] >= 22", true],
  ])('%s → %j', (src, expected) => {
    expect(run(src)).toEqual(expected);
  });

  it('&& and || short-circuit (the right side is not evaluated)', () => {
    expect(run("false && fromJSON('not json')")).toBe(false);
    expect(run("true || fromJSON('not json')")).toBe(true);
    expect(() => run("true && fromJSON('not json')")).toThrow(ExpressionError);
  });
});

describe('coercion in comparisons', () => {
  it.each<[string, boolean]>([
    // same kinds
    ['null == null', true],
    ["'abc' == 'ABC'", true],
    ["'abc' == 'abd'", false],
    ['true == true', true],
    ['NaN == NaN', false],
    ['0 == -0', true],
    // to numbers when kinds differ
    ['null == 0', true],
    ["null == ''", true],
    ['null == false', true],
    ['true == 1', true],
    ['false == 0', true],
    ["true == 'true'", false],
    ["'1' == 1", true],
    ["' 1 ' == 1", true],
    ["'' == 0", true],
    ["'0x10' == 16", true],
    ["'1.5e1' == 15", true],
    ["'abc' == 0", false],
    ["'0b1' == 1", false],
    ["'1' == true", true],
    ['env.ZERO == 0', true],
    ['env.ZERO == false', true],
    // containers: identity only, never coerced
    ['matrix == matrix', true],
    ['matrix.list == matrix.list', true],
    ["fromJSON('[]') == fromJSON('[]')", false],
    ["fromJSON('{}') == fromJSON('{}')", false],
    ['matrix.list == 0', false],
    ['matrix != 1', true],
    ["matrix.list == 'Array'", false],
    // ordering
    ['null < 1', true],
    ['null < 0', false],
    ['false < true', true],
    ["false < '1'", true],
    ["'-1' < null", true],
    ["'' < null", false],
    ["1 < ' 2 '", true],
    ["'10' > 9", true],
    ["'10' > '9'", false], // two strings compare as text
    ["'abc' < 1", false], // NaN never orders
    ['NaN < 1', false],
    ['NaN >= NaN', false],
    ['matrix.list < matrix.list', false],
    ['matrix.list <= matrix.list', false],
    ['matrix < 1', false],
    ['null <= null', true],
    ['-Infinity < 0', true],
  ])('%s → %s', (src, expected) => {
    expect(run(src)).toBe(expected);
  });

  it.each<[Value, boolean]>([
    [false, false],
    [0, false],
    [-0, false],
    [Number.NaN, false],
    ['', false],
    [null, false],
    [true, true],
    [1, true],
    [-1, true],
    ['0', true],
    ['false', true],
    [[], true],
    [{}, true],
  ])('truthiness of %j in a condition is %s', (value, expected) => {
    expect(evaluateCondition('matrix.v', { contexts: { matrix: { v: value } } })).toBe(expected);
  });
});

describe('functions', () => {
  it.each<[string, Value]>([
    ["contains('Hello world', 'WORLD')", true],
    ["contains('Hello world', 'planet')", false],
    ["contains('abc', '')", true],
    ['contains(matrix.list, 2)', true],
    ["contains(matrix.list, '2')", true],
    ['contains(matrix.list, 4)', false],
    ["contains(needs.*.result, 'FAILURE')", true],
    ["contains(needs.*.result, 'cancelled')", false],
    ["contains(fromJSON('[\"A\", null]'), 'a')", true],
    ["contains(fromJSON('[null]'), null)", true],
    ['contains(123, 2)', true],
    ["contains(null, '')", true],
    ["startsWith('Hello world', 'he')", true],
    ["startsWith('Hello world', 'world')", false],
    ["startsWith(matrix.list, '1')", false],
    ["endsWith('Hello world', 'WORLD')", true],
    ["endsWith('Hello world', 'Hello')", false],
    ['endsWith(12.5, 5)', true],
    ["StartsWith('abc', 'A')", true],
    ["CONTAINS('abc', 'B')", true],
    ["format('Hello {0} {1} {2}', 'Mona', 'the', 'Octocat')", 'Hello Mona the Octocat'],
    ["format('{0}{0}', 'ab')", 'abab'],
    ["format('{{Hello {0}}}', 'Mona')", '{Hello Mona}'],
    ["format('{{{{0}}}}', 'abc')", '{{0}}'],
    ["format('}}{{')", '}{'],
    ["format('{0}|{1}|{2}|{3}|{4}', null, true, 1.5, matrix.list, matrix)", '|true|1.5|Array|Object'],
    ["format('{1}{0}', 'a', 'b')", 'ba'],
    ["format('no placeholders', 'x')", 'no placeholders'],
    ["format('{10}', 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 'ten')", 'ten'],
    ['format(null)', ''],
    ['join(matrix.list)', '1,2,3'],
    ["join(matrix.list, ' | ')", '1 | 2 | 3'],
    ["join(needs.*.result, ', ')", 'success, failure, skipped'],
    ['join(matrix.list, null)', '123'],
    ['join(matrix.list, matrix)', '1,2,3'],
    ["join('abc')", 'abc'],
    ['join(null)', ''],
    ['join(matrix)', ''],
    ["join(fromJSON('[null, true, [], {}]'))", ',true,Array,Object'],
    ['toJSON(null)', 'null'],
    ["toJSON('a\"b')", '"a\\"b"'],
    ['toJSON(-0)', '0'],
    ['toJSON(matrix.list)', '[\n  1,\n  2,\n  3\n]'],
    ['toJSON(fromJSON(\'{"a": {"b": []}}\'))', '{\n  "a": {\n    "b": []\n  }\n}'],
    ["fromJSON('true')", true],
    ["fromJSON('-12.5')", -12.5],
    ['fromJSON(\'"text"\')', 'text'],
    ["fromJSON('null')", null],
    ['fromJSON(\'{"a": [1, {"b": null}]}\')', { a: [1, { b: null }] }],
    ['fromJSON(env.ZERO) == 0', true],
    ['fromJSON(toJSON(matrix.nested))', { deep: { value: 'x' } }],
  ])('%s → %j', (src, expected) => {
    expect(run(src)).toEqual(expected);
  });

  it('format() checks its placeholders against the arguments when evaluating', () => {
    const e = expressionError(() => run("format(matrix.os == 'linux' && '{0} {1}', 'a')"));
    expect(e.message).toMatch(/'\{1\}' is out of range: 1 argument given/);
    expect(e.offset).toBe(0);
  });

  it('fromJSON() reports invalid JSON as an ExpressionError at the call', () => {
    const e = expressionError(() => run("1 == fromJSON('{nope')"));
    expect(e.message).toMatch(/^fromJSON\(\): invalid JSON/);
    expect(e.message).not.toContain('\n');
    expect(e.offset).toBe(5);
    expect(expressionError(() => run("fromJSON('')")).message).toMatch(/invalid JSON/);
  });

  it('hashFiles() is delegated to the caller with every pattern as a string', () => {
    const seen: string[][] = [];
    const withHash: ExpressionContext = {
      contexts,
      hashFiles: (patterns) => {
        seen.push(patterns);
        return 'abc123';
      },
    };
    expect(evaluate("format('deps-{0}', hashFiles('**/package-lock.json', matrix.os))", withHash)).toBe('deps-abc123');
    expect(seen).toEqual([['**/package-lock.json', 'linux']]);
  });

  it('hashFiles() without a delegate is an ExpressionError, not a crash', () => {
    const e = expressionError(() => run("'x' == hashFiles('a')"));
    expect(e.message).toMatch(/hashFiles\(\) is not available/);
    expect(e.offset).toBe(7);
    const failing: ExpressionContext = {
      contexts,
      hashFiles: () => {
        throw new Error('disk on fire');
      },
    };
    expect(expressionError(() => evaluate("hashFiles('a')", failing)).message).toBe('hashFiles() failed: disk on fire');
  });

  it.each<[string, { failed: boolean; cancelled: boolean } | undefined, Value]>([
    ['success()', undefined, true],
    ['failure()', undefined, false],
    ['cancelled()', undefined, false],
    ['always()', undefined, true],
    ['success()', { failed: true, cancelled: false }, false],
    ['failure()', { failed: true, cancelled: false }, true],
    ['success()', { failed: false, cancelled: true }, false],
    ['cancelled()', { failed: false, cancelled: true }, true],
    ['failure()', { failed: true, cancelled: true }, false],
    ['always()', { failed: true, cancelled: true }, true],
  ])('%s with status %j → %s', (src, status, expected) => {
    expect(evaluate(src, status ? { contexts, status } : { contexts })).toBe(expected);
  });
});

describe('parse errors', () => {
  it.each<[string, number, string]>([
    ['(1', 1, "unexpected end of expression after '1' at column 2, expected ')'"],
    ['1 + 2', 2, "unexpected '+' at column 3"],
    ['matrix.os)', 9, "unexpected ')' at column 10, expected an operator or the end"],
    ['(matrix.os))', 11, "unexpected ')' at column 12, expected an operator or the end"],
    ['', 0, 'expected an expression at column 1'],
    ['   ', 3, 'expected an expression at column 4'],
    ["contains('a', ", 12, "unexpected end of expression after ',' at column 13"],
    ['matrix.list[0', 12, "unexpected end of expression after '0' at column 13, expected ']'"],
    ['matrix.list[0,1]', 13, "unexpected ',' at column 14, expected ']'"],
    ['matrix.1', 7, "unexpected '1' at column 8, expected a property name after '.'"],
    ['matrix.list[1].2', 15, "unexpected '2' at column 16, expected a property name after '.'"],
    ["matrix.'os'", 7, "unexpected ''os'' at column 8, expected a property name after '.'"],
    ['1 = 1', 2, "unexpected '=' at column 3 (use '==' to compare)"],
    ['true & false', 5, "unexpected '&' at column 6 (use '&&')"],
    ['true | false', 5, "unexpected '|' at column 6 (use '||')"],
    ['"double"', 0, `unexpected '"double"' at column 1 (strings use single quotes)`],
    ["'open", 0, "unterminated string at column 1 (strings end with ')"],
    ["'it''s", 0, "unterminated string at column 1 (strings end with ')"],
    ['12abc', 0, "invalid number '12abc' at column 1"],
    ['matrix.os @ 1', 10, "unexpected '@' at column 11"],
    ['*', 0, "unexpected '*' at column 1"],
    ['!', 0, "unexpected end of expression after '!' at column 1"],
    ['1 2', 2, "unexpected '2' at column 3, expected an operator or the end"],
    ['contains(,)', 9, "unexpected ',' at column 10"],
    ["contain('abc', 'b')", 0, "unknown function 'contain' (did you mean 'contains'?)"],
    ["1 == startWith('abc', 'a')", 5, "unknown function 'startWith' (did you mean 'startsWith'?)"],
    ['eval(1)', 0, "unknown function 'eval'"],
    ['matrx.os', 0, "unknown context 'matrx' (did you mean 'matrix'?)"],
    ['true && nedds.build', 8, "unknown context 'nedds' (did you mean 'needs'?)"],
    ['github.sha', 0, "unknown context 'github' (known contexts: env, matrix, steps, needs, inputs, secrets, gantry, job)"],
    ['True', 0, "unknown context 'True' (known contexts: env, matrix, steps, needs, inputs, secrets, gantry, job)"],
    ['format', 0, "'format' is a function: call it as format(…)"],
    ["contains('a')", 0, 'contains() takes 2 arguments, got 1'],
    ["startsWith('a', 'b', 'c')", 0, 'startsWith() takes 2 arguments, got 3'],
    ['join()', 0, 'join() takes 1 or 2 arguments, got 0'],
    ["join(matrix.list, ',', 1)", 0, 'join() takes 1 or 2 arguments, got 3'],
    ['format()', 0, 'format() takes at least 1 argument, got 0'],
    ['hashFiles()', 0, 'hashFiles() takes at least 1 argument, got 0'],
    ['success(1)', 0, 'success() takes 0 arguments, got 1'],
    ['toJSON()', 0, 'toJSON() takes 1 argument, got 0'],
    ["format('{0}')", 7, "format(): '{0}' is out of range: 0 arguments given after the format string"],
    ["format('{0}{1}', 'abc')", 7, "format(): '{1}' is out of range: 1 argument given after the format string"],
    ["format('{0', 'x')", 7, "format(): invalid format string '{0' (write '{{' and '}}' for literal braces)"],
    ["format('}{0}', 'x')", 7, "format(): invalid format string '}{0}' (write '{{' and '}}' for literal braces)"],
    ["format('{0}}', 'x')", 7, "format(): invalid format string '{0}}' (write '{{' and '}}' for literal braces)"],
    ["format('{x}', 'x')", 7, "format(): invalid format string '{x}' (write '{{' and '}}' for literal braces)"],
  ])('%j → offset %i: %s', (src, offset, message) => {
    const e = expressionError(() => parseExpression(src));
    expect(e.message).toBe(message);
    expect(e.offset).toBe(offset);
    expect(e.code).toBe('INVALID_EXPRESSION');
    expect(e.name).toBe('ExpressionError');
  });

  it('function names are case-insensitive and canonical in the tree', () => {
    const tree = parseExpression("toJson(fromjson('[1]'))");
    expect(tree).toMatchObject({ kind: 'call', name: 'toJSON', offset: 0, args: [{ kind: 'call', name: 'fromJSON', offset: 7 }] });
  });

  it('nodes carry the offset where their text starts', () => {
    expect(parseExpression("  matrix.os == 'x'")).toMatchObject({
      kind: 'compare',
      operator: '==',
      offset: 2,
      left: { kind: 'property', name: 'os', offset: 2, object: { kind: 'context', name: 'matrix', offset: 2 } },
      right: { kind: 'literal', value: 'x', offset: 15 },
    });
    expect(parseExpression('!a || b && c'.replace(/[abc]/g, 'env'))).toMatchObject({ kind: 'logical', operator: '||', offset: 0 });
  });
});

describe('splitTemplate and hasExpression', () => {
  it.each<[string, ReturnType<typeof splitTemplate>]>([
    ['plain text', [{ kind: 'text', text: 'plain text' }]],
    ['', []],
    ['${{ a }}', [{ kind: 'expr', source: ' a ', offset: 3 }]],
    [
      'v${{ matrix.node }}-${{ matrix.os }}!',
      [
        { kind: 'text', text: 'v' },
        { kind: 'expr', source: ' matrix.node ', offset: 4 },
        { kind: 'text', text: '-' },
        { kind: 'expr', source: ' matrix.os ', offset: 23 },
        { kind: 'text', text: '!' },
      ],
    ],
    ["${{ 'a}}b' }}", [{ kind: 'expr', source: " 'a}}b' ", offset: 3 }]],
    [
      "x${{ 'it''s }}' }}y",
      [
        { kind: 'text', text: 'x' },
        { kind: 'expr', source: " 'it''s }}' ", offset: 4 },
        { kind: 'text', text: 'y' },
      ],
    ],
    [
      '${{a}}${{b}}',
      [
        { kind: 'expr', source: 'a', offset: 3 },
        { kind: 'expr', source: 'b', offset: 9 },
      ],
    ],
    ['a }} b ${ { c', [{ kind: 'text', text: 'a }} b ${ { c' }]],
    [
      '$${{ x }}',
      [
        { kind: 'text', text: '$' },
        { kind: 'expr', source: ' x ', offset: 4 },
      ],
    ],
  ])('%j', (text, parts) => {
    expect(splitTemplate(text)).toEqual(parts);
  });

  it.each<[string, number]>([
    ['abc ${{ matrix.os', 4],
    ['${{ a }} and ${{ b ', 13],
    ["${{ 'a}} }}", 0],
    ['${{', 0],
  ])('%j is unclosed at offset %i', (text, offset) => {
    const e = expressionError(() => splitTemplate(text));
    expect(e.offset).toBe(offset);
    expect(e.message).toBe(`unclosed '\${{' at column ${offset + 1} (missing '}}')`);
  });

  it.each<[string, boolean]>([
    ['plain', false],
    ['${{ x }}', true],
    ['$ {{ x }}', false],
    ['text ${{', true],
  ])('hasExpression(%j) = %s', (text, expected) => {
    expect(hasExpression(text)).toBe(expected);
  });
});

describe('interpolate and toDisplayString', () => {
  it.each<[string, string]>([
    ['no expressions, returned as-is: }} {{ $', 'no expressions, returned as-is: }} {{ $'],
    ['${{ null }}', ''],
    ['[${{ matrix.missing }}]', '[]'],
    ['${{ true }}/${{ false }}', 'true/false'],
    ['${{ 1.5 }} ${{ 0xff }} ${{ -0 }} ${{ 1e21 }} ${{ 0.1 }}', '1.5 255 0 1E+21 0.1'],
    ['${{ NaN }} ${{ -Infinity }}', 'NaN -Infinity'],
    ['${{ matrix.list }}', '[1,2,3]'],
    ['${{ matrix.nested }}', '{"deep":{"value":"x"}}'],
    ['${{ needs.*.result }}', '["success","failure","skipped"]'],
    ['node-${{ matrix.node }}-${{ matrix.os }}.tar.gz', 'node-22-linux.tar.gz'],
    ["echo ${{ 'a}}b' }} ${{ format('{{x}}') }}", 'echo a}}b {x}'],
    ['${{ env.NAME }}${{ env.NAME }}', 'gantrygantry'],
    ['${{ secrets }}', '{}'],
    ['multi\nline ${{ steps.my-step.outputs.answer }}\n', 'multi\nline 42\n'],
  ])('%j → %j', (text, expected) => {
    expect(interpolate(text, ctx)).toBe(expected);
  });

  it.each<[Value, string]>([
    [null, ''],
    ['text', 'text'],
    [true, 'true'],
    [false, 'false'],
    [42, '42'],
    [-0, '0'],
    [0.000001, '1E-06'],
    [[1, 'a', null], '[1,"a",null]'],
    [{ a: { b: [] } }, '{"a":{"b":[]}}'],
  ])('toDisplayString(%j) = %j', (value, expected) => {
    expect(toDisplayString(value)).toBe(expected);
  });

  it('does not expand expressions that appear in values (no injection through data)', () => {
    const tricky: ExpressionContext = { contexts: { env: { USER: '${{ secrets.TOKEN }}' }, secrets: { TOKEN: 'hunter2' } } };
    expect(interpolate('hello ${{ env.USER }}', tricky)).toBe('hello ${{ secrets.TOKEN }}');
  });

  it('reports errors at their position in the whole text', () => {
    const parse = expressionError(() => interpolate('echo ${{ matrix.os ) }}', ctx));
    expect(parse.offset).toBe(19);
    expect(parse.message).toBe("unexpected ')' at column 20, expected an operator or the end");
    const evaluation = expressionError(() => interpolate("a ${{ b }} ${{ fromJSON('x') }}", { contexts: {} }));
    expect(evaluation.message).toBe("unknown context 'b' (known contexts: env, matrix, steps, needs, inputs, secrets, gantry, job)");
    expect(evaluation.offset).toBe(6);
    const late = expressionError(() => interpolate("ok ${{ 1 }} ${{ fromJSON('x') }}", ctx));
    expect(late.message).toMatch(/^fromJSON\(\): invalid JSON/);
    expect(late.offset).toBe(16);
  });
});

describe('evaluateCondition', () => {
  const ok = { failed: false, cancelled: false };
  const failed = { failed: true, cancelled: false };
  const cancelled = { failed: false, cancelled: true };
  const failedThenCancelled = { failed: true, cancelled: true };
  it.each<[string | undefined, { failed: boolean; cancelled: boolean }, boolean]>([
    [undefined, ok, true],
    [undefined, failed, false],
    [undefined, cancelled, false],
    ['', ok, true],
    ['  ', failed, false],
    ["matrix.os == 'linux'", ok, true],
    ["matrix.os == 'linux'", failed, false], // implicit success() &&
    ["matrix.os == 'linux'", cancelled, false],
    ["matrix.os == 'mac'", ok, false],
    ["${{ matrix.os == 'linux' }}", ok, true],
    ["  ${{ matrix.os == 'mac' }}  ", ok, false],
    ['${{ failure() }}', failed, true],
    ['always()', failed, true],
    ['always()', cancelled, true],
    ['always()', failedThenCancelled, true],
    ['failure()', ok, false],
    ['failure()', failed, true],
    ['failure()', cancelled, false],
    ['failure()', failedThenCancelled, false],
    ['cancelled()', ok, false],
    ['cancelled()', cancelled, true],
    ['success()', ok, true],
    ['success()', failed, false],
    ['!cancelled()', failed, true],
    ['!cancelled()', cancelled, false],
    ["failure() && matrix.os == 'linux'", failed, true],
    ["failure() && matrix.os == 'mac'", failed, false],
    ['success() || failure()', failed, true],
    ['success() || failure()', cancelled, false],
    ["always() && needs.lint.result == 'failure'", failedThenCancelled, true],
    ["contains(needs.*.result, 'failure')", ok, true],
    ["contains(needs.*.result, 'failure')", failed, false],
    ["'false'", ok, true], // a non-empty string is truthy
    ['0', ok, false],
    ['matrix.missing', ok, false],
    ['matrix.list', ok, true],
    ['env.EMPTY', ok, false],
  ])('if: %j with %j → %s', (condition, status, expected) => {
    expect(evaluateCondition(condition, { contexts, status })).toBe(expected);
  });

  it('defaults to a status where nothing failed', () => {
    expect(evaluateCondition(undefined, { contexts: {} })).toBe(true);
    expect(evaluateCondition('failure()', { contexts: {} })).toBe(false);
  });

  it('does not evaluate the condition when the implicit success() is false', () => {
    expect(evaluateCondition("fromJSON('bad')", { contexts, status: { failed: true, cancelled: false } })).toBe(false);
    expect(() => evaluateCondition("fromJSON('bad')", { contexts })).toThrow(ExpressionError);
  });

  it.each<[string, number, RegExp]>([
    ['${{ matrix.os }} == linux', 0, /must be one expression/],
    ['${{ a }} ${{ b }}', 0, /must be one expression/],
    ['${{ matrix.os == ) }}', 17, /^unexpected '\)' at column 18$/],
    ['matrix.os ==', 10, /^unexpected end of expression after '==' at column 11$/],
    ['${{ matrix.os', 0, /^unclosed/],
    ['${{ }}', 4, /^expected an expression/],
  ])('rejects %j (offset %i)', (condition, offset, message) => {
    const e = expressionError(() => evaluateCondition(condition, { contexts }));
    expect(e.offset).toBe(offset);
    expect(e.message).toMatch(message);
  });
});

describe('conditionRunsAfterFailure', () => {
  it.each<[string | undefined, boolean]>([
    [undefined, false],
    ['', false],
    ["matrix.os == 'linux'", false],
    ['success()', false],
    ['always()', true],
    ['${{ always() }}', true],
    ['failure()', true],
    ['cancelled()', true],
    ['!cancelled()', true],
    ["FAILURE() && env.X == 'y'", true],
    ["success() || contains(format('{0}', failure()), 'x')", true],
    ["'always()'", false], // a string that merely mentions it
  ])('%j → %s', (condition, expected) => {
    expect(conditionRunsAfterFailure(condition)).toBe(expected);
  });

  it('throws on a condition that does not parse', () => {
    expect(() => conditionRunsAfterFailure('always(')).toThrow(ExpressionError);
  });
});

describe('GitHub compatibility', () => {
  it.each<[string, Value]>([
    ['fromJSON(\'{"18":"lts"}\')[matrix.node]', 'lts'],
    ['fromJSON(\'{"true":"yes"}\')[true]', 'yes'],
    ['fromJSON(\'{"":"empty"}\')[null]', 'empty'],
    ['fromJSON(\'{"255":"hex"}\')[0xff]', 'hex'],
    ['fromJSON(\'{"NaN":"nan","Infinity":"inf"}\')[NaN]', 'nan'],
    ['fromJSON(\'{"0.5":"half"}\')[.5]', 'half'],
    ['fromJSON(\'[{"true":1},{"true":2},{"x":3}]\').*[true]', [1, 2]],
    ["fromJSON('{\"a\":1}')[fromJSON('[]')]", null],
  ])('an object key is the string form of any scalar: %s → %j', (src, expected) => {
    expect(run(src, { contexts: { matrix: { node: 18 } } })).toEqual(expected);
  });

  it.each<[string, Value]>([
    ["case(matrix.os == 'linux', 'tux', matrix.os == 'darwin', 'apple', 'other')", 'tux'],
    ["case(matrix.os == 'windows', 'win', 'other')", 'other'],
    ["CASE(true, fromJSON('[1]'), 'x')", [1]],
    // Only what decides is evaluated: the failing fromJSON is never reached.
    ["case(true, 'first', fromJSON('not json'))", 'first'],
  ])('case(): %s → %j', (src, expected) => {
    expect(run(src)).toEqual(expected);
  });

  it('case() refuses an even number of arguments when parsed, and a non-boolean condition where it stands', () => {
    const arity = expressionError(() => parseExpression("case(true, 'a', false, 'b')"));
    expect(arity.message).toBe('case() takes an odd number of arguments (condition, value pairs, then a default), got 4');
    const condition = expressionError(() => run("case(true == false, 'a', matrix.os, 'b', 'c')"));
    expect(condition.message).toBe('case(): condition 2 must be true or false, got "linux"');
    expect(condition.offset).toBe(25);
  });

  it.each<[number, string]>([
    [0.84551240822557006, '0.84551240822557'],
    [0.1 + 0.2, '0.3'],
    [123456789012345, '123456789012345'],
    [1234567890123456, '1.23456789012346E+15'],
    [0.0001, '0.0001'],
    [0.00001, '1E-05'],
    [-1.5e300, '-1.5E+300'],
  ])('numbers print with at most 15 significant digits: %d → %s', (value, text) => {
    expect(toDisplayString(value)).toBe(text);
    expect(run(`format('{0}', ${value})`)).toBe(text);
  });

  it.each(['-0xFF', '+0x10', '-0o7'])('a signed hex or octal literal is refused: %s', (src) => {
    const e = expressionError(() => parseExpression(src));
    expect(e.message).toBe(`invalid number '${src}' at column 1`);
  });

  it.each<[string, boolean]>([
    ["'ı' == 'I'", false],
    ["'i' == 'İ'", false],
    ["'ß' == 'SS'", false],
    ["'ß' == 'ß'", true],
    ["'é' == 'É'", true],
    ["'straße' == 'STRASSE'", false],
    ["contains('STRASSE', 'ß')", false],
    ["startsWith('Élan', 'é')", true],
    ["fromJSON('{\"é\":1}')['É'] == 1", true],
    ["fromJSON('{\"ß\":1}')['SS'] == null", true],
  ])('case-insensitive comparison is ordinal, one character at a time: %s → %s', (src, expected) => {
    expect(run(src)).toBe(expected);
  });

  it.each<[string, number, string]>([
    ['😊 Emoji', 0, "unexpected '😊' at column 1"],
    ["matrix.os == '😊' && 😊", 21, "unexpected '😊' at column 22"],
    ['matrix.b@r', 7, "unexpected 'b@r' at column 8"],
    ['1 =2', 2, "unexpected '=2' at column 3 (use '==' to compare)"],
    ['.github/workflow.md', 0, "unexpected '.github/workflow.md' at column 1"],
    ['matrix..os', 7, "unexpected '.os' at column 8"],
  ])('an error names the whole symbol, never half a character: %j', (src, offset, message) => {
    const e = expressionError(() => parseExpression(src));
    expect(e.message).toBe(message);
    expect(e.offset).toBe(offset);
  });
});

describe('safety', () => {
  it.each([
    'matrix.constructor',
    "matrix['constructor']",
    'matrix.__proto__',
    "matrix['__proto__']",
    "matrix['__PROTO__']",
    'matrix.prototype',
    'matrix.constructor.name',
    "matrix.list['constructor']",
    'matrix.list.length',
    'matrix.os.length',
    'matrix.hasOwnProperty',
    'matrix.toString',
    'fromJSON(\'{"__proto__": {"x": 1}}\').__proto__',
    'fromJSON(\'{"__proto__": {"x": 1}}\').x',
    'fromJSON(\'{"constructor": 1}\').constructor',
  ])('%s → null', (src) => {
    expect(run(src)).toBeNull();
  });

  it('never reaches Object.prototype through wildcards or contexts', () => {
    expect(run('matrix.*.constructor')).toEqual([]);
    expect(evaluate('env.toString', { contexts: {} })).toBeNull();
    expect(evaluate('env', { contexts: Object.create({ env: { leaked: true } }) as Record<string, Value> })).toEqual({});
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('does not use eval or Function', () => {
    // biome-ignore lint/security/noGlobalEval: the test traps eval to prove the evaluator never calls it
    const originalEval = globalThis.eval;
    const originalFunction = globalThis.Function;
    const trap = () => {
      throw new Error('dynamic code used');
    };
    globalThis.eval = trap;
    globalThis.Function = trap as unknown as FunctionConstructor;
    try {
      expect(run("format('{0}', toJSON(fromJSON('[1]'))) != '' && contains(needs.*.result, 'success')")).toBe(true);
    } finally {
      globalThis.eval = originalEval;
      globalThis.Function = originalFunction;
    }
  });

  it.each<[string, string]>([
    ['parentheses', `${'('.repeat(150)}1${')'.repeat(150)}`],
    ['negations', `${'!'.repeat(150)}true`],
    ['calls', `${'toJSON('.repeat(150)}1${')'.repeat(150)}`],
    ['indexing', `matrix${'[matrix'.repeat(150)}${']'.repeat(150)}`],
    ['property chains', `matrix${'.a'.repeat(150)}`],
    ['comparison chains', `1${' == 1'.repeat(150)}`],
    ['huge nesting', `${'('.repeat(5000)}1${')'.repeat(5000)}`],
  ])('rejects too deep %s with a clear error', (_what, src) => {
    const e = expressionError(() => parseExpression(src));
    expect(e.message).toMatch(/^expression is nested too deeply \(the limit is 50 levels\) at column \d+$/);
    expect(e.code).toBe('EXPRESSION_LIMIT');
  });

  it('accepts nesting within the limit and long flat chains', () => {
    expect(run(`${'('.repeat(90)}1${')'.repeat(90)}`)).toBe(1);
    expect(run(`${'!'.repeat(49)}true`)).toBe(false);
    expect(run(`${Array.from({ length: 2000 }, () => 'false').join(' || ')} || 7`)).toBe(7);
  });

  it("rejects expressions longer than 21,000 characters (GitHub's limit)", () => {
    const e = expressionError(() => parseExpression(`'${'a'.repeat(21_000)}'`));
    expect(e.message).toBe('expression is too long (21,002 characters; the limit is 21,000)');
    expect(e.code).toBe('EXPRESSION_LIMIT');
    expect(run(`'${'a'.repeat(20_000)}' == ''`)).toBe(false);
  });
});
