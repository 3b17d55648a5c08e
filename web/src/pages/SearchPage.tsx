/**
 * Search results: one row per thing (a run, a job, a deploy, an incident, a log line…), newest
 * first, each a link to the page that shows it. The query lives in the URL (`/search?q=`), so a
 * search can be shared and the back button returns to it. The language is in docs/search.md;
 * its short form is shown under the results.
 */
import { useEffect, useState } from 'react';
import { Link, useSearch } from 'wouter';
import { getJson } from '../api.ts';
import { ago } from '../format.ts';
import type { SearchResult } from '../../../src/search/search-result.ts';
import { ErrorAlert } from '../components/PageTitle.tsx';

/** `GET /api/search`'s answer (src/server/search/search-service.ts). */
interface SearchAnswer {
  query: string;
  results: SearchResult[];
  more: boolean;
}

export default function SearchPage() {
  const q = new URLSearchParams(useSearch()).get('q') ?? '';
  const [answer, setAnswer] = useState<SearchAnswer | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const controller = new AbortController();
    setAnswer(null);
    setError(null);
    getJson<SearchAnswer>(`/api/search?q=${encodeURIComponent(q)}`, controller.signal).then(setAnswer, (err: Error) => {
      if (!controller.signal.aborted) setError(err.message);
    });
    return () => controller.abort();
  }, [q]);

  return (
    <section className="search-page">
      <h1>
        Search
        {q ? (
          <>
            : <code>{q}</code>
          </>
        ) : null}
      </h1>
      <ErrorAlert error={error} />
      {!answer && !error && <p aria-busy="true">Searching…</p>}
      {answer && answer.results.length === 0 && <p>Nothing matches.</p>}
      {answer && answer.results.length > 0 && (
        <ol className="search-results" aria-label="Results">
          {answer.results.map((r) => (
            <li key={`${r.kind}:${r.thing}`}>
              <span className={`kind kind-${r.kind}`}>{r.kind}</span> <Link href={r.link}>{r.title}</Link>
              {r.matches > 1 && <span className="muted"> · {r.matches} records</span>}{' '}
              <time dateTime={r.at} title={r.at} className="muted">
                {ago(r.at)}
              </time>
              {r.actor && <span className="muted"> · by {r.actor}</span>}
              {r.detail && <div className="detail">{r.detail}</div>}
            </li>
          ))}
        </ol>
      )}
      {answer?.more && <p className="muted">More records match: narrow the search.</p>}
      <details className="search-help">
        <summary>How to search</summary>
        <p>
          Words match whole words (<code>word*</code> a prefix, <code>"a phrase"</code> as written). Filters: <code>commit:abc123</code>{' '}
          <code>release:12</code> <code>by:alice</code> <code>type:run|job|deploy|release|incident|alert|event|log</code>{' '}
          <code>project:shop</code> <code>env:production</code> <code>since:7d</code> <code>until:2026-11-01</code>. Different filters all
          apply; the same one twice matches either.
        </p>
      </details>
    </section>
  );
}
