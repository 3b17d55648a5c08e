/**
 * A parsed query as the index answers it: groups of lexemes that must all match (a group
 * matches when any of its lexemes does), phrases checked on the stored event, and a time range.
 * Project names are resolved to ids by the caller (the index holds ids, which never change).
 */
import { fieldLexeme } from './lexemes.ts';
import type { SearchQuery } from './query-language.ts';

export interface IndexTerm {
  term: string;
  /** Match every lexeme that starts with `term`. */
  prefix: boolean;
}

export interface IndexMatch {
  all: IndexTerm[][];
  /** Lowercase text that must appear in the event's type, actor or data as stored. */
  phrases: string[];
  /** ISO times, inclusive. */
  since: string | null;
  until: string | null;
}

/** Null when the query asks only for kinds the event log does not hold (service logs). */
export function indexMatch(query: SearchQuery, projectIds: readonly string[]): IndexMatch | null {
  const all: IndexTerm[][] = [];
  const exact = (field: Parameters<typeof fieldLexeme>[0], values: readonly string[]) => {
    if (values.length > 0) all.push(values.map((v) => ({ term: fieldLexeme(field, v), prefix: false })));
  };
  const eventKinds = query.kinds.filter((k) => k !== 'log');
  if (query.kinds.length > 0 && eventKinds.length === 0 && query.eventTypes.length === 0) return null;
  const types = [...eventKinds.map((k) => fieldLexeme('k', k)), ...query.eventTypes.map((t) => fieldLexeme('t', t))];
  if (types.length > 0) all.push(types.map((term) => ({ term, prefix: false })));
  exact('p', projectIds);
  exact('e', query.environments);
  exact('a', query.people);
  exact('r', query.releases);
  if (query.commits.length > 0) all.push(query.commits.map((c) => ({ term: fieldLexeme('c', c), prefix: c.length < 40 })));
  const phrases: string[] = [];
  for (const t of query.text) {
    for (const word of t.words) all.push([{ term: word, prefix: t.prefix }]);
    if (t.phrase !== null) phrases.push(t.phrase);
  }
  return {
    all,
    phrases,
    since: query.since === null ? null : new Date(query.since).toISOString(),
    until: query.until === null ? null : new Date(query.until).toISOString(),
  };
}
