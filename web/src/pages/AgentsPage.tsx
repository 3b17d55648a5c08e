/**
 * Build agents: each agent's state (connected, lost, revoked), its labels, how full it is (a bar
 * of its slots, busy ones filled, so a glance shows where capacity is left), the jobs it runs
 * (links to their logs) and when it was last heard from. Read every 2 s: agents poll and renew on
 * their own clock, and there is no event for a renewal.
 */
import { useCallback, useEffect, useState } from 'react';
import { Link } from 'wouter';
import { getJson, p } from '../api.ts';
import { ErrorAlert, PageTitle } from '../components/PageTitle.tsx';
import { StatusBadge } from '../components/StatusBadge.tsx';
import { ago } from '../format.ts';
import './AgentsPage.css';

interface AgentView {
  name: string;
  labels: string[];
  announcedLabels: string[];
  state: 'connected' | 'lost' | 'revoked';
  capacity: number | null;
  createdAt: string;
  lastSeenAt: string | null;
  leases: { runId: string; jobKey: string; fence: number; expiresAt: string }[];
}

const STATE_LOOK = { connected: 'success', lost: 'failure', revoked: 'cancelled' } as const;
const REFRESH_MS = 2000;

/** Slots as cells: busy ones filled; an agent not heard from yet has no known capacity. */
function CapacityBar({ agent }: { agent: AgentView }) {
  const busy = agent.leases.length;
  if (agent.capacity === null) return <span className="muted small">not heard from yet</span>;
  const slots = Math.max(agent.capacity, busy);
  const label = `${busy} of ${agent.capacity} slot${agent.capacity === 1 ? '' : 's'} busy`;
  return (
    <div className="capacity" role="img" aria-label={label} title={label}>
      <div className="capacity-cells">
        {Array.from({ length: Math.min(slots, 32) }, (_, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: the cells are positions, not items
          <span key={i} className={i < busy ? 'cell busy' : 'cell'} />
        ))}
      </div>
      <span className="small muted">{label}</span>
    </div>
  );
}

export default function AgentsPage() {
  const [agents, setAgents] = useState<AgentView[] | null>(null);
  const [leaseMs, setLeaseMs] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(() => {
    getJson<{ leaseMs: number; agents: AgentView[] }>('/api/agents').then(
      (answer) => {
        setAgents(answer.agents);
        setLeaseMs(answer.leaseMs);
        setError(null);
      },
      (err: Error) => setError(err.message),
    );
  }, []);
  useEffect(() => {
    load();
    const timer = setInterval(load, REFRESH_MS);
    return () => clearInterval(timer);
  }, [load]);

  const active = agents?.filter((a) => a.state !== 'revoked') ?? [];
  const slots = active.reduce((sum, a) => sum + (a.state === 'connected' ? (a.capacity ?? 0) : 0), 0);
  const busy = active.reduce((sum, a) => sum + a.leases.length, 0);

  return (
    <section aria-labelledby="agents-title">
      <PageTitle id="agents-title">Build agents</PageTitle>
      <ErrorAlert error={error} />
      {agents === null ? (
        <p aria-busy="true">Loading…</p>
      ) : agents.length === 0 ? (
        <p className="muted">
          No agents. Register one with <code>gantry agents add NAME --labels linux</code>, then run{' '}
          <code>gantry agent --server URL --token TOKEN</code> on its host; jobs with <code>runs-on</code> go to it.
        </p>
      ) : (
        <>
          <p className="muted" role="status">
            {active.filter((a) => a.state === 'connected').length} connected · {busy} of {slots} slots busy
            {leaseMs !== null && ` · leases of ${Math.round(leaseMs / 1000)} s`}
          </p>
          <div className="table-scroll" tabIndex={0}>
            <table className="agents">
              <thead>
                <tr>
                  <th scope="col">Agent</th>
                  <th scope="col">State</th>
                  <th scope="col">Labels</th>
                  <th scope="col">Capacity</th>
                  <th scope="col">Running</th>
                  <th scope="col">Last seen</th>
                </tr>
              </thead>
              <tbody>
                {agents.map((a) => (
                  <tr key={a.name} data-agent={a.name}>
                    <th scope="row">{a.name}</th>
                    <td>
                      <StatusBadge status={STATE_LOOK[a.state]} label={a.state} />
                    </td>
                    <td>
                      {a.labels.map((l) => (
                        <code key={l} className="label">
                          {l}
                        </code>
                      ))}
                      {a.announcedLabels.map((l) => (
                        <code key={l} className="label announced" title="announced by the agent, not registered">
                          {l}
                        </code>
                      ))}
                    </td>
                    <td>{a.state === 'revoked' ? <span className="muted small">—</span> : <CapacityBar agent={a} />}</td>
                    <td>
                      {a.leases.length === 0 ? (
                        <span className="muted small">idle</span>
                      ) : (
                        <ul className="agent-jobs">
                          {a.leases.map((l) => (
                            <li key={`${l.runId}/${l.jobKey}`}>
                              <Link href={p`/runs/${l.runId}/jobs/${l.jobKey}`}>
                                {l.jobKey} <span className="muted small">of run {l.runId.slice(0, 8)}</span>
                              </Link>
                            </li>
                          ))}
                        </ul>
                      )}
                    </td>
                    <td title={a.lastSeenAt ?? undefined}>{a.lastSeenAt ? ago(a.lastSeenAt) : <span className="muted">never</span>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}
