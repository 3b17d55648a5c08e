/**
 * DORA's numbers on generated histories with answers computed by hand (in hours after T0), one
 * history per edge case the definitions decide (docs/dora.md).
 */
import { describe, expect, it } from 'vitest';
import { doraReport, quantile, type RolloutRow, toDoraEvents } from '../../src/dora/index.ts';
import { at, DAY, EDGE_CASE_ANSWERS, edgeCaseHistory, HistoryBuilder, HOUR, T0 } from './history-builder.ts';

const WEEK = { from: T0, to: T0 + 7 * DAY };
const report = (h: HistoryBuilder, w = WEEK) => doraReport(toDoraEvents(h.events), h.projectId, h.environment, w);
const row = (rows: RolloutRow[], id: string): RolloutRow => {
  const found = rows.find((r) => r.rolloutId === id);
  if (!found) throw new Error(`no rollout ${id}`);
  return found;
};

describe('lead time for changes', () => {
  it('runs from each commit to the deployment that put it live, a deployment carrying every commit not live yet', () => {
    const h = new HistoryBuilder()
      .release(0.5, 'r1', [
        ['a', 0],
        ['b', 1],
      ])
      .deploy(2, 3, 'd1', 'r1') // a: 3 h, b: 2 h
      .release(5, 'r2', [['c', 4]])
      .deploy(9, 10, 'd2', 'r2') // c: 6 h
      .release(11.5, 'r3', [['d', 11]]) // never deployed on its own
      .release(12.5, 'r4', [['e', 12]])
      .deploy(19, 20, 'd3', 'r4'); // d: 9 h, e: 8 h
    const r = report(h);
    expect(r.numbers.deployments).toBe(3);
    expect(r.numbers.deploymentsPerDay).toBeCloseTo(3 / 7, 10);
    expect(row(r.rollouts, 'd3').commits.map((c) => [c.sha, c.leadTimeMs / HOUR])).toEqual([
      ['e', 8],
      ['d', 9],
    ]);
    // Lead times 2, 3, 6, 8, 9 h: median 6 h; p90 at rank 3.6 → 8 + 0.6 × (9 − 8) = 8.6 h.
    expect(r.numbers.leadTime).toEqual({ commits: 5, medianMs: 6 * HOUR, p90Ms: 8.6 * HOUR });
    expect(r.tiers).toEqual({ deploymentFrequency: 'high', leadTime: 'elite', changeFailureRate: 'elite', recoveryTime: null });
  });

  it('counts a commit dated after its deployment (clock skew) as zero and flags it', () => {
    const h = new HistoryBuilder()
      .release(1, 'r1', [
        ['a', 0],
        ['future', 12],
      ])
      .deploy(2, 3, 'd1', 'r1');
    const commits = row(report(h).rollouts, 'd1').commits;
    expect(commits).toEqual([
      { sha: 'a', committedAt: at(0), leadTimeMs: 3 * HOUR, skewed: false },
      { sha: 'future', committedAt: at(12), leadTimeMs: 0, skewed: true },
    ]);
    expect(report(h).numbers.leadTime.medianMs).toBe(1.5 * HOUR);
  });

  it('counts a deployment with no new commits as a deployment without lead-time samples', () => {
    const h = new HistoryBuilder()
      .release(1, 'r1', [['a', 0]])
      .deploy(2, 3, 'd1', 'r1')
      .release(4, 'r2', [])
      .deploy(5, 6, 'd2', 'r2');
    const r = report(h);
    expect(r.numbers.deployments).toBe(2);
    expect(r.numbers.leadTime.commits).toBe(1);
    expect(row(r.rollouts, 'd2')).toMatchObject({ counted: true, commits: [] });
  });

  it('says when a release listed only part of its commits', () => {
    const h = new HistoryBuilder().release(1, 'r1', [['a', 0]], { truncated: true }).deploy(2, 3, 'd1', 'r1');
    expect(row(report(h).rollouts, 'd1').commitsTruncated).toBe(true);
  });
});

