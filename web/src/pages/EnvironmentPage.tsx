/**
 * One environment of one project, the deployment page: which release runs and which is on its
 * way in, the rollout's phase and steps, where traffic goes, what the analysis said and why each
 * decision was taken, the instances, and the actions a person may take now (promote, pause,
 * resume, abort, roll back). Live through the environment's stream — the rollout whenever it
 * changes and the proxy's request metrics every second; charts load as their own chunk.
 */
import { lazy, Suspense, useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { Link, useLocation, useParams } from 'wouter';
import { getJson, p, send } from '../api.ts';
import type { AnalysisChartsProps, DecisionMark, ReleaseLine, SeriesPoint } from '../charts/AnalysisCharts.tsx';
import { type DeployWithImpact, markersFromDeploys } from '../charts/deploy-markers.ts';
import type { HeatmapCell } from '../charts/heatmap-cell.ts';
import type { Heatmap, LatencyHeatmapProps } from '../charts/LatencyHeatmap.tsx';
import { PageTitle } from '../components/PageTitle.tsx';
import { RouteLatencyTable } from '../components/RouteLatencyTable.tsx';
import { ConfirmButton } from '../components/ConfirmButton.tsx';
import { RolloutSteps, type CanaryStep } from '../components/RolloutSteps.tsx';
import { SloPanel } from '../components/SloPanel.tsx';
import { StatusBadge } from '../components/StatusBadge.tsx';
import { TrafficSplit } from '../components/TrafficSplit.tsx';
import { ago, branchOf, duration, percent, shortSha } from '../format.ts';
import { useEventStream } from '../live.ts';
import type { Project, Release, RolloutRecord } from '../types.ts';
import './EnvironmentPage.css';
import { isFinalRollout } from '../../../src/core/rollout-phase.ts';

const AnalysisCharts = lazy(() => import('../charts/AnalysisCharts.tsx'));
const LatencyHeatmap = lazy(() => import('../charts/LatencyHeatmap.tsx'));

// ---------------------------------------------------------------- what the API answers

interface EnvironmentRecord {
  projectId: string;
  name: string;
  currentReleaseId: string | null;
  previousReleaseId: string | null;
  port: number | null;
  updatedAt: string;
}

interface Instance {
  id: string;
  pool: string;
  releaseId: string;
  pid: number | null;
  port: number;
  state: string;
  restarts: number;
  startedAt: string | null;
  cpuPercent: number | null;
  rssBytes: number | null;
  sandboxed?: boolean;
}

interface LiveStatus {
  port: number | null;
  weights: { stable: number; canary: number };
  instances: Instance[];
}

/** GET …/rollout, and the stream's `rollout` event. */
interface RolloutView {
  environment: EnvironmentRecord | null;
  rollout: RolloutRecord | null;
  live: LiveStatus;
}

type Strategy =
  | { kind: 'recreate' }
  | { kind: 'rolling'; maxSurge: number; maxUnavailable: number }
  | { kind: 'blue-green'; keepOldMs: number; analysisMs: number; analysis?: unknown }
  | { kind: 'canary'; steps: CanaryStep[]; analysis?: unknown; match?: unknown[] };

interface AnalysisCheck {
  name: string;
  outcome: string;
  value: number | null;
  baseline: number | null;
  threshold: number | null;
  pValue: number | null;
  reason: string;
}
interface HistoryEntry {
  at: number;
  event: string;
  phase: string;
  data: Record<string, unknown>;
}

/** The rollout state machine's state (src/delivery/rollout-machine.ts), the fields shown here. */
interface RolloutState {
  phase: string;
  strategy: Strategy;
  stepIndex: number;
  weights: { stable: number; canary: number };
  stepStartedAt: number | null;
  pausedReason: string | null;
  pausedKind: 'manual' | 'inconclusive' | null;
  lastAnalysis: { outcome: string; checks: AnalysisCheck[] } | null;
  lastAnalysisAt: number | null;
  reason: string | null;
  history: HistoryEntry[];
  startedAt: number | null;
  waitingFor: { event: string; pool: string } | null;
  rolling: { oldRemaining: number; newReady: number; newStarting: number } | null;
  instances: number;
}

interface PoolWindow {
  releaseId: string;
  requests: number;
  errors: number;
  p50: number;
  p90: number;
  p99: number;
}

/** The stream's `metrics` event (src/server/environment-view-routes.ts). */
interface MetricsEvent {
  at: number;
  seconds: number;
  pools: Record<string, PoolWindow>;
  points: { seconds: number; total: SeriesPoint; releases: Record<string, SeriesPoint> };
  live: LiveStatus;
}

interface SeriesAnswer {
  stepSeconds: number;
  total: SeriesPoint[];
  totalHeatmap: Heatmap;
  releases: Record<string, { points: SeriesPoint[]; heatmap: Heatmap }>;
  sinceMs: number;
  untilMs: number;
  /** End of the newest stored roll-up; live points take over from there. */
  dataUntilMs: number | null;
}

interface LivePoint {
  t: number;
  releases: Record<string, SeriesPoint>;
}

type Action = 'promote' | 'pause' | 'resume' | 'abort' | 'approve';

/** Live points kept in memory: half an hour at one a second. */
const MAX_LIVE_POINTS = 1800;
const DEFAULT_SPAN_S = 15 * 60;
const MIN_SPAN_S = 3 * 60;
const MAX_SPAN_S = 86_400;
/**
 * The proxy stores its roll-ups every 10 s (src/proxy/request-metrics.ts ROLLUP_MS): the stored
 * series (and the heatmaps, drawn from it alone) are fetched again that often, or a page opened
 * before a span's first roll-up said "no requests" until reloaded.
 */
const SERIES_REFRESH_MS = 10_000;

// ---------------------------------------------------------------- the page

export default function EnvironmentPage() {
  const { project: projectParam, env } = useParams<{ project: string; env: string }>();
  const [project, setProject] = useState<Project | null>(null);
  const [view, setView] = useState<RolloutView | null>(null);
  const [metrics, setMetrics] = useState<MetricsEvent | null>(null);
  const [releases, setReleases] = useState<Release[]>([]);
  const [series, setSeries] = useState<SeriesAnswer | null>(null);
  const [deploys, setDeploys] = useState<DeployWithImpact[]>([]);
  const [, navigate] = useLocation();
  const [livePoints, setLivePoints] = useState<LivePoint[]>([]);
  const [error, setError] = useState<string | null>(null);
  /** A refetch that failed: the page stays, with what it had. */
  const [notice, setNotice] = useState<string | null>(null);
  const [opened, setOpened] = useState(0);

  const base = p`/api/projects/${projectParam}/environments/${env}`;
  /** Answers to an older series request must not overwrite a newer one. */
  const seriesRequest = useRef(0);
  useEffect(
    () => () => {
      // Another environment: nothing of this one may show there.
      setView(null);
      setMetrics(null);
      setSeries(null);
      setLivePoints([]);
    },
    [],
  );
  const connection = useEventStream(
    `${base}/stream`,
    {
      rollout: (data: RolloutView) => setView(data),
      metrics: (data: MetricsEvent) => {
        setMetrics(data);
        setLivePoints((points) => [
          ...points.slice(-(MAX_LIVE_POINTS - 1)),
          { t: data.at - data.points.seconds * 1000, releases: data.points.releases },
        ]);
      },
    },
    () => setOpened((n) => n + 1),
  );

  useEffect(() => {
    setError(null);
    getJson<{ project: Project }>(p`/api/projects/${projectParam}`).then(
      ({ project: loaded }) => setProject(loaded),
      (err: Error) => setError(err.message),
    );
  }, [projectParam]);

  const rollout = view?.rollout ?? null;
  const state = rollout?.state as unknown as RolloutState | undefined;
  const environment = view?.environment ?? null;
  // What the releases and series depend on: refetch when it changes, and on every (re)connect.
  const _releaseKey = [
    rollout?.id,
    rollout?.releaseId,
    rollout?.previousReleaseId,
    rollout && isFinalRollout(rollout.phase),
    environment?.currentReleaseId,
    environment?.previousReleaseId,
  ].join('|');
  const spanStart = rollout ? (state?.startedAt ?? Date.parse(rollout.createdAt)) : null;

  const fetchSeries = useCallback(() => {
    // The rollout's span (and a minute before it, the baseline), or the last 15 minutes when there
    // is no rollout or it is older than the series reach back.
    const sinceRollout = spanStart === null ? null : Math.ceil((Date.now() - spanStart) / 1000) + 60;
    const seconds = sinceRollout === null || sinceRollout > MAX_SPAN_S ? DEFAULT_SPAN_S : Math.max(MIN_SPAN_S, sinceRollout);
    const step = seconds <= 3 * 3600 ? 10 : 60;
    const request = ++seriesRequest.current;
    getJson<SeriesAnswer>(`${base}/series?seconds=${seconds}&step=${step}`).then(
      (answer) => {
        if (request === seriesRequest.current) setSeries(answer);
      },
      (err: Error) => setNotice(`Could not load the request metrics: ${err.message}`),
    );
  }, [base, spanStart]);
  const catchUp = useCallback(() => {
    setNotice(null);
    const failed = (what: string) => (err: Error) => setNotice(`Could not load the ${what}: ${err.message}`);
    getJson<{ releases: Release[] }>(p`/api/projects/${projectParam}/releases`).then(
      ({ releases: list }) => setReleases(list),
      failed('releases'),
    );
    getJson<{ deploys: DeployWithImpact[] }>(p`/api/projects/${projectParam}/deploys?env=${env}&limit=50`).then(
      (answer) => setDeploys(answer.deploys),
      failed('deploys'),
    );
    fetchSeries();
    // releaseKey is what makes a refetch necessary; spanStart (in fetchSeries) follows from it.
  }, [projectParam, env, fetchSeries]);
  useEffect(() => {
    if (opened > 0) catchUp();
  }, [opened, catchUp]);
  useEffect(() => {
    if (opened === 0) return;
    const timer = setInterval(fetchSeries, SERIES_REFRESH_MS);
    return () => clearInterval(timer);
  }, [opened, fetchSeries]);

  const releaseById = useMemo(() => new Map(releases.map((r) => [r.id, r])), [releases]);
  const name = (id: string | null | undefined) => (id ? (releaseById.get(id) ? `#${releaseById.get(id)?.number}` : shortSha(id)) : '–');

  const live = metrics?.live ?? view?.live ?? null;
  const weights = live?.weights ?? { stable: 100, canary: 0 };
  const active = rollout !== null && !isFinalRollout(rollout.phase);
  const canaryId = rollout?.releaseId ?? null;
  const stableId = rollout ? rollout.previousReleaseId : (environment?.currentReleaseId ?? null);

  const chartProps = useMemo((): AnalysisChartsProps | null => {
    if (!series) return null;
    const lines: ReleaseLine[] = [];
    if (stableId) lines.push({ role: 'stable', label: name(stableId), points: linePoints(series, livePoints, stableId) });
    if (canaryId && canaryId !== stableId)
      lines.push({ role: 'canary', label: name(canaryId), points: linePoints(series, livePoints, canaryId) });
    const lastLive = livePoints.at(-1)?.t ?? 0;
    return {
      lines,
      marks: decisionMarks(state?.history ?? []),
      deploys: markersFromDeploys(deploys, name),
      range: { min: series.sinceMs, max: Math.max(series.untilMs, lastLive + 10_000) },
    };
    // name() reads releaseById
  }, [series, livePoints, stableId, canaryId, state?.history, name, deploys]);
  const openCell = useCallback(
    (cell: HeatmapCell) =>
      navigate(
        `/projects/${encodeURIComponent(projectParam)}/environments/${encodeURIComponent(env)}/traces?from=${cell.fromMs}&to=${cell.toMs}&le=${cell.le}`,
      ),
    [navigate, projectParam, env],
  );

  const heatmaps = useMemo((): LatencyHeatmapProps['maps'] => {
    if (!series) return [];
    const maps: LatencyHeatmapProps['maps'] = [];
    if (stableId && series.releases[stableId])
      maps.push({ role: 'stable', label: name(stableId), heatmap: series.releases[stableId].heatmap });
    if (canaryId && canaryId !== stableId && series.releases[canaryId])
      maps.push({ role: 'canary', label: name(canaryId), heatmap: series.releases[canaryId].heatmap });
    return maps.length > 0 ? maps : [{ role: 'total', label: 'all', heatmap: series.totalHeatmap }];
  }, [series, stableId, canaryId, name]);

  if (error)
    return (
      <p role="alert" className="error">
        {error}
      </p>
    );
  const projectName = project?.name ?? projectParam;
  const port = environment?.port ?? live?.port ?? null;
  const act = async (action: Action) => {
    const result = await send<{ rollout: RolloutRecord }>('POST', `${base}/rollout/${action}`);
    setView((v) => (v ? { ...v, rollout: result.rollout } : v));
  };

  return (
    <article className="env-page" aria-labelledby="env-title">
      <PageTitle id="env-title" live={connection}>
        {env}
      </PageTitle>
      <p className="env-meta">
        <span>
          Project <Link href={`/projects/${encodeURIComponent(projectParam)}`}>{projectName}</Link>
        </span>
        <span>
          <Link href={`/projects/${encodeURIComponent(projectParam)}/environments/${encodeURIComponent(env)}/logs`}>Service logs</Link>
        </span>
        <span>
          {port ? (
            <>
              Exposed on <a href={`http://${location.hostname || '127.0.0.1'}:${port}/`}>port {port}</a>
            </>
          ) : (
            <span className="muted">not exposed on a port</span>
          )}
        </span>
      </p>
      {notice && (
        <p role="alert" className="error">
          {notice}
        </p>
      )}
      {!view && <p aria-busy="true">Loading…</p>}

      {view && (
        <div className="env-layout">
          <section className="card env-rollout" aria-labelledby="rollout-title">
            <h2 id="rollout-title">Rollout</h2>
            {rollout && state ? (
              <RolloutSummary rollout={rollout} state={state} name={name} />
            ) : (
              <p className="muted">No rollout yet: deploy a release from the project page.</p>
            )}
            <h3>Traffic</h3>
            <TrafficSplit
              stable={weights.stable}
              canary={weights.canary}
              stableLabel={name(active ? stableId : environment?.currentReleaseId)}
              canaryLabel={canaryId && active ? name(canaryId) : undefined}
            />
            <LastMinute metrics={metrics} name={name} />
            <Actions
              rollout={rollout}
              state={state}
              environment={environment}
              name={name}
              act={act}
              stop={async () => {
                await send('POST', `${base}/stop`);
              }}
              rollback={async () => {
                const result = await send<{ rollout: RolloutRecord }>('POST', `${base}/rollback`);
                setView((v) => (v ? { ...v, rollout: result.rollout } : v));
              }}
            />
          </section>

          <section className="card env-releases" aria-labelledby="releases-title">
            <h2 id="releases-title">Releases</h2>
            <ReleaseFacts
              label="Current"
              release={environment?.currentReleaseId ? releaseById.get(environment.currentReleaseId) : undefined}
              id={environment?.currentReleaseId ?? null}
            />
            <ReleaseFacts
              label="Previous"
              release={environment?.previousReleaseId ? releaseById.get(environment.previousReleaseId) : undefined}
              id={environment?.previousReleaseId ?? null}
            />
            {active && rollout && <ReleaseFacts label="Rolling out" release={releaseById.get(rollout.releaseId)} id={rollout.releaseId} />}
            {state?.lastAnalysis && <Analysis analysis={state.lastAnalysis} at={state.lastAnalysisAt} />}
          </section>

          <section className="card span-all" aria-labelledby="slos-title">
            <h2 id="slos-title">SLOs</h2>
            <SloPanel project={projectParam} environment={env} opened={opened} tick={metrics?.at ?? null} />
          </section>

          <section className="card span-all" aria-labelledby="charts-title">
            <h2 id="charts-title">Canary analysis</h2>
            {chartProps ? (
              <Suspense fallback={<p aria-busy="true">Loading the charts…</p>}>
                <AnalysisCharts {...chartProps} />
                <h3>Latency distribution</h3>
                <LatencyHeatmap maps={heatmaps} onCell={openCell} />
              </Suspense>
            ) : (
              <p aria-busy="true">Loading the metrics…</p>
            )}
          </section>

          <section className="card span-all" aria-labelledby="routes-title">
            <h2 id="routes-title">Latency by route</h2>
            <RouteLatencyTable project={projectParam} environment={env} opened={opened} name={name} />
            <p>
              <Link href={`/projects/${encodeURIComponent(projectParam)}/deploys?env=${encodeURIComponent(env)}`}>
                Before and after each deploy
              </Link>
              {' · '}
              <Link href={`/projects/${encodeURIComponent(projectParam)}/environments/${encodeURIComponent(env)}/traces`}>Traces</Link>
            </p>
          </section>

          <section className="card span-all" aria-labelledby="instances-title">
            <h2 id="instances-title">Instances</h2>
            <Instances
              instances={live?.instances ?? []}
              name={name}
              poolOf={(i) =>
                active && i.releaseId === canaryId ? 'canary' : i.releaseId === environment?.currentReleaseId ? 'stable' : 'old'
              }
            />
          </section>

          {state && state.history.length > 0 && (
            <section className="card span-all" aria-labelledby="history-title">
              <h2 id="history-title">Decisions</h2>
              <ol className="rollout-history" tabIndex={0} aria-label="Decisions of this rollout">
                {state.history.map((entry, i) => (
                  <li key={i} data-event={entry.event}>
                    <time dateTime={new Date(entry.at).toISOString()}>{clock(entry.at)}</time>
                    <span className="history-event">{entry.event.replace(/^rollout\./, '')}</span>
                    <StatusBadge status={entry.phase} />
                    <span className="history-detail">{describeEntry(entry)}</span>
                  </li>
                ))}
              </ol>
            </section>
          )}
        </div>
      )}
    </article>
  );
}

// ---------------------------------------------------------------- sections

function RolloutSummary({ rollout, state, name }: { rollout: RolloutRecord; state: RolloutState; name: (id: string | null) => string }) {
  const strategy = state.strategy;
  const step = strategy.kind === 'canary' ? strategy.steps[state.stepIndex] : undefined;
  const stepEnds =
    state.phase === 'progressing' && step?.pauseMs != null && state.stepStartedAt !== null ? state.stepStartedAt + step.pauseMs : null;
  return (
    <>
      <dl className="facts">
        <dt>Phase</dt>
        <dd>
          <StatusBadge status={rollout.phase} />
        </dd>
        <dt>Release</dt>
        <dd>
          {name(rollout.releaseId)}
          {rollout.previousReleaseId && <span className="muted"> replacing {name(rollout.previousReleaseId)}</span>}
        </dd>
        <dt>Strategy</dt>
        <dd>{strategyText(strategy)}</dd>
        <dt>Started</dt>
        <dd>
          {ago(rollout.createdAt)} by {rollout.createdBy}
          {rollout.finishedAt && <>, ended {ago(rollout.finishedAt)}</>}
        </dd>
        {state.rolling && (
          <>
            <dt>Progress</dt>
            <dd>
              {state.rolling.newReady} of {state.instances} new ready, {state.rolling.oldRemaining} old left
            </dd>
          </>
        )}
      </dl>
      {strategy.kind === 'canary' && (
        <RolloutSteps steps={strategy.steps} stepIndex={state.stepIndex} phase={rollout.phase} started={state.stepStartedAt !== null} />
      )}
      <Waiting rollout={rollout} state={state} stepEnds={stepEnds} />
    </>
  );
}

function Waiting({ rollout, state, stepEnds }: { rollout: RolloutRecord; state: RolloutState; stepEnds: number | null }) {
  const lines: string[] = [];
  if (rollout.phase === 'pending-approval') lines.push('Waiting for approval.');
  if (state.pausedReason) lines.push(`Paused: ${state.pausedReason}.`);
  if (state.waitingFor)
    lines.push(
      state.waitingFor.event === 'drained'
        ? `Waiting for the ${state.waitingFor.pool} instances to drain.`
        : `Waiting for the ${state.waitingFor.pool} instances to be ready.`,
    );
  if (stepEnds !== null) lines.push(`This step ends at ${clock(stepEnds)} if the analysis allows.`);
  if (state.reason) lines.push(`${isFinalRollout(rollout.phase) ? 'Ended' : 'Rolling back'}: ${state.reason}`);
  if (lines.length === 0) return null;
  return (
    <div className={`rollout-reason${state.reason && rollout.phase !== 'succeeded' ? ' bad' : ''}`} role="status">
      {lines.map((l) => (
        <p key={l}>{l}</p>
      ))}
    </div>
  );
}

function Analysis({ analysis, at }: { analysis: { outcome: string; checks: AnalysisCheck[] }; at: number | null }) {
  const badge = analysis.outcome === 'pass' ? 'success' : analysis.outcome === 'fail' ? 'failure' : 'paused';
  return (
    <div className="analysis">
      <h3>
        Last analysis <StatusBadge status={badge} label={analysis.outcome} /> {at && <span className="muted small">at {clock(at)}</span>}
      </h3>
      {analysis.checks.length === 0 ? (
        <p className="muted">No checks configured.</p>
      ) : (
        <div className="table-scroll" tabIndex={0}>
          <table className="checks">
            <thead>
              <tr>
                <th scope="col">Check</th>
                <th scope="col">Result</th>
                <th scope="col">Canary</th>
                <th scope="col">Stable</th>
                <th scope="col">Bound</th>
                <th scope="col">p</th>
              </tr>
            </thead>
            <tbody>
              {analysis.checks.map((c) => (
                <tr key={c.name} data-check={c.name}>
                  <th scope="row" title={c.reason}>
                    {c.name}
                  </th>
                  <td>{c.outcome}</td>
                  <td>{checkValue(c.name, c.value)}</td>
                  <td>{checkValue(c.name, c.baseline)}</td>
                  <td>{checkValue(c.name, c.threshold)}</td>
                  <td>{c.pValue === null ? '–' : c.pValue < 0.001 ? c.pValue.toExponential(1) : c.pValue.toFixed(3)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <ul className="check-reasons small muted">
        {analysis.checks.map((c) => (
          <li key={c.name}>
            <b>{c.name}</b>: {c.reason}
          </li>
        ))}
      </ul>
    </div>
  );
}

function LastMinute({ metrics, name }: { metrics: MetricsEvent | null; name: (id: string | null) => string }) {
  const pools = Object.entries(metrics?.pools ?? {});
  if (pools.length === 0) return null;
  return (
    <dl className="facts last-minute" aria-label={`Requests in the last ${metrics?.seconds ?? 60} seconds`}>
      {pools.map(([pool, w]) => (
        <div key={pool} className="contents">
          <dt>
            {pool} {name(w.releaseId)}
          </dt>
          <dd>
            {w.requests} req ({(w.requests / (metrics?.seconds ?? 60)).toFixed(1)}/s),{' '}
            {w.requests ? percent(w.errors / w.requests, 2) : '–'} errors, p99 {w.requests ? `${w.p99.toFixed(1)} ms` : '–'}
          </dd>
        </div>
      ))}
    </dl>
  );
}

function Actions({
  rollout,
  state,
  environment,
  name,
  act,
  rollback,
  stop,
}: {
  rollout: RolloutRecord | null;
  state: RolloutState | undefined;
  environment: EnvironmentRecord | null;
  name: (id: string | null) => string;
  act: (action: Action) => Promise<void>;
  rollback: () => Promise<void>;
  stop: () => Promise<void>;
}) {
  const phase = rollout?.phase ?? 'none';
  const kind = state?.strategy.kind;
  const active = rollout !== null && !isFinalRollout(phase);
  const stepsLeft = state?.strategy.kind === 'canary' ? state.strategy.steps.length - state.stepIndex - 1 : 0;
  const newRelease = name(rollout?.releaseId ?? null);
  const oldRelease = name(rollout?.previousReleaseId ?? null);
  const canPromote = (phase === 'progressing' || phase === 'paused') && (kind === 'canary' || kind === 'blue-green');
  const canPause = phase === 'progressing' && kind !== 'recreate';
  const canAbort = active && phase !== 'promoting' && phase !== 'rolling-back';
  const canRollback = !active && Boolean(environment?.currentReleaseId && environment.previousReleaseId);
  return (
    <div className="toolbar env-actions" role="group" aria-label="Rollout actions">
      {phase === 'pending-approval' && (
        <ConfirmButton
          label="Approve"
          confirmLabel="Approve and start"
          question={<>Approve the rollout of {newRelease}: its instances start now and it proceeds with its strategy.</>}
          onConfirm={() => act('approve')}
        />
      )}
      <ConfirmButton
        label="Promote"
        disabled={!canPromote}
        confirmLabel="Promote now"
        question={
          <>
            Send all traffic to {newRelease} now
            {stepsLeft > 0 ? `, skipping the ${stepsLeft} remaining step${stepsLeft === 1 ? '' : 's'}` : ''} and without waiting for more
            analysis; {oldRelease}'s instances are then drained and stopped.
          </>
        }
        onConfirm={() => act('promote')}
      />
      <ConfirmButton
        label="Pause"
        disabled={!canPause}
        confirmLabel="Pause"
        question={
          <>
            Hold the rollout where it is (canary at {state?.weights.canary ?? 0} %) until someone resumes it. The step's clock stops; the
            analysis keeps running and a failure still rolls back.
          </>
        }
        onConfirm={() => act('pause')}
      />
      <ConfirmButton
        label="Resume"
        disabled={phase !== 'paused'}
        confirmLabel="Resume"
        question={
          state?.pausedKind === 'inconclusive' ? (
            <>
              The analysis could not decide at the end of this step. Resuming moves on to the next step (or promotes {newRelease} after the
              last one).
            </>
          ) : (
            <>Continue the rollout from where it was paused; the rest of the current step runs on.</>
          )
        }
        onConfirm={() => act('resume')}
      />
      <ConfirmButton
        label="Abort"
        danger
        disabled={!canAbort}
        confirmLabel="Abort the rollout"
        question={
          <>
            Stop rolling out {newRelease}: all traffic goes back to {oldRelease === '–' ? 'the current release' : oldRelease}, {newRelease}
            's instances are drained and stopped, and the rollout ends as aborted.
          </>
        }
        onConfirm={() => act('abort')}
      />
      <ConfirmButton
        label="Roll back"
        danger
        disabled={!canRollback}
        confirmLabel="Roll back now"
        question={
          <>
            Go back to {name(environment?.previousReleaseId ?? null)} at once: its instances start, all traffic switches to them as soon as
            they are ready (no canary, no analysis), then {name(environment?.currentReleaseId ?? null)}'s instances are drained and stopped.
          </>
        }
        onConfirm={rollback}
      />
      <ConfirmButton
        label="Stop environment"
        danger
        disabled={!environment?.currentReleaseId && !active}
        confirmLabel="Stop everything here"
        question={
          <>
            Stop {environment?.name ?? 'this environment'}: {active ? `the rollout of ${newRelease} ends as aborted, ` : ''}every instance
            is drained and stopped, and its port stops answering. Releases and history stay; the next deploy starts it again.
          </>
        }
        onConfirm={stop}
      />
    </div>
  );
}

function ReleaseFacts({ label, release, id }: { label: string; release: Release | undefined; id: string | null }) {
  return (
    <div className="release-facts" data-release-role={label.toLowerCase()}>
      <h3>{label}</h3>
      {!id ? (
        <p className="muted">none</p>
      ) : !release ? (
        <p className="mono">{shortSha(id)}</p>
      ) : (
        <dl className="facts">
          <dt>Release</dt>
          <dd>
            #{release.number} <span className="mono muted">{shortSha(release.sha)}</span>
          </dd>
          <dt>Ref</dt>
          <dd>{branchOf(release.ref)}</dd>
          <dt>Built by</dt>
          <dd>{release.runId ? <Link href={`/runs/${release.runId}`}>run</Link> : <span className="muted">no run</span>}</dd>
          <dt>Made</dt>
          <dd>
            <time dateTime={release.createdAt} title={release.createdAt}>
              {ago(release.createdAt)}
            </time>{' '}
            by {release.createdBy}
          </dd>
        </dl>
      )}
    </div>
  );
}

/**
 * Pools are derived from releases (as the controller does): the label an instance was started
 * with stays `canary` after its release was promoted.
 */
function Instances({
  instances,
  name,
  poolOf,
}: {
  instances: Instance[];
  name: (id: string | null) => string;
  poolOf: (i: Instance) => string;
}) {
  if (instances.length === 0) return <p className="muted">No instances run in this environment.</p>;
  return (
    <div className="table-scroll" tabIndex={0}>
      <table className="instances">
        <thead>
          <tr>
            <th scope="col">Instance</th>
            <th scope="col">Pool</th>
            <th scope="col">Release</th>
            <th scope="col">State</th>
            <th scope="col">PID</th>
            <th scope="col">Restarts</th>
            <th scope="col">CPU</th>
            <th scope="col">Memory</th>
            <th scope="col">Up</th>
          </tr>
        </thead>
        <tbody>
          {instances.map((i) => (
            <tr key={i.id} data-instance={i.id}>
              <td className="mono">{i.id}</td>
              <td>
                <span className={`pool pool-${poolOf(i)}`}>{poolOf(i)}</span>
              </td>
              <td>{name(i.releaseId)}</td>
              <td>
                <StatusBadge
                  status={
                    i.state === 'ready' ? 'success' : i.state === 'failed' ? 'failure' : i.state === 'stopped' ? 'cancelled' : 'running'
                  }
                  label={i.state}
                />
              </td>
              <td className="mono">{i.pid ?? '–'}</td>
              <td>{i.restarts}</td>
              <td>{i.cpuPercent === null ? '–' : `${i.cpuPercent.toFixed(1)} %`}</td>
              <td>{i.rssBytes === null ? '–' : `${(i.rssBytes / 1048576).toFixed(1)} MiB`}</td>
              <td>{i.startedAt ? ago(i.startedAt).replace(/ ago$/, '') : '–'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

// ---------------------------------------------------------------- helpers

function clock(at: number): string {
  return new Date(at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
}

function strategyText(strategy: Strategy): string {
  switch (strategy.kind) {
    case 'canary':
      return `canary, ${strategy.steps.length} step${strategy.steps.length === 1 ? '' : 's'}${strategy.analysis ? ' with analysis' : ''}`;
    case 'blue-green':
      return `blue-green, old pool kept ${duration(Math.max(strategy.keepOldMs, strategy.analysisMs))}${strategy.analysis ? ' with analysis' : ''}`;
    case 'rolling':
      return `rolling (surge ${strategy.maxSurge}, unavailable ${strategy.maxUnavailable})`;
    case 'recreate':
      return 'recreate (stop, then start)';
  }
}

function checkValue(name: string, value: number | null): string {
  if (value === null) return '–';
  if (/error/.test(name)) return percent(value, 2);
  if (/latency|p\d/.test(name)) return value >= 1000 ? `${(value / 1000).toFixed(value % 1000 === 0 ? 0 : 2)} s` : `${value.toFixed(1)} ms`;
  return Number.isInteger(value) ? String(value) : value.toFixed(3);
}

/** Stored points up to the newest roll-up, then the stream's live points for the release. */
function linePoints(series: SeriesAnswer, live: LivePoint[], releaseId: string): SeriesPoint[] {
  const until = series.dataUntilMs ?? series.sinceMs;
  const stored = (series.releases[releaseId]?.points ?? []).filter((p) => p.t < until);
  const after = live
    .filter((p) => p.t >= until)
    .map((p) => p.releases[releaseId] ?? { t: p.t, requests: 0, rps: 0, errors: 0, errorRate: null, p50: null, p95: null, p99: null });
  return [...stored, ...after];
}

/** The decisions worth a line on the charts, labelled short. */
function decisionMarks(history: HistoryEntry[]): DecisionMark[] {
  const marks: DecisionMark[] = [];
  for (const entry of history) {
    const d = entry.data;
    const weights = d.weights as { canary?: number } | undefined;
    let label: string | null = null;
    switch (entry.event) {
      case 'rollout.started':
        label = 'started';
        break;
      case 'rollout.approved':
        label = 'approved';
        break;
      case 'rollout.step':
        label = `step ${String(d.step)} · ${weights?.canary ?? '?'} %`;
        break;
      case 'rollout.switched':
        label = 'switched';
        break;
      case 'rollout.batch':
        label = `batch · ${weights?.canary ?? '?'} %`;
        break;
      case 'rollout.paused':
        label = d.by === 'analysis' ? 'paused (analysis)' : 'paused';
        break;
      case 'rollout.resumed':
        label = 'resumed';
        break;
      case 'rollout.promoted':
        label = 'promoted';
        break;
      case 'rollout.rolling-back':
        label = 'rolling back';
        break;
      case 'rollout.finished':
        label = String(d.phase ?? entry.phase);
        break;
    }
    if (label) marks.push({ at: entry.at, label });
  }
  return marks;
}

function describeEntry(entry: HistoryEntry): string {
  const d = entry.data;
  const parts: string[] = [];
  if (d.step !== undefined) parts.push(typeof d.step === 'number' ? `step ${d.step}${d.of ? ` of ${String(d.of)}` : ''}` : String(d.step));
  const weights = d.weights as { stable?: number; canary?: number } | undefined;
  if (weights) parts.push(`stable ${weights.stable ?? '?'} % / canary ${weights.canary ?? '?'} %`);
  if (typeof d.pauseMs === 'number') parts.push(`for ${duration(d.pauseMs)}`);
  if (d.pauseMs === null) parts.push('until promoted');
  if (d.by !== undefined && !(typeof d.reason === 'string' && d.reason.includes(String(d.by)))) parts.push(`by ${String(d.by)}`);
  const reason = typeof d.reason === 'string' ? d.reason : '';
  if (d.actor !== undefined && !reason.includes(String(d.actor))) parts.push(`by ${String(d.actor)}`);
  if (typeof d.analysis === 'string') parts.push(`analysis ${d.analysis}`);
  if (typeof d.pausedMs === 'number') parts.push(`after ${duration(d.pausedMs)}`);
  if (typeof d.skippedSteps === 'number' && d.skippedSteps > 0) parts.push(`${d.skippedSteps} step(s) skipped`);
  if (typeof d.pool === 'string') parts.push(`${d.pool} pool`);
  if (reason) parts.push(reason);
  return parts.join(' · ');
}
