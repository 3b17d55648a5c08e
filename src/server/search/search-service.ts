/**
 * One search over the records: parses the query (src/search), brings the index up to date with
 * the event log, asks it newest first, turns events into results (one per thing) and merges the
 * other sources' results (service logs) by time.
 */
import {
  type EventContext,
  indexMatch,
  mergeNewestFirst,
  parseSearchQuery,
  resultOfEvent,
  type SearchQuery,
  type SearchResult,
} from '../../search/index.ts';
import type { Clock } from '../../core/clock.ts';
import type { GantryEvent, Project, Store } from '../../store/ports.ts';
import type { SearchIndexer } from './search-indexer.ts';
import type { SearchSource } from './search-source.ts';

export const DEFAULT_SEARCH_LIMIT = 50;
export const MAX_SEARCH_LIMIT = 200;
/** Events read per page of the index: a thing often has several matching events that collapse into one result. */
const EVENTS_PER_RESULT = 4;
/** Pages read before answering with what was found: a query is answered in bounded time. */
const MAX_PAGES = 4;

export interface SearchServiceDeps {
  store: Store;
  indexer: SearchIndexer;
  /** A project by id or name, or NOT_FOUND. */
  requireProject(idOrName: string): Promise<Project>;
  clock: Clock;
  /** Results from elsewhere than the event log (service logs). */
  sources?: readonly SearchSource[];
}

export interface SearchAnswer {
  query: string;
  results: SearchResult[];
  /** True when more things may match than were returned. */
  more: boolean;
}

export class SearchService {
  readonly #deps: SearchServiceDeps;

  constructor(deps: SearchServiceDeps) {
    this.#deps = deps;
  }

  async search(text: string, limit = DEFAULT_SEARCH_LIMIT): Promise<SearchAnswer> {
    const query = parseSearchQuery(text, this.#deps.clock.now());
    const projectIds = await Promise.all(query.projects.map(async (p) => (await this.#deps.requireProject(p)).id));
    const lists: SearchResult[][] = [];
    let more = false;
    const fromEvents = await this.#searchEvents(query, projectIds, limit);
    lists.push(fromEvents.results);
    more ||= fromEvents.more;
    for (const source of this.#deps.sources ?? []) {
      if (query.kinds.length > 0 && !source.kinds.some((k) => query.kinds.includes(k))) continue;
      const found = await source.search(query, { projectIds, limit });
      more ||= found.length >= limit;
      lists.push(found);
    }
    const results = mergeNewestFirst(lists, limit);
    return { query: text, results, more: more || lists.flat().length > results.length };
  }

  async #searchEvents(query: SearchQuery, projectIds: string[], limit: number): Promise<{ results: SearchResult[]; more: boolean }> {
    const match = indexMatch(query, projectIds);
    if (match === null) return { results: [], more: false };
    const { store, indexer } = this.#deps;
    await indexer.catchUp();
    const pageSize = Math.min(limit * EVENTS_PER_RESULT, 1000);
    /** The newest event of each thing (in order found) and how many matched. */
    const things = new Map<string, { event: GantryEvent; context: EventContext; matches: number }>();
    let more = true;
    let beforeId: number | undefined;
    for (let page = 0; page < MAX_PAGES && things.size <= limit; page++) {
      const events = await store.search.match({ ...match, beforeId, limit: pageSize });
      for (const event of events) {
        const context = await indexer.contextOf(event);
        const { thing } = resultOfEvent(event, context);
        const seen = things.get(thing);
        if (seen) seen.matches++;
        else things.set(thing, { event, context, matches: 1 });
      }
      if (events.length < pageSize) {
        more = false;
        break;
      }
      beforeId = events.at(-1)?.id;
    }
    // Titles name the run's number, which only `run.created` carries: looked up for the results shown only.
    const results: SearchResult[] = [];
    for (const { event, context, matches } of [...things.values()].slice(0, limit)) {
      const aboutRun = event.subject.startsWith('run:') || event.subject.startsWith('job:');
      const runNumber = aboutRun ? await this.#runNumber(event.subject) : null;
      results.push({ ...resultOfEvent(event, { ...context, runNumber }), matches });
    }
    return { results, more: more || things.size > limit };
  }

  async #runNumber(subject: string): Promise<number | null> {
    const runId = subject.slice(subject.indexOf(':') + 1).split('/')[0] ?? '';
    return (await this.#deps.store.runs.get(runId))?.number ?? null;
  }
}
