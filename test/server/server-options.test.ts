import { describe, expect, it } from 'vitest';
import { resolveServerOptions } from '../../src/server/server-options.ts';

describe('the passEnv server option (GANTRY_PASS_ENV)', () => {
  it('is empty by default and a frozen list of names when set', () => {
    expect(resolveServerOptions({}, {}).passEnv).toEqual([]);
    const options = resolveServerOptions({}, { GANTRY_PASS_ENV: 'JAVA_HOME, GOPROXY' });
    expect(options.passEnv).toEqual(['JAVA_HOME', 'GOPROXY']);
    expect(Object.isFrozen(options.passEnv)).toBe(true);
  });

  it('refuses secret-looking names at start, with the other problems', () => {
    expect(() => resolveServerOptions({}, { GANTRY_PASS_ENV: 'AWS_SECRET_ACCESS_KEY', GANTRY_PORT: 'x' })).toThrow(
      expect.objectContaining({
        code: 'INVALID_INPUT',
        message:
          "port must be a whole number ≥ 0, got 'x'; GANTRY_PASS_ENV: AWS_SECRET_ACCESS_KEY looks like a secret (give it to jobs as a project secret)",
      }),
    );
  });
});
