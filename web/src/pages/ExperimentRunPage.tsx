/**
 * One experiment run: the verdict and why, the hypothesis chart (each look's values, the bound,
 * the fault's window shaded, the look that broke it), the blast radius (requests affected and
 * unaffected, the instances each instance fault took) and the numbers before, during and after.
 * While it runs, an Abort button (confirmed; recorded with who aborted it). Live on `experiment.*`.
 */
import { useCallback, useEffect, useState } from 'react';
import { Link, useParams } from 'wouter';
import { getJson, p, send } from '../api.ts';
import { hypothesisChartShape, type Look } from '../chaos/hypothesis-chart.ts';
import { ErrorAlert, PageTitle } from '../components/PageTitle.tsx';
import { formatBytes } from '../components/Artifacts.tsx';
import { ConfirmButton } from '../components/ConfirmButton.tsx';
import { useLiveEvents } from '../events.ts';

interface Check {
  name: string;
  outcome: string;
  value: number | null;
  threshold: number | null;
}
interface Numbers {
  outcome: string;
  requests: number;
  errors: number;
  checks: Check[];
}
interface RunView {
  experimentId: string;
  name: string;
  environment: string;
  release: string | null;
  verdict: string | null;
  reason: string | null;
  running?: boolean;
  phase?: string;
  startedAt: number;
  injectedAt: number | null;
  revertedAt: number | null;
  finishedAt: number | null;
  deadlineAt?: number | null;
  affected: number;
  unaffected: number;
  faults: { kind: string; percent: number }[];
  /** `inside`: a pressure fault's workers ran in the instance's sandbox (or beside it); `filledBytes`: what a disk-full took. */
  instanceFaults?: { kind: string; instanceId: string; release: string; inside?: boolean; filledBytes?: number }[];
  before: Numbers | null;
  during: Numbers | null;
  after: Numbers | null;
  looks: Look[];
}

const BOX = { width: 640, height: 180, pad: 24 };

function HypothesisChart({ run, check }: { run: RunView; check: string }) {
  const now = Date.now();
  const end = run.finishedAt ?? Math.max(now, run.deadlineAt ?? now);
  const from = run.injectedAt;
  const to = run.revertedAt ?? (run.running ? Math.min(now, run.deadlineAt ?? now) : (run.finishedAt ?? now));
  const bound = run.during?.checks.find((c) => c.name === check)?.threshold ?? null;
  const shape = hypothesisChartShape(run.looks, check, {
    range: { min: run.startedAt, max: end },
    window: from === null ? null : { from, to },
    bound,
    box: BOX,
  });
  return (
    <figure className="chart-figure">
      <figcaption>{check}, each look while the faults were in</figcaption>
      <svg
        className="hypothesis-chart"
        viewBox={`0 0 ${BOX.width} ${BOX.height}`}
        role="img"
        aria-label={`${check} over the run: ${run.looks.length} looks, the fault's window shaded${bound === null ? '' : `, bound ${bound}`}${shape.broken ? ', broken at the marked look' : ''}`}
      >
        {shape.band && (
          <rect
            className="fault-window"
            x={shape.band.x}
            y={BOX.pad}
            width={shape.band.width}
            height={BOX.height - 2 * BOX.pad}
            fill="rgba(220, 80, 60, 0.15)"
          />
        )}
        {shape.band && (
          <text x={shape.band.x + 4} y={BOX.height - 6} fontSize={11} fill="currentColor">
            faults in
          </text>
        )}
        <text x={2} y={BOX.pad + 4} fontSize={11} fill="currentColor">
          {Number(shape.max.toPrecision(2))}
        </text>
        <text x={2} y={BOX.height - BOX.pad} fontSize={11} fill="currentColor">
          0
        </text>
        {shape.boundY !== null && (
          <>
            <line
              className="bound"
              x1={BOX.pad}
              x2={BOX.width - BOX.pad}
              y1={shape.boundY}
              y2={shape.boundY}
              stroke="currentColor"
              strokeDasharray="4 4"
            />
            <text x={BOX.width - BOX.pad} y={shape.boundY - 4} fontSize={11} textAnchor="end" fill="currentColor">
              bound {bound}
            </text>
          </>
        )}
        <polyline className="looks" points={shape.points} fill="none" stroke="currentColor" strokeWidth={2} />
        {shape.broken && <circle className="broken" cx={shape.broken.x} cy={shape.broken.y} r={5} fill="rgb(220, 60, 40)" />}
      </svg>
    </figure>
  );
}

