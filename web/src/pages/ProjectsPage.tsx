/**
 * The front page: every project with its last runs, what runs in each environment, a rollout
 * under way, and the last hour's request and error rates. Re-read when an event about the
 * project arrives (the event stream), never on a timer.
 */
import { useCallback, useEffect, useState } from 'react';
import { Link } from 'wouter';
import { getJson, p } from '../api.ts';
import { ErrorAlert, PageTitle } from '../components/PageTitle.tsx';
import { Sparkline } from '../components/Sparkline.tsx';
import { BudgetBar } from '../components/BudgetBar.tsx';
import { StatusBadge } from '../components/StatusBadge.tsx';
import { useLiveEvents } from '../events.ts';
import { ago, branchOf, percent, shortSha } from '../format.ts';
import type { SeriesPoint } from '../../../src/delivery/metric-series.ts';
import { worstBudgets, type WorstBudget } from '../slo/budget-view.ts';
import type { SloStatus } from '../slo/types.ts';
import type { Project, Release, RolloutRecord, Run } from '../types.ts';

interface EnvironmentRow {
  name: string;
  port: number | null;
  currentReleaseId: string | null;
  rollout: RolloutRecord | null;
}
interface Overview {
  runs: Run[];
  environments: (EnvironmentRow & { rps: number[]; errorRate: number[] })[];
  releases: Map<string, Release>;
  /** Each environment's worst error budget. */
  budgets: Map<string, WorstBudget>;
}

async function loadOverview(project: Project): Promise<Overview> {
  const [runs, environments, releases, slos] = await Promise.all([
    getJson<{ runs: Run[] }>(`/api/runs?project=${encodeURIComponent(project.id)}&limit=8`),
    getJson<{ environments: EnvironmentRow[] }>(p`/api/projects/${project.id}/environments`).catch(() => ({ environments: [] })),
    getJson<{ releases: Release[] }>(p`/api/projects/${project.id}/releases`).catch(() => ({ releases: [] })),
    getJson<{ slos: SloStatus[] }>(p`/api/projects/${project.id}/slos`).catch(() => ({ slos: [] })),
  ]);
  const withSeries = await Promise.all(
    environments.environments.map(async (env) => {
      const series = await getJson<{ total: SeriesPoint[] }>(
        `${p`/api/projects/${project.id}/environments/${env.name}/series`}?seconds=3600&step=60`,
      ).catch(() => ({ total: [] }));
      return { ...env, rps: series.total.map((point) => point.rps), errorRate: series.total.map((point) => point.errorRate ?? 0) };
    }),
  );
  return {
    runs: runs.runs,
    environments: withSeries,
    releases: new Map(releases.releases.map((r) => [r.id, r])),
    budgets: new Map(worstBudgets(slos.slos).map((b) => [b.environment, b])),
  };
}

export default function ProjectsPage() {
  const [projects, setProjects] = useState<Project[] | null>(null);
  const [overviews, setOverviews] = useState<Record<string, Overview>>({});
  const [error, setError] = useState<string | null>(null);

  const refreshProject = useCallback((project: Project) => {
    loadOverview(project).then(
      (overview) => setOverviews((all) => ({ ...all, [project.id]: overview })),
      () => undefined,
    );
  }, []);
  const refreshAll = useCallback(() => {
    getJson<{ projects: Project[] }>('/api/projects').then(
      ({ projects: list }) => {
        setProjects(list);
        for (const project of list) refreshProject(project);
      },
      (err: Error) => setError(err.message),
    );
  }, [refreshProject]);
  useEffect(refreshAll, [refreshAll]);

  const connection = useLiveEvents(
    {},
    (event) => {
      if (event.type.startsWith('project.')) {
        refreshAll();
        return;
      }
      const project = projects?.find((candidate) => candidate.id === event.scope.projectId);
      if (project && /^(run|release|rollout|environment|slo)\./.test(event.type)) refreshProject(project);
    },
    refreshAll,
  );

  return (
    <section aria-labelledby="projects-title">
      <PageTitle id="projects-title" live={connection}>
        Projects
      </PageTitle>
      <ErrorAlert error={error} />
      {projects?.length === 0 && (
        <div className="card">
          <p>
            No projects yet. Register a repository with <code>gantry project add PATH</code>, or start with the example:{' '}
            <code>npm start</code>.
          </p>
        </div>
      )}
      <div className="grid">
        {projects?.map((project) => (
          <ProjectCard key={project.id} project={project} overview={overviews[project.id]} />
        ))}
      </div>
    </section>
  );
}

