/** Search as the server runs it: the index kept in step with the event log, the search service and its route. */
export { SearchIndexer } from './search-indexer.ts';
export { DEFAULT_SEARCH_LIMIT, MAX_SEARCH_LIMIT, type SearchAnswer, SearchService, type SearchServiceDeps } from './search-service.ts';
export { queryWithFlags, registerSearchRoutes, type SearchRouteDeps } from './search-routes.ts';
export { type SearchSource, type ServiceLogLine, type ServiceLogSearch, serviceLogSource } from './search-source.ts';
