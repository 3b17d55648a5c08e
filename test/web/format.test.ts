/** The dashboard's words for what deploys to an environment by itself (`auto` in gantry.yaml). */
import { describe, expect, it } from 'vitest';
import { autoDeployLabel } from '../../web/src/format.ts';

describe('autoDeployLabel', () => {
  it('says which releases deploy by themselves, or that deploys are by hand', () => {
    expect(autoDeployLabel(true)).toBe('each release of the default branch');
    expect(autoDeployLabel({ tags: ['v*'] })).toBe('each release of tags v*');
    expect(autoDeployLabel({ branches: ['main', 'release/*'], tags: ['v*'] })).toBe('each release of branches main, release/* and tags v*');
    for (const none of [false, null, undefined]) expect(autoDeployLabel(none)).toBe('by hand');
  });
});
