import { describe, expect, it } from 'vitest';
import { layoutTimeline, timelineKind } from '../../web/src/slo/timeline-layout.ts';

const MINUTE = 60_000;

describe("an incident's timeline as a picture", () => {
  it('spaces entries by time, never closer than a line nor farther than a few, with a break for a long wait', () => {
    // 100 minutes over 400 px: 4 px a minute.
    const entries = [0, 1, 21, 31, 100].map((m) => ({ at: m * MINUTE, kind: 'x' }));
    const { slots, height } = layoutTimeline(entries, { targetHeight: 400, minGap: 40, maxGap: 120 });
    expect(slots.map((s) => [s.y, s.breakBefore])).toEqual([
      [0, false],
      [40, false], // 1 minute: 4 px, raised to a line
      [120, false], // 20 minutes: 80 px
      [160, false], // 10 minutes: 40 px
      [280, true], // 69 minutes: 276 px, shortened to 120 with a break
    ]);
    expect(slots[4]?.gapMs).toBe(69 * MINUTE);
    expect(height).toBe(320);
  });

  it('sorts entries by time, and lays out one entry or none', () => {
    const { slots } = layoutTimeline([{ at: 5 }, { at: 1 }], { targetHeight: 100, minGap: 10, maxGap: 50 });
    expect(slots.map((s) => s.entry.at)).toEqual([1, 5]);
    expect(layoutTimeline([{ at: 7 }], { targetHeight: 100, minGap: 10, maxGap: 50 }).slots).toEqual([
      { entry: { at: 7 }, y: 0, breakBefore: false, gapMs: 0 },
    ]);
    expect(layoutTimeline([], { targetHeight: 100, minGap: 10, maxGap: 50 })).toEqual({ slots: [], height: 0 });
  });

  it('draws alerts, resolutions, deploys, rollbacks, notes and incident steps each their own way, and the rest as other', () => {
    expect(
      [
        ['slo.alert.fired', ''],
        ['slo.alert.resolved', ''],
        ['rollout.rollout.finished', 'rollout succeeded (release r7)'],
        ['rollout.rollout.finished', 'rollout rolled-back'],
        ['deploy.budget-override', ''],
        ['note', 'note: looking'],
        ['incident.acknowledged', ''],
        ['rollout.rollout.step', ''],
        ['run.failure', ''],
      ].map(([kind, text]) => timelineKind(kind as string, text)),
    ).toEqual(['alert', 'resolved', 'deploy', 'rollback', 'deploy', 'note', 'incident', 'other', 'other']);
  });
});
