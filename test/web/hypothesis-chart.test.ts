import { describe, expect, it } from 'vitest';
import { hypothesisChartShape } from '../../web/src/chaos/hypothesis-chart.ts';

const box = { width: 120, height: 60, pad: 10 };

describe("the hypothesis chart's geometry", () => {
  it('places the looks on the time axis, shades the fault window and marks the look that broke it', () => {
    const looks = [
      { at: 1000, outcome: 'held', values: { 'error-rate': 0 } },
      { at: 2000, outcome: 'held', values: { 'error-rate': null } },
      { at: 3000, outcome: 'broken', values: { 'error-rate': 0.2 } },
    ];
    const shape = hypothesisChartShape(looks, 'error-rate', {
      range: { min: 0, max: 4000 },
      window: { from: 500, to: 3000 },
      bound: 0.1,
      box,
    });
    // x: 10 + t/4000 * 100; y: 50 - v/0.22 * 40 (max is the largest value + 10 %)
    expect(shape.points).toBe('35.0,50.0 85.0,13.6');
    expect(shape.broken).toEqual({ x: 85, y: expect.closeTo(13.64, 1) });
    expect(shape.band).toEqual({ x: 22.5, width: 62.5 });
    expect(shape.boundY).toBeCloseTo(31.8, 1);
  });

  it('draws no band before the faults go in, and keeps points inside the box', () => {
    const shape = hypothesisChartShape([{ at: 9000, outcome: 'held', values: { x: 1 } }], 'x', {
      range: { min: 0, max: 4000 },
      window: null,
      bound: null,
      box,
    });
    expect(shape.band).toBeNull();
    expect(shape.boundY).toBeNull();
    expect(shape.points).toBe('110.0,13.6');
  });
});
