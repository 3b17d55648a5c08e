import { describe, expect, it } from 'vitest';
import type { FaultReport } from '../../../src/proxy/index.ts';
import { sumFaultReports } from '../../../src/server/kubernetes/index.ts';

const report = (o: Partial<FaultReport> & { experimentId: string }): FaultReport => ({
  setAt: 1000,
  deadlineAt: 61_000,
  endedAt: null,
  endedBy: null,
  affected: 0,
  byFault: [0],
  unaffected: 0,
  lastFaultedAt: null,
  inside: { requests: 0, errors: 0, latency: [], failed: [] },
  outside: { requests: 0, errors: 0, latency: [], failed: [] },
  ...o,
});

describe('sumFaultReports: the proxy pods’ fault reports as one', () => {
  it('adds the counts per fault and side, merges the histograms, orders the failures', () => {
    const a = report({
      experimentId: 'x',
      affected: 3,
      byFault: [3],
      unaffected: 4,
      lastFaultedAt: 1500,
      inside: {
        requests: 3,
        errors: 3,
        latency: [{ valueMs: 1, count: 3 }],
        failed: [{ at: 1400, method: 'GET', target: '/', status: 503 }],
      },
    });
    const b = report({
      experimentId: 'x',
      setAt: 1010,
      affected: 2,
      byFault: [2],
      unaffected: 5,
      lastFaultedAt: 1600,
      inside: {
        requests: 2,
        errors: 2,
        latency: [
          { valueMs: 1, count: 1 },
          { valueMs: 2, count: 1 },
        ],
        failed: [{ at: 1300, method: 'GET', target: '/a', status: 503 }],
      },
    });
    const sum = sumFaultReports([a, b, null]);
    expect(sum).toMatchObject({
      experimentId: 'x',
      setAt: 1000,
      affected: 5,
      byFault: [5],
      unaffected: 9,
      lastFaultedAt: 1600,
      endedAt: null,
    });
    expect(sum?.inside.latency).toEqual([
      { valueMs: 1, count: 4 },
      { valueMs: 2, count: 1 },
    ]);
    expect(sum?.inside.failed.map((f) => f.at)).toEqual([1300, 1400]);
  });

  it('is ended only when every pod’s is, by deadline when any pod’s deadline ended it; other experiments are left out', () => {
    const cleared = report({ experimentId: 'x', endedAt: 2000, endedBy: 'cleared', affected: 1 });
    const running = report({ experimentId: 'x', affected: 1 });
    const deadline = report({ experimentId: 'x', endedAt: 2100, endedBy: 'deadline', affected: 1 });
    const older = report({ experimentId: 'old', setAt: 10, affected: 50 });
    expect(sumFaultReports([cleared, running])?.endedAt).toBeNull();
    expect(sumFaultReports([cleared, deadline, older])).toMatchObject({ endedAt: 2100, endedBy: 'deadline', affected: 2 });
    expect(sumFaultReports([older, cleared], 'x')?.affected).toBe(1);
    expect(sumFaultReports([null, null])).toBeNull();
  });
});
