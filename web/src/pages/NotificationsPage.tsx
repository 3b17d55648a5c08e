/**
 * Notifications: the channels (where, what they receive, whether signed; a test send each) and
 * the delivery log, newest first — state, attempts, the next try and the last error, so a person
 * sees why a page did not arrive. The log is re-read when an event arrives (each event may queue
 * deliveries) and by the Refresh button; channels are added from the CLI (`gantry notify
 * channel add`), which shows a webhook's signing secret once.
 */
import { useCallback, useEffect, useState } from 'react';
import { getJson, p, send } from '../api.ts';
import { ErrorAlert, PageTitle } from '../components/PageTitle.tsx';
import { FilterSelect } from '../components/FilterSelect.tsx';
import { ConfirmButton } from '../components/ConfirmButton.tsx';
import { StatusBadge } from '../components/StatusBadge.tsx';
import { useLiveEvents } from '../events.ts';
import { ago } from '../format.ts';
import type { Channel, Delivery } from '../slo/types.ts';
import type { Project } from '../types.ts';
import './Incidents.css';

const DELIVERY_LOOK = { pending: 'queued', delivered: 'succeeded', failed: 'failed' } as const;

export default function NotificationsPage() {
  const [channels, setChannels] = useState<Channel[] | null>(null);
  const [deliveries, setDeliveries] = useState<Delivery[] | null>(null);
  const [projects, setProjects] = useState<Map<string, string>>(new Map());
  const [status, setStatus] = useState('');
  const [channel, setChannel] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [tested, setTested] = useState<Record<string, string>>({});

  const load = useCallback(() => {
    const query = new URLSearchParams({ limit: '200' });
    if (status) query.set('status', status);
    if (channel) query.set('channel', channel);
    Promise.all([
      getJson<{ channels: Channel[] }>('/api/notify/channels'),
      getJson<{ deliveries: Delivery[] }>(`/api/notify/deliveries?${query}`),
    ]).then(
      ([c, d]) => {
        setChannels(c.channels);
        setDeliveries(d.deliveries);
        setError(null);
      },
      (err: Error) => setError(err.message),
    );
  }, [status, channel]);
  useEffect(load, [load]);
  useEffect(() => {
    getJson<{ projects: Project[] }>('/api/projects').then(
      ({ projects: list }) => setProjects(new Map(list.map((pr) => [pr.id, pr.name]))),
      () => undefined,
    );
  }, []);
  // Deliveries are queued for the events channels usually route; anything else waits for Refresh.
  const connection = useLiveEvents(
    {},
    (event) => {
      if (/^(slo|incident|rollout|deploy)\.|^run\.failure$/.test(event.type)) load();
    },
    load,
  );

  return (
    <section aria-labelledby="notifications-title">
      <PageTitle id="notifications-title" live={connection}>
        Notifications
      </PageTitle>
      <ErrorAlert error={error} />
      <section className="card" aria-labelledby="channels-title">
        <h2 id="channels-title">Channels</h2>
        {channels === null ? (
          <p aria-busy="true">Loading…</p>
        ) : channels.length === 0 ? (
          <p className="muted">
            No channels. Add one with <code>gantry notify channel add NAME URL</code> (a Slack incoming webhook, or any URL for signed
            JSON).
          </p>
        ) : (
          <div className="table-scroll" tabIndex={0}>
            <table className="channels">
              <thead>
                <tr>
                  <th scope="col">Channel</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Sends to</th>
                  <th scope="col">For</th>
                  <th scope="col">Events</th>
                  <th scope="col">Test</th>
                </tr>
              </thead>
              <tbody>
                {channels.map((c) => (
                  <tr key={c.id} data-channel={c.name}>
                    <th scope="row">{c.name}</th>
                    <td>
                      {c.kind}
                      {c.signed && <span className="muted small"> · signed</span>}
                    </td>
                    <td className="mono">{c.target}</td>
                    <td>
                      {c.projectId ? (projects.get(c.projectId) ?? c.projectId) : 'every project'}
                      {c.routes.environments && <span className="muted small"> · {c.routes.environments.join(', ')}</span>}
                      {c.routes.severities && <span className="muted small"> · {c.routes.severities.join(', ')}</span>}
                    </td>
                    <td className="small mono">{c.routes.events.join(' ')}</td>
                    <td>
                      <ConfirmButton
                        label={`Send a test to ${c.name}`}
                        confirmLabel="Send"
                        question={`Send a test notification to ${c.name} now (${c.target}); the answer shows here.`}
                        onConfirm={async () => {
                          const result = await send<{ delivered: boolean; error: string | null }>(
                            'POST',
                            p`/api/notify/channels/${c.name}/test`,
                          );
                          setTested((all) => ({ ...all, [c.name]: result.delivered ? 'accepted' : `refused: ${result.error ?? ''}` }));
                        }}
                      />
                      {tested[c.name] && (
                        <span className="small" role="status">
                          {' '}
                          {tested[c.name]}
                        </span>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <section className="card deliveries-card" aria-labelledby="deliveries-title">
        <h2 id="deliveries-title">Delivery log</h2>
        <form className="toolbar filters" role="search" aria-label="Filter deliveries" onSubmit={(e) => e.preventDefault()}>
          <FilterSelect
            label="State"
            value={status || undefined}
            choices={['pending', 'delivered', 'failed']}
            onChange={(v) => setStatus(v ?? '')}
          />
          <FilterSelect
            label="Channel"
            value={channel || undefined}
            choices={(channels ?? []).map((c) => c.name)}
            onChange={(v) => setChannel(v ?? '')}
          />
          <button type="button" onClick={load}>
            Refresh
          </button>
        </form>
        {deliveries === null ? (
          <p aria-busy="true">Loading…</p>
        ) : deliveries.length === 0 ? (
          <p className="muted">Nothing sent yet.</p>
        ) : (
          <div className="table-scroll" tabIndex={0}>
            <table className="deliveries">
              <thead>
                <tr>
                  <th scope="col">Queued</th>
                  <th scope="col">Channel</th>
                  <th scope="col">Event</th>
                  <th scope="col">State</th>
                  <th scope="col">Attempts</th>
                  <th scope="col">Next try</th>
                  <th scope="col">Last error</th>
                </tr>
              </thead>
              <tbody>
                {deliveries.map((d) => (
                  <tr key={d.id} data-delivery={d.id} data-status={d.status}>
                    <td>
                      <time dateTime={d.createdAt} title={d.createdAt}>
                        {ago(d.createdAt)}
                      </time>
                    </td>
                    <td>{d.channel}</td>
                    <td className="mono small">
                      {d.payload.type ?? `event ${d.eventId}`}
                      {d.payload.environment && <span className="muted"> · {d.payload.environment}</span>}
                    </td>
                    <td>
                      <StatusBadge status={DELIVERY_LOOK[d.status]} label={d.status} />
                    </td>
                    <td>{d.attempts}</td>
                    <td>
                      {d.status === 'pending' ? (
                        <time dateTime={new Date(d.nextAttemptMs).toISOString()}>{new Date(d.nextAttemptMs).toLocaleTimeString()}</time>
                      ) : (
                        '–'
                      )}
                    </td>
                    <td className="small last-error">{d.lastError ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </section>
  );
}
