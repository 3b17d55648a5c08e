/**
 * The search query language (docs/search.md), parsed without I/O:
 *
 *   free text      words match whole words, in any order: `checkout timeout`
 *   "a phrase"     the words, and the phrase as written (case-insensitive)
 *   word*          any word starting with `word`
 *   commit:abc123  a commit, by a prefix of 4 to 40 hex digits
 *   release:12     a release, by number or id
 *   by:alice       who did it (the actor: `api:alice`, `cli`, `trigger:push`)
 *   type:deploy    a kind (run, job, deploy, release, incident, alert, experiment, event, log)
 *                  or an exact event type (`run.failure`)
 *   project:shop   env:production
 *   since:7d  until:2026-11-01   a duration back from now (m, h, d, w) or a date / ISO time
 *
 * Filters compose: different filters must all hold; the same filter given twice matches either
 * value (`type:run type:deploy`). Values may be quoted (`by:"Ann Lee"`). Every error carries the
 * position of the part that caused it.
 */
import { timeBackFrom } from '../core/span.ts';
import { GantryError } from '../core/errors.ts';
import { isSearchKind, type SearchKind } from './search-kinds.ts';
import { wordsOf } from './lexemes.ts';

/** A free-text part: one word, a prefix, or a phrase (several words in order). */
export interface TextTerm {
  words: string[];
  prefix: boolean;
  /** The phrase as written, lowercase, when the term was quoted or held several words. */
  phrase: string | null;
}

export interface SearchQuery {
  text: TextTerm[];
  commits: string[];
  releases: string[];
  people: string[];
  kinds: SearchKind[];
  eventTypes: string[];
  projects: string[];
  environments: string[];
  /** Milliseconds since the epoch, inclusive. */
  since: number | null;
  until: number | null;
}

export const SEARCH_FILTERS = ['commit', 'release', 'by', 'type', 'project', 'env', 'since', 'until'] as const;
type Filter = (typeof SEARCH_FILTERS)[number];

/** Queries longer than this are a paste accident, not a search. */
export const MAX_QUERY_LENGTH = 1000;
const MAX_TERMS = 32;

/** A query that does not parse; `position` is the 0-based offset of the offending part. */
export class SearchQueryError extends GantryError {
  readonly position: number;
  constructor(message: string, position: number, query: string) {
    super('SEARCH_QUERY_INVALID', `${message} (at column ${position + 1} of the query)`, { position, query });
    this.position = position;
  }
}

interface Part {
  field: string | null;
  value: string;
  quoted: boolean;
  /** Where the part starts and where its value starts. */
  at: number;
  valueAt: number;
}

export function emptyQuery(): SearchQuery {
  return {
    text: [],
    commits: [],
    releases: [],
    people: [],
    kinds: [],
    eventTypes: [],
    projects: [],
    environments: [],
    since: null,
    until: null,
  };
}

export function parseSearchQuery(input: string, nowMs: number): SearchQuery {
  if (input.length > MAX_QUERY_LENGTH)
    throw new SearchQueryError(`the query is longer than ${MAX_QUERY_LENGTH} characters`, MAX_QUERY_LENGTH, input);
  const query = emptyQuery();
  const parts = split(input);
  if (parts.length > MAX_TERMS)
    throw new SearchQueryError(`the query has more than ${MAX_TERMS} parts`, (parts[MAX_TERMS] as Part).at, input);
  for (const part of parts) {
    if (part.field === null) addText(query, part, input);
    else addFilter(query, part as Part & { field: Filter }, input, nowMs);
  }
  if (query.since !== null && query.until !== null && query.since > query.until) {
    throw new SearchQueryError('since: is after until:', input.search(/\bsince:/), input);
  }
  return query;
}

