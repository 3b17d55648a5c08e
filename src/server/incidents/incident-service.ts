/**
 * Incidents as the server runs them. A page alert opens one (read from the event log by its own
 * cursor, stored with the incident in one transaction, so an alert opens exactly one incident
 * across crashes; while that incident is not resolved, the same alert firing again joins it).
 * People open them by hand too, and move them through the lifecycle of src/incidents. The
 * timeline builds itself from the event log of the incident's project and environment.
 */
import { type Clock, type Repeating, repeatEvery } from '../../core/clock.ts';
import { InputError, NotFoundError } from '../../core/errors.ts';
import { ROLLOUT_FINISHED_EVENT } from '../../core/rollout-phase.ts';
import { newId } from '../../core/ids.ts';
import type { Value } from '../../core/types.ts';
import {
  applyIncidentAction,
  type Incident,
  type IncidentAction,
  type IncidentSeverity,
  incidentTimes,
  median,
  postmortemMarkdown,
  type TimelineEntry,
} from '../../incidents/index.ts';
import type { EventEnvironment, GantryEvent, IncidentNote, NewEvent, Project, Store } from '../../store/ports.ts';
import type { EventScope } from '../events/index.ts';

const CURSOR = 'incidents';
const BATCH = 500;
/** How far before an incident its timeline and "changes before it" look. */
const LOOKBACK_MS = 6 * 3600_000;

export interface IncidentImpact {
  failedRequests: number;
  totalRequests: number;
  /** Share of the period's budget burned while it was open (the worst SLO); null without SLOs. */
  budgetBurned: number | null;
}

export interface IncidentServiceDeps {
  store: Store;
  clock: Clock;
  scope(event: GantryEvent): Promise<EventScope>;
  eventEnv(): EventEnvironment;
  /** Requests and budget spent in an environment over a span (from the SLO histories); null when none are measured. */
  impact(projectId: string, environment: string, fromMs: number, toMs: number): IncidentImpact | null;
  changed?(projectId: string): void;
  /** The chaos experiment running in an environment now, if any: an incident opened during it links to it (and DORA does not count it as a failed change). */
  experimentIn?(projectId: string, environment: string): { experimentId: string; name: string } | null;
  warn(message: string, data: Record<string, unknown>): void;
  /** Default 1000 ms. */
  intervalMs?: number;
}

/** What Gantry reads of Alertmanager's webhook payload (version 4). */
export interface AlertmanagerGroup {
  groupKey: string;
  status: 'firing' | 'resolved';
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  externalURL?: string;
  alerts: { status: string; startsAt: string; labels: Record<string, string> }[];
}

export interface IncidentView {
  incident: Incident;
  ttaMs: number | null;
  ttrMs: number | null;
  notes: IncidentNote[];
  timeline: TimelineEntry[];
  impact: IncidentImpact | null;
  /** What to do now: roll back the deploy that came before it, pause rollouts there. */
  suggestions: { action: 'rollback' | 'pause-rollouts'; environment: string; text: string }[];
}

export class IncidentService {
  readonly #deps: IncidentServiceDeps;
  #loop: Repeating | undefined;

  constructor(deps: IncidentServiceDeps) {
    this.#deps = deps;
  }

