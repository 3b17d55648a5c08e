import { describe, expect, it } from 'vitest';
import { evaluateHypothesis, type HypothesisWindow } from '../../src/chaos/index.ts';
import type { Sample } from '../../src/delivery/index.ts';

function sample(requests: number, errors: number, ms = 20): Sample {
  return { requests, errors, latency: requests > 0 ? [{ valueMs: ms, count: requests }] : [] };
}

function window(inside: Sample, outside: Sample): HypothesisWindow {
  return {
    inside,
    outside,
    all: {
      requests: inside.requests + outside.requests,
      errors: inside.errors + outside.errors,
      latency: [...inside.latency, ...outside.latency],
    },
  };
}

describe('evaluateHypothesis', () => {
  it('judges absolute bounds on all traffic: 10 % aborted requests break a 1 % error-rate bound', () => {
    const r = evaluateHypothesis({ errorRate: { max: 0.01 }, latency: [] }, window(sample(100, 100), sample(900, 0)));
    expect(r.outcome).toBe('broken');
    expect(r.checks[0]).toMatchObject({ name: 'error-rate', outcome: 'fail', value: 0.1 });
    expect(r).toMatchObject({ requests: 1000, errors: 100 });
  });

  it('holds when a latency fault on a small share keeps the service p99 under its bound', () => {
    const r = evaluateHypothesis({ latency: [{ quantile: 0.99, maxMs: 400 }] }, window(sample(100, 0, 250), sample(900, 0, 20)));
    expect(r.outcome).toBe('held');
  });

  it('compares increases with the control outside the blast radius', () => {
    const h = { latency: [{ quantile: 0.5, maxIncreaseMs: 50 }] };
    const slow = evaluateHypothesis(h, window(sample(200, 0, 250), sample(900, 0, 20)));
    expect(slow.outcome).toBe('broken');
    expect(slow.checks[0]).toMatchObject({ name: 'latency-p50-increase', value: 250, baseline: 20 });
    expect(evaluateHypothesis(h, window(sample(200, 0, 30), sample(900, 0, 20))).outcome).toBe('held');
  });

  it('checks an SLO at the page burn rate, and says so when the environment has no such SLO', () => {
    const h = { slo: 'availability', latency: [] };
    const w = window(sample(100, 40), sample(900, 0));
    expect(evaluateHypothesis(h, w, { objective: 0.999, sli: { kind: 'availability' } }).outcome).toBe('broken');
    const missing = evaluateHypothesis(h, w);
    expect(missing.outcome).toBe('inconclusive');
    expect(missing.checks[0]?.reason).toContain("SLO 'availability' is not in this configuration");
  });

  it('is inconclusive with too little traffic', () => {
    expect(evaluateHypothesis({ errorRate: { max: 0.01 }, latency: [] }, window(sample(2, 2), sample(3, 0))).outcome).toBe('inconclusive');
  });
});
