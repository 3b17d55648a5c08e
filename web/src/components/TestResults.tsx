/**
 * A job's test cases (GET …/jobs/:job/tests): failing ones first with their message and
 * details, then skipped and passed, with a filter. Reloaded when the job ends (the report is
 * saved then); passing cases are capped on screen so a 5,000-case report stays light.
 */
import { useEffect, useMemo, useState } from 'react';
import { getJson, p } from '../api.ts';
import { duration } from '../format.ts';

type CaseStatus = 'failed' | 'passed' | 'skipped';

interface TestCase {
  suite: string;
  classname: string;
  name: string;
  status: CaseStatus;
  timeMs: number;
  message?: string;
  details?: string;
}
interface Tests {
  summary: { passed: number; failed: number; skipped: number } | null;
  cases: TestCase[];
}

/** Passing and skipped rows shown before "Show all". */
const SHOWN_OTHERS = 200;
const ICONS: Record<CaseStatus, string> = { failed: '✗', skipped: '↷', passed: '✓' };

export function TestResults(props: { runId: string; jobKey: string /** The job has ended: its report is final. */; done: boolean }) {
  const { runId, jobKey, done } = props;
  const [tests, setTests] = useState<Tests | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [filter, setFilter] = useState('');
  const [showAll, setShowAll] = useState(false);

  useEffect(() => {
    const controller = new AbortController();
    setError(null);
    getJson<Tests>(p`/api/runs/${runId}/jobs/${jobKey}/tests`, controller.signal).then(setTests, (err: Error) => {
      if (!controller.signal.aborted) setError(err.message);
    });
    return () => controller.abort();
  }, [runId, jobKey]);

  const shown = useMemo(() => {
    const needle = filter.trim().toLowerCase();
    const cases = tests?.cases ?? [];
    if (!needle) return cases;
    return cases.filter((c) => `${c.suite} ${c.classname} ${c.name} ${c.message ?? ''}`.toLowerCase().includes(needle));
  }, [tests, filter]);

  if (error)
    return (
      <p role="alert" className="error">
        Could not load the tests: {error}
      </p>
    );
  if (!tests) return <p aria-busy="true">Loading the tests…</p>;
  if (!tests.summary)
    return <p className="muted">{done ? 'This job saved no test report.' : 'The test report is read when the job ends.'}</p>;

  const { summary } = tests;
  const total = summary.passed + summary.failed + summary.skipped;
  const failing = shown.filter((c) => c.status === 'failed');
  const others = shown.filter((c) => c.status !== 'failed');
  const visibleOthers = showAll ? others : others.slice(0, SHOWN_OTHERS);

  return (
    <div className="test-results">
      <div className="toolbar test-toolbar">
        <p className="test-counts">
          <span className="badge status-failure">
            {ICONS.failed} {summary.failed} failed
          </span>
          <span className="badge">
            {ICONS.skipped} {summary.skipped} skipped
          </span>
          <span className="badge status-success">
            {ICONS.passed} {summary.passed} passed
          </span>
        </p>
        <input
          className="test-filter"
          type="search"
          placeholder="Filter tests"
          value={filter}
          onChange={(e) => setFilter(e.target.value)}
          aria-label="Filter tests"
        />
      </div>
      {tests.cases.length < total && (
        <p className="muted">
          Showing the {tests.cases.length} first cases of {total} (failing ones first).
        </p>
      )}
      {filter && (
        <p className="muted" aria-live="polite">
          {shown.length} matching
        </p>
      )}
      <ul className="test-list">
        {failing.map((c, i) => (
          <li key={`f${i}`} className="test-case failed" data-test-status="failed">
            <div className="test-title">
              <span className="badge status-failure" aria-label="failed">
                {ICONS.failed}
              </span>
              <span className="test-name">
                {c.suite || c.classname ? (
                  <>
                    <span className="test-suite">{c.suite || c.classname}</span> ›{' '}
                  </>
                ) : null}
                {c.name}
              </span>
              {c.timeMs > 0 && <span className="muted test-time">{duration(c.timeMs)}</span>}
            </div>
            {c.message && <p className="test-message">{c.message}</p>}
            {c.details && (
              <details>
                <summary>Details</summary>
                <pre>{c.details}</pre>
              </details>
            )}
          </li>
        ))}
        {visibleOthers.map((c, i) => (
          <li key={`o${i}`} className={`test-case ${c.status}`} data-test-status={c.status}>
            <div className="test-title">
              <span className={`badge${c.status === 'passed' ? ' status-success' : ''}`} aria-label={c.status}>
                {ICONS[c.status]}
              </span>
              <span className="test-name">
                {c.suite || c.classname ? (
                  <>
                    <span className="test-suite">{c.suite || c.classname}</span> ›{' '}
                  </>
                ) : null}
                {c.name}
              </span>
              {c.timeMs > 0 && <span className="muted test-time">{duration(c.timeMs)}</span>}
            </div>
            {c.status === 'skipped' && c.message && <p className="muted test-message">{c.message}</p>}
          </li>
        ))}
      </ul>
      {!showAll && others.length > SHOWN_OTHERS && (
        <button type="button" onClick={() => setShowAll(true)}>
          Show all {others.length} passing and skipped tests
        </button>
      )}
      {shown.length === 0 && <p className="muted">No test matches “{filter}”.</p>}
    </div>
  );
}