  start(): void {
    this.#loop ??= repeatEvery(
      this.#deps.clock,
      this.#deps.intervalMs ?? 1000,
      () => this.readAlerts(),
      (error) => this.#deps.warn('opening incidents from alerts failed', { error: String(error) }),
    );
  }

  async stop(): Promise<void> {
    await this.#loop?.stop();
  }

  /** Opens an incident for each new page alert not already covered by an open one. */
  async readAlerts(): Promise<void> {
    const { store } = this.#deps;
    let cursor = await store.incidents.cursor(CURSOR);
    for (;;) {
      const events = await store.events.list({ afterId: cursor, limit: BATCH });
      if (events.length === 0) return;
      for (const event of events) {
        cursor = event.id;
        if (event.type !== 'slo.alert.fired' || event.data.severity !== 'page') continue;
        const scope = await this.#deps.scope(event);
        if (scope.projectId === null || scope.environment === null) continue;
        const alertKey = `${scope.environment}/${String(event.data.slo)}/page`;
        if ((await store.incidents.openForAlert(scope.projectId, alertKey)) !== undefined) continue;
        await this.#open(
          {
            projectId: scope.projectId,
            environment: scope.environment,
            title: `SLO '${String(event.data.slo)}' of ${scope.environment} is burning its error budget`,
            severity: 'sev2',
            alertKey,
            openedBy: 'alert',
            openedAt: Date.parse(event.at),
          },
          { name: CURSOR, eventId: cursor },
          { alertEventId: event.id },
        );
      }
      await store.incidents.setCursor(CURSOR, cursor);
      if (events.length < BATCH) return;
    }
  }

  async #open(
    fields: Pick<Incident, 'projectId' | 'environment' | 'title' | 'severity' | 'alertKey' | 'openedBy' | 'openedAt'>,
    cursor: { name: string; eventId: number } | undefined,
    extra: Record<string, Value> = {},
  ): Promise<Incident> {
    const experiment = fields.environment === null ? null : (this.#deps.experimentIn?.(fields.projectId, fields.environment) ?? null);
    if (experiment !== null) Object.assign(extra, { experiment: experiment.experimentId, experimentName: experiment.name });
    const incident = await this.#deps.store.incidents.open(
      { ...fields, id: newId(), state: 'open', owner: null, acknowledgedAt: null, mitigatedAt: null, resolvedAt: null },
      [
        this.#event('incident.opened', fields.projectId, fields.environment, fields.openedBy, {
          title: fields.title,
          severity: fields.severity,
          ...extra,
        }),
      ],
      cursor,
    );
    this.#deps.changed?.(fields.projectId);
    return incident;
  }

  /**
   * An Alertmanager webhook notification (payload version 4): a firing group opens an incident,
   * or joins the one it opened while that is not resolved (Alertmanager repeats notifications);
   * a resolved group resolves it. Severity follows the group's `severity` label.
   */
  async fromAlertmanager(project: Project, group: AlertmanagerGroup): Promise<Incident | undefined> {
    const alertKey = `alertmanager:${group.groupKey}`;
    const existing = await this.#deps.store.incidents.openForAlert(project.id, alertKey);
    if (group.status === 'resolved') {
      if (existing === undefined) return undefined;
      return this.act(project, existing.number, 'resolve', 'alertmanager');
    }
    if (existing !== undefined) return existing;
    const labels = group.commonLabels;
    const severity: IncidentSeverity =
      labels.severity === 'critical' || labels.severity === 'page'
        ? 'sev1'
        : labels.severity === 'warning' || labels.severity === 'ticket'
          ? 'sev3'
          : 'sev2';
    const firstStart = group.alerts
      .map((a) => Date.parse(a.startsAt))
      .filter(Number.isFinite)
      .sort((a, b) => a - b)[0];
    return this.#open(
      {
        projectId: project.id,
        environment: labels.environment ?? null,
        title: group.commonAnnotations.summary ?? `${labels.alertname ?? 'alert'} is firing`,
        severity,
        alertKey,
        openedBy: 'alertmanager',
        openedAt: firstStart ?? this.#deps.clock.now(),
      },
      undefined,
      { groupKey: group.groupKey, alerts: group.alerts.length, ...(group.externalURL ? { externalURL: group.externalURL } : {}) },
    );
  }

  /** By hand: `gantry incident open`. */
  open(project: Project, input: { title: string; environment?: string; severity?: IncidentSeverity }, by: string): Promise<Incident> {
    if (input.title.trim() === '') throw new InputError('an incident needs a title: what is wrong, as users see it');
    return this.#open(
      {
        projectId: project.id,
        environment: input.environment ?? null,
        title: input.title.trim(),
        severity: input.severity ?? 'sev2',
        alertKey: null,
        openedBy: by,
        openedAt: this.#deps.clock.now(),
      },
      undefined,
    );
  }

  async require(project: Project, number: number): Promise<Incident> {
    const incident = await this.#deps.store.incidents.byNumber(project.id, number);
    if (incident === undefined)
      throw new NotFoundError(`${project.name} has no incident #${number} (\`gantry incident list ${project.name}\`)`);
    return incident;
  }

  async act(project: Project, number: number, action: 'acknowledge' | 'mitigate' | 'resolve', by: string): Promise<Incident> {
    const incident = await this.require(project, number);
    const next = applyIncidentAction(incident, { type: action, at: this.#deps.clock.now(), by } as IncidentAction);
    const type = action === 'acknowledge' ? 'incident.acknowledged' : action === 'mitigate' ? 'incident.mitigated' : 'incident.resolved';
    await this.#deps.store.incidents.save(next, [this.#event(type, project.id, next.environment, by, { number, ...incidentTimes(next) })]);
    this.#deps.changed?.(project.id);
    return next;
  }

  /** Reassigns an incident or changes its severity (recorded as events, shown on the timeline). */
  async update(project: Project, number: number, change: { owner?: string; severity?: IncidentSeverity }, by: string): Promise<Incident> {
    if (change.owner === undefined && change.severity === undefined) throw new InputError('give an owner or a severity to change');
    let next = await this.require(project, number);
    const events: NewEvent[] = [];
    if (change.owner !== undefined && change.owner !== next.owner) {
      next = applyIncidentAction(next, { type: 'assign', owner: change.owner, by });
      events.push(this.#event('incident.assigned', project.id, next.environment, by, { number, owner: change.owner }));
    }
    if (change.severity !== undefined && change.severity !== next.severity) {
      next = applyIncidentAction(next, { type: 'set-severity', severity: change.severity, by });
      events.push(this.#event('incident.severity', project.id, next.environment, by, { number, severity: change.severity }));
    }
    if (events.length === 0) return next;
    await this.#deps.store.incidents.save(next, events);
    this.#deps.changed?.(project.id);
    return next;
  }

  async note(project: Project, number: number, text: string, by: string): Promise<void> {
    if (text.trim() === '') throw new InputError('a note needs text');
    const incident = await this.require(project, number);
    await this.#deps.store.incidents.addNote(incident.id, { at: this.#deps.clock.now(), author: by, text: text.trim() }, [
      this.#event('incident.note', project.id, incident.environment, by, { number, text: text.trim() }),
    ]);
    this.#deps.changed?.(project.id);
  }

  async view(project: Project, number: number): Promise<IncidentView> {
    const incident = await this.require(project, number);
    const notes = await this.#deps.store.incidents.notes(incident.id);
    const until = incident.resolvedAt ?? this.#deps.clock.now();
    const events = await this.#eventsAround(incident, incident.openedAt - LOOKBACK_MS, until);
    const timeline: TimelineEntry[] = [
      ...events.filter((e) => Date.parse(e.at) >= incident.openedAt - 3600_000).map((e) => entryOf(e)),
      ...notes.map((n) => ({ at: n.at, kind: 'note', text: `note: ${n.text}`, by: n.author })),
    ].sort((a, b) => a.at - b.at);
    const impactEnd = incident.mitigatedAt ?? incident.resolvedAt ?? this.#deps.clock.now();
    const impact = incident.environment === null ? null : this.#deps.impact(project.id, incident.environment, incident.openedAt, impactEnd);
    const suggestions: IncidentView['suggestions'] = [];
    if (incident.state !== 'resolved' && incident.environment !== null) {
      const deploy = events
        .filter((e) => e.type === ROLLOUT_FINISHED_EVENT && e.data.phase === 'succeeded' && Date.parse(e.at) <= incident.openedAt)
        .at(-1);
      if (deploy !== undefined) {
        suggestions.push({
          action: 'rollback',
          environment: incident.environment,
          text: `roll back ${incident.environment} to the release before the deploy at ${deploy.at} (\`gantry rollback ${project.name} --env ${incident.environment}\`)`,
        });
      }
      suggestions.push({
        action: 'pause-rollouts',
        environment: incident.environment,
        text: `pause rollouts in ${incident.environment} while it is investigated`,
      });
    }
    return { incident, ...incidentTimes(incident), notes, timeline, impact, suggestions };
  }

  async postmortem(project: Project, number: number): Promise<string> {
    const view = await this.view(project, number);
    const changesBefore = view.timeline.filter(
      (e) =>
        e.at <= view.incident.openedAt &&
        (e.kind === ROLLOUT_FINISHED_EVENT || e.kind.startsWith('deploy.') || e.kind.startsWith('secret.')),
    );
    return postmortemMarkdown({
      incident: view.incident,
      project: project.name,
      timeline: view.timeline,
      changesBefore: changesBefore.reverse(),
      impact: view.impact,
    });
  }

  async list(filter: {
    projectId?: string;
    states?: string[];
    limit?: number;
  }): Promise<(Incident & { ttaMs: number | null; ttrMs: number | null })[]> {
    const rows = await this.#deps.store.incidents.list({ projectId: filter.projectId, states: filter.states, limit: filter.limit ?? 100 });
    return rows.map((i) => ({ ...i, ...incidentTimes(i) }));
  }

  /** Medians of time to acknowledge and to restore over a project's incidents. */
  async stats(projectId: string): Promise<{ incidents: number; medianTtaMs: number | null; medianTtrMs: number | null }> {
    const all = await this.list({ projectId, limit: 10_000 });
    const tta = all.map((i) => i.ttaMs).filter((v): v is number => v !== null);
    const ttr = all.map((i) => i.ttrMs).filter((v): v is number => v !== null);
    return { incidents: all.length, medianTtaMs: median(tta), medianTtrMs: median(ttr) };
  }

  /** Events of the incident's project (and environment, when it has one) in [fromMs, toMs], oldest first. */
  async #eventsAround(incident: Incident, fromMs: number, toMs: number): Promise<GantryEvent[]> {
    const out: GantryEvent[] = [];
    let before: number | undefined;
    for (let page = 0; page < 20; page++) {
      const events = await this.#deps.store.events.list({ newestFirst: true, beforeId: before, limit: 500 });
      if (events.length === 0) break;
      for (const e of events) {
        const at = Date.parse(e.at);
        if (at > toMs) continue;
        if (at < fromMs) return out.reverse();
        const scope = await this.#deps.scope(e);
        if (scope.projectId !== incident.projectId) continue;
        if (incident.environment !== null && scope.environment !== null && scope.environment !== incident.environment) continue;
        out.push(e);
      }
      before = (events.at(-1) as GantryEvent).id;
    }
    return out.reverse();
  }

  #event(type: string, projectId: string, environment: string | null, actor: string, data: Record<string, Value>): NewEvent {
    return {
      type,
      subject: environment === null ? `project:${projectId}` : `environment:${projectId}/${environment}`,
      actor,
      at: new Date(this.#deps.clock.now()).toISOString(),
      data,
      env: this.#deps.eventEnv(),
    };
  }
}

/** One event as a timeline line. */
function entryOf(e: GantryEvent): TimelineEntry {
  const d = e.data;
  const text =
    e.type === 'slo.alert.fired'
      ? `${String(d.severity)} alert: SLO '${String(d.slo)}' burning fast`
      : e.type === 'slo.alert.resolved'
        ? `${String(d.severity)} alert resolved: SLO '${String(d.slo)}'`
        : e.type === ROLLOUT_FINISHED_EVENT
          ? `rollout ${String(d.phase)}${d.releaseId ? ` (release ${String(d.releaseId)})` : ''}`
          : e.type === 'incident.opened' && d.experiment
            ? `incident opened during chaos experiment '${String(d.experimentName)}' (${String(d.experiment)})`
            : e.type.startsWith('experiment.')
              ? `chaos experiment '${String(d.name)}' (${String(d.experimentId)}): ${e.type.slice('experiment.'.length)}${d.verdict ? ` — ${String(d.verdict)}` : ''}`
              : e.type;
  return { at: Date.parse(e.at), kind: e.type, text, by: e.actor };
}
