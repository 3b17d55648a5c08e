/**
 * What a search result can be. Every kind but `log` is read from the event log, the kind taken
 * from the event's type; a new family of events (experiments, issue 13) becomes searchable by
 * its own kind by adding one row to `KIND_OF_TYPE_PREFIX`.
 */
export const SEARCH_KINDS = ['run', 'job', 'deploy', 'release', 'incident', 'alert', 'experiment', 'event', 'log'] as const;
export type SearchKind = (typeof SEARCH_KINDS)[number];

/** The first prefix that matches an event's type gives its kind; anything else is a plain `event`. */
const KIND_OF_TYPE_PREFIX: readonly (readonly [string, SearchKind])[] = [
  ['run.', 'run'],
  ['job.', 'job'],
  ['rollout.', 'deploy'],
  ['environment.', 'deploy'],
  ['release.', 'release'],
  ['incident.', 'incident'],
  ['slo.alert.', 'alert'],
  ['experiment.', 'experiment'],
];

export function kindOfEventType(type: string): SearchKind {
  for (const [prefix, kind] of KIND_OF_TYPE_PREFIX) if (type.startsWith(prefix)) return kind;
  return 'event';
}

export function isSearchKind(value: string): value is SearchKind {
  return (SEARCH_KINDS as readonly string[]).includes(value);
}
