/**
 * Results as people read them: one per thing (a run, a job, a deploy, an incident…), titled and
 * linked to the dashboard page that shows it, newest first. Events about the same thing (the
 * same `thing`) collapse into one result carrying how many matched (src/server/search).
 */
import type { Value } from '../core/types.ts';
import { kindOfEventType, type SearchKind } from './search-kinds.ts';
import type { IndexableEvent } from './search-document.ts';

export interface SearchResult {
  kind: SearchKind;
  /** What the result is about, for collapsing (`run:<id>`, `incident:<project>/<n>`…). */
  thing: string;
  title: string;
  /** A short line of detail (a reason, an error, a log line). */
  detail: string | null;
  /** The dashboard path that shows the thing. */
  link: string;
  at: string;
  projectId: string | null;
  projectName: string | null;
  environment: string | null;
  actor: string | null;
  /** The newest matching event, when the result comes from the event log. */
  eventId: number | null;
  eventType: string | null;
  /** How many matching records collapsed into this result. */
  matches: number;
}

export interface ResultScope {
  projectId: string | null;
  projectName: string | null;
  environment: string | null;
  /** The number of the run a run or job event is about (only `run.created` carries it). */
  runNumber?: number | null;
}

const enc = encodeURIComponent;

export function resultOfEvent(event: IndexableEvent, scope: ResultScope): SearchResult {
  const kind = kindOfEventType(event.type);
  const colon = event.subject.indexOf(':');
  const subjectId = colon < 0 ? '' : event.subject.slice(colon + 1);
  const data = event.data;
  const str = (v: Value | undefined) => (typeof v === 'string' && v !== '' ? v : null);
  const where = [scope.projectName ?? scope.projectId, scope.environment].filter((x) => x).join(' / ');
  const project = scope.projectId === null ? null : `/projects/${enc(scope.projectId)}`;
  const environment = project && scope.environment ? `${project}/environments/${enc(scope.environment)}` : null;
  let thing = event.subject;
  let title = event.type;
  let link = `/events${scope.projectId ? `?project=${enc(scope.projectId)}` : ''}`;
  switch (kind) {
    case 'run': {
      const runId = str(data.runId) ?? subjectId;
      const number = typeof data.number === 'number' ? data.number : (scope.runNumber ?? null);
      title = `Run${number === null ? '' : ` #${number}`} ${event.type.slice('run.'.length)}`;
      link = `/runs/${enc(runId)}`;
      break;
    }
    case 'job': {
      const slash = subjectId.indexOf('/');
      const runId = subjectId.slice(0, slash);
      const key = subjectId.slice(slash + 1);
      title = `Job ${key} ${event.type.slice('job.'.length)}${scope.runNumber ? ` (run #${scope.runNumber})` : ''}`;
      link = `/runs/${enc(runId)}/jobs/${enc(key)}`;
      break;
    }
    case 'deploy':
      title = `${data.kind === 'rollback' ? 'Rollback' : 'Deploy'}${typeof data.releaseNumber === 'number' ? ` of release #${data.releaseNumber}` : ''}: ${event.type}`;
      link = environment ?? project ?? link;
      break;
    case 'release':
      title = `Release${typeof data.number === 'number' ? ` #${data.number}` : ''} ${event.type.slice('release.'.length)}`;
      link = project ?? link;
      break;
    case 'incident':
      if (typeof data.number === 'number') {
        thing = `incident:${scope.projectId}/${data.number}`;
        link = project ? `${project}/incidents/${data.number}` : '/incidents';
      } else link = '/incidents';
      title = `Incident${typeof data.number === 'number' ? ` #${data.number}` : ''} ${event.type.slice('incident.'.length)}${str(data.title) ? `: ${data.title}` : ''}`;
      break;
    case 'alert':
      thing = `${event.subject}/${str(data.slo) ?? ''}/${str(data.severity) ?? ''}`;
      title = `Alert ${str(data.slo) ?? ''} (${str(data.severity) ?? 'alert'}) ${event.type.slice('slo.alert.'.length)}`;
      link = environment ?? project ?? link;
      break;
    default:
      thing = `event:${event.id}`;
  }
  return {
    kind,
    thing,
    title: where ? `${title} — ${where}` : title,
    detail: str(data.reason) ?? str(data.error) ?? str(data.title) ?? null,
    link,
    at: event.at,
    projectId: scope.projectId,
    projectName: scope.projectName,
    environment: scope.environment,
    actor: event.actor,
    eventId: event.id,
    eventType: event.type,
    matches: 1,
  };
}

/** Newest first across sources (ISO times sort as text). */
export function mergeNewestFirst(lists: readonly SearchResult[][], limit: number): SearchResult[] {
  return lists
    .flat()
    .sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0))
    .slice(0, limit);
}
