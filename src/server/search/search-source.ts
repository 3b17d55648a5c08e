/**
 * Where results come from besides the event log. A source answers a parsed query with results
 * newest first; the search service merges every source's answer by time. Service logs are one
 * (`serviceLogSource` over `searchServiceLogs` of src/server/logs); experiments, when they keep
 * records of their own, would be another.
 */
import type { SearchKind, SearchQuery, SearchResult } from '../../search/index.ts';

export interface SearchSource {
  /** The kinds this source returns: a query whose `type:` names none of them skips it. */
  readonly kinds: readonly SearchKind[];
  /** At most `limit` results, newest first. `projectIds` are the query's projects, resolved. */
  search(query: SearchQuery, scope: { projectIds: readonly string[]; limit: number }): Promise<SearchResult[]>;
}

/** One line of a service's log as the logs context returns it. */
export interface ServiceLogLine {
  project: string;
  environment: string;
  release: string | number | null;
  instance: string;
  stream: string;
  time: string;
  text: string;
  link: string;
}

/** The shape of `searchServiceLogs` (src/server/logs/index.ts). */
export type ServiceLogSearch = (query: {
  project?: string;
  environment?: string;
  text?: string;
  regex?: string;
  since?: string;
  until?: string;
  limit: number;
}) => Promise<ServiceLogLine[]>;

/**
 * Service logs as a search source. Logs carry no commit or person, so a query with `commit:` or
 * `by:` finds none; a query with several projects or environments asks once per pair (at most a
 * few: the query language caps its parts); words and phrases go as one text the log line must
 * contain, and a release filter is applied to the lines returned.
 */
export function serviceLogSource(searchLogs: ServiceLogSearch, projectName: (id: string) => Promise<string | null>): SearchSource {
  return {
    kinds: ['log'],
    async search(query, { projectIds, limit }) {
      if (query.commits.length > 0 || query.people.length > 0 || query.eventTypes.length > 0) return [];
      const projects: (string | undefined)[] = projectIds.length > 0 ? [...projectIds] : [undefined];
      const environments: (string | undefined)[] = query.environments.length > 0 ? query.environments : [undefined];
      const text = query.text.map((t) => t.phrase ?? t.words.join(' ')).join(' ');
      const since = query.since === null ? undefined : new Date(query.since).toISOString();
      const until = query.until === null ? undefined : new Date(query.until).toISOString();
      const out: SearchResult[] = [];
      for (const project of projects) {
        for (const environment of environments) {
          const lines = await searchLogs({ project, environment, text: text === '' ? undefined : text, since, until, limit });
          for (const line of lines) {
            if (query.releases.length > 0 && !query.releases.includes(String(line.release ?? '').toLowerCase())) continue;
            out.push({
              kind: 'log',
              thing: `log:${line.project}/${line.environment}/${line.instance}/${line.time}/${out.length}`,
              title: `Log of ${line.project} / ${line.environment} (${line.instance}, ${line.stream})`,
              detail: line.text,
              link: line.link,
              at: line.time,
              projectId: project ?? null,
              projectName: (project && (await projectName(project))) ?? line.project,
              environment: line.environment,
              actor: null,
              eventId: null,
              eventType: null,
              matches: 1,
            });
          }
        }
      }
      return out.sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0)).slice(0, limit);
    },
  };
}
