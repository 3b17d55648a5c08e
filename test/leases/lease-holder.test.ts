import { describe, expect, it } from 'vitest';
import { initialLeaseHolder, type LeaseHolderEvent, type LeaseHolderState, reduceLeaseHolder } from '../../src/leases/index.ts';

const timing = { ttlMs: 5_000, marginMs: 1_000 };

function run(events: LeaseHolderEvent[]): { state: LeaseHolderState; commands: string[] } {
  let state = initialLeaseHolder;
  const commands: string[] = [];
  for (const event of events) {
    const step = reduceLeaseHolder(state, event, timing);
    state = step.state;
    commands.push(...step.commands);
  }
  return { state, commands };
}

describe('reduceLeaseHolder', () => {
  it('starts owning on the first grant, with a deadline from when the claim was sent, less the margin', () => {
    expect(run([{ type: 'refused' }, { type: 'failed' }, { type: 'granted', token: 2, sentAtMs: 10_000 }])).toEqual({
      state: { phase: 'owning', token: 2, deadlineMs: 14_000 },
      commands: ['start-owning'],
    });
  });

  it('moves the deadline on each renewal and keeps owning while renewals come in time', () => {
    const { state, commands } = run([
      { type: 'granted', token: 2, sentAtMs: 0 },
      { type: 'tick', nowMs: 1_000 },
      { type: 'granted', token: 2, sentAtMs: 1_000 },
      { type: 'failed' },
      { type: 'tick', nowMs: 4_999 },
    ]);
    expect(state).toEqual({ phase: 'owning', token: 2, deadlineMs: 5_000 });
    expect(commands).toEqual(['start-owning']);
  });

  it('loses the lease when no renewal was granted by the deadline, and stays lost', () => {
    const { state, commands } = run([
      { type: 'granted', token: 2, sentAtMs: 0 },
      { type: 'failed' },
      { type: 'tick', nowMs: 4_000 },
      { type: 'granted', token: 2, sentAtMs: 4_500 },
    ]);
    expect(state).toEqual({ phase: 'lost', token: 2 });
    expect(commands).toEqual(['start-owning', 'stop-owning']);
  });

  it('loses the lease when a renewal is refused or comes back with another token (it changed hands)', () => {
    expect(run([{ type: 'granted', token: 2, sentAtMs: 0 }, { type: 'refused' }]).commands).toEqual(['start-owning', 'stop-owning']);
    expect(
      run([
        { type: 'granted', token: 2, sentAtMs: 0 },
        { type: 'granted', token: 3, sentAtMs: 1_000 },
      ]).state,
    ).toEqual({
      phase: 'lost',
      token: 2,
    });
  });

  it('never lets an old answer pull the deadline back', () => {
    const { state } = run([
      { type: 'granted', token: 1, sentAtMs: 2_000 },
      { type: 'granted', token: 1, sentAtMs: 1_000 },
    ]);
    expect(state).toEqual({ phase: 'owning', token: 1, deadlineMs: 6_000 });
  });
});
