/**
 * A project's security findings: those of a run or a release (`?run=` / `?release=`, the latest
 * scanned run by default), each new, existing or fixed relative to the default branch, with its
 * suppression and a link to the job that found it and the file line; what the policy says of a
 * release (per environment); the trend per scanned run as a chart; the release's SBOM; the
 * suppressions, which people add and lift here. Re-read on the project's security events.
 */
import { useCallback, useEffect, useMemo, useState } from 'react';
import { Link, useParams, useSearch } from 'wouter';
import type { FindingView, ReleaseSecurity, RunSecurity } from '../../../src/server/security/index.ts';
import type { Suppression } from '../../../src/store/security-ports.ts';
import { getJson, p, send } from '../api.ts';
import { ConfirmButton } from '../components/ConfirmButton.tsx';
import { ErrorAlert, PageTitle } from '../components/PageTitle.tsx';
import { useLiveEvents } from '../events.ts';
import type { Project } from '../types.ts';
import './SecurityPage.css';

type Answer = (RunSecurity | ReleaseSecurity) & { note?: string };
type TrendRun = { runId: string; runNumber: number; levels: Record<string, number> };
const LEVELS = ['critical', 'high', 'medium', 'low', 'info'] as const;

function isRelease(a: Answer): a is ReleaseSecurity {
  return 'release' in a;
}

function Gate({ label, gate }: { label: string; gate: { decision: string; reason: string } }) {
  return (
    <li className={`gate gate-${gate.decision}`}>
      <strong>{label}</strong>: <span className="gate-word">{gate.decision}</span> — {gate.reason}
    </li>
  );
}

