/**
 * One incident: where it is in its lifecycle and the buttons that move it on (acknowledge,
 * mitigate, resolve; each confirmed), its owner and severity, what it cost (failed requests,
 * budget burned) and how long it took to acknowledge and restore, the suggested actions as
 * confirmed one-click buttons (roll back the deploy before it, pause the rollout under way; each
 * also noted on the incident), the timeline as a picture, notes, and the postmortem draft. Re-read
 * when an event of its project arrives.
 */
import { useCallback, useEffect, useState } from 'react';
import { Link, useParams } from 'wouter';
import { getJson, getText, p, send } from '../api.ts';
import { ConfirmButton } from '../components/ConfirmButton.tsx';
import { ErrorAlert, PageTitle } from '../components/PageTitle.tsx';
import { IncidentStateBadge, SeverityBadge } from '../components/IncidentBadges.tsx';
import { IncidentTimeline } from '../components/IncidentTimeline.tsx';
import { useLiveEvents } from '../events.ts';
import { duration, percent } from '../format.ts';
import type { IncidentView } from '../slo/types.ts';
import type { Project, RolloutRecord } from '../types.ts';
import { isFinalRollout } from '../../../src/core/rollout-phase.ts';
import './Incidents.css';

interface EnvironmentState {
  environment: { currentReleaseId: string | null; previousReleaseId: string | null } | null;
  rollout: RolloutRecord | null;
}

const STEPS = [
  { path: 'ack', label: 'Acknowledge', state: 'acknowledged', question: 'Take this incident: you become its owner unless it has one.' },
  { path: 'mitigate', label: 'Mitigate', state: 'mitigated', question: 'Users are fine again: time to restore stops here.' },
  { path: 'resolve', label: 'Resolve', state: 'resolved', question: 'The cause is dealt with: the incident closes for good.' },
] as const;
const RANK = { open: 0, acknowledged: 1, mitigated: 2, resolved: 3 } as const;

