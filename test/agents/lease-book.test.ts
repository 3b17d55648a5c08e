/** The lease book (src/agents/lease-book.ts): grants by label, renewals, expiry, fencing. */
import { describe, expect, it } from 'vitest';
import { EMPTY_LEASE_BOOK, type LeaseBook, type LeaseCommand, type LeaseEvent, reduceLeases } from '../../src/agents/index.ts';

const OPTIONS = { leaseMs: 10_000 };

function play(events: LeaseEvent[], start: LeaseBook = EMPTY_LEASE_BOOK): { book: LeaseBook; commands: LeaseCommand[][] } {
  let book = start;
  const commands: LeaseCommand[][] = [];
  for (const event of events) {
    const step = reduceLeases(book, event, OPTIONS);
    book = step.book;
    commands.push(step.commands);
  }
  return { book, commands };
}

describe('lease book', () => {
  it('grants a waiting job to the first poller whose labels cover its runs-on, with the next fencing token', () => {
    const { book, commands } = play([
      { type: 'offer', jobId: 'r1/build', runsOn: ['linux', 'large'], fence: 2, at: 0 },
      { type: 'poll', agentId: 'small', labels: ['linux'], free: 1, at: 100 },
      { type: 'poll', agentId: 'big', labels: ['linux', 'large', 'bwrap'], free: 2, at: 200 },
    ]);
    expect(commands[1]).toEqual([]);
    expect(commands[2]).toEqual([
      { type: 'grant', jobId: 'r1/build', agentId: 'big', fence: 3, expiresAt: 10_200 },
      { type: 'answer-poll', agentId: 'big' },
    ]);
    expect(book.pollers.map((p) => p.agentId)).toEqual(['small']);
    expect(book.waiting).toEqual([]);
  });

  it('hands a job offered later to an agent already waiting in a long poll', () => {
    const { commands } = play([
      { type: 'poll', agentId: 'a', labels: [], free: 1, at: 0 },
      { type: 'offer', jobId: 'r1/test', runsOn: [], fence: 0, at: 50 },
    ]);
    expect(commands[1]).toEqual([
      { type: 'grant', jobId: 'r1/test', agentId: 'a', fence: 1, expiresAt: 10_050 },
      { type: 'answer-poll', agentId: 'a' },
    ]);
  });

  it('serves the oldest job first and never more jobs than the poller has room for', () => {
    const { book, commands } = play([
      { type: 'offer', jobId: 'r/1', runsOn: [], fence: 0, at: 0 },
      { type: 'offer', jobId: 'r/2', runsOn: [], fence: 0, at: 0 },
      { type: 'offer', jobId: 'r/3', runsOn: [], fence: 0, at: 0 },
      { type: 'poll', agentId: 'a', labels: [], free: 2, at: 1 },
    ]);
    expect(commands[3]?.filter((c) => c.type === 'grant').map((c) => c.jobId)).toEqual(['r/1', 'r/2']);
    expect(book.waiting.map((w) => w.id)).toEqual(['r/3']);
  });

  it('keeps a renewed lease and accepts reports only with the current fencing token', () => {
    const { commands } = play([
      { type: 'offer', jobId: 'r/j', runsOn: [], fence: 0, at: 0 },
      { type: 'poll', agentId: 'a', labels: [], free: 1, at: 0 },
      { type: 'renew', jobId: 'r/j', agentId: 'a', fence: 1, at: 9_000 },
      { type: 'tick', at: 18_000 },
      { type: 'report', jobId: 'r/j', agentId: 'a', fence: 1 },
      { type: 'report', jobId: 'r/j', agentId: 'a', fence: 0 },
      { type: 'report', jobId: 'r/j', agentId: 'b', fence: 1 },
    ]);
    expect(commands[2]).toEqual([{ type: 'accepted', jobId: 'r/j', fence: 1 }]);
    expect(commands[3]).toEqual([]);
    expect(commands[4]).toEqual([{ type: 'accepted', jobId: 'r/j', fence: 1 }]);
    expect(commands[5]).toEqual([{ type: 'fenced', jobId: 'r/j', agentId: 'a', fence: 0, current: 1 }]);
    expect(commands[6]).toEqual([{ type: 'fenced', jobId: 'r/j', agentId: 'b', fence: 1, current: 1 }]);
  });

  it('requeues the job of an expired lease to another agent with a higher token, and fences the zombie out', () => {
    const { book, commands } = play([
      { type: 'offer', jobId: 'r/j', runsOn: [], fence: 0, at: 0 },
      { type: 'poll', agentId: 'lost', labels: [], free: 1, at: 0 },
      { type: 'poll', agentId: 'lost', labels: [], free: 1, at: 5_000 },
      { type: 'poll', agentId: 'other', labels: [], free: 1, at: 5_000 },
      { type: 'tick', at: 9_999 },
      { type: 'tick', at: 10_000 },
      { type: 'renew', jobId: 'r/j', agentId: 'lost', fence: 1, at: 10_500 },
      { type: 'finish', jobId: 'r/j', agentId: 'lost', fence: 1 },
      { type: 'finish', jobId: 'r/j', agentId: 'other', fence: 2 },
    ]);
    expect(commands[4]).toEqual([]);
    // Both wait in a poll; the one that did not lose the job gets it.
    expect(commands[5]).toEqual([
      { type: 'expired', jobId: 'r/j', agentId: 'lost', fence: 1 },
      { type: 'grant', jobId: 'r/j', agentId: 'other', fence: 2, expiresAt: 20_000 },
      { type: 'answer-poll', agentId: 'other' },
    ]);
    expect(commands[6]).toEqual([{ type: 'fenced', jobId: 'r/j', agentId: 'lost', fence: 1, current: 2 }]);
    expect(commands[7]).toEqual([{ type: 'fenced', jobId: 'r/j', agentId: 'lost', fence: 1, current: 2 }]);
    expect(commands[8]).toEqual([{ type: 'accepted', jobId: 'r/j', fence: 2 }]);
    expect(book.leases).toEqual({});
  });

  it('gives a lost job back to the agent that lost it when no other can take it', () => {
    const { commands } = play([
      { type: 'offer', jobId: 'r/j', runsOn: ['gpu'], fence: 0, at: 0 },
      { type: 'poll', agentId: 'only', labels: ['gpu'], free: 1, at: 0 },
      { type: 'tick', at: 10_000 },
      { type: 'poll', agentId: 'cpu', labels: [], free: 1, at: 10_001 },
      { type: 'poll', agentId: 'only', labels: ['gpu'], free: 1, at: 10_002 },
    ]);
    expect(commands[3]).toEqual([]);
    expect(commands[4]?.[0]).toEqual({ type: 'grant', jobId: 'r/j', agentId: 'only', fence: 2, expiresAt: 20_002 });
  });

  it('withdraws a waiting job quietly and revokes a leased one', () => {
    const { book, commands } = play([
      { type: 'offer', jobId: 'r/a', runsOn: [], fence: 0, at: 0 },
      { type: 'offer', jobId: 'r/b', runsOn: ['none-has-it'], fence: 0, at: 0 },
      { type: 'poll', agentId: 'x', labels: [], free: 1, at: 0 },
      { type: 'withdraw', jobId: 'r/b' },
      { type: 'withdraw', jobId: 'r/a' },
    ]);
    expect(commands[3]).toEqual([]);
    expect(commands[4]).toEqual([{ type: 'revoked', jobId: 'r/a', agentId: 'x', fence: 1 }]);
    expect(book).toMatchObject({ waiting: [], leases: {} });
  });

  it('offers a job once however often it is offered', () => {
    const { book } = play([
      { type: 'offer', jobId: 'r/a', runsOn: [], fence: 0, at: 0 },
      { type: 'offer', jobId: 'r/a', runsOn: [], fence: 0, at: 0 },
    ]);
    expect(book.waiting).toHaveLength(1);
  });
});

describe('an agent gone for good', () => {
  it('loses its leases at once and its jobs go to another agent with a higher token', () => {
    const { commands } = play([
      { type: 'offer', jobId: 'r/j', runsOn: [], fence: 0, at: 0 },
      { type: 'poll', agentId: 'revoked', labels: [], free: 1, at: 0 },
      { type: 'poll', agentId: 'other', labels: [], free: 1, at: 1 },
      { type: 'agent-gone', agentId: 'revoked', at: 2 },
    ]);
    expect(commands[3]).toEqual([
      { type: 'expired', jobId: 'r/j', agentId: 'revoked', fence: 1 },
      { type: 'grant', jobId: 'r/j', agentId: 'other', fence: 2, expiresAt: 10_002 },
      { type: 'answer-poll', agentId: 'other' },
    ]);
  });
});
