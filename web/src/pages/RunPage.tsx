/**
 * One run: its header and actions, its job graph, and the selected job's log, tests,
 * artifacts and steps. Live through the run's event stream (`run` snapshots, `job` changes);
 * every (re)connection refetches the whole run, so nothing missed while offline stays stale.
 */
import { memo, useCallback, useDeferredValue, useEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import { Link, useLocation, useParams } from 'wouter';
import { getJson, p, send } from '../api.ts';
import { Artifacts } from '../components/Artifacts.tsx';
import { ConfirmButton } from '../components/ConfirmButton.tsx';
import { ErrorAlert } from '../components/PageTitle.tsx';
import { JobGraph } from '../components/JobGraph.tsx';
import { LogViewer } from '../components/LogViewer.tsx';
import { StatusBadge } from '../components/StatusBadge.tsx';
import { RunSecurity } from '../components/RunSecurity.tsx';
import { TestResults } from '../components/TestResults.tsx';
import { ago, duration, elapsed, shortSha, triggerRef } from '../format.ts';
import { useEventStream } from '../live.ts';
import type { Job, Project, Run, RunWithJobs } from '../types.ts';
import './RunPage.css';

const ACTIVE_JOB = new Set(['waiting', 'queued', 'running']);

/**
 * The job a URL names. wouter decodes the path with decodeURI, which leaves `%2C`, `%2F`…
 * encoded: accept the key as given, fully decoded, or as wouter left it.
 */
function findJob(jobs: readonly Job[], param: string): Job | undefined {
  let decoded = param;
  try {
    decoded = decodeURIComponent(param);
  } catch {
    /* a literal % */
  }
  return jobs.find((j) => j.key === param || j.key === decoded || safeDecodeURI(encodeURIComponent(j.key)) === param);
}

function safeDecodeURI(text: string): string {
  try {
    return decodeURI(text);
  } catch {
    return text;
  }
}

/** The job shown when the URL names none: the first failed, else the first running, else the first. */
function defaultJob(jobs: readonly Job[]): Job | undefined {
  return jobs.find((j) => j.status === 'failure') ?? jobs.find((j) => j.status === 'running') ?? jobs[0];
}

export default function RunPage() {
  const params = useParams<{ run: string; job?: string }>();
  const runId = params.run;
  const [, navigate] = useLocation();
  const [data, setData] = useState<RunWithJobs | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [projects, setProjects] = useState<Project[] | null>(null);

  // What the stream said since the last fetch started: a fetch answered after those events
  // would otherwise overwrite them with an older snapshot, and the stream only sends changes.
  const sinceLoad = useRef<{ jobs: Map<string, Job>; run: Run | null }>({ jobs: new Map(), run: null });
  const load = useCallback(() => {
    const newer = { jobs: new Map<string, Job>(), run: null as Run | null };
    sinceLoad.current = newer;
    getJson<RunWithJobs>(p`/api/runs/${runId}`).then(
      (body) => {
        const run = newer.run ? { ...body.run, ...newer.run } : body.run;
        setData({ ...body, run, status: run.status, jobs: body.jobs.map((j) => newer.jobs.get(j.key) ?? j) });
        setError(null);
      },
      (err: Error) => setError(err.message),
    );
  }, [runId]);
  useEffect(() => {
    setData(null);
    load();
  }, [load]);
  useEffect(() => {
    getJson<{ projects: Project[] }>('/api/projects').then(
      (b) => setProjects(b.projects),
      () => setProjects([]),
    );
  }, []);

  // Job changes arrive one event each (a thousand on a reconnect): applied once per frame.
  const pendingJobs = useRef(new Map<string, Job>());
  const frame = useRef<number | null>(null);
  const flushJobs = useCallback(() => {
    frame.current = null;
    const updates = pendingJobs.current;
    if (updates.size === 0) return;
    pendingJobs.current = new Map();
    setData((current) => {
      if (!current) return current;
      let changed = false;
      const jobs = current.jobs.map((j) => {
        const next = updates.get(j.key);
        if (!next) return j;
        changed = true;
        return next;
      });
      const known = new Set(current.jobs.map((j) => j.key));
      const added = [...updates.values()].filter((j) => !known.has(j.key));
      return changed || added.length ? { ...current, jobs: added.length ? [...jobs, ...added] : jobs } : current;
    });
  }, []);
  useEffect(() => {
    pendingJobs.current = new Map();
    return () => {
      if (frame.current !== null) cancelAnimationFrame(frame.current);
      frame.current = null;
    };
  }, []);

  const connection = useEventStream(
    p`/api/runs/${runId}/stream`,
    {
      run: (run: Run) => {
        sinceLoad.current.run = run;
        setData((current) =>
          current && current.run.id === run.id ? { ...current, run: { ...current.run, ...run }, status: run.status } : current,
        );
      },
      job: (job: Job) => {
        sinceLoad.current.jobs.set(job.key, job);
        pendingJobs.current.set(job.key, job);
        frame.current ??= requestAnimationFrame(flushJobs);
      },
    },
    load,
  );

  const active = data?.status === 'queued' || data?.status === 'running';
  const now = useClock(active);

  const jobs = data?.jobs ?? [];
  const named = params.job !== undefined ? findJob(jobs, params.job) : undefined;
  const selected = named ?? (params.job === undefined ? defaultJob(jobs) : undefined);
  // The graph shows a click at once; the job's panel (its log, tests) follows in a background
  // render, so selecting a job in a big graph is not held up by mounting the panel.
  const panelKey = useDeferredValue(selected?.key ?? null);
  const panelJob = panelKey === null ? undefined : jobs.find((j) => j.key === panelKey);

  if (error && !data)
    return (
      <p role="alert" className="error">
        Could not load run {runId}: {error}
      </p>
    );
  if (!data) return <p aria-busy="true">Loading the run…</p>;
  const { run } = data;
  const project = projects?.find((pr) => pr.id === run.projectId);
  const trigger = triggerRef(run.event);

  return (
    <div className="run-page">
      <header className="run-header">
        <div className="run-title">
          <h1>Run #{run.number}</h1>
          <StatusBadge status={data.status} />
          <span
            className={`live-dot ${connection === 'live' ? 'live' : connection === 'reconnecting' ? 'reconnecting' : ''}`}
            title={`updates: ${connection}`}
            aria-hidden="true"
          />
          {connection === 'reconnecting' && <span className="muted">reconnecting…</span>}
        </div>
        <dl className="run-facts">
          {run.projectId && (
            <div>
              <dt>Project</dt>
              <dd>
                <Link href={`/projects/${encodeURIComponent(run.projectId)}`}>{project?.name ?? run.projectId}</Link>
              </dd>
            </div>
          )}
          {run.projectId && <RunSecurity projectId={run.projectId} runId={run.id} runNumber={run.number} status={data.status} />}
          <div>
            <dt>Trigger</dt>
            <dd>{run.event.kind}</dd>
          </div>
          <div>
            <dt>{trigger.label}</dt>
            <dd className="mono">{trigger.value}</dd>
          </div>
          <div>
            <dt>Commit</dt>
            <dd className="mono" title={run.event.sha}>
              {shortSha(run.event.sha)}
            </dd>
          </div>
          <div>
            <dt>Started</dt>
            <dd>
              {run.startedAt ? (
                <time dateTime={run.startedAt} title={new Date(run.startedAt).toLocaleString()}>
                  {ago(run.startedAt, now)}
                </time>
              ) : (
                'not yet'
              )}
            </dd>
          </div>
          <div>
            <dt>Duration</dt>
            <dd className="run-duration">{run.startedAt ? elapsed(run.startedAt, run.finishedAt, now) : '–'}</dd>
          </div>
          {run.parentRunId && (
            <div>
              <dt>Re-run of</dt>
              <dd>
                <Link href={`/runs/${encodeURIComponent(run.parentRunId)}`}>the previous run</Link>
              </dd>
            </div>
          )}
        </dl>
        <div className="toolbar run-actions">
          {!active && (
            <ConfirmButton
              label="Re-run all jobs"
              question={`Start a new run of commit ${shortSha(run.event.sha)} with all its jobs?`}
              onConfirm={async () => {
                const created = await send<{ run: { id: string } }>('POST', p`/api/runs/${runId}/rerun`, {});
                navigate(`/runs/${encodeURIComponent(created.run.id)}`);
              }}
            />
          )}
          {data.status === 'failure' && (
            <ConfirmButton
              label="Re-run failed jobs"
              question="Start a new run with the failed jobs and the jobs that depend on them (the others keep their results)?"
              onConfirm={async () => {
                const created = await send<{ run: { id: string } }>('POST', p`/api/runs/${runId}/rerun`, { failed: true });
                navigate(`/runs/${encodeURIComponent(created.run.id)}`);
              }}
            />
          )}
          {active && (
            <ConfirmButton
              label="Cancel run"
              danger
              disabled={run.cancelRequested}
              question="Cancel this run? Its running jobs are stopped."
              onConfirm={() => send('POST', p`/api/runs/${runId}/cancel`)}
            />
          )}
        </div>
      </header>
      <ErrorAlert error={error} />

      <section className="run-graph" aria-label="Jobs">
        {jobs.length === 0 ? (
          <p className="muted">This run has no jobs.</p>
        ) : (
          <JobGraph runId={runId} jobs={jobs} selectedKey={selected?.key ?? null} now={now} />
        )}
      </section>

      {params.job !== undefined && !named && (
        <p role="alert" className="error">
          This run has no job “{params.job}”.
        </p>
      )}
      {panelJob && <JobPanel key={panelJob.key} runId={runId} job={panelJob} now={now} />}
    </div>
  );
}

/** The current time, ticking each second while `running` (the clock display only; no server polling). */
function useClock(running: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    setNow(Date.now());
    if (!running) return undefined;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [running]);
  return now;
}

