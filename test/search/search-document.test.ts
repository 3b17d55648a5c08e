/** What the index holds for an event (src/search/search-document.ts, lexemes.ts) and how a query asks for it (index-query.ts). */
import { describe, expect, it } from 'vitest';
import { fieldLexeme, indexMatch, parseSearchQuery, searchDocument, wordsOf } from '../../src/search/index.ts';

describe('search documents', () => {
  it('splits text into lowercase words of letters and digits, in any script', () => {
    expect(wordsOf('Deploy FAILED: café-42 ｆｕｌｌ_width')).toEqual(['deploy', 'failed', 'café', '42', 'full', 'width']);
  });

  it('encodes filter values that are not plain letters and digits, so no two values share a lexeme', () => {
    expect(fieldLexeme('p', 'Shop')).toBe('p_shop');
    expect(fieldLexeme('e', 'eu-west')).toBe('e__65752d77657374');
    expect(fieldLexeme('e', 'x65752d77657374')).not.toBe(fieldLexeme('e', 'eu-west'));
  });

  it('holds the kind, type, person, project, environment, release, commits and words of an event', () => {
    const doc = searchDocument(
      {
        id: 7,
        type: 'release.created',
        subject: 'release:L3',
        actor: 'api:alice',
        at: '2026-12-01T00:00:00.000Z',
        data: {
          number: 3,
          sha: 'ABCDEF12',
          commits: [
            { sha: 'abcdef12', at: 'x' },
            { sha: '99998888', at: 'y' },
          ],
        },
        env: { commit: 'abcdef12' },
      },
      { projectId: 'P1', projectName: 'shop-api', environment: null, release: { id: 'L3', number: 3 } },
    );
    expect(doc.eventId).toBe(7);
    expect(doc.lexemes).toEqual(
      expect.arrayContaining([
        'k_release',
        fieldLexeme('t', 'release.created'),
        'a_alice',
        'a__6170693a616c696365',
        'p_p1',
        'r_3',
        'r_l3',
        'c_abcdef12',
        'c_99998888',
        'shop',
        'api',
        'created',
      ]),
    );
    expect(doc.lexemes).not.toContain('e_production');
  });

  it('asks the index for every filter as a group of alternatives, commits by prefix', () => {
    const q = parseSearchQuery(
      'deploy* by:alice type:deploy type:run.failure commit:abc123 "disk full"',
      Date.parse('2026-12-01T00:00:00Z'),
    );
    const m = indexMatch(q, ['P1']);
    expect(m?.all).toEqual([
      [
        { term: 'k_deploy', prefix: false },
        { term: fieldLexeme('t', 'run.failure'), prefix: false },
      ],
      [{ term: 'p_p1', prefix: false }],
      [{ term: 'a_alice', prefix: false }],
      [{ term: 'c_abc123', prefix: true }],
      [{ term: 'deploy', prefix: true }],
      [{ term: 'disk', prefix: false }],
      [{ term: 'full', prefix: false }],
    ]);
    expect(m?.phrases).toEqual(['disk full']);
    expect(indexMatch(parseSearchQuery('type:log', 0), [])).toBeNull();
  });
});