/** Findings per scanned run, stacked by level: the project's trend at a glance. */
function TrendChart({ runs }: { runs: TrendRun[] }) {
  if (runs.length === 0) return <p className="muted">No scanned runs yet.</p>;
  const width = 640;
  const height = 160;
  const top = Math.max(1, ...runs.map((r) => LEVELS.reduce((n, l) => n + (r.levels[l] ?? 0), 0)));
  const bar = Math.min(40, (width - 40) / runs.length);
  return (
    <figure className="security-trend">
      <svg viewBox={`0 0 ${width} ${height + 20}`} role="img" aria-label={`findings per scanned run, the last ${runs.length}`}>
        {runs.map((r, i) => {
          let y = height;
          return (
            <g key={r.runId}>
              <title>
                {`run #${r.runNumber}: ${
                  LEVELS.map((l) => (r.levels[l] ? `${r.levels[l]} ${l}` : ''))
                    .filter(Boolean)
                    .join(', ') || 'no findings'
                }`}
              </title>
              {LEVELS.map((l) => {
                const h = ((r.levels[l] ?? 0) / top) * (height - 10);
                y -= h;
                return h > 0 ? <rect key={l} className={`level-${l}`} x={30 + i * bar} y={y} width={bar * 0.8} height={h} /> : null;
              })}
              <text x={30 + i * bar + bar * 0.4} y={height + 14} textAnchor="middle" className="axis">
                #{r.runNumber}
              </text>
            </g>
          );
        })}
        <text x={0} y={12} className="axis">
          {top}
        </text>
      </svg>
      <figcaption className="legend">
        {LEVELS.map((l) => (
          <span key={l}>
            <span className={`swatch level-${l}`} /> {l}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}

function SuppressForm({ project, finding, done }: { project: string; finding: FindingView; done: () => void }) {
  const [reason, setReason] = useState('');
  const [expires, setExpires] = useState('30d');
  const [error, setError] = useState<string | null>(null);
  return (
    <form
      className="suppress-form"
      aria-label={`Suppress ${finding.ruleId}`}
      onSubmit={(e) => {
        e.preventDefault();
        send('POST', p`/api/projects/${project}/suppressions`, { fingerprint: finding.fingerprint, reason, expires }).then(
          done,
          (err: Error) => setError(err.message),
        );
      }}
    >
      <label>
        Reason <input required value={reason} onChange={(e) => setReason(e.target.value)} size={30} />
      </label>
      <label>
        Expires <input value={expires} onChange={(e) => setExpires(e.target.value)} size={10} />
      </label>
      <button type="submit">Suppress</button>
      {error && (
        <span role="alert" className="error">
          {error}
        </span>
      )}
    </form>
  );
}

export default function SecurityPage() {
  const { project } = useParams<{ project: string }>();
  const search = useSearch();
  const params = useMemo(() => new URLSearchParams(search), [search]);
  const [answer, setAnswer] = useState<Answer | null>(null);
  const [trend, setTrend] = useState<TrendRun[]>([]);
  const [suppressions, setSuppressions] = useState<(Suppression & { expired: boolean })[]>([]);
  const [projectId, setProjectId] = useState<string | undefined>(undefined);
  const [suppressing, setSuppressing] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(() => {
    const query = new URLSearchParams();
    for (const key of ['run', 'release']) {
      const value = params.get(key);
      if (value) query.set(key, value);
    }
    Promise.all([
      getJson<Answer>(`${p`/api/projects/${project}/findings`}?${query}`),
      getJson<{ runs: TrendRun[] }>(p`/api/projects/${project}/findings/trend`),
      getJson<{ suppressions: (Suppression & { expired: boolean })[] }>(p`/api/projects/${project}/suppressions`),
      getJson<{ project: Project }>(p`/api/projects/${project}`),
    ]).then(
      ([a, t, s, pr]) => {
        setAnswer(a);
        setTrend(t.runs);
        setSuppressions(s.suppressions);
        setProjectId(pr.project.id);
        setError(null);
      },
      (err: Error) => setError(err.message),
    );
  }, [project, params]);
  useEffect(load, [load]);
  const connection = useLiveEvents(
    { project: projectId },
    (event) => {
      if (/^security\.|^finding\./.test(event.type)) load();
    },
    load,
  );

  const rows = answer ? [...answer.findings, ...(answer.fixed ?? [])] : [];
  const title = answer?.run
    ? isRelease(answer)
      ? `Release #${answer.release.number} (run #${answer.run.number})`
      : `Run #${answer.run.number}`
    : 'No scanned run yet';

  return (
    <section aria-labelledby="security-title">
      <PageTitle id="security-title" live={connection}>
        Security · <Link href={p`/projects/${project}`}>{project}</Link>
      </PageTitle>
      <ErrorAlert error={error} />
      {!answer && !error && <p aria-busy="true">Loading…</p>}
      {answer && (
        <>
          <h2>{title}</h2>
          <p className="muted advisory-age">
            {answer.advisories.records === 0
              ? 'Advisory database: empty (gantry advisories import PATH).'
              : `Advisory database: ${answer.advisories.records} records, newest modified ${answer.advisories.newestModified ?? 'unknown'}, imported ${answer.advisories.importedAt ?? 'never'}.`}
          </p>
          {answer.run && (
            <>
              <p>
                {answer.baseline ? (
                  <>
                    Compared with <Link href={`/runs/${answer.baseline.runId}`}>run #{answer.baseline.number}</Link> of the default branch:{' '}
                  </>
                ) : (
                  'No default-branch scan before it: every finding is new. '
                )}
                <strong className="count-new">{answer.counts.new} new</strong>, {answer.counts.existing} existing, {answer.counts.fixed}{' '}
                fixed, {answer.counts.suppressed} suppressed.
              </p>
              <ul className="gates" aria-label="What the policy says">
                {isRelease(answer) && answer.environments.length > 0 ? (
                  answer.environments.map((e) => <Gate key={e.environment} label={e.environment} gate={e.gate} />)
                ) : (
                  <Gate label="a release of it" gate={answer.gate} />
                )}
              </ul>
              {isRelease(answer) && (
                <p className="sbom">
                  {answer.sbom.available ? (
                    <a href={p`/api/projects/${project}/releases/${answer.release.number}/sbom`} download>
                      Download the SBOM (CycloneDX)
                    </a>
                  ) : (
                    <span className="muted">No SBOM for this release.</span>
                  )}
                </p>
              )}
              <div className="table-scroll">
                <table className="findings">
                  <caption className="visually-hidden">Findings</caption>
                  <thead>
                    <tr>
                      <th scope="col">Status</th>
                      <th scope="col">Level</th>
                      <th scope="col">Rule</th>
                      <th scope="col">Where</th>
                      <th scope="col">Suppression</th>
                    </tr>
                  </thead>
                  <tbody>
                    {rows.length === 0 && (
                      <tr>
                        <td colSpan={5}>{answer.scanned ? 'No findings.' : 'Not scanned: no job of this run left a SARIF log.'}</td>
                      </tr>
                    )}
                    {rows.map((f) => (
                      <tr key={`${f.status}-${f.fingerprint}`} className={`status-${f.status}`} data-fingerprint={f.fingerprint}>
                        <td>
                          <span className={`finding-status finding-${f.status}`}>{f.status}</span>
                        </td>
                        <td>
                          <span className={`level level-${f.level}`}>{f.level}</span>
                        </td>
                        <td>
                          <span className="mono">{f.ruleId}</span> {f.message}
                        </td>
                        <td>
                          {f.status === 'fixed' ? (
                            <span className="mono">{f.path ?? '—'}</span>
                          ) : (
                            <Link href={p`/runs/${answer.run?.id ?? ''}/jobs/${f.jobKey}`} className="mono">
                              {f.path === null ? f.jobKey : `${f.path}${f.startLine === null ? '' : `:${f.startLine}`}`}
                            </Link>
                          )}
                        </td>
                        <td>
                          {f.suppression ? (
                            <span>
                              by {f.suppression.author}: {f.suppression.reason}
                              {f.suppression.expiresAt && <span className="muted"> (until {f.suppression.expiresAt.slice(0, 10)})</span>}
                            </span>
                          ) : f.status === 'fixed' ? null : suppressing === f.fingerprint ? (
                            <SuppressForm
                              project={project}
                              finding={f}
                              done={() => {
                                setSuppressing(null);
                                load();
                              }}
                            />
                          ) : (
                            <button type="button" onClick={() => setSuppressing(f.fingerprint)}>
                              Suppress…
                            </button>
                          )}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </>
          )}
          <h2>Trend</h2>
          <TrendChart runs={trend} />
          <h2>Suppressions</h2>
          {suppressions.length === 0 ? (
            <p className="muted">No suppressions.</p>
          ) : (
            <ul className="suppressions">
              {suppressions.map((s) => (
                <li key={s.id}>
                  <span className="mono">{s.fingerprint ?? `${s.ruleId}${s.path ? ` under ${s.path}` : ''}`}</span> — {s.reason} ({s.author}
                  , {s.expired ? <strong>expired {s.expiresAt?.slice(0, 10)}</strong> : `until ${s.expiresAt?.slice(0, 10) ?? 'lifted'}`}){' '}
                  <ConfirmButton
                    label="Lift"
                    question={<>Lift this suppression? Its findings count again at once.</>}
                    confirmLabel="Lift"
                    onConfirm={async () => {
                      await send('DELETE', p`/api/projects/${project}/suppressions/${s.id}`);
                      load();
                    }}
                  />
                </li>
              ))}
            </ul>
          )}
        </>
      )}
    </section>
  );
}