function ProjectCard({ project, overview }: { project: Project; overview: Overview | undefined }) {
  const source = project.source.kind === 'local' ? project.source.path : project.source.url;
  return (
    <article className="card project-card" data-project={project.name}>
      <h2>
        <Link href={`/projects/${encodeURIComponent(project.id)}`}>{project.name}</Link>
      </h2>
      <p className="muted mono source" title={source}>
        {source}
      </p>
      <h3>Recent runs</h3>
      {!overview ? (
        <p aria-busy="true" className="muted">
          Loading…
        </p>
      ) : overview.runs.length === 0 ? (
        <p className="muted">No runs yet.</p>
      ) : (
        <ul className="run-strip">
          {overview.runs.map((run) => (
            <li key={run.id}>
              <Link href={`/runs/${run.id}`}>
                <span className="visually-hidden">Run </span>
                <StatusBadge status={run.status} label={`#${run.number}`} />
                <span className="visually-hidden">: {run.status}</span>
              </Link>
            </li>
          ))}
        </ul>
      )}
      {overview?.runs[0] && (
        <p className="muted small">
          Last: {branchOf(overview.runs[0].event.ref)} @ <span className="mono">{shortSha(overview.runs[0].event.sha)}</span>,{' '}
          {ago(overview.runs[0].createdAt)}
        </p>
      )}
      {overview && overview.environments.length > 0 && (
        <>
          <h3>Environments</h3>
          <div className="table-scroll" tabIndex={0}>
            <table className="env-table">
              <thead>
                <tr>
                  <th scope="col">Environment</th>
                  <th scope="col">Release</th>
                  <th scope="col">Requests/s (1 h)</th>
                  <th scope="col">Errors (1 h)</th>
                  <th scope="col">Error budget</th>
                </tr>
              </thead>
              <tbody>
                {overview.environments.map((env) => {
                  const release = env.currentReleaseId ? overview.releases.get(env.currentReleaseId) : undefined;
                  const rollout = env.rollout;
                  const lastRate = env.rps.at(-1) ?? 0;
                  const lastErrors = env.errorRate.at(-1) ?? 0;
                  return (
                    <tr key={env.name}>
                      <td>
                        <Link href={`/projects/${encodeURIComponent(project.id)}/environments/${encodeURIComponent(env.name)}`}>
                          {env.name}
                        </Link>
                      </td>
                      <td>
                        {release ? `#${release.number}` : <span className="muted">none</span>}
                        {rollout && (
                          <>
                            {' '}
                            <StatusBadge
                              status={rollout.phase}
                              label={`${rollout.phase} #${overview.releases.get(rollout.releaseId)?.number ?? '?'}`}
                            />
                          </>
                        )}
                      </td>
                      <td>
                        <Sparkline
                          width={90}
                          values={env.rps}
                          label={`requests per second over the last hour, now ${lastRate.toFixed(1)}`}
                        />{' '}
                        <span className="small">{lastRate.toFixed(1)}</span>
                      </td>
                      <td>
                        <Sparkline
                          width={90}
                          values={env.errorRate}
                          max={0.05}
                          label={`error rate over the last hour, now ${percent(lastErrors)}`}
                        />{' '}
                        <span className="small">{percent(lastErrors)}</span>
                      </td>
                      <td>
                        <EnvironmentBudget budget={overview.budgets.get(env.name)} environment={env.name} />
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        </>
      )}
    </article>
  );
}

/** The environment's worst budget, and the alerts firing there: the projects page's one glance at reliability. */
function EnvironmentBudget({ budget, environment }: { budget: WorstBudget | undefined; environment: string }) {
  if (!budget) return <span className="muted small">no SLOs</span>;
  return (
    <span className="env-budgets" data-env-budget={environment}>
      {budget.remaining === null ? (
        <span className="muted small">evaluated by Prometheus</span>
      ) : (
        <BudgetBar compact remaining={budget.remaining} label={`Error budget of ${environment} (${budget.slo}, the lowest)`} />
      )}
      {budget.firing.map((severity) => (
        <StatusBadge key={severity} status="failed" label={`${severity} alert`} />
      ))}
    </span>
  );
}
