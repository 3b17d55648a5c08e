/**
 * DORA's numbers of one project and environment over a window (in the URL, shareable): the five
 * metrics with their 2024 tiers beside them and the previous window, the four keys over time with
 * deploy and incident markers, and the rollouts and incidents behind every number, so a person can
 * check them. Re-read when a rollout ends or an incident changes (the event stream), never polled.
 */
import { lazy, Suspense, useCallback, useEffect, useMemo, useState } from 'react';
import { Link, useLocation, useSearch } from 'wouter';
import { frequencyText, rateText } from '../../../src/dora/dora-text.ts';
import type { DoraTier, RolloutRow } from '../../../src/dora/index.ts';
import type { DoraAnswer } from '../../../src/server/dora/index.ts';
import { getJson } from '../api.ts';
import { useLiveEvents } from '../events.ts';
import { duration } from '../format.ts';
import type { Project } from '../types.ts';
import { ErrorAlert, PageTitle } from '../components/PageTitle.tsx';
import './DoraPage.css';

const DoraCharts = lazy(() => import('../charts/DoraCharts.tsx'));
const WINDOWS = ['7d', '30d', '90d'];

const span = (ms: number | null) => (ms === null ? '—' : duration(ms));
const time = (ms: number | null) => (ms === null ? '—' : new Date(ms).toLocaleString());

function Tier({ tier }: { tier: DoraTier | null }) {
  if (tier === null) return <span className="muted">no tier</span>;
  return <span className={`tier tier-${tier}`}>{tier}</span>;
}

