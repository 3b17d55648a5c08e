import { describe, expect, it } from 'vitest';
import { ConflictError } from '../../src/core/errors.ts';
import type { Incident } from '../../src/incidents/index.ts';
import { applyIncidentAction, incidentTimes, median, postmortemMarkdown } from '../../src/incidents/index.ts';

const OPEN: Incident = {
  id: 'i1',
  projectId: 'p1',
  environment: 'production',
  number: 3,
  title: "SLO 'availability' is burning its error budget",
  severity: 'sev2',
  state: 'open',
  owner: null,
  alertKey: 'production/availability/page',
  openedBy: 'server',
  openedAt: 1_000_000,
  acknowledgedAt: null,
  mitigatedAt: null,
  resolvedAt: null,
};

describe('incident lifecycle', () => {
  it('goes open → acknowledged → mitigated → resolved, the first to act owning it', () => {
    const acked = applyIncidentAction(OPEN, { type: 'acknowledge', at: 1_060_000, by: 'alice' });
    expect(acked).toMatchObject({ state: 'acknowledged', owner: 'alice', acknowledgedAt: 1_060_000 });
    const mitigated = applyIncidentAction(acked, { type: 'mitigate', at: 1_600_000, by: 'bob' });
    expect(mitigated).toMatchObject({ state: 'mitigated', owner: 'alice', mitigatedAt: 1_600_000 });
    const resolved = applyIncidentAction(mitigated, { type: 'resolve', at: 2_000_000, by: 'bob' });
    expect(resolved).toMatchObject({ state: 'resolved', resolvedAt: 2_000_000, acknowledgedAt: 1_060_000, mitigatedAt: 1_600_000 });
    expect(incidentTimes(resolved)).toEqual({ ttaMs: 60_000, ttrMs: 600_000 });
  });

  it('lets a later step imply the earlier ones', () => {
    const resolved = applyIncidentAction(OPEN, { type: 'resolve', at: 1_300_000, by: 'carol' });
    expect(resolved).toMatchObject({ acknowledgedAt: 1_300_000, mitigatedAt: 1_300_000, resolvedAt: 1_300_000, owner: 'carol' });
  });

  it('never steps back, and changes nothing once resolved', () => {
    const mitigated = applyIncidentAction(OPEN, { type: 'mitigate', at: 1_100_000, by: 'a' });
    expect(() => applyIncidentAction(mitigated, { type: 'acknowledge', at: 1_200_000, by: 'a' })).toThrow(ConflictError);
    const resolved = applyIncidentAction(mitigated, { type: 'resolve', at: 1_200_000, by: 'a' });
    expect(() => applyIncidentAction(resolved, { type: 'set-severity', severity: 'sev1', by: 'a' })).toThrow('is resolved: open a new one');
  });

  it('takes the median of an even and an odd number of values', () => {
    expect(median([])).toBeNull();
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
});

describe('postmortem draft', () => {
  it('has the summary, impact, timeline, changes before it and action items, with tables kept whole', () => {
    const incident = applyIncidentAction(applyIncidentAction(OPEN, { type: 'acknowledge', at: 1_120_000, by: 'alice' }), {
      type: 'mitigate',
      at: 1_900_000,
      by: 'alice',
    });
    const md = postmortemMarkdown({
      incident,
      project: 'shop',
      timeline: [
        { at: 1_000_000, kind: 'slo.alert.fired', text: 'page: availability burns at 31×', by: 'server' },
        { at: 1_500_000, kind: 'note', text: 'rolled back | release #7', by: 'alice' },
      ],
      changesBefore: [{ at: 900_000, kind: 'rollout.finished', text: 'release #7 deployed', by: 'api:ci' }],
      impact: { failedRequests: 1500, totalRequests: 60_000, budgetBurned: 0.42 },
    });
    expect(md).toContain("# Postmortem: SLO 'availability' is burning its error budget");
    expect(md).toContain('Incident #3 in shop/production · sev2 · mitigated · owner alice');
    expect(md).toContain('acknowledged after 2 min, mitigated after 15 min');
    expect(md).toContain('- Requests failed while it was open: 1500 of 60000 (2.50%).');
    expect(md).toContain("- Error budget burned: 42.0% of the period's budget.");
    expect(md).toContain('| 1970-01-01T00:25:00Z | rolled back \\| release #7 | alice |');
    expect(md).toContain('- 1970-01-01T00:15:00Z release #7 deployed (by api:ci)');
    expect(md).toContain('## Action items');
  });
});
