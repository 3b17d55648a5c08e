/**
 * Everything that happened, newest first: runs, jobs, releases, rollouts and their decisions,
 * sign-ins. Filters live in the URL (shareable); new events arrive through the event stream.
 */
import { useCallback, useEffect, useMemo, useState } from 'react';
import { Link, useLocation, useSearch } from 'wouter';
import { getJson } from '../api.ts';
import { ErrorAlert, PageTitle } from '../components/PageTitle.tsx';
import { FilterSelect } from '../components/FilterSelect.tsx';
import { eventQuery, useLiveEvents, type EventFilter, type ScopedEvent } from '../events.ts';
import type { Project } from '../types.ts';

const PAGE = 200;
const FAMILIES = ['run', 'job', 'release', 'rollout', 'environment', 'project', 'secret', 'session', 'server'];

export default function EventsPage() {
  const search = useSearch();
  const [, navigate] = useLocation();
  const filter = useMemo<EventFilter>(() => {
    const params = new URLSearchParams(search);
    return {
      project: params.get('project') ?? undefined,
      environment: params.get('environment') ?? undefined,
      type: params.get('type') ?? undefined,
    };
  }, [search]);
  const [projects, setProjects] = useState<Project[]>([]);
  const [events, setEvents] = useState<ScopedEvent[] | null>(null);
  const [more, setMore] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    getJson<{ projects: Project[] }>('/api/projects').then(
      ({ projects: list }) => setProjects(list),
      () => undefined,
    );
  }, []);
  const load = useCallback(() => {
    getJson<{ events: ScopedEvent[] }>(`/api/events?order=desc&limit=${PAGE}&${eventQuery(filter)}`).then(
      ({ events: list }) => {
        setEvents(list);
        setMore(list.length === PAGE);
        setError(null);
      },
      (err: Error) => setError(err.message),
    );
  }, [filter]);
  useEffect(load, [load]);
  const connection = useLiveEvents(
    filter,
    (event) => {
      setEvents((list) => (list && !list.some((e) => e.id === event.id) ? [event, ...list] : list));
    },
    load,
  );

  const older = async () => {
    const before = events?.at(-1)?.id;
    if (!before) return;
    const { events: page } = await getJson<{ events: ScopedEvent[] }>(
      `/api/events?order=desc&limit=${PAGE}&before=${before}&${eventQuery(filter)}`,
    );
    setEvents((list) => [...(list ?? []), ...page]);
    setMore(page.length === PAGE);
  };
  const setFilter = (change: Partial<EventFilter>) => {
    const query = eventQuery({ ...filter, ...change });
    navigate(`/events${query ? `?${query}` : ''}`, { replace: true });
  };
  const projectName = new Map(projects.map((project) => [project.id, project.name]));
  const environments = [
    ...new Set((events ?? []).map((e) => e.scope.environment).filter((e): e is string => !!e)),
    ...(filter.environment ? [filter.environment] : []),
  ];

  return (
    <section aria-labelledby="events-title">
      <PageTitle id="events-title" live={connection}>
        Events
      </PageTitle>
      <form className="toolbar filters" role="search" aria-label="Filter events" onSubmit={(e) => e.preventDefault()}>
        <FilterSelect
          label="Project"
          value={filter.project}
          choices={projects.map((project) => ({ value: project.id, label: project.name }))}
          onChange={(project) => setFilter({ project })}
        />
        <FilterSelect
          label="Environment"
          value={filter.environment}
          choices={[...new Set(environments)]}
          onChange={(environment) => setFilter({ environment })}
        />
        <FilterSelect
          label="Type"
          value={filter.type}
          choices={FAMILIES.map((family) => ({ value: `${family}.*`, label: family }))}
          onChange={(type) => setFilter({ type })}
        />
      </form>
      <ErrorAlert error={error} />
      {events === null ? (
        <p aria-busy="true">Loading…</p>
      ) : events.length === 0 ? (
        <p className="muted">No events match.</p>
      ) : (
        <ol className="timeline" aria-label="Events, newest first">
          {events.map((event) => (
            <li key={event.id} className={`event family-${event.type.split('.')[0]}`} data-event-type={event.type}>
              <time dateTime={event.at} title={event.at}>
                {new Date(event.at).toLocaleString()}
              </time>
              <span className="event-type">{event.type}</span>
              <span className="event-subject">
                <SubjectLink event={event} projectName={projectName} />
              </span>
              <span className="event-actor muted">{event.actor}</span>
              <span className="event-data muted">{summary(event.data)}</span>
            </li>
          ))}
        </ol>
      )}
      {more && (
        <button type="button" onClick={() => void older()}>
          Older events
        </button>
      )}
    </section>
  );
}

function SubjectLink({ event, projectName }: { event: ScopedEvent; projectName: Map<string, string> }) {
  const [kind, rest = ''] = event.subject.split(/:(.*)/s);
  const project = event.scope.projectId ? (projectName.get(event.scope.projectId) ?? event.scope.projectId) : null;
  const where = [project, event.scope.environment].filter(Boolean).join(' / ');
  if (kind === 'run')
    return (
      <>
        <Link href={`/runs/${rest}`}>run</Link> <span className="muted">{where}</span>
      </>
    );
  if (kind === 'job') {
    const slash = rest.indexOf('/');
    return (
      <>
        <Link href={`/runs/${rest.slice(0, slash)}/jobs/${encodeURIComponent(rest.slice(slash + 1))}`}>{rest.slice(slash + 1)}</Link>{' '}
        <span className="muted">{where}</span>
      </>
    );
  }
  if ((kind === 'rollout' || kind === 'environment') && event.scope.projectId && event.scope.environment) {
    return (
      <Link href={`/projects/${encodeURIComponent(event.scope.projectId)}/environments/${encodeURIComponent(event.scope.environment)}`}>
        {where}
      </Link>
    );
  }
  if (event.scope.projectId) return <Link href={`/projects/${encodeURIComponent(event.scope.projectId)}`}>{where}</Link>;
  return <span>{event.subject}</span>;
}

/** The event's data as `key=value` pairs, ids left out (the link carries them). */
function summary(data: Record<string, unknown>): string {
  return Object.entries(data)
    .filter(([key, value]) => !/Id$|^id$/.test(key) && value !== null && value !== undefined && value !== '')
    .map(([key, value]) => `${key}=${typeof value === 'object' ? JSON.stringify(value) : String(value)}`)
    .join(' ')
    .slice(0, 300);
}