export default function DoraPage() {
  const search = useSearch();
  const [, navigate] = useLocation();
  const params = useMemo(() => new URLSearchParams(search), [search]);
  const [projects, setProjects] = useState<Project[] | null>(null);
  const project = params.get('project') ?? projects?.[0]?.name ?? null;
  const env = params.get('env') ?? 'production';
  const since = params.get('since') ?? '30d';
  const [answer, setAnswer] = useState<DoraAnswer | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    getJson<{ projects: Project[] }>('/api/projects').then(
      ({ projects: list }) => setProjects(list),
      (err: Error) => setError(err.message),
    );
  }, []);
  const load = useCallback(() => {
    if (project === null) return;
    const query = new URLSearchParams({ project, env, since });
    getJson<DoraAnswer>(`/api/dora?${query}`).then(
      (a) => {
        setAnswer(a);
        setError(null);
      },
      (err: Error) => setError(err.message),
    );
  }, [project, env, since]);
  useEffect(load, [load]);
  const projectId = projects?.find((p) => p.name === project)?.id;
  const connection = useLiveEvents(
    { project: projectId },
    (event) => {
      if (/^rollout\.phase\.|^incident\.|^environment\.stopped$/.test(event.type)) load();
    },
    load,
  );
  const choose = (change: Record<string, string>) => {
    const next = new URLSearchParams({ ...(project ? { project } : {}), env, since, ...change });
    navigate(`/dora?${next}`, { replace: true });
  };
  const report = answer?.reports[0];

  return (
    <section aria-labelledby="dora-title">
      <PageTitle id="dora-title" live={connection}>
        DORA metrics
      </PageTitle>
      <form className="toolbar filters" aria-label="Choose what to measure" onSubmit={(e) => e.preventDefault()}>
        <label>
          Project{' '}
          <select value={project ?? ''} onChange={(e) => choose({ project: e.target.value })}>
            {(projects ?? []).map((p) => (
              <option key={p.id} value={p.name}>
                {p.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Environment{' '}
          <input defaultValue={env} size={12} onBlur={(e) => e.target.value && e.target.value !== env && choose({ env: e.target.value })} />
        </label>
        <label>
          Window{' '}
          <select value={since} onChange={(e) => choose({ since: e.target.value })}>
            {[...new Set([...WINDOWS, since])].map((w) => (
              <option key={w} value={w}>
                last {w}
              </option>
            ))}
          </select>
        </label>
      </form>
      <ErrorAlert error={error} />
      {projects?.length === 0 && <p>No projects yet.</p>}
      {!report && !error && projects?.length !== 0 && <p aria-busy="true">Loading…</p>}
      {report && answer && (
        <>
          <p className="muted">
            {report.projectName} in {report.environment}, {time(report.window.from)} to {time(report.window.to)}. Definitions and edge
            cases: docs/dora.md; tiers are the 2024 State of DevOps report's clusters, beside each number.
          </p>
          <div className="table-scroll">
            <table className="dora-summary">
              <caption className="visually-hidden">DORA metrics with their tiers</caption>
              <thead>
                <tr>
                  <th scope="col">Metric</th>
                  <th scope="col">Value</th>
                  <th scope="col">Tier (2024)</th>
                  <th scope="col">Previous window</th>
                </tr>
              </thead>
              <tbody>
                <SummaryRow
                  name="Deployment frequency"
                  value={`${frequencyText(report.numbers)} (${report.numbers.deployments})`}
                  tier={report.tiers.deploymentFrequency}
                  previous={`${frequencyText(report.previous)} (${report.previous.deployments})`}
                  definition={answer.definitions[0]?.definition}
                />
                <SummaryRow
                  name="Lead time for changes"
                  value={`median ${span(report.numbers.leadTime.medianMs)}, p90 ${span(report.numbers.leadTime.p90Ms)} (${report.numbers.leadTime.commits} commits)`}
                  tier={report.tiers.leadTime}
                  previous={`median ${span(report.previous.leadTime.medianMs)}`}
                  definition={answer.definitions[1]?.definition}
                />
                <SummaryRow
                  name="Change failure rate"
                  value={`${rateText(report.numbers.changeFailure.rate)} (${report.numbers.changeFailure.failed} of ${report.numbers.deployments})`}
                  tier={report.tiers.changeFailureRate}
                  previous={rateText(report.previous.changeFailure.rate)}
                  definition={answer.definitions[2]?.definition}
                />
                <SummaryRow
                  name="Failed deployment recovery time"
                  value={`median ${span(report.numbers.recovery.medianMs)} (${report.numbers.recovery.recovered} recovered${
                    report.numbers.recovery.notRecovered > 0 ? `, ${report.numbers.recovery.notRecovered} not` : ''
                  })`}
                  tier={report.tiers.recoveryTime}
                  previous={`median ${span(report.previous.recovery.medianMs)}`}
                  definition={answer.definitions[3]?.definition}
                />
                <SummaryRow
                  name="Deployment rework rate"
                  value={`${rateText(report.numbers.rework.rate)} (${report.numbers.rework.deployments} of ${report.numbers.deployments})`}
                  tier={null}
                  previous={rateText(report.previous.rework.rate)}
                  definition={answer.definitions[4]?.definition}
                />
              </tbody>
            </table>
          </div>
          <h2>Over time, per {report.bucket}</h2>
          <Suspense fallback={<p aria-busy="true">Loading the charts…</p>}>
            <DoraCharts report={report} />
          </Suspense>
          <h2>The rollouts behind the numbers</h2>
          <RolloutTable rows={report.rollouts} project={report.projectName} env={report.environment} />
          <h2>Incidents</h2>
          {report.incidents.length === 0 ? (
            <p className="muted">No incidents in this window.</p>
          ) : (
            <ul className="dora-incidents">
              {report.incidents.map((i) => (
                <li key={i.number}>
                  #{i.number} opened {time(i.openedAt)}
                  {i.restoredAt !== null ? `, restored ${time(i.restoredAt)}` : ', not restored'}
                  {i.experiment ? ' — a chaos experiment, not a failed change' : i.rolloutId ? ` — failed deployment ${i.rolloutId}` : ''}
                </li>
              ))}
            </ul>
          )}
        </>
      )}
    </section>
  );
}

function SummaryRow(p: { name: string; value: string; tier: DoraTier | null; previous: string; definition: string | undefined }) {
  return (
    <tr>
      <th scope="row" title={p.definition}>
        {p.name}
      </th>
      <td className="number">{p.value}</td>
      <td>
        <Tier tier={p.tier} />
      </td>
      <td className="muted">{p.previous}</td>
    </tr>
  );
}

function RolloutTable({ rows, project, env }: { rows: RolloutRow[]; project: string; env: string }) {
  if (rows.length === 0) return <p className="muted">No rollouts in this window.</p>;
  return (
    <div className="table-scroll">
      <table className="dora-rollouts">
        <thead>
          <tr>
            <th scope="col">Finished</th>
            <th scope="col">Rollout</th>
            <th scope="col">Release</th>
            <th scope="col">Outcome</th>
            <th scope="col">Counted</th>
            <th scope="col">Commits (lead time)</th>
            <th scope="col">Failure and recovery</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.rolloutId} className={r.counted ? 'counted' : 'not-counted'} data-rollout={r.rolloutId}>
              <td>{time(r.finishedAt)}</td>
              <td className="mono">{r.rolloutId.slice(0, 12)}</td>
              <td>
                <Link href={`/projects/${encodeURIComponent(project)}/environments/${encodeURIComponent(env)}`}>
                  #{r.releaseNumber ?? '?'}
                </Link>
              </td>
              <td>{r.outcome ?? 'under way'}</td>
              <td>{r.counted ? (r.rework ? 'deployment (rework)' : 'deployment') : (r.note ?? 'no')}</td>
              <td>
                {r.commits.length === 0
                  ? r.commitsUnknown
                    ? 'unknown'
                    : '—'
                  : r.commits.map((c) => `${c.sha.slice(0, 7)} ${duration(c.leadTimeMs)}${c.skewed ? ' (clock skew)' : ''}`).join(', ')}
                {r.commitsTruncated ? ' (more not listed)' : ''}
              </td>
              <td>
                {r.failure
                  ? `${r.failure.causes.join(', ')}; ${
                      r.failure.recoveredAt === null
                        ? (r.failure.recoveredBy ?? 'not recovered')
                        : `restored in ${duration(r.failure.recoveredAt - r.failure.startedAt)} (${r.failure.recoveredBy})`
                    }`
                  : '—'}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
