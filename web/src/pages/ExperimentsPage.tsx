/**
 * A project's chaos experiments per environment: the experiments its running releases declare,
 * each with a Start button (confirmed; the server records who started it), and the runs, newest
 * first, with their verdicts. Re-read on every `experiment.*` event.
 */
import { useCallback, useEffect, useState } from 'react';
import { Link, useLocation, useParams } from 'wouter';
import type { DeclaredExperiment, ExperimentRunView } from '../../../src/server/chaos/index.ts';
import { getJson, p, send } from '../api.ts';
import { ConfirmButton } from '../components/ConfirmButton.tsx';
import { ErrorAlert, PageTitle } from '../components/PageTitle.tsx';
import { useLiveEvents } from '../events.ts';

interface Answer {
  experiments: DeclaredExperiment[];
  runs: ExperimentRunView[];
}

export default function ExperimentsPage() {
  const { project } = useParams<{ project: string }>();
  const [, navigate] = useLocation();
  const [answer, setAnswer] = useState<Answer | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(() => {
    getJson<Answer>(p`/api/projects/${project}/experiments`).then(
      (a) => {
        setAnswer(a);
        setError(null);
      },
      (err: Error) => setError(err.message),
    );
  }, [project]);
  useEffect(load, [load]);
  const connection = useLiveEvents(
    {},
    (event) => {
      if (event.type.startsWith('experiment.')) load();
    },
    load,
  );
  const environments = [
    ...new Set([...(answer?.experiments ?? []).map((e) => e.environment), ...(answer?.runs ?? []).map((r) => String(r.environment))]),
  ];

  return (
    <article aria-labelledby="experiments-title">
      <PageTitle id="experiments-title" live={connection}>
        Chaos experiments
      </PageTitle>
      <p>
        <Link href={`/projects/${encodeURIComponent(project)}`}>{project}</Link> · experiments from gantry.yaml and .gantry/experiments/ of
        each environment's running release
      </p>
      <ErrorAlert error={error} />
      {answer && environments.length === 0 && <p>No experiment is declared by a running release.</p>}
      {environments.map((env) => (
        <section key={env} aria-labelledby={`env-${env}`}>
          <h2 id={`env-${env}`}>{env}</h2>
          <table className="experiments">
            <caption>Experiments</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Faults</th>
                <th scope="col">Duration</th>
                <th scope="col">Schedule</th>
                <th scope="col" />
              </tr>
            </thead>
            <tbody>
              {(answer?.experiments ?? [])
                .filter((e) => e.environment === env)
                .map((e) => (
                  <tr key={e.name}>
                    <th scope="row">{e.name}</th>
                    <td>{[...e.config.faults.map((f) => f.kind), ...(e.config.instanceFaults ?? []).map((f) => f.kind)].join(', ')}</td>
                    <td>{Math.round(e.config.durationMs / 1000)} s</td>
                    <td>{e.config.schedule ? `${e.config.schedule.cron} (${e.config.schedule.timezone})` : '—'}</td>
                    <td>
                      <ConfirmButton
                        label={`Start ${e.name}`}
                        question={
                          <>
                            Start experiment {e.name} in {env}? Its faults go into real traffic for up to{' '}
                            {Math.round(e.config.durationMs / 1000)} s, unless the guard refuses or the hypothesis breaks first.
                          </>
                        }
                        confirmLabel="Start"
                        danger
                        onConfirm={async () => {
                          const r = await send<{ experiment: { experimentId: string } }>(
                            'POST',
                            p`/api/projects/${project}/experiments/${e.name}/run`,
                            { env },
                          );
                          navigate(`/projects/${encodeURIComponent(project)}/experiment-runs/${r.experiment.experimentId}`);
                        }}
                      />
                    </td>
                  </tr>
                ))}
            </tbody>
          </table>
          <table className="experiment-runs">
            <caption>Runs</caption>
            <thead>
              <tr>
                <th scope="col">Run</th>
                <th scope="col">Experiment</th>
                <th scope="col">Started</th>
                <th scope="col">Verdict</th>
                <th scope="col">Affected / unaffected</th>
              </tr>
            </thead>
            <tbody>
              {(answer?.runs ?? [])
                .filter((r) => r.environment === env)
                .map((r) => (
                  <tr key={String(r.experimentId)}>
                    <td>
                      <Link href={`/projects/${encodeURIComponent(project)}/experiment-runs/${String(r.experimentId)}`}>
                        {String(r.experimentId)}
                      </Link>
                    </td>
                    <td>{String(r.name)}</td>
                    <td>{new Date(Number(r.startedAt)).toLocaleString()}</td>
                    <td className={`verdict ${String(r.verdict ?? 'running')}`}>
                      {r.running ? `running (${String(r.phase)})` : String(r.verdict)}
                    </td>
                    <td>
                      {String(r.affected)} / {String(r.unaffected)}
                    </td>
                  </tr>
                ))}
            </tbody>
          </table>
        </section>
      ))}
    </article>
  );
}
