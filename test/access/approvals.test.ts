import { describe, expect, it } from 'vitest';
import { approvalState } from '../../src/access/index.ts';

describe('approvals', () => {
  const authors = new Set(['user:alice']);
  const sre = new Set(['user:bob', 'user:carol', 'user:alice']);

  it('counts distinct group members who did not write the change', () => {
    const s = approvalState(
      { count: 2, group: 'sre' },
      [
        { by: 'user:alice', atMs: 1 },
        { by: 'user:bob', atMs: 2 },
        { by: 'user:bob', atMs: 3 },
        { by: 'user:dave', atMs: 4 },
      ],
      authors,
      sre,
    );
    expect(s).toEqual({
      satisfied: false,
      counted: ['user:bob'],
      missing: 1,
      refused: [
        { by: 'user:alice', reason: 'an author of the change cannot approve it' },
        { by: 'user:bob', reason: 'already approved' },
        { by: 'user:dave', reason: 'not a member of sre' },
      ],
    });
    expect(
      approvalState(
        { count: 2, group: 'sre' },
        [
          { by: 'user:bob', atMs: 1 },
          { by: 'user:carol', atMs: 2 },
        ],
        authors,
        sre,
      ).satisfied,
    ).toBe(true);
  });

  it('needs nothing without a rule', () => {
    expect(approvalState(undefined, [], authors, null)).toMatchObject({ satisfied: true, missing: 0 });
  });
});
