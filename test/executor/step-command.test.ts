import { describe, expect, it } from 'vitest';
import { stepCommand } from '../../src/executor/job-runner.ts';

describe('stepCommand', () => {
  it('runs scripts of the built-in shells inline, with $0 naming the step file', () => {
    expect(stepCommand(undefined, 'echo hi', '/t/step-0')).toEqual({
      argv: ['bash', '--noprofile', '--norc', '-eo', 'pipefail', '-c', 'echo hi', '/t/step-0'],
      file: false,
    });
    expect(stepCommand('bash', 'echo hi', '/t/step-0').file).toBe(false);
    expect(stepCommand('sh', 'echo hi', '/t/step-0')).toEqual({ argv: ['sh', '-e', '-c', 'echo hi', '/t/step-0'], file: false });
  });

  it('writes a file for a custom shell and for a script too long for one argument', () => {
    expect(stepCommand('python3 {0}', 'print(1)', '/t/step-0')).toEqual({ argv: ['python3', '/t/step-0'], file: true });
    expect(stepCommand('perl', 'print 1', '/t/step-0')).toEqual({ argv: ['perl', '/t/step-0'], file: true });
    const long = 'echo x\n'.repeat(20_000);
    expect(stepCommand(undefined, long, '/t/step-0')).toEqual({
      argv: ['bash', '--noprofile', '--norc', '-eo', 'pipefail', '/t/step-0'],
      file: true,
    });
  });
});