describe('redeploys and rollbacks', () => {
  it('does not count a redeploy of the running release', () => {
    const h = new HistoryBuilder()
      .release(1, 'r1', [['a', 0]])
      .deploy(2, 3, 'd1', 'r1')
      .deploy(4, 5, 'd1-again', 'r1');
    const r = report(h);
    expect(r.numbers.deployments).toBe(1);
    expect(row(r.rollouts, 'd1-again')).toMatchObject({ kind: 'redeploy', counted: false });
    expect(r.numbers.leadTime.commits).toBe(1);
  });

  it('fails the deployment a rollback replaced; a rollback of the rollback fails nothing more and counts no commit twice', () => {
    const h = new HistoryBuilder()
      .release(0, 'r1', [['a', 0]])
      .deploy(0, 1, 'd1', 'r1')
      .release(4, 'r2', [['b', 3]])
      .deploy(4, 5, 'd2', 'r2') // b: 2 h
      .deploy(6, 6.5, 'back', 'r1', { kind: 'rollback', actor: 'api:alice' }) // d2 failed, restored after 1.5 h
      .deploy(8, 8.25, 'back-again', 'r2', { kind: 'rollback' }); // a rollback of the rollback: r2 live again
    const r = report(h);
    expect(r.numbers.deployments).toBe(2);
    expect(r.numbers.changeFailure).toEqual({ failed: 1, rate: 0.5 });
    expect(row(r.rollouts, 'd2').failure).toEqual({
      causes: ['rolled back by api:alice'],
      startedAt: at(5),
      recoveredAt: at(6.5),
      recoveredBy: 'rollback finished',
    });
    expect(row(r.rollouts, 'd1').failure).toBeNull();
    expect(row(r.rollouts, 'back-again')).toMatchObject({ kind: 'rollback', counted: false });
    expect(r.numbers.recovery).toEqual({ recovered: 1, notRecovered: 0, medianMs: 1.5 * HOUR });
    expect(r.numbers.leadTime).toEqual({ commits: 2, medianMs: 1.5 * HOUR, p90Ms: 1.9 * HOUR });
  });

  it('reads `gantry deploy` of an older release than the running one as a rollback by hand', () => {
    const h = new HistoryBuilder()
      .release(0, 'r1', [['a', 0]])
      .deploy(0, 1, 'd1', 'r1')
      .release(2, 'r2', [['b', 2]])
      .deploy(2, 3, 'd2', 'r2');
    h.deploy(4, 5, 'older', 'r1', { kind: 'deploy', actor: 'api:bob' });
    const r = report(h);
    expect(row(r.rollouts, 'older')).toMatchObject({ kind: 'rollback', counted: false });
    expect(row(r.rollouts, 'd2').failure?.causes).toEqual(['rolled back by api:bob']);
  });

  it('reads a deploy of an older release as a rollback when the event predates the rollback flag', () => {
    const h = new HistoryBuilder()
      .release(0, 'r1', [['a', 0]])
      .deploy(0, 1, 'd1', 'r1')
      .release(2, 'r2', [['b', 2]])
      .deploy(2, 3, 'd2', 'r2');
    h.deploy(4, 5, 'by-hand', 'r1');
    const created = h.events.at(-3);
    if (created) delete created.data.kind;
    const r = report(h);
    expect(row(r.rollouts, 'by-hand').kind).toBe('rollback');
    expect(row(r.rollouts, 'd2').failure?.causes).toEqual(['rolled back by api:ci']);
  });
});

