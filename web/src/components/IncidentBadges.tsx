/** An incident's state and severity as badges: a word, a colour and a shape (colour is never the only cue). */
import type { Incident } from '../slo/types.ts';

const STATE_LOOK: Record<Incident['state'], { look: string; icon: string }> = {
  open: { look: 'failed', icon: '!' },
  acknowledged: { look: 'paused', icon: '◐' },
  mitigated: { look: 'running', icon: '◑' },
  resolved: { look: 'succeeded', icon: '✓' },
};

export function IncidentStateBadge({ state }: { state: Incident['state'] }) {
  const { look, icon } = STATE_LOOK[state];
  return (
    <span className={`badge status-${look}`} data-incident-state={state}>
      <span aria-hidden="true">{icon}</span> {state}
    </span>
  );
}

export function SeverityBadge({ severity }: { severity: Incident['severity'] }) {
  return (
    <span className={`badge severity-${severity}`} data-severity={severity}>
      {severity}
    </span>
  );
}
