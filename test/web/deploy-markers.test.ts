/**
 * The dashboard's shared deploy marker layer and the heatmap-cell link, as pure functions: which
 * deploys become markers and how they read, and which traces a clicked cell asks for.
 */
import { describe, expect, it } from 'vitest';
import type { DeployWithImpact } from '../../src/server/impact/index.ts';
import { cellOf } from '../../web/src/charts/heatmap-cell.ts';
import { markersFromDeploys } from '../../web/src/charts/deploy-markers.ts';

function deploy(over: Partial<DeployWithImpact>, verdict = 'no significant change', significant = false): DeployWithImpact {
  return {
    rolloutId: 'RO-1',
    environment: 'production',
    releaseId: 'R-2',
    previousReleaseId: 'R-1',
    strategy: 'canary',
    phase: 'succeeded',
    createdBy: 'cli',
    startedAt: 1000,
    finishedAt: 2000,
    impact: {
      status: 'complete',
      windowMs: 900_000,
      before: null,
      after: null,
      changes: [{ metric: 'p99', before: 50, after: 90, delta: 40, pValue: 0.0001, significant, note: null }],
      verdict,
    },
    ...over,
  };
}

describe('markersFromDeploys', () => {
  it('marks finished rollouts where their after window begins, oldest first, alarming when they failed or changed something', () => {
    const name = (id: string) => `#${id.slice(2)}`;
    const markers = markersFromDeploys(
      [
        deploy({ rolloutId: 'RO-3', releaseId: 'R-4', finishedAt: null }),
        deploy({ rolloutId: 'RO-2', releaseId: 'R-3', finishedAt: 5000 }, 'p99 +40 ms, significant', true),
        deploy({ rolloutId: 'RO-1', releaseId: 'R-2', finishedAt: 3000, phase: 'rolled-back' }),
        deploy({ rolloutId: 'RO-0', releaseId: 'R-1', finishedAt: 1000 }),
      ],
      name,
    );
    expect(markers).toEqual([
      { atMs: 1000, label: '#1', alarming: false },
      { atMs: 3000, label: '#2 rolled-back', alarming: true },
      { atMs: 5000, label: '#3: p99 +40 ms, significant', alarming: true },
    ]);
  });
});

describe('cellOf', () => {
  const heatmap = { bucketsMs: [100, 200, 500, 1000], times: [60_000, 70_000, 80_000] };
  it("gives a clicked cell's slot and latency bound", () => {
    expect(cellOf(heatmap, [1, 3, 7])).toEqual({ fromMs: 70_000, toMs: 80_000, le: 1000 });
  });
  it('ignores a click that is not on a cell', () => {
    expect(cellOf(heatmap, undefined)).toBeNull();
    expect(cellOf(heatmap, [5, 0, 1])).toBeNull();
  });
});
