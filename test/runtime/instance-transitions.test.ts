/**
 * The instance lifecycle table, and the supervisor's real flows checked against it: every state an
 * instance reports through onChange must follow from the one before by a legal move (an instance
 * begins 'stopped'), and no state may be skipped in the reports.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isLive, readStat } from '../../src/platform/proc.ts';
import { canTransition, transition } from '../../src/runtime/instance-state.ts';
import type { InstanceState } from '../../src/runtime/index.ts';
import { waitFor } from '../support/wait.ts';
import { type Change, spec, supervisorHarness, systemLines } from './helpers.ts';

const h = supervisorHarness();
const alive = (pid: number) => isLive(readStat(pid));

const STATES: InstanceState[] = ['starting', 'ready', 'unready', 'restarting', 'stopping', 'stopped', 'failed'];
const LEGAL: Record<InstanceState, InstanceState[]> = {
  starting: ['ready', 'restarting', 'stopping', 'failed'],
  ready: ['unready', 'restarting', 'stopping'],
  unready: ['ready', 'restarting', 'stopping'],
  restarting: ['starting', 'stopping', 'failed'],
  stopping: ['stopped'],
  stopped: ['starting', 'stopping', 'restarting'],
  failed: ['starting', 'stopping', 'stopped'],
};

/** The states one instance reported, repeats of the same state folded. */
function statesOf(changes: Change[], id: string): InstanceState[] {
  const states: InstanceState[] = [];
  for (const c of changes) if (c.id === id && states.at(-1) !== c.state) states.push(c.state);
  return states;
}

/** Throws on the first reported move the table forbids, starting from 'stopped'. */
function expectLegal(states: InstanceState[]): void {
  let from: InstanceState = 'stopped';
  for (const to of states) {
    expect(canTransition(from, to), `${from} → ${to} in ${states.join(' → ')}`).toBe(true);
    from = to;
  }
}

describe('the instance transition table', () => {
  it('allows exactly the listed moves and rejects every other with INVALID_INSTANCE_TRANSITION', () => {
    for (const from of STATES) {
      for (const to of STATES) {
        const legal = LEGAL[from].includes(to);
        expect(canTransition(from, to), `${from} → ${to}`).toBe(legal);
        if (legal) expect(transition('web', from, to)).toBe(to);
        else
          expect(() => transition('web', from, to)).toThrow(
            expect.objectContaining({
              code: 'INVALID_INSTANCE_TRANSITION',
              httpStatus: 500,
              details: { id: 'web', from, to },
            }),
          );
      }
    }
  });

  it('has no move from a state to itself, and nothing but stopped after stopping', () => {
    for (const s of STATES) expect(canTransition(s, s)).toBe(false);
    expect(STATES.filter((to) => canTransition('stopping', to))).toEqual(['stopped']);
    expect(canTransition('stopped', 'ready')).toBe(false);
    expect(canTransition('failed', 'ready')).toBe(false);
  });
});

describe('the supervisor only takes legal moves', () => {
  it('start → ready → stop', async () => {
    await h.supervisor.start(spec(h.dataDir, 'web'));
    await h.supervisor.waitReady('web', 10_000);
    await h.supervisor.stop('web');
    const states = statesOf(h.changes, 'web');
    expect(states).toEqual(['starting', 'ready', 'stopping', 'stopped']);
    expectLegal(states);
  });

  it('crash → restart with backoff → ready, then stop', async () => {
    h.make({ backoff: { initialMs: 50 } });
    const first = await h.supervisor.start(spec(h.dataDir, 'victim'));
    await h.supervisor.waitReady('victim', 10_000);
    process.kill(first.pid as number, 'SIGKILL');
    await waitFor(
      () => {
        const s = h.supervisor.status('victim');
        return s?.state === 'ready' && s.pid !== first.pid ? s : null;
      },
      { what: 'a new ready process' },
    );
    expect(systemLines(first.logFile).filter((t) => t.startsWith('restarting in'))).toEqual([
      'restarting in 50 ms (restart 1, 1 in a row)',
    ]);
    await h.supervisor.stop('victim');
    const states = statesOf(h.changes, 'victim');
    expect(states).toEqual(['starting', 'ready', 'restarting', 'starting', 'ready', 'stopping', 'stopped']);
    expectLegal(states);
  });

  it('a crash loop stopped during its backoff wait', async () => {
    h.make({ backoff: { initialMs: 50 } });
    await h.supervisor.start(spec(h.dataDir, 'crashy', { env: { EXIT_AT_START: '3' } }));
    await waitFor(() => (h.supervisor.status('crashy')?.restarts ?? 0) >= 2, { what: 'two restarts' });
    await waitFor(() => h.supervisor.status('crashy')?.state === 'restarting', { what: 'a backoff wait' });
    await h.supervisor.stop('crashy');
    const states = statesOf(h.changes, 'crashy');
    expect(states.slice(0, 4)).toEqual(['starting', 'restarting', 'starting', 'restarting']);
    expect(states.slice(-2)).toEqual(['stopping', 'stopped']);
    expectLegal(states);
  });

  it('adoption: reports every move of a re-attached, a revived and an interrupted-stop instance', async () => {
    const ids = ['keep', 'lost', 'halt'];
    const started = new Map<string, number>();
    for (const id of ids) {
      const s = await h.supervisor.start(spec(h.dataDir, id));
      started.set(id, s.pid as number);
    }
    for (const id of ids) await h.supervisor.waitReady(id, 10_000);
    await h.supervisor.detach();
    // A server gone mid-operation: 'lost' died meanwhile, 'halt' was being stopped (its record says so).
    const lost = started.get('lost') as number;
    process.kill(lost, 'SIGKILL');
    await waitFor(() => !alive(lost), { what: 'the lost instance to die' });
    const file = join(h.dataDir, 'instances', 'halt.json');
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), desired: 'stopped', state: 'stopping' }));

    h.changes.length = 0;
    h.make();
    await h.supervisor.adopt();
    await h.supervisor.waitReady('lost', 10_000);
    await waitFor(() => h.supervisor.status('halt')?.state === 'stopped', { what: 'the interrupted stop to finish' });
    expect(alive(started.get('halt') as number)).toBe(false);

    expect(statesOf(h.changes, 'keep')).toEqual(['starting', 'ready']);
    expect(statesOf(h.changes, 'lost')).toEqual(['restarting', 'starting', 'ready']);
    expect(statesOf(h.changes, 'halt')).toEqual(['stopping', 'stopped']);
    for (const id of ids) expectLegal(statesOf(h.changes, id));
  });
});
