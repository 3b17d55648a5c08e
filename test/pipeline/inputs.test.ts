import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.ts';
import type { InputConfig } from '../../src/core/types.ts';
import { resolveInputs } from '../../src/pipeline/inputs.ts';

const declared: Record<string, InputConfig> = {
  environment: { type: 'choice', options: ['staging', 'production'], required: true },
  replicas: { type: 'number', required: false, default: 2 },
  dry_run: { type: 'boolean', required: false, default: false },
  note: { type: 'string', required: false },
};

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    return ((error as InputError).details as { problems: string[] }).problems;
  }
  throw new Error('expected an InputError');
}

describe('resolveInputs', () => {
  it('coerces each value to its declared type and fills defaults', () => {
    expect(resolveInputs(declared, { environment: 'production', replicas: '5', dry_run: 'true' })).toEqual({
      environment: 'production',
      replicas: 5,
      dry_run: true,
      note: '',
    });
    expect(resolveInputs(declared, { environment: 'staging' })).toEqual({ environment: 'staging', replicas: 2, dry_run: false, note: '' });
  });

  it('gives optional inputs without a default an empty value of their type', () => {
    const d: Record<string, InputConfig> = {
      n: { type: 'number', required: false },
      b: { type: 'boolean', required: false },
      c: { type: 'choice', options: ['x'], required: false },
    };
    expect(resolveInputs(d, {})).toEqual({ n: null, b: false, c: '' });
  });

  it('reports every problem at once', () => {
    const problems = problemsOf(() => resolveInputs(declared, { replicas: 'many', dry_run: 'yes', enviroment: 'prod', colour: 'red' }));
    expect(problems).toEqual([
      "unknown input 'enviroment' (did you mean 'environment'?)",
      "unknown input 'colour' (declared inputs: environment, replicas, dry_run, note)",
      "missing required input 'environment'",
      "input 'replicas' must be a number, got 'many'",
      "input 'dry_run' must be 'true' or 'false', got 'yes'",
    ]);
  });

  it('puts all problems in the one-line message', () => {
    expect(() => resolveInputs(declared, { environment: 'qa', replicas: '' })).toThrow(
      "invalid inputs: input 'environment' must be one of 'staging', 'production', got 'qa'; input 'replicas' must be a number, got ''",
    );
  });

  it('passes inputs through as strings when none are declared', () => {
    expect(resolveInputs(undefined, { anything: '1' })).toEqual({ anything: '1' });
    expect(resolveInputs({}, { anything: 'x' })).toEqual({ anything: 'x' });
  });
});
