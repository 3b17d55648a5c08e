import { describe, expect, it } from 'vitest';
import { sliCounts } from '../../src/slo/index.ts';

const COUNTS = {
  requests: 100,
  errors: 4,
  latency: [
    { valueMs: 12, count: 60 },
    { valueMs: 298, count: 30 },
    { valueMs: 305, count: 10 },
  ],
};

describe('SLI counts from the proxy', () => {
  it('counts every request but the 5xx answers as available', () => {
    expect(sliCounts({ kind: 'availability' }, COUNTS)).toEqual({ good: 96, total: 100 });
  });

  it('counts a request as fast only when its whole bucket is within the threshold', () => {
    expect(sliCounts({ kind: 'latency', thresholdMs: 300 }, COUNTS)).toEqual({ good: 90, total: 100 });
    expect(sliCounts({ kind: 'latency', thresholdMs: 10 }, COUNTS)).toEqual({ good: 0, total: 100 });
  });

  it('leaves Prometheus SLIs to Prometheus', () => {
    expect(sliCounts({ kind: 'prometheus', good: 'a[{{window}}]', total: 'b[{{window}}]' }, COUNTS)).toBeUndefined();
  });
});