export default function IncidentPage() {
  const { project: projectParam, number } = useParams<{ project: string; number: string }>();
  const [project, setProject] = useState<Project | null>(null);
  const [view, setView] = useState<IncidentView | null>(null);
  const [envState, setEnvState] = useState<EnvironmentState | null>(null);
  const [error, setError] = useState<string | null>(null);
  const base = p`/api/projects/${projectParam}/incidents/${number}`;

  const load = useCallback(() => {
    getJson<IncidentView>(base).then(
      (loaded) => {
        setView(loaded);
        setError(null);
        const env = loaded.incident.environment;
        if (env)
          getJson<EnvironmentState>(p`/api/projects/${projectParam}/environments/${env}/rollout`).then(setEnvState, () =>
            setEnvState(null),
          );
      },
      (err: Error) => setError(err.message),
    );
  }, [base, projectParam]);
  useEffect(load, [load]);
  useEffect(() => {
    getJson<{ project: Project }>(p`/api/projects/${projectParam}`).then(
      ({ project: loaded }) => setProject(loaded),
      () => undefined,
    );
  }, [projectParam]);
  const connection = useLiveEvents(
    project ? { project: project.id } : {},
    (event) => {
      if (/^(incident|slo|rollout)\./.test(event.type)) load();
    },
    load,
  );

  if (error)
    return (
      <p role="alert" className="error">
        {error}
      </p>
    );
  if (!view) return <p aria-busy="true">Loading…</p>;
  const { incident } = view;
  const projectName = project?.name ?? projectParam;
  const envLink = (env: string) => `/projects/${encodeURIComponent(projectParam)}/environments/${encodeURIComponent(env)}`;
  const act = async (path: string) => {
    await send('POST', `${base}/${path}`);
    load();
  };
  const note = (text: string) => send('POST', `${base}/notes`, { text });

  return (
    <article className="incident-page" aria-labelledby="incident-title">
      <PageTitle id="incident-title" live={connection}>
        #{incident.number} {incident.title}
      </PageTitle>
      <p className="incident-meta">
        <IncidentStateBadge state={incident.state} /> <SeverityBadge severity={incident.severity} />{' '}
        <span>
          <Link href={`/projects/${encodeURIComponent(projectParam)}`}>{projectName}</Link>
          {incident.environment && (
            <>
              {' / '}
              <Link href={envLink(incident.environment)}>{incident.environment}</Link>
            </>
          )}
        </span>
        <span className="muted">
          owner <b data-testid="incident-owner">{incident.owner ?? 'nobody yet'}</b>
        </span>
        <span className="muted">
          opened {new Date(incident.openedAt).toLocaleString()} by {incident.openedBy}
        </span>
      </p>

      <div className="incident-layout">
        <section className="card" aria-labelledby="lifecycle-title">
          <h2 id="lifecycle-title">Lifecycle</h2>
          <ol className="lifecycle" aria-label="Lifecycle steps">
            {(['open', 'acknowledged', 'mitigated', 'resolved'] as const).map((state) => (
              <li
                key={state}
                className={RANK[incident.state] >= RANK[state] ? 'done' : ''}
                aria-current={incident.state === state ? 'step' : undefined}
              >
                {state}
              </li>
            ))}
          </ol>
          <div className="toolbar" role="group" aria-label="Incident actions">
            {STEPS.map((step) => (
              <ConfirmButton
                key={step.path}
                label={step.label}
                disabled={RANK[incident.state] >= RANK[step.state]}
                question={`${step.question} Incident #${incident.number} becomes ${step.state}.`}
                onConfirm={() => act(step.path)}
              />
            ))}
          </div>
          <OwnerForm
            key={`${incident.owner}-${incident.severity}`}
            owner={incident.owner ?? ''}
            severity={incident.severity}
            disabled={incident.state === 'resolved'}
            save={async (owner, severity) => {
              if (owner && owner !== incident.owner) await send('PUT', `${base}/owner`, { owner });
              if (severity !== incident.severity) await send('PUT', `${base}/severity`, { severity });
              load();
            }}
          />
          <dl className="facts incident-numbers">
            <dt>Time to acknowledge</dt>
            <dd data-testid="tta">{view.ttaMs === null ? 'not yet' : duration(view.ttaMs)}</dd>
            <dt>Time to restore</dt>
            <dd data-testid="ttr">{view.ttrMs === null ? 'not yet' : duration(view.ttrMs)}</dd>
            <dt>Failed requests</dt>
            <dd data-testid="impact">
              {view.impact === null
                ? 'not measured (no SLO evaluated here)'
                : `${view.impact.failedRequests} of ${view.impact.totalRequests}${
                    view.impact.totalRequests > 0 ? ` (${percent(view.impact.failedRequests / view.impact.totalRequests, 2)})` : ''
                  }`}
            </dd>
            <dt>Budget burned</dt>
            <dd>{view.impact?.budgetBurned == null ? '–' : `${percent(view.impact.budgetBurned)} of the period's`}</dd>
          </dl>
        </section>

        <section className="card" aria-labelledby="suggestions-title">
          <h2 id="suggestions-title">Suggested actions</h2>
          {view.suggestions.length === 0 ? (
            <p className="muted">{incident.state === 'resolved' ? 'It is resolved.' : 'None: it is not tied to an environment.'}</p>
          ) : (
            <ul className="suggestions">
              {view.suggestions.map((s) => (
                <li key={s.action} data-suggestion={s.action}>
                  <p>{s.text}</p>
                  <Suggestion
                    action={s.action}
                    environment={s.environment}
                    state={envState}
                    run={async () => {
                      const path = s.action === 'rollback' ? 'rollback' : 'rollout/pause';
                      await send<{ rollout: RolloutRecord }>(
                        'POST',
                        `${p`/api/projects/${projectParam}/environments/${s.environment}`}/${path}`,
                      );
                      // The rollout records itself; the note puts it on this incident's timeline too.
                      await note(
                        s.action === 'rollback'
                          ? `rolled back ${s.environment} from the incident page`
                          : `paused the rollout in ${s.environment} from the incident page`,
                      );
                      load();
                    }}
                  />
                </li>
              ))}
            </ul>
          )}
        </section>

        <section className="card span-all" aria-labelledby="timeline-title">
          <h2 id="timeline-title">Timeline</h2>
          <IncidentTimeline entries={view.timeline} openedAt={incident.openedAt} />
          <NoteForm
            disabled={incident.state === 'resolved'}
            add={async (text) => {
              await note(text);
              load();
            }}
          />
        </section>

        <section className="card span-all" aria-labelledby="postmortem-title">
          <h2 id="postmortem-title">Postmortem draft</h2>
          <Postmortem url={`${base}/postmortem`} filename={`${projectName}-incident-${incident.number}-postmortem.md`} version={view} />
        </section>
      </div>
    </article>
  );
}

