/** Search's pure core: the query language, the index's vocabulary and documents, and results. */
export { SEARCH_KINDS, type SearchKind, isSearchKind, kindOfEventType } from './search-kinds.ts';
export { fieldLexeme, wordsOf } from './lexemes.ts';
export {
  emptyQuery,
  MAX_QUERY_LENGTH,
  parseSearchQuery,
  parseTimeBound,
  SEARCH_FILTERS,
  type SearchQuery,
  SearchQueryError,
  type TextTerm,
} from './query-language.ts';
export { type EventContext, type IndexableEvent, type SearchDocument, searchDocument } from './search-document.ts';
export { type IndexMatch, type IndexTerm, indexMatch } from './index-query.ts';
export {
  mergeNewestFirst,
  type ResultScope,
  resultOfEvent,
  type SearchResult,
} from './search-result.ts';
