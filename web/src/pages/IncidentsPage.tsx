/**
 * Incidents across projects, newest first: state, severity, where, who owns it, and how long it
 * took to acknowledge and to restore. Filters (state, project) live in the URL; the list is
 * re-read when an incident event arrives on the event stream.
 */
import { useCallback, useEffect, useMemo, useState } from 'react';
import { Link, useLocation, useSearch } from 'wouter';
import { getJson, p } from '../api.ts';
import { ErrorAlert, PageTitle } from '../components/PageTitle.tsx';
import { FilterSelect } from '../components/FilterSelect.tsx';
import { useLiveEvents } from '../events.ts';
import { ago, duration } from '../format.ts';
import { IncidentStateBadge, SeverityBadge } from '../components/IncidentBadges.tsx';
import type { IncidentRow } from '../slo/types.ts';
import type { Project } from '../types.ts';
import './Incidents.css';

/** The state filter's choices; "active" is every state before resolved. */
const STATES: Record<string, string> = {
  active: 'open,acknowledged,mitigated',
  open: 'open',
  acknowledged: 'acknowledged',
  mitigated: 'mitigated',
  resolved: 'resolved',
};

export default function IncidentsPage() {
  const search = useSearch();
  const [, navigate] = useLocation();
  const filter = useMemo(() => {
    const params = new URLSearchParams(search);
    return { state: params.get('state') ?? undefined, project: params.get('project') ?? undefined };
  }, [search]);
  const [projects, setProjects] = useState<Project[]>([]);
  const [incidents, setIncidents] = useState<IncidentRow[] | null>(null);
  const [stats, setStats] = useState<{ incidents: number; medianTtaMs: number | null; medianTtrMs: number | null } | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    getJson<{ projects: Project[] }>('/api/projects').then(
      ({ projects: list }) => setProjects(list),
      () => undefined,
    );
  }, []);
  const load = useCallback(() => {
    const query = new URLSearchParams();
    if (filter.project) query.set('project', filter.project);
    if (filter.state && STATES[filter.state]) query.set('state', STATES[filter.state] as string);
    getJson<{ incidents: IncidentRow[] }>(`/api/incidents?${query}`).then(
      ({ incidents: list }) => {
        setIncidents(list);
        setError(null);
      },
      (err: Error) => setError(err.message),
    );
    if (filter.project)
      getJson<{ incidents: number; medianTtaMs: number | null; medianTtrMs: number | null }>(
        p`/api/projects/${filter.project}/incidents/stats`,
      ).then(setStats, () => setStats(null));
    else setStats(null);
  }, [filter]);
  useEffect(load, [load]);
  const connection = useLiveEvents(
    {},
    (event) => {
      if (event.type.startsWith('incident.')) load();
    },
    load,
  );

  const setFilter = (change: Partial<typeof filter>) => {
    const next = new URLSearchParams();
    for (const [key, value] of Object.entries({ ...filter, ...change })) if (value) next.set(key, value);
    const query = next.toString();
    navigate(`/incidents${query ? `?${query}` : ''}`, { replace: true });
  };
  const projectName = new Map(projects.map((project) => [project.id, project.name]));

  return (
    <section aria-labelledby="incidents-title">
      <PageTitle id="incidents-title" live={connection}>
        Incidents
      </PageTitle>
      <form className="toolbar filters" role="search" aria-label="Filter incidents" onSubmit={(e) => e.preventDefault()}>
        <FilterSelect label="State" value={filter.state} choices={Object.keys(STATES)} onChange={(state) => setFilter({ state })} />
        <FilterSelect
          label="Project"
          value={filter.project}
          choices={projects.map((project) => ({ value: project.id, label: project.name }))}
          onChange={(project) => setFilter({ project })}
        />
        {stats && (
          <span className="muted small" data-testid="incident-stats">
            {stats.incidents} incident{stats.incidents === 1 ? '' : 's'} · median time to acknowledge{' '}
            {stats.medianTtaMs === null ? '–' : duration(stats.medianTtaMs)} · to restore{' '}
            {stats.medianTtrMs === null ? '–' : duration(stats.medianTtrMs)}
          </span>
        )}
      </form>
      <ErrorAlert error={error} />
      {incidents === null ? (
        <p aria-busy="true">Loading…</p>
      ) : incidents.length === 0 ? (
        <p className="muted">No incidents match. Page alerts open one by themselves; `gantry incident open` opens one by hand.</p>
      ) : (
        <div className="table-scroll" tabIndex={0}>
          <table className="incidents">
            <thead>
              <tr>
                <th scope="col">Incident</th>
                <th scope="col">State</th>
                <th scope="col">Severity</th>
                <th scope="col">Where</th>
                <th scope="col">Owner</th>
                <th scope="col">Opened</th>
                <th scope="col">To acknowledge</th>
                <th scope="col">To restore</th>
              </tr>
            </thead>
            <tbody>
              {incidents.map((i) => {
                const project = projectName.get(i.projectId) ?? i.projectId;
                return (
                  <tr key={i.id} data-incident={i.number} data-state={i.state}>
                    <td>
                      <Link href={`/projects/${encodeURIComponent(i.projectId)}/incidents/${i.number}`}>
                        #{i.number} {i.title}
                      </Link>
                    </td>
                    <td>
                      <IncidentStateBadge state={i.state} />
                    </td>
                    <td>
                      <SeverityBadge severity={i.severity} />
                    </td>
                    <td>{i.environment ? `${project} / ${i.environment}` : project}</td>
                    <td>{i.owner ?? <span className="muted">nobody</span>}</td>
                    <td>
                      <time dateTime={new Date(i.openedAt).toISOString()} title={new Date(i.openedAt).toISOString()}>
                        {ago(new Date(i.openedAt).toISOString())}
                      </time>{' '}
                      <span className="muted small">by {i.openedBy}</span>
                    </td>
                    <td>{i.ttaMs === null ? '–' : duration(i.ttaMs)}</td>
                    <td>{i.ttrMs === null ? '–' : duration(i.ttrMs)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
