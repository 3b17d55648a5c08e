/**
 * One project: its environments (what runs where, a rollout under way), its runs and its
 * releases, with the actions people take here: run the pipeline, deploy a release.
 */
import { useCallback, useEffect, useState } from 'react';
import { Link, useLocation, useParams } from 'wouter';
import { getJson, p, send } from '../api.ts';
import { ConfirmButton } from '../components/ConfirmButton.tsx';
import { PageTitle } from '../components/PageTitle.tsx';
import { StatusBadge } from '../components/StatusBadge.tsx';
import { useLiveEvents } from '../events.ts';
import { ago, autoDeployLabel, branchOf, elapsed, shortSha } from '../format.ts';
import type { Project, Release, RolloutRecord, Run } from '../types.ts';

interface EnvironmentRow {
  name: string;
  port: number | null;
  currentReleaseId: string | null;
  previousReleaseId: string | null;
  rollout: RolloutRecord | null;
  live?: { weights?: { stable: number; canary: number } };
  auto?: boolean | { branches?: string[]; tags?: string[] } | null;
}

export default function ProjectPage() {
  const { project: projectParam } = useParams<{ project: string }>();
  const [, navigate] = useLocation();
  const [project, setProject] = useState<Project | null>(null);
  const [runs, setRuns] = useState<Run[]>([]);
  const [environments, setEnvironments] = useState<EnvironmentRow[]>([]);
  const [releases, setReleases] = useState<Release[]>([]);
  const [error, setError] = useState<string | null>(null);

  const refresh = useCallback(() => {
    getJson<{ project: Project }>(p`/api/projects/${projectParam}`).then(
      ({ project: loaded }) => {
        setProject(loaded);
        void getJson<{ runs: Run[] }>(`/api/runs?project=${encodeURIComponent(loaded.id)}&limit=50`).then(({ runs: list }) =>
          setRuns(list),
        );
        void getJson<{ environments: EnvironmentRow[] }>(p`/api/projects/${loaded.id}/environments`).then(
          ({ environments: list }) => setEnvironments(list),
          () => undefined,
        );
        void getJson<{ releases: Release[] }>(p`/api/projects/${loaded.id}/releases`).then(
          ({ releases: list }) => setReleases(list),
          () => undefined,
        );
      },
      (err: Error) => setError(err.message),
    );
  }, [projectParam]);
  useEffect(refresh, [refresh]);
  const connection = useLiveEvents(
    { project: projectParam },
    (event) => {
      if (/^(run|release|rollout|environment)\./.test(event.type)) refresh();
    },
    refresh,
  );

  if (error)
    return (
      <p role="alert" className="error">
        {error}
      </p>
    );
  if (!project) return <p aria-busy="true">Loading…</p>;
  const releaseById = new Map(releases.map((r) => [r.id, r]));
  const source = project.source.kind === 'local' ? project.source.path : project.source.url;

  return (
    <article aria-labelledby="project-title">
      <PageTitle id="project-title" live={connection}>
        {project.name}
      </PageTitle>
      <p className="muted mono">{source}</p>
      <div className="toolbar">
        <ConfirmButton
          label="Run pipeline"
          question={<>Start a run of {project.name}'s pipeline on its default branch (a manual trigger)?</>}
          confirmLabel="Run"
          onConfirm={async () => {
            const result = await send<{ run?: { id: string }; skipped?: string }>('POST', p`/api/projects/${project.id}/runs`, {});
            if (result.run) navigate(`/runs/${result.run.id}`);
            else throw new Error(`nothing to run: ${result.skipped ?? 'no job matches a manual trigger'}`);
          }}
        />
        <Link href={`/events?project=${encodeURIComponent(project.id)}`} className="button">
          Events
        </Link>
        <Link href={`/projects/${encodeURIComponent(project.name)}/security`} className="button">
          Security
        </Link>
        <Link href={`/projects/${encodeURIComponent(project.name)}/members`} className="button">
          Members
        </Link>
        <Link href={`/projects/${encodeURIComponent(project.name)}/experiments`} className="button">
          Experiments
        </Link>
      </div>

      {environments.length > 0 && (
        <section aria-labelledby="envs-title">
          <h2 id="envs-title">Environments</h2>
          <p>
            <Link href={`/projects/${encodeURIComponent(project.id)}/deploys`}>Before and after each production deploy</Link>
          </p>
          <div className="grid">
            {environments.map((env) => {
              const current = env.currentReleaseId ? releaseById.get(env.currentReleaseId) : undefined;
              return (
                <div className="card" key={env.name} data-environment={env.name}>
                  <h3>
                    <Link href={`/projects/${encodeURIComponent(project.id)}/environments/${encodeURIComponent(env.name)}`}>
                      {env.name}
                    </Link>
                  </h3>
                  <dl className="facts">
                    <dt>Release</dt>
                    <dd>
                      {current ? (
                        <>
                          #{current.number} <span className="mono muted">{shortSha(current.sha)}</span>
                        </>
                      ) : (
                        'none yet'
                      )}
                    </dd>
                    <dt>Deploys</dt>
                    <dd>{autoDeployLabel(env.auto)}</dd>
                    <dt>Address</dt>
                    <dd>
                      {env.port ? (
                        <a href={`http://${location.hostname}:${env.port}/`}>port {env.port}</a>
                      ) : (
                        <span className="muted">not exposed</span>
                      )}
                    </dd>
                    {env.rollout && (
                      <>
                        <dt>Rollout</dt>
                        <dd>
                          <StatusBadge status={env.rollout.phase} /> to #{releaseById.get(env.rollout.releaseId)?.number ?? '?'}
                          {env.live?.weights && <> · canary {env.live.weights.canary} %</>}
                        </dd>
                      </>
                    )}
                  </dl>
                </div>
              );
            })}
          </div>
        </section>
      )}

      <section aria-labelledby="runs-title">
        <h2 id="runs-title">Runs</h2>
        {runs.length === 0 ? (
          <p className="muted">No runs yet: push a commit, or press “Run pipeline”.</p>
        ) : (
          <div className="table-scroll" tabIndex={0}>
            <table>
              <thead>
                <tr>
                  <th scope="col">Run</th>
                  <th scope="col">Status</th>
                  <th scope="col">Trigger</th>
                  <th scope="col">Commit</th>
                  <th scope="col">Started</th>
                  <th scope="col">Duration</th>
                </tr>
              </thead>
              <tbody>
                {runs.map((run) => (
                  <tr key={run.id} data-run={run.id}>
                    <td>
                      <Link href={`/runs/${run.id}`}>#{run.number}</Link>
                      {run.parentRunId && <span className="muted small"> (re-run)</span>}
                    </td>
                    <td>
                      <StatusBadge status={run.status} />
                    </td>
                    <td>{run.event.kind}</td>
                    <td>
                      {branchOf(run.event.ref)} <span className="mono muted">{shortSha(run.event.sha)}</span>
                    </td>
                    <td>{ago(run.createdAt)}</td>
                    <td>{elapsed(run.startedAt, run.finishedAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      {releases.length > 0 && (
        <section aria-labelledby="releases-title">
          <h2 id="releases-title">Releases</h2>
          <div className="table-scroll" tabIndex={0}>
            <table>
              <thead>
                <tr>
                  <th scope="col">Release</th>
                  <th scope="col">Commit</th>
                  <th scope="col">Made</th>
                  <th scope="col">Runs in</th>
                  <th scope="col">
                    <span className="visually-hidden">Deploy</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {releases.map((release) => (
                  <tr key={release.id}>
                    <td>
                      #{release.number}
                      {release.runId && (
                        <>
                          {' '}
                          · <Link href={`/runs/${release.runId}`}>run</Link> ·{' '}
                          <Link href={`/projects/${encodeURIComponent(project.name)}/security?release=${release.number}`}>findings</Link>
                        </>
                      )}
                    </td>
                    <td>
                      {branchOf(release.ref)} <span className="mono muted">{shortSha(release.sha)}</span>
                    </td>
                    <td>{ago(release.createdAt)}</td>
                    <td>
                      {environments
                        .filter((env) => env.currentReleaseId === release.id)
                        .map((env) => env.name)
                        .join(', ') || <span className="muted">–</span>}
                    </td>
                    <td className="toolbar">
                      {environments
                        .filter((env) => env.currentReleaseId !== release.id)
                        .map((env) => (
                          <ConfirmButton
                            key={env.name}
                            label={`Deploy to ${env.name}`}
                            question={
                              <>
                                Deploy release #{release.number} to {env.name} with its strategy?
                              </>
                            }
                            confirmLabel="Deploy"
                            onConfirm={async () => {
                              await send('POST', p`/api/projects/${project.id}/environments/${env.name}/deploy`, { release: release.id });
                              navigate(`/projects/${encodeURIComponent(project.id)}/environments/${encodeURIComponent(env.name)}`);
                            }}
                          />
                        ))}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      )}
    </article>
  );
}
