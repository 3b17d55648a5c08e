/** The dashboard's words for what deploys to an environment by itself (`auto` in gantry.yaml). */
import { describe, expect, it } from 'vitest';
import { autoDeployLabel, triggerRef } from '../../web/src/format.ts';

describe('autoDeployLabel', () => {
  it('says which releases deploy by themselves, or that deploys are by hand', () => {
    expect(autoDeployLabel(true)).toBe('each release of the default branch');
    expect(autoDeployLabel({ tags: ['v*'] })).toBe('each release of tags v*');
    expect(autoDeployLabel({ branches: ['main', 'release/*'], tags: ['v*'] })).toBe('each release of branches main, release/* and tags v*');
    for (const none of [false, null, undefined]) expect(autoDeployLabel(none)).toBe('by hand');
  });
});

describe('triggerRef', () => {
  it('names a pull request by number and branches, and says a fork gets no secrets', () => {
    const pullRequest = { number: 7, baseRef: 'main', headRef: 'feature/x', fork: false };
    expect(triggerRef({ ref: 'refs/pull/7/head', pullRequest })).toEqual({ label: 'Pull request', value: '#7 feature/x → main' });
    expect(triggerRef({ ref: 'refs/pull/8/head', pullRequest: { ...pullRequest, number: 8, fork: true } }).value).toBe(
      '#8 feature/x → main (from a fork: no secrets)',
    );
    expect(triggerRef({ ref: 'refs/tags/v1.2.0' })).toEqual({ label: 'Tag', value: 'v1.2.0' });
    expect(triggerRef({ ref: 'refs/heads/main' })).toEqual({ label: 'Branch', value: 'main' });
  });
});