function NumbersRow({ label, n }: { label: string; n: Numbers | null }) {
  return (
    <tr>
      <th scope="row">{label}</th>
      <td>{n === null ? '—' : n.outcome}</td>
      <td>{n?.requests ?? '—'}</td>
      <td>{n?.errors ?? '—'}</td>
      <td>
        {n === null ? '—' : n.checks.map((c) => `${c.name}: ${c.value === null ? 'n/a' : Number(c.value.toPrecision(3))}`).join('; ')}
      </td>
    </tr>
  );
}

export default function ExperimentRunPage() {
  const { project, run: id } = useParams<{ project: string; run: string }>();
  const [run, setRun] = useState<RunView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(() => {
    getJson<{ run: RunView }>(p`/api/projects/${project}/experiment-runs/${id}`).then(
      (a) => {
        setRun(a.run);
        setError(null);
      },
      (err: Error) => setError(err.message),
    );
  }, [project, id]);
  useEffect(load, [load]);
  // Looks are not events: while it runs, read it again every second as the runner looks.
  useEffect(() => {
    if (!run?.running) return;
    const timer = setInterval(load, 1000);
    return () => clearInterval(timer);
  }, [run?.running, load]);
  const connection = useLiveEvents(
    {},
    (event) => {
      if (event.type.startsWith('experiment.')) load();
    },
    load,
  );
  const checks = [...new Set((run?.looks ?? []).flatMap((l) => Object.keys(l.values)))];

  return (
    <article aria-labelledby="run-title">
      <PageTitle id="run-title" live={connection}>
        Experiment {run?.name ?? id}
      </PageTitle>
      <p>
        <Link href={`/projects/${encodeURIComponent(project)}/experiments`}>{project} experiments</Link>
        {run && ` · ${run.environment} · release ${run.release ?? '—'}`}
      </p>
      <ErrorAlert error={error} />
      {run && (
        <>
          <p className={`verdict ${run.verdict ?? 'running'}`} aria-live="polite">
            <strong>{run.running ? `Running (${run.phase ?? ''})` : `Verdict: ${run.verdict ?? '—'}`}</strong>
            {run.reason && ` — ${run.reason}`}
          </p>
          {run.running && (
            <ConfirmButton
              label="Abort"
              question={<>Abort experiment {run.name}? Its faults come out at once; the record says you aborted it.</>}
              confirmLabel="Abort experiment"
              danger
              onConfirm={async () => {
                await send('POST', p`/api/projects/${project}/experiment-runs/${id}/abort`, {});
                load();
              }}
            />
          )}
          <section aria-labelledby="hypothesis-title">
            <h2 id="hypothesis-title">Hypothesis</h2>
            {checks.length === 0 && <p>No look yet.</p>}
            {checks.map((c) => (
              <HypothesisChart key={c} run={run} check={c} />
            ))}
          </section>
          <section aria-labelledby="blast-title">
            <h2 id="blast-title">Blast radius</h2>
            <p className="blast-radius">
              {run.affected} requests affected, {run.unaffected} unaffected
              {run.faults.length > 0 && ` · ${run.faults.map((f) => `${f.kind} ${f.percent}%`).join(', ')}`}
            </p>
            {(run.instanceFaults ?? []).length > 0 && (
              <ul className="instance-faults">
                {(run.instanceFaults ?? []).map((f) => (
                  <li key={`${f.kind}-${f.instanceId}`}>
                    {f.kind} on instance {f.instanceId} (release {f.release})
                    {f.inside !== undefined && (
                      <span className={`where ${f.inside ? 'inside' : 'beside'}`}>
                        {f.inside ? ' · inside the sandbox' : ' · beside the sandbox'}
                      </span>
                    )}
                    {f.filledBytes !== undefined && <span className="filled"> · filled {formatBytes(f.filledBytes)} of /tmp</span>}
                  </li>
                ))}
              </ul>
            )}
          </section>
          <table className="experiment-numbers">
            <caption>The steady state before, during and after</caption>
            <thead>
              <tr>
                <th scope="col" />
                <th scope="col">Outcome</th>
                <th scope="col">Requests</th>
                <th scope="col">Errors</th>
                <th scope="col">Checks</th>
              </tr>
            </thead>
            <tbody>
              <NumbersRow label="Before" n={run.before} />
              <NumbersRow label="During" n={run.during} />
              <NumbersRow label="After" n={run.after} />
            </tbody>
          </table>
        </>
      )}
    </article>
  );
}