describe('canaries', () => {
  it('counts a canary rolled back by the analysis as a failed deployment, recovered when the rollback finished', () => {
    const h = new HistoryBuilder()
      .release(0, 'r1', [['a', 0]])
      .deploy(0, 1, 'd1', 'r1')
      .release(4, 'r2', [['b', 4]])
      .canaryRolledBack(5, 5.2, 5.3, 'bad', 'r2')
      .release(6, 'r3', [['c', 6]])
      .deploy(7, 8, 'd3', 'r3'); // carries b (4 h) and c (2 h)
    const r = report(h);
    expect(r.numbers.deployments).toBe(3);
    expect(row(r.rollouts, 'bad').failure).toEqual({
      causes: ['rolled back during its rollout'],
      startedAt: at(5),
      recoveredAt: at(5.3),
      recoveredBy: 'rollback finished',
    });
    expect(r.numbers.recovery.medianMs).toBeCloseTo(0.3 * HOUR, 6);
    expect(
      row(r.rollouts, 'd3')
        .commits.map((c) => c.sha)
        .sort(),
    ).toEqual(['b', 'c']);
    // The rollback had restored the service before d3 started: d3 is planned work, not rework.
    expect(row(r.rollouts, 'd3').rework).toBe(false);
    expect(r.numbers.changeFailure.rate).toBeCloseTo(1 / 3, 10);
  });

  it('counts a canary aborted by hand after taking traffic as failed, and one aborted before any traffic not at all', () => {
    const h = new HistoryBuilder()
      .release(0, 'r1', [['a', 0]])
      .deploy(0, 1, 'd1', 'r1')
      .release(2, 'r2', [['b', 2]])
      .canaryRolledBack(3, 3.5, 3.6, 'aborted-late', 'r2', 'aborted')
      .rollout(4, 'aborted-early', 'r2')
      .phase(4.1, 'aborted-early', 'aborted', 'pending-approval');
    const r = report(h);
    expect(row(r.rollouts, 'aborted-late')).toMatchObject({ counted: true, outcome: 'aborted' });
    expect(row(r.rollouts, 'aborted-late').failure?.causes).toEqual(['rolled back during its rollout (aborted by hand)']);
    expect(row(r.rollouts, 'aborted-early')).toMatchObject({ counted: false, failure: null });
    expect(r.numbers.deployments).toBe(2);
    expect(r.numbers.changeFailure).toEqual({ failed: 1, rate: 0.5 });
  });
});

describe('incidents', () => {
  it('fails the running deployment, counts the fix as rework and recovers when it goes live', () => {
    const h = new HistoryBuilder()
      .release(0, 'r1', [['a', 0]])
      .deploy(0, 1, 'd1', 'r1')
      .incident(2) // #1 → d1 failed from 1 h
      .incident(2.5, { experiment: 'slow-db' }) // #2: a chaos experiment, never a failed change
      .release(3, 'r2', [['fix', 3]])
      .deploy(3, 4, 'fix', 'r2') // started while #1 was open: rework; live at 4 h restores d1 (3 h)
      .mitigate(5, 1);
    const r = report(h);
    expect(row(r.rollouts, 'd1').failure).toEqual({
      causes: ['incident #1'],
      startedAt: at(1),
      recoveredAt: at(4),
      recoveredBy: 'deployment fix live',
    });
    expect(row(r.rollouts, 'fix')).toMatchObject({ rework: true, failure: null });
    expect(r.numbers.changeFailure).toEqual({ failed: 1, rate: 0.5 });
    expect(r.numbers.rework).toEqual({ deployments: 1, rate: 0.5 });
    expect(r.numbers.recovery.medianMs).toBe(3 * HOUR);
    expect(r.incidents.map((i) => [i.number, i.rolloutId, i.experiment])).toEqual([
      [1, 'd1', false],
      [2, null, true],
    ]);
  });

  it('recovers an incident-only failure when its incidents are mitigated', () => {
    const h = new HistoryBuilder()
      .release(0, 'r1', [['a', 0]])
      .deploy(0, 1, 'd1', 'r1')
      .incident(2)
      .mitigate(2.5, 1);
    expect(row(report(h).rollouts, 'd1').failure).toMatchObject({ recoveredAt: at(2.5), recoveredBy: 'incidents mitigated' });
  });

  it('ignores incidents of other environments', () => {
    const h = new HistoryBuilder()
      .release(0, 'r1', [['a', 0]])
      .deploy(0, 1, 'd1', 'r1')
      .incident(2, { environment: 'staging' });
    expect(report(h).numbers.changeFailure.failed).toBe(0);
  });
});