type Tab = 'log' | 'tests' | 'artifacts';

/**
 * Memoised: selecting another job re-renders the page at once but the panel only once the
 * deferred key follows, so a click on a big graph does not wait for the old job's log viewer.
 */
const JobPanel = memo(function JobPanel({ runId, job, now }: { runId: string; job: Job; now: number }) {
  const live = ACTIVE_JOB.has(job.status);
  const tabs = useMemo<{ id: Tab; label: string }[]>(
    () => [
      { id: 'log', label: 'Log' },
      ...(job.tests
        ? [
            {
              id: 'tests' as const,
              label: job.tests.failed > 0 ? `Tests (${job.tests.failed} failed)` : `Tests (${job.tests.passed + job.tests.skipped})`,
            },
          ]
        : []),
      { id: 'artifacts', label: 'Artifacts' },
    ],
    [job.tests],
  );
  const [tab, setTab] = useState<Tab>('log');
  const current = tabs.some((t) => t.id === tab) ? tab : 'log';
  const tabRefs = useRef(new Map<Tab, HTMLButtonElement>());
  const idBase = `job-${useSafeId(job.key)}`;

  const onTabKey = (event: KeyboardEvent<HTMLDivElement>) => {
    const at = tabs.findIndex((t) => t.id === current);
    const moves: Record<string, number> = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1 };
    const target = moves[event.key];
    if (target === undefined) return;
    event.preventDefault();
    const next = tabs[(target + tabs.length) % tabs.length];
    if (!next) return;
    setTab(next.id);
    tabRefs.current.get(next.id)?.focus();
  };

  const time = elapsed(job.startedAt, job.finishedAt, now);
  return (
    <section className="job-panel" aria-labelledby={`${idBase}-title`}>
      <div className="job-panel-head">
        <h2 id={`${idBase}-title`}>{job.key}</h2>
        <StatusBadge status={job.status} />
        {time && <span className="muted">{time}</span>}
        {job.attempt > 1 && <span className="muted">attempt {job.attempt}</span>}
        {job.needs.length > 0 && <span className="muted job-needs">needs {job.needs.join(', ')}</span>}
      </div>
      {job.reason && <p className={job.status === 'failure' ? 'job-reason error' : 'job-reason muted'}>{job.reason}</p>}
      <div className="job-panel-body">
        <div className="job-tabs">
          <div role="tablist" aria-label={`${job.key} details`} className="tablist" onKeyDown={onTabKey}>
            {tabs.map((t) => (
              <button
                key={t.id}
                ref={(el) => {
                  if (el) tabRefs.current.set(t.id, el);
                  else tabRefs.current.delete(t.id);
                }}
                type="button"
                role="tab"
                id={`${idBase}-tab-${t.id}`}
                aria-selected={current === t.id}
                aria-controls={`${idBase}-panel-${t.id}`}
                tabIndex={current === t.id ? 0 : -1}
                className={current === t.id ? 'tab active' : 'tab'}
                onClick={() => setTab(t.id)}
              >
                {t.label}
              </button>
            ))}
          </div>
          <div
            role="tabpanel"
            id={`${idBase}-panel-${current}`}
            aria-labelledby={`${idBase}-tab-${current}`}
            tabIndex={0}
            className="tabpanel"
          >
            {current === 'log' && <LogViewer runId={runId} jobKey={job.key} live={live} />}
            {current === 'tests' && <TestResults runId={runId} jobKey={job.key} done={!live} />}
            {current === 'artifacts' && <Artifacts runId={runId} jobKey={job.key} done={!live} />}
          </div>
        </div>
        <aside className="job-steps" aria-label="Steps">
          <h3>Steps</h3>
          {job.steps.length === 0 ? (
            <p className="muted">{live ? 'Steps are listed when the job ends.' : 'No steps ran.'}</p>
          ) : (
            <ol>
              {job.steps.map((step, i) => (
                <li key={i}>
                  <StatusBadge status={step.status} />
                  <span className="step-name" title={step.name}>
                    {step.name}
                  </span>
                  <span className="muted step-time">{step.status === 'skipped' ? '' : duration(step.durationMs)}</span>
                  {step.status === 'failure' && step.exitCode !== null && <span className="muted step-exit">exit {step.exitCode}</span>}
                </li>
              ))}
            </ol>
          )}
          {job.tests && (
            <p className="muted">
              Tests: {job.tests.passed} passed, {job.tests.failed} failed, {job.tests.skipped} skipped
            </p>
          )}
        </aside>
      </div>
    </section>
  );
});

/** A job key as an id fragment (keys hold spaces, commas and parentheses). */
function useSafeId(key: string): string {
  return useMemo(() => key.replace(/[^A-Za-z0-9_-]/g, (c) => `_${c.charCodeAt(0).toString(16)}`), [key]);
}
