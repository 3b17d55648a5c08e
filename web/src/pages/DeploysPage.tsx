/**
 * Before and after each deploy of one project's environment (production by default): a row per
 * rollout with its verdict ("p99 +40 ms, significant") and, per metric, the value before, after,
 * the difference and whether it is significant. Re-read when a rollout ends (the event stream).
 */
import { useCallback, useEffect, useMemo, useState } from 'react';
import { Link, useParams, useSearch } from 'wouter';
import type { MetricChange } from '../../../src/impact/index.ts';
import type { DeploysAnswer, DeployWithImpact } from '../../../src/server/impact/index.ts';
import { getJson, p } from '../api.ts';
import { ErrorAlert, PageTitle } from '../components/PageTitle.tsx';
import { StatusBadge } from '../components/StatusBadge.tsx';
import { useLiveEvents } from '../events.ts';
import { shortSha } from '../format.ts';
import type { Release } from '../types.ts';

const LABELS: Record<MetricChange['metric'], string> = { rps: 'Rate', errorRate: 'Error rate', p50: 'p50', p95: 'p95', p99: 'p99' };

function value(metric: MetricChange['metric'], v: number | null): string {
  if (v === null) return '—';
  if (metric === 'errorRate') return `${(v * 100).toFixed(2)} %`;
  if (metric === 'rps') return `${v.toFixed(1)}/s`;
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ms`;
}

function delta(c: MetricChange): string {
  if (c.delta === null) return '—';
  const sign = c.delta > 0 ? '+' : c.delta < 0 ? '−' : '±';
  const magnitude = Math.abs(c.delta);
  if (c.metric === 'errorRate') return `${sign}${(magnitude * 100).toFixed(2)} pp`;
  if (c.metric === 'rps') return `${sign}${magnitude.toFixed(1)}/s`;
  return `${sign}${magnitude < 10 ? magnitude.toFixed(1) : Math.round(magnitude)} ms`;
}

export default function DeploysPage() {
  const { project } = useParams<{ project: string }>();
  const search = useSearch();
  const env = useMemo(() => new URLSearchParams(search).get('env') ?? 'production', [search]);
  const [answer, setAnswer] = useState<DeploysAnswer | null>(null);
  const [releases, setReleases] = useState<Release[]>([]);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(() => {
    getJson<DeploysAnswer>(p`/api/projects/${project}/deploys?env=${env}`).then(
      (a) => {
        setAnswer(a);
        setError(null);
      },
      (err: Error) => setError(err.message),
    );
    getJson<{ releases: Release[] }>(p`/api/projects/${project}/releases`).then(
      (a) => setReleases(a.releases),
      () => undefined,
    );
  }, [project, env]);
  useEffect(load, [load]);
  const connection = useLiveEvents(
    {},
    (event) => {
      if (event.type.startsWith('rollout.phase.')) load();
    },
    load,
  );
  const number = new Map(releases.map((r) => [r.id, r.number]));
  const name = (id: string) => (number.has(id) ? `#${number.get(id)}` : shortSha(id));

  return (
    <article aria-labelledby="deploys-title">
      <PageTitle id="deploys-title" live={connection}>
        Before and after each deploy
      </PageTitle>
      <p>
        <Link href={`/projects/${encodeURIComponent(project)}`}>{project}</Link> · {env} · each window{' '}
        {answer ? `${Math.round(answer.windowMs / 60_000)} min` : ''}, before the rollout began and after it finished; a change is
        significant at 1 % per deploy and only when it matters (see docs/deploy-impact.md).
      </p>
      <ErrorAlert error={error} />
      {answer && answer.deploys.length === 0 && <p className="muted">No rollouts in {env} yet.</p>}
      {answer?.deploys.map((d) => (
        <Deploy key={d.rolloutId} deploy={d} name={name} />
      ))}
    </article>
  );
}

function Deploy({ deploy: d, name }: { deploy: DeployWithImpact; name: (id: string) => string }) {
  const significant = d.impact.changes.some((c) => c.significant);
  return (
    <section className="card deploy" aria-labelledby={`deploy-${d.rolloutId}`} data-rollout={d.rolloutId}>
      <h2 id={`deploy-${d.rolloutId}`}>
        {name(d.releaseId)} <StatusBadge status={d.phase} />{' '}
        <span className={significant ? 'verdict verdict-significant' : 'verdict'} data-verdict>
          {d.impact.verdict}
        </span>
      </h2>
      <p className="muted">
        {d.strategy ?? 'rollout'} by {d.createdBy}, {new Date(d.startedAt).toLocaleString()}
        {d.previousReleaseId ? ` · replaced ${name(d.previousReleaseId)}` : ''}
      </p>
      {d.impact.changes.length > 0 && (
        <table className="deploy-impact">
          <thead>
            <tr>
              <th scope="col">Metric</th>
              <th scope="col">Before</th>
              <th scope="col">After</th>
              <th scope="col">Change</th>
              <th scope="col">Significant</th>
            </tr>
          </thead>
          <tbody>
            {d.impact.changes.map((c) => (
              <tr key={c.metric} className={c.significant ? 'significant' : undefined}>
                <th scope="row">{LABELS[c.metric]}</th>
                <td>{value(c.metric, c.before)}</td>
                <td>{value(c.metric, c.after)}</td>
                <td>{delta(c)}</td>
                <td>{c.significant ? 'yes' : c.note ? <span className="muted">{c.note}</span> : 'no'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {d.impact.before && d.impact.after && (
        <p className="muted">
          {d.impact.before.requests} requests before, {d.impact.after.requests} after
        </p>
      )}
    </section>
  );
}