function Suggestion({
  action,
  environment,
  state,
  run,
}: {
  action: 'rollback' | 'pause-rollouts';
  environment: string;
  state: EnvironmentState | null;
  run: () => Promise<void>;
}) {
  const active = state?.rollout != null && !isFinalRollout(state.rollout.phase);
  if (action === 'rollback') {
    const possible = !active && Boolean(state?.environment?.currentReleaseId && state.environment.previousReleaseId);
    return (
      <ConfirmButton
        label={`Roll back ${environment}`}
        danger
        disabled={!possible}
        confirmLabel="Roll back now"
        question={`Go back to the release ${environment} ran before: its instances start, all traffic switches to them once ready, then the current ones drain and stop. The rollback is recorded, and noted on this incident.`}
        onConfirm={run}
      />
    );
  }
  return (
    <ConfirmButton
      label={`Pause the rollout in ${environment}`}
      disabled={state?.rollout?.phase !== 'progressing'}
      confirmLabel="Pause"
      question={`Hold the rollout under way in ${environment} where it is until someone resumes it; the analysis keeps running. Noted on this incident.`}
      onConfirm={run}
    />
  );
}

/** Reassign the incident or change its severity; both land on the timeline as events. */
function OwnerForm({
  owner,
  severity,
  disabled,
  save,
}: {
  owner: string;
  severity: string;
  disabled: boolean;
  save: (owner: string, severity: string) => Promise<void>;
}) {
  const [who, setWho] = useState(owner);
  const [level, setLevel] = useState(severity);
  const [error, setError] = useState<string | null>(null);
  return (
    <form
      className="owner-form"
      aria-label="Owner and severity"
      onSubmit={(e) => {
        e.preventDefault();
        save(who.trim(), level).then(
          () => setError(null),
          (err: Error) => setError(err.message),
        );
      }}
    >
      <label htmlFor="incident-owner-input">Owner</label>
      <input id="incident-owner-input" value={who} disabled={disabled} onChange={(e) => setWho(e.target.value)} maxLength={200} />
      <label htmlFor="incident-severity-input">Severity</label>
      <select id="incident-severity-input" value={level} disabled={disabled} onChange={(e) => setLevel(e.target.value)}>
        <option value="sev1">sev1</option>
        <option value="sev2">sev2</option>
        <option value="sev3">sev3</option>
      </select>
      <button type="submit" disabled={disabled || (who.trim() === owner && level === severity) || who.trim() === ''}>
        Save
      </button>
      <ErrorAlert error={error} />
    </form>
  );
}

function NoteForm({ add, disabled }: { add: (text: string) => Promise<void>; disabled: boolean }) {
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  return (
    <form
      className="note-form"
      onSubmit={(e) => {
        e.preventDefault();
        if (!text.trim()) return;
        setBusy(true);
        add(text).then(
          () => {
            setText('');
            setError(null);
            setBusy(false);
          },
          (err: Error) => {
            setError(err.message);
            setBusy(false);
          },
        );
      }}
    >
      <label htmlFor="note-text">Add a note</label>
      <textarea id="note-text" rows={2} value={text} disabled={disabled} onChange={(e) => setText(e.target.value)} maxLength={10_000} />
      <button type="submit" disabled={disabled || busy || !text.trim()}>
        Add note
      </button>
      <ErrorAlert error={error} />
    </form>
  );
}

/** The Markdown draft, shown on request (it is built from the whole timeline) and downloadable as a file. */
function Postmortem({ url, filename, version }: { url: string; filename: string; version: unknown }) {
  const [text, setText] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [open, setOpen] = useState(false);
  // biome-ignore lint/correctness/useExhaustiveDependencies: the draft is built from the incident: a new view of it means a new draft.
  useEffect(() => {
    if (!open) return;
    getText(url).then(setText, (err: Error) => setError(err.message));
  }, [open, url, version]);
  return (
    <>
      <div className="toolbar">
        <button type="button" aria-expanded={open} onClick={() => setOpen((o) => !o)}>
          {open ? 'Hide the draft' : 'Show the draft'}
        </button>
        <a className="button" href={url} download={filename}>
          Download Markdown
        </a>
      </div>
      <ErrorAlert error={error} />
      {open && text !== null && (
        <section className="postmortem" tabIndex={0} aria-label="Postmortem draft (Markdown)">
          <pre>{text}</pre>
        </section>
      )}
    </>
  );
}
