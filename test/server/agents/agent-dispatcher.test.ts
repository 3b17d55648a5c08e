/**
 * The agent dispatcher's leases against a manual clock: a lease counts from the moment the job is
 * handed over in a poll's answer, not from the grant, since building the answer (the source's
 * index, the attempt's row) takes time the agent never sees; and a lease that ran out meanwhile is
 * not handed over at all, or its holder would run the job beside the agent it moved on to.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.ts';
import { AgentDispatcher } from '../../../src/server/agents/agent-dispatcher.ts';
import { openStore, type Store } from '../../../src/store/index.ts';
import { sqliteTestDatabase } from '../../support/databases.ts';
import { jobSpecUnder } from '../../support/job-spec.ts';
import { waitFor } from '../../support/wait.ts';

const LEASE_MS = 1000;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A dispatcher with one `runs-on: [linux]` job whose source is not ready until `release()`. */
async function dispatcherWithSlowSource() {
  const db = await sqliteTestDatabase();
  const store: Store = await openStore({ url: db.url });
  const clock = new ManualClock();
  const quiet = () => undefined;
  const dispatcher = new AgentDispatcher({
    agents: store.agents,
    dataDir: join(db.dir, 'data'),
    clock,
    leaseMs: LEASE_MS,
    notify: quiet,
    info: quiet,
    warn: quiet,
  });
  dispatcher.start();
  const root = join(db.dir, 'job');
  await mkdir(join(root, 'source'), { recursive: true });
  await writeFile(join(root, 'source', 'gantry.yaml'), 'pipeline: {}\n');
  let release: () => void = () => undefined;
  const sourceReady = new Promise<void>((resolve) => {
    release = resolve;
  });
  const cancel = new AbortController();
  const spec = jobSpecUnder(root, [{ run: 'true' }], { sourceReady, signal: cancel.signal });
  spec.job.config.runsOn = ['linux'];
  const result = dispatcher.runJob(spec);
  cleanups.push(async () => {
    release();
    cancel.abort(new Error('the test ended'));
    await result;
    dispatcher.stop();
    await store.close();
    await db.cleanup();
  });
  const leaseOf = () => dispatcher.leases()[0];
  return { dispatcher, clock, release: () => release(), leaseOf };
}

describe('AgentDispatcher leases', () => {
  it('counts a lease from the hand-over: the time spent building the answer is not taken from the agent', async () => {
    const { dispatcher, clock, release, leaseOf } = await dispatcherWithSlowSource();
    const answer = dispatcher.poll('a1', ['linux'], 1, 60_000);
    await waitFor(() => leaseOf(), { what: 'the grant' });
    clock.advance(LEASE_MS - 100); // the answer waits for the source meanwhile
    release();
    const assignments = await answer;
    expect(assignments.map((a) => a.fence)).toEqual([1]);
    expect(Date.parse(leaseOf()?.expiresAt ?? '')).toBe(clock.now() + LEASE_MS);
    clock.advance(200); // past a lease counted from the grant
    expect(leaseOf()).toMatchObject({ agentId: 'a1', fence: 1 });
  });

  it('does not hand over a lease that ran out while the answer was built; the job goes to the next agent', async () => {
    const { dispatcher, clock, release, leaseOf } = await dispatcherWithSlowSource();
    const answer = dispatcher.poll('a1', ['linux'], 1, 60_000);
    await waitFor(() => leaseOf(), { what: 'the grant' });
    clock.advance(LEASE_MS + 300);
    expect(leaseOf()).toBeUndefined();
    release();
    expect(await answer).toEqual([]);
    const next = await dispatcher.poll('a2', ['linux'], 1, 0);
    expect(next.map((a) => a.fence)).toEqual([2]);
    expect(leaseOf()).toMatchObject({ agentId: 'a2', fence: 2 });
  });
});
