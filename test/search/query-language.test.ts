/** The search query language (src/search/query-language.ts): what each part means, and errors with their column. */
import { describe, expect, it } from 'vitest';
import { parseSearchQuery, SearchQueryError } from '../../src/search/index.ts';

const NOW = Date.parse('2026-12-06T12:00:00Z');

function errorOf(query: string): SearchQueryError {
  try {
    parseSearchQuery(query, NOW);
  } catch (error) {
    if (error instanceof SearchQueryError) return error;
    throw error;
  }
  throw new Error(`"${query}" parsed`);
}

describe('parseSearchQuery', () => {
  it('reads words, prefixes and phrases as text', () => {
    const q = parseSearchQuery('Checkout time* "deploy failed" shop-api', NOW);
    expect(q.text).toEqual([
      { words: ['checkout'], prefix: false, phrase: null },
      { words: ['time'], prefix: true, phrase: null },
      { words: ['deploy', 'failed'], prefix: false, phrase: 'deploy failed' },
      { words: ['shop', 'api'], prefix: false, phrase: 'shop-api' },
    ]);
  });

  it('reads every filter, repeated ones as alternatives, quoted values whole', () => {
    const q = parseSearchQuery(
      'commit:ABC123 release:12 by:"Ann Lee" type:deploy type:run.failure type:log project:shop env:production',
      NOW,
    );
    expect(q.commits).toEqual(['abc123']);
    expect(q.releases).toEqual(['12']);
    expect(q.people).toEqual(['ann lee']);
    expect(q.kinds).toEqual(['deploy', 'log']);
    expect(q.eventTypes).toEqual(['run.failure']);
    expect(q.projects).toEqual(['shop']);
    expect(q.environments).toEqual(['production']);
    expect(q.text).toEqual([]);
  });

  it('reads since and until as durations back from now or as dates', () => {
    const q = parseSearchQuery('since:7d until:2026-12-05', NOW);
    expect(q.since).toBe(NOW - 7 * 86_400_000);
    expect(q.until).toBe(Date.parse('2026-12-05T00:00:00Z'));
    expect(parseSearchQuery('since:2026-12-01T10:30:00Z', NOW).since).toBe(Date.parse('2026-12-01T10:30:00Z'));
  });

  it('takes an empty query as "everything"', () => {
    const q = parseSearchQuery('   ', NOW);
    expect(q.text).toEqual([]);
    expect(q.since).toBeNull();
  });

  it.each([
    ['deploy colour:red', 7, 'unknown filter "colour:"'],
    ['commit:xyz', 7, 'commit: takes 4 to 40 hex digits'],
    ['by: alice', 3, 'by: needs a value'],
    ['failed "deploy step', 7, 'never closed'],
    ['type:banana', 5, 'type: takes a kind'],
    ['since:yesterday', 6, 'since: takes a duration'],
    ['since:1d since:2d', 9, 'since: is given twice'],
    ['since:1d until:2d', 0, 'since: is after until:'],
    ['"a"b', 3, 'a space must follow a closing quote'],
    ['release:1.2', 8, 'release: takes a release number or id'],
    ['"..."', 0, 'no letters or digits'],
  ])('%s fails at column %i+1', (query, position, message) => {
    const error = errorOf(query);
    expect(error.code).toBe('SEARCH_QUERY_INVALID');
    expect(error.position).toBe(position);
    expect(error.message).toContain(message);
    expect(error.message).toContain(`at column ${position + 1}`);
  });
});