function split(input: string): Part[] {
  const parts: Part[] = [];
  let i = 0;
  while (i < input.length) {
    if (/\s/.test(input[i] as string)) {
      i++;
      continue;
    }
    const at = i;
    let field: string | null = null;
    const named = /^([A-Za-z]+):/.exec(input.slice(i));
    if (named) {
      field = (named[1] as string).toLowerCase();
      if (!(SEARCH_FILTERS as readonly string[]).includes(field)) {
        throw new SearchQueryError(
          `unknown filter "${named[1]}:" (known: ${SEARCH_FILTERS.map((f) => `${f}:`).join(' ')}; quote text that holds a colon)`,
          at,
          input,
        );
      }
      i += named[0].length;
    }
    const valueAt = i;
    if (input[i] === '"') {
      const close = input.indexOf('"', i + 1);
      if (close < 0) throw new SearchQueryError('this quote is never closed', i, input);
      parts.push({ field, value: input.slice(i + 1, close), quoted: true, at, valueAt });
      i = close + 1;
      if (i < input.length && !/\s/.test(input[i] as string)) throw new SearchQueryError('a space must follow a closing quote', i, input);
      continue;
    }
    let end = i;
    while (end < input.length && !/\s/.test(input[end] as string)) end++;
    const value = input.slice(i, end);
    if (value.includes('"')) throw new SearchQueryError('a quote may only start a value', i + value.indexOf('"'), input);
    parts.push({ field, value, quoted: false, at, valueAt });
    i = end;
  }
  return parts;
}

function addText(query: SearchQuery, part: Part, input: string): void {
  const prefix = !part.quoted && part.value.endsWith('*');
  const raw = prefix ? part.value.slice(0, -1) : part.value;
  const words = wordsOf(raw);
  if (words.length === 0) {
    if (part.quoted || prefix) throw new SearchQueryError('this term has no letters or digits to search for', part.at, input);
    return; // punctuation alone: nothing to look for
  }
  if (prefix && words.length > 1) throw new SearchQueryError('a prefix (word*) must be a single word', part.at, input);
  const phrase = part.quoted || words.length > 1 ? raw.trim().toLowerCase() : null;
  query.text.push({ words, prefix, phrase });
}

/** A duration back from now (`7d`) or a date / ISO time; null when it is neither. */
export function parseTimeBound(value: string, nowMs: number): number | null {
  return timeBackFrom(value, nowMs);
}

function addFilter(query: SearchQuery, part: Part & { field: Filter }, input: string, nowMs: number): void {
  const value = part.value.trim();
  if (value === '') throw new SearchQueryError(`${part.field}: needs a value`, part.valueAt, input);
  const fail = (message: string): never => {
    throw new SearchQueryError(message, part.valueAt, input);
  };
  switch (part.field) {
    case 'commit':
      if (!/^[0-9a-fA-F]{4,40}$/.test(value)) fail(`commit: takes 4 to 40 hex digits of a commit, not "${value}"`);
      query.commits.push(value.toLowerCase());
      return;
    case 'release':
      if (!/^[A-Za-z0-9]+$/.test(value)) fail(`release: takes a release number or id, not "${value}"`);
      query.releases.push(value.toLowerCase());
      return;
    case 'by':
      query.people.push(value.toLowerCase());
      return;
    case 'type':
      if (isSearchKind(value.toLowerCase())) query.kinds.push(value.toLowerCase() as SearchKind);
      else if (/^[a-z][a-z0-9-]*(\.[a-z0-9-]+)+$/.test(value)) query.eventTypes.push(value);
      else
        fail(
          `type: takes a kind (run, job, deploy, release, incident, alert, experiment, event, log) or an event type such as run.failure, not "${value}"`,
        );
      return;
    case 'project':
      query.projects.push(value);
      return;
    case 'env':
      query.environments.push(value);
      return;
    case 'since':
    case 'until': {
      if (query[part.field] !== null) throw new SearchQueryError(`${part.field}: is given twice`, part.at, input);
      const ms = parseTimeBound(value, nowMs);
      if (ms === null) fail(`${part.field}: takes a duration back from now (30m, 12h, 7d, 2w) or a date (2026-11-01), not "${value}"`);
      query[part.field] = ms;
      return;
    }
  }
}
