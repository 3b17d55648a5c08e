/** IncidentService on a real SQLite store, with the real event scopes and a ManualClock. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ROLLOUT_FINISHED_EVENT } from '../../../src/core/rollout-phase.ts';
import { ManualClock } from '../../../src/core/clock.ts';
import { ConflictError } from '../../../src/core/errors.ts';
import { EventScopes } from '../../../src/server/events/index.ts';
import { IncidentService } from '../../../src/server/incidents/index.ts';
import type { NewEvent, Project, Store } from '../../../src/store/index.ts';
import { openStore } from '../../../src/store/index.ts';
import { sqliteTestDatabase, type TestDatabase } from '../../support/databases.ts';

const ENV = { gantryVersion: '0.1.0', nodeVersion: 'v24', host: 'test' };

describe('IncidentService', () => {
  let database: TestDatabase;
  let store: Store;
  let clock: ManualClock;
  let project: Project;

  beforeEach(async () => {
    database = await sqliteTestDatabase();
    store = await openStore({ url: database.url });
    clock = new ManualClock(Date.UTC(2026, 11, 6, 10));
    project = await store.projects.create({ name: 'shop', source: { kind: 'local', path: '/x' }, webhookSecret: 'w' });
  });
  afterEach(async () => {
    await store.close();
    await database.cleanup();
  });

  function service(): IncidentService {
    const scopes = new EventScopes(store);
    return new IncidentService({
      store,
      clock,
      scope: (e) => scopes.scope(e),
      eventEnv: () => ENV,
      impact: () => ({ failedRequests: 1200, totalRequests: 30_000, budgetBurned: 0.35 }),
      warn: () => undefined,
    });
  }

  const at = (minutes: number) => new Date(clock.now() + minutes * 60_000).toISOString();
  const event = (type: string, minutes: number, data: Record<string, string | number>): NewEvent => ({
    type,
    subject: `environment:${project.id}/production`,
    actor: 'server',
    at: at(minutes),
    data,
    env: ENV,
  });

  it('opens one incident per page alert group, however often it fires, and a new one after resolution', async () => {
    const incidents = service();
    await store.events.append(event(ROLLOUT_FINISHED_EVENT, -20, { phase: 'succeeded', releaseId: 'r7' }));
    await store.events.append(event('slo.alert.fired', 0, { slo: 'availability', severity: 'page' }));
    await store.events.append(event('slo.alert.fired', 1, { slo: 'availability', severity: 'ticket' }));
    await incidents.readAlerts();
    await store.events.append(event('slo.alert.fired', 5, { slo: 'availability', severity: 'page' }));
    await incidents.readAlerts();
    await incidents.readAlerts(); // nothing new: no second incident
    const [only] = await incidents.list({ projectId: project.id });
    expect(await incidents.list({ projectId: project.id })).toHaveLength(1);
    expect(only).toMatchObject({
      number: 1,
      state: 'open',
      environment: 'production',
      openedBy: 'alert',
      openedAt: Date.parse(at(0)),
      alertKey: 'production/availability/page',
    });

    clock.advance(10 * 60_000);
    await incidents.act(project, 1, 'resolve', 'alice');
    await store.events.append(event('slo.alert.fired', 30, { slo: 'availability', severity: 'page' }));
    await incidents.readAlerts();
    expect((await incidents.list({ projectId: project.id })).map((i) => [i.number, i.state])).toEqual([
      [2, 'open'],
      [1, 'resolved'],
    ]);
  });

  it('builds the timeline from the event log with notes, suggests rolling back the deploy before it, and drafts the postmortem', async () => {
    const incidents = service();
    await store.events.append(event(ROLLOUT_FINISHED_EVENT, -20, { phase: 'succeeded', releaseId: 'r7' }));
    await store.events.append({
      ...event(ROLLOUT_FINISHED_EVENT, -10, { phase: 'succeeded', releaseId: 'other' }),
      subject: `environment:${project.id}/staging`,
    });
    await store.events.append(event('slo.alert.fired', 0, { slo: 'availability', severity: 'page' }));
    await incidents.readAlerts();
    clock.advance(2 * 60_000);
    await incidents.act(project, 1, 'acknowledge', 'alice');
    await incidents.note(project, 1, 'error rate up since release 7', 'alice');
    clock.advance(8 * 60_000);
    await incidents.act(project, 1, 'mitigate', 'alice');

    const view = await incidents.view(project, 1);
    expect(view.ttaMs).toBe(2 * 60_000);
    expect(view.ttrMs).toBe(10 * 60_000);
    expect(view.timeline.map((e) => e.text)).toEqual([
      'rollout succeeded (release r7)',
      "page alert: SLO 'availability' burning fast",
      'incident.opened',
      'incident.acknowledged',
      'incident.note',
      'note: error rate up since release 7',
      'incident.mitigated',
    ]);
    expect(view.suggestions.map((s) => s.action)).toEqual(['rollback', 'pause-rollouts']);
    expect(view.suggestions[0]?.text).toContain('gantry rollback shop --env production');
    const md = await incidents.postmortem(project, 1);
    expect(md).toContain("# Postmortem: SLO 'availability' of production is burning its error budget");
    expect(md).toContain('- Requests failed while it was open: 1200 of 30000 (4.00%).');
    expect(md).toContain('rollout succeeded (release r7)');
    expect(await incidents.stats(project.id)).toEqual({ incidents: 1, medianTtaMs: 120_000, medianTtrMs: 600_000 });
  });

  it('opens incidents by hand, refuses a step back, and records every change as an event', async () => {
    const incidents = service();
    const opened = await incidents.open(project, { title: 'checkout slow for EU users', severity: 'sev1' }, 'bob');
    expect(opened).toMatchObject({ number: 1, severity: 'sev1', environment: null, openedBy: 'bob' });
    await incidents.act(project, 1, 'mitigate', 'bob');
    await expect(incidents.act(project, 1, 'acknowledge', 'bob')).rejects.toThrow(ConflictError);
    const types = (await store.events.list({ type: 'incident.*' })).map((e) => e.type);
    expect(types).toEqual(['incident.opened', 'incident.mitigated']);
  });

  it('reassigns and changes severity, recording each as an event on the timeline, not after resolution', async () => {
    const incidents = service();
    await incidents.open(project, { title: 'payments failing', environment: 'production', severity: 'sev3' }, 'bob');
    await incidents.act(project, 1, 'acknowledge', 'bob');
    const changed = await incidents.update(project, 1, { owner: 'carol', severity: 'sev1' }, 'bob');
    expect(changed).toMatchObject({ owner: 'carol', severity: 'sev1', state: 'acknowledged' });
    // Setting what is already set records nothing.
    await incidents.update(project, 1, { owner: 'carol' }, 'bob');
    const events = await store.events.list({ type: 'incident.*' });
    expect(events.map((e) => [e.type, e.data])).toEqual([
      ['incident.opened', expect.anything()],
      ['incident.acknowledged', expect.anything()],
      ['incident.assigned', { number: 1, owner: 'carol' }],
      ['incident.severity', { number: 1, severity: 'sev1' }],
    ]);
    const view = await incidents.view(project, 1);
    expect(view.timeline.map((t) => t.kind)).toEqual(expect.arrayContaining(['incident.assigned', 'incident.severity']));
    await incidents.act(project, 1, 'resolve', 'carol');
    await expect(incidents.update(project, 1, { severity: 'sev2' }, 'bob')).rejects.toThrow(ConflictError);
    await expect(incidents.update(project, 1, {}, 'bob')).rejects.toThrow('give an owner or a severity');
  });
});
