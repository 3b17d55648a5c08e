import { describe, expect, it } from 'vitest';
import type { WindowStats } from '../../../src/proxy/index.ts';
import { sumWindows } from '../../../src/server/kubernetes/cluster-measurements.ts';

const window = (o: Partial<WindowStats>): WindowStats => ({
  requests: 0,
  errors: 0,
  connectionErrors: 0,
  statusClasses: {},
  latency: [],
  p50: 0,
  p90: 0,
  p99: 0,
  ...o,
});

describe('the proxy pods’ windows summed', () => {
  it('adds the counts, merges the latency histograms and reads the quantiles from the merge', () => {
    const sum = sumWindows([
      window({ requests: 10, errors: 2, connectionErrors: 1, statusClasses: { '2xx': 8, '5xx': 2 }, latency: [{ valueMs: 5, count: 10 }] }),
      window({
        requests: 90,
        errors: 0,
        statusClasses: { '2xx': 90 },
        latency: [
          { valueMs: 5, count: 40 },
          { valueMs: 50, count: 50 },
        ],
      }),
    ]);
    expect(sum).toEqual({
      requests: 100,
      errors: 2,
      connectionErrors: 1,
      statusClasses: { '2xx': 98, '5xx': 2 },
      latency: [
        { valueMs: 5, count: 50 },
        { valueMs: 50, count: 50 },
      ],
      p50: 5,
      p90: 50,
      p99: 50,
    });
  });

  it('of no requests is empty', () => {
    expect(sumWindows([window({}), window({})])).toEqual(window({}));
  });
});