describe('environments stopped', () => {
  it('ends a failure without a recovery time, does not count a rollout the stop ended, and links nothing while stopped', () => {
    const h = new HistoryBuilder()
      .release(0, 'r1', [['a', 0]])
      .deploy(0, 1, 'd1', 'r1')
      .incident(2) // d1 failed
      .release(2.5, 'r2', [['b', 2.5]])
      .rollout(3, 'cut', 'r2')
      .phase(3, 'cut', 'progressing', 'starting')
      .stop(4)
      .phase(4, 'cut', 'aborted', 'progressing')
      .incident(5) // nothing runs: no deployment to blame
      .deploy(6, 7, 'd2', 'r2'); // carries b only (a went live with d1)
    const r = report(h);
    expect(row(r.rollouts, 'd1').failure).toMatchObject({ recoveredAt: null, recoveredBy: 'environment stopped' });
    expect(row(r.rollouts, 'cut')).toMatchObject({ counted: false });
    expect(row(r.rollouts, 'd2')).toMatchObject({ counted: true, failure: null });
    expect(row(r.rollouts, 'd2').commits.map((c) => c.sha)).toEqual(['b']);
    expect(r.numbers.recovery).toEqual({ recovered: 0, notRecovered: 1, medianMs: null });
    expect(r.stops).toEqual([at(4)]);
  });
});

describe('windows and trend', () => {
  it('counts deployments by when they finished, day by day, with the previous window for the trend', () => {
    const h = new HistoryBuilder()
      .release(0, 'r1', [['a', 0]])
      .deploy(0, 1, 'd1', 'r1') // previous window
      .release(24, 'r2', [['b', 24]])
      .deploy(25, 26, 'd2', 'r2')
      .release(50, 'r3', [['c', 50]])
      .deploy(50, 52, 'd3', 'r3')
      .release(70, 'r4', [['d', 70]])
      .deploy(71, 73, 'late', 'r4'); // after the window
    const r = report(h, { from: at(24), to: at(72) });
    expect(r.bucket).toBe('day');
    expect(r.buckets.map((b) => [b.from, b.deployments, b.leadTime.medianMs])).toEqual([
      [at(24), 1, 2 * HOUR],
      [at(48), 1, 2 * HOUR],
    ]);
    expect(r.numbers.deployments).toBe(2);
    expect(r.previous.deployments).toBe(1);
    // Events after the window's end are not known yet when it is computed: `late` is still under way.
    expect(r.rollouts.map((x) => [x.rolloutId, x.outcome])).toEqual([
      ['d2', 'succeeded'],
      ['d3', 'succeeded'],
      ['late', null],
    ]);
    expect(report(h, { from: T0, to: T0 + 90 * DAY }).bucket).toBe('week');
  });
});

describe('every edge case in one history', () => {
  it('gives the answers worked out by hand', () => {
    const r = report(edgeCaseHistory(new HistoryBuilder()), { from: T0, to: T0 + 2 * DAY });
    expect(r.rollouts.filter((x) => x.counted).map((x) => x.rolloutId)).toEqual(EDGE_CASE_ANSWERS.counted);
    expect(r.rollouts.filter((x) => x.failure !== null && x.counted).map((x) => x.rolloutId)).toEqual(EDGE_CASE_ANSWERS.failed);
    expect(r.numbers.deployments).toBe(7);
    expect(r.numbers.deploymentsPerDay).toBe(3.5);
    expect(r.numbers.leadTime.commits).toBe(EDGE_CASE_ANSWERS.leadTime.commits);
    expect(r.numbers.leadTime.medianMs).toBeCloseTo(EDGE_CASE_ANSWERS.leadTime.medianMs, 3);
    expect(r.numbers.leadTime.p90Ms).toBeCloseTo(EDGE_CASE_ANSWERS.leadTime.p90Ms as number, 3);
    expect(r.numbers.changeFailure).toEqual(EDGE_CASE_ANSWERS.changeFailure);
    expect(r.numbers.recovery.recovered).toBe(4);
    expect(r.numbers.recovery.medianMs).toBeCloseTo(EDGE_CASE_ANSWERS.recovery.medianMs, 3);
    expect(r.numbers.rework).toEqual(EDGE_CASE_ANSWERS.rework);
    // Tiers beside the numbers: 3.5 a day, 2 h, 57 %, exactly 1 h (not under an hour).
    expect(r.tiers).toEqual({ deploymentFrequency: 'elite', leadTime: 'elite', changeFailureRate: 'low', recoveryTime: 'high' });
    expect(r.incidents.map((i) => [i.number, i.rolloutId])).toEqual([
      [1, 'd5'],
      [2, null],
    ]);
    expect(r.stops).toEqual([at(21)]);
  });
});

describe('quantile', () => {
  it('interpolates between closest ranks', () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([5], 0.9)).toBe(5);
    expect(quantile([], 0.5)).toBeNull();
  });
});
