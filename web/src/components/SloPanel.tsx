/**
 * An environment's SLOs on its page: for each, the budget left (number and bar), the burn rate
 * over each rule's windows against its threshold, the alerts firing now, and the history charts
 * (burn-down, burn rate per window, alert bands and deploy markers on one time axis; a lazy
 * chunk). Re-read when the page's stream (re)connects and then at most every 10 s as the
 * stream's metrics arrive (the roll-ups' pace), never on a timer of its own.
 */
import { lazy, Suspense, useCallback, useEffect, useRef, useState } from 'react';
import { getJson, p } from '../api.ts';
import { duration } from '../format.ts';
import { windowLabel } from '../slo/budget-view.ts';
import type { SloHistory, SloStatus } from '../slo/types.ts';
import { BudgetBar } from './BudgetBar.tsx';
import { StatusBadge } from './StatusBadge.tsx';

const SloCharts = lazy(() => import('../charts/SloCharts.tsx'));

const REFRESH_MS = 10_000;

export function SloPanel({
  project,
  environment,
  opened,
  tick,
}: {
  project: string;
  environment: string;
  opened: number;
  tick: number | null;
}) {
  const [slos, setSlos] = useState<SloStatus[] | null>(null);
  const [histories, setHistories] = useState<Record<string, SloHistory>>({});
  const [error, setError] = useState<string | null>(null);
  const lastRead = useRef(0);

  const read = useCallback(() => {
    lastRead.current = Date.now();
    getJson<{ slos: SloStatus[] }>(`${p`/api/projects/${project}/slos`}?env=${encodeURIComponent(environment)}`).then(
      async ({ slos: list }) => {
        setSlos(list);
        setError(null);
        const loaded = await Promise.all(
          list
            .filter((s) => s.evaluated)
            .map((s) =>
              getJson<SloHistory>(`${p`/api/projects/${project}/slos/${s.slo.name}/history`}?env=${encodeURIComponent(environment)}`).then(
                (h) => [s.slo.name, h] as const,
                () => null,
              ),
            ),
        );
        setHistories(Object.fromEntries(loaded.filter((x) => x !== null)));
      },
      (err: Error) => setError(err.message),
    );
  }, [project, environment]);

  useEffect(() => {
    if (opened > 0) read();
  }, [opened, read]);
  useEffect(() => {
    if (tick !== null && Date.now() - lastRead.current >= REFRESH_MS) read();
  }, [tick, read]);

  if (error)
    return (
      <p role="alert" className="error">
        Could not load the SLOs: {error}
      </p>
    );
  if (slos === null) return <p aria-busy="true">Loading the SLOs…</p>;
  if (slos.length === 0)
    return (
      <p className="muted">
        No SLOs here: declare them under <code>slos:</code> in gantry.yaml (e.g. <code>availability: {'{ objective: 99.9% }'}</code>) and
        deploy.
      </p>
    );
  return (
    <div className="slo-list">
      {slos.map((s) => (
        <SloCard key={s.slo.name} status={s} history={histories[s.slo.name]} />
      ))}
    </div>
  );
}

function SloCard({ status, history }: { status: SloStatus; history: SloHistory | undefined }) {
  const { slo, budget } = status;
  const firing = Object.entries(status.alerts).filter(([, a]) => a.status === 'firing');
  const target = `${Number((slo.objective * 100).toFixed(3))} %`;
  const sli =
    slo.sli.kind === 'latency'
      ? `requests within ${slo.sli.thresholdMs} ms`
      : slo.sli.kind === 'availability'
        ? 'requests without a 5xx'
        : 'Prometheus';
  return (
    <section className="slo-card" data-slo={slo.name} aria-labelledby={`slo-${slo.name}`}>
      <h3 id={`slo-${slo.name}`}>
        {slo.name}{' '}
        <span className="muted small">
          {target} of {sli} over {windowLabel(slo.periodMs)}
        </span>{' '}
        {firing.map(([severity]) => (
          <StatusBadge key={severity} status="failed" label={`${severity} alert firing`} />
        ))}
      </h3>
      {!status.evaluated ? (
        <p className="muted">
          Evaluated by Prometheus from <code>gantry slo rules</code>, not by Gantry.
        </p>
      ) : (
        <>
          <div className="slo-summary">
            <BudgetBar remaining={budget.remaining} label={`Error budget of ${slo.name}`} />
            <dl className="facts slo-facts">
              <dt>SLI</dt>
              <dd>{budget.total > 0 ? `${(budget.sli * 100).toFixed(3)} %` : 'no requests yet'}</dd>
              <dt>Failed</dt>
              <dd>
                {Math.round(budget.bad)} of {Math.round(budget.total)} (allowed {Math.round(budget.allowedBad)})
              </dd>
              <dt>Spent in</dt>
              <dd>
                {budget.exhaustedInMs === null
                  ? 'not burning'
                  : budget.exhaustedInMs === 0
                    ? 'spent'
                    : `${duration(budget.exhaustedInMs)} at this rate`}
              </dd>
            </dl>
          </div>
          <div className="table-scroll" tabIndex={0}>
            <table className="burn-rates">
              <caption className="visually-hidden">Burn rate over each alert rule's windows</caption>
              <thead>
                <tr>
                  <th scope="col">Rule</th>
                  <th scope="col">Long window</th>
                  <th scope="col">Short window</th>
                  <th scope="col">State</th>
                </tr>
              </thead>
              <tbody>
                {status.rules.map((r) => (
                  <tr key={`${r.severity}-${r.longWindowMs}`} data-rule={r.severity}>
                    <th scope="row">
                      {r.severity} over {r.burnRate}×
                    </th>
                    <td>
                      {r.longBurnRate.toFixed(2)}× <span className="muted small">{windowLabel(r.longWindowMs)}</span>
                    </td>
                    <td>
                      {r.shortBurnRate.toFixed(2)}× <span className="muted small">{windowLabel(r.shortWindowMs)}</span>
                    </td>
                    <td>{r.holds ? <StatusBadge status="failed" label="holds" /> : <span className="muted">below</span>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {history ? (
            <>
              <Suspense fallback={<p aria-busy="true">Loading the charts…</p>}>
                <SloCharts history={history} />
              </Suspense>
              <AlertHistory history={history} />
            </>
          ) : (
            <p aria-busy="true" className="muted">
              Loading the history…
            </p>
          )}
        </>
      )}
    </section>
  );
}

/** The alert intervals the charts shade, as text: when, how long, how fast it burned. */
function AlertHistory({ history }: { history: SloHistory }) {
  if (history.alerts.length === 0) return <p className="muted small">No alert fired in this span.</p>;
  return (
    <ul className="alert-history small" aria-label={`Alerts of ${history.slo.name}`}>
      {[...history.alerts].reverse().map((a) => (
        <li key={`${a.severity}-${a.fromMs}`} data-alert={a.severity} data-firing={a.toMs === null}>
          <StatusBadge status={a.toMs === null ? 'failed' : 'paused'} label={a.severity} />{' '}
          <time dateTime={new Date(a.fromMs).toISOString()}>{new Date(a.fromMs).toLocaleString()}</time>
          {a.toMs === null ? ', firing now' : `, for ${duration(a.toMs - a.fromMs)}`}
          {a.peakBurnRate !== null && `, peak ${a.peakBurnRate.toFixed(1)}×`}
        </li>
      ))}
    </ul>
  );
}
