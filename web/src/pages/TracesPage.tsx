/**
 * The traces kept for an environment: the list for a time slot and latency row (the heatmap cell
 * a person clicked, in the URL), slowest first, and one trace as a waterfall — each span a bar
 * placed on the trace's time axis, indented by depth, errors in the alarm colour.
 */
import { useEffect, useMemo, useState } from 'react';
import { Link, useParams, useSearch } from 'wouter';
import type { TraceSummary, Waterfall } from '../../../src/traces/index.ts';
import { getJson, p } from '../api.ts';
import { latency } from '../format.ts';
import './TracesPage.css';

const clock = (t: number) => new Date(t).toLocaleTimeString([], { hour12: false });

export default function TracesPage() {
  const { project, env, trace } = useParams<{ project: string; env: string; trace?: string }>();
  const search = useSearch();
  const base = `/projects/${encodeURIComponent(project)}/environments/${encodeURIComponent(env)}`;
  return (
    <article aria-labelledby="traces-title">
      <h1 id="traces-title">{trace ? 'Trace' : 'Traces'}</h1>
      <p>
        <Link href={base}>
          {project} / {env}
        </Link>
        {trace && (
          <>
            {' · '}
            <Link href={`${base}/traces${search ? `?${search}` : ''}`}>all traces of this cell</Link>
          </>
        )}
      </p>
      {trace ? (
        <TraceView project={project} env={env} trace={trace} />
      ) : (
        <TraceList project={project} env={env} search={search} base={base} />
      )}
    </article>
  );
}

function TraceList({ project, env, search, base }: { project: string; env: string; search: string; base: string }) {
  const [answer, setAnswer] = useState<{ traces: TraceSummary[]; kept: number; dropped: number } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const params = useMemo(() => new URLSearchParams(search), [search]);
  useEffect(() => {
    const query = new URLSearchParams();
    for (const key of ['from', 'to', 'le', 'version']) {
      const v = params.get(key);
      if (v !== null) query.set(key, v);
    }
    getJson<{ traces: TraceSummary[]; kept: number; dropped: number }>(
      `${p`/api/projects/${project}/environments/${env}/traces`}?${query}`,
    ).then(setAnswer, (err: Error) => setError(err.message));
  }, [project, env, params]);
  if (error) return <p className="error">{error}</p>;
  if (!answer) return <p aria-busy="true">Loading…</p>;
  const from = params.get('from');
  const le = params.get('le');
  return (
    <>
      <p className="muted">
        {from ? `From ${clock(Number(from))}` : 'The last hour'}
        {le ? `, requests of at most ${latency(Number(le))} in the heatmap's row` : ''}; {answer.kept} traces kept for this environment
        (slow and failed ones first), {answer.dropped} not kept.
      </p>
      {answer.traces.length === 0 ? (
        <p className="muted">No trace kept for these requests.</p>
      ) : (
        <ul className="trace-list">
          {answer.traces.map((t) => (
            <li key={t.traceId} className={t.error ? 'trace-error' : undefined}>
              <Link href={`${base}/traces/${t.traceId}${search ? `?${search}` : ''}`}>
                {t.name} — {latency(t.durationMs)}
              </Link>{' '}
              <span className="muted">
                {clock(t.startMs)} · {t.service || 'service'} {t.version} · {t.spanCount} spans{t.error ? ' · error' : ''}
              </span>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

function TraceView({ project, env, trace }: { project: string; env: string; trace: string }) {
  const [answer, setAnswer] = useState<{ summary: TraceSummary; waterfall: Waterfall } | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    getJson<{ summary: TraceSummary; waterfall: Waterfall }>(p`/api/projects/${project}/environments/${env}/traces/${trace}`).then(
      setAnswer,
      (err: Error) => setError(err.message),
    );
  }, [project, env, trace]);
  if (error) return <p className="error">{error}</p>;
  if (!answer) return <p aria-busy="true">Loading…</p>;
  const { summary, waterfall } = answer;
  const total = Math.max(waterfall.durationMs, 0.001);
  return (
    <>
      <p>
        <strong>{summary.name}</strong> — {latency(summary.durationMs)} at {clock(summary.startMs)}, release {summary.version || '—'},{' '}
        <code>{trace}</code>
      </p>
      <ol className="waterfall" aria-label={`Waterfall of ${waterfall.rows.length} spans`}>
        {waterfall.rows.map((row) => (
          <li key={row.spanId} className={row.error ? 'span-error' : undefined} data-depth={row.depth}>
            <span
              className="span-name"
              style={{ paddingLeft: `${row.depth * 1.2}em` }}
              title={Object.entries(row.attributes)
                .map(([k, v]) => `${k}=${v}`)
                .join('\n')}
            >
              {row.name}
              <span className="muted"> {row.service}</span>
            </span>
            <span className="span-track">
              <span
                className="span-bar"
                style={{ left: `${(row.offsetMs / total) * 100}%`, width: `${Math.max(0.5, (row.durationMs / total) * 100)}%` }}
              />
            </span>
            <span className="span-duration">{latency(row.durationMs)}</span>
          </li>
        ))}
      </ol>
    </>
  );
}
