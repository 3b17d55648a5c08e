import { describe, expect, it } from 'vitest';
import { isSettableEnvName, parseStepFile } from '../../src/executor/step-files.ts';

describe('parseStepFile', () => {
  it('reads name=value lines (value after the first =) and heredocs, last one wins', () => {
    const parsed = parseStepFile('a=1\nurl=x=y&z=w\n\nnotes<<EOF\nline 1\n\nline 3\nEOF\na=2\r\nempty=\n');
    expect(parsed).toEqual({ values: { a: '2', url: 'x=y&z=w', notes: 'line 1\n\nline 3', empty: '' }, errors: [] });
  });

  it('accepts a heredoc whose body holds = and <<', () => {
    expect(parseStepFile('k<<END\na=b\nc<<d\nEND\n').values).toEqual({ k: 'a=b\nc<<d' });
  });

  it('reports malformed lines and an unterminated heredoc without losing the good ones', () => {
    const parsed = parseStepFile('good=1\njust text\n=novalue\nopen<<EOF\nnever closed\n');
    expect(parsed.values).toEqual({ good: '1' });
    expect(parsed.errors).toHaveLength(3);
    expect(parsed.errors[0]).toMatch(/^line 2: /);
    expect(parsed.errors[2]).toMatch(/^line 4: no closing "EOF" for open$/);
  });
});

describe('isSettableEnvName', () => {
  it('allows shell names and refuses Gantry-owned ones', () => {
    expect(isSettableEnvName('NODE_ENV')).toBe(true);
    expect(isSettableEnvName('GANTRY_OUTPUT')).toBe(false);
    expect(isSettableEnvName('bad-name')).toBe(false);
  });
});
