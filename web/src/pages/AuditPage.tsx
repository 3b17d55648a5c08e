/**
 * The audit trail (admins): who did what, from where — each state-changing API call, sign-in and
 * refusal with its actor and client address, newest first, filtered by user and by how far back
 * (GET /api/audit; the filters live in the URL so a view can be shared).
 */
import { useEffect, useState } from 'react';
import { useSearch } from 'wouter';
import { getJson } from '../api.ts';
import { ago } from '../format.ts';
import { ErrorAlert } from '../components/PageTitle.tsx';

interface AuditEvent {
  id: number;
  type: string;
  actor: string;
  at: string;
  data: Record<string, unknown>;
}

const SPANS = ['1h', '24h', '7d', '30d'] as const;

export default function AuditPage() {
  const params = new URLSearchParams(useSearch());
  const [user, setUser] = useState(params.get('user') ?? '');
  const [since, setSince] = useState(params.get('since') ?? '7d');
  const [events, setEvents] = useState<AuditEvent[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const query = new URLSearchParams({ since, limit: '500' });
    if (user.trim()) query.set('user', user.trim());
    window.history.replaceState(null, '', `/audit?${query}`);
    const abort = new AbortController();
    getJson<{ events: AuditEvent[] }>(`/api/audit?${query}`, abort.signal).then(
      (body) => {
        setEvents(body.events);
        setError(null);
      },
      (err: Error) => {
        if (!abort.signal.aborted) setError(err.message);
      },
    );
    return () => abort.abort();
  }, [user, since]);

  return (
    <section aria-labelledby="audit-title">
      <h1 id="audit-title">Audit</h1>
      <form className="toolbar filters" role="search" aria-label="Filter the audit trail" onSubmit={(e) => e.preventDefault()}>
        <label>
          User <input value={user} onChange={(e) => setUser(e.target.value)} placeholder="alice or api:ci" aria-label="User" />
        </label>
        <label>
          Since{' '}
          <select value={since} onChange={(e) => setSince(e.target.value)} aria-label="Since">
            {SPANS.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
      </form>
      <ErrorAlert error={error} />
      {events === null && !error && <p aria-busy="true">Loading…</p>}
      {events?.length === 0 && <p className="muted">Nothing recorded for this filter.</p>}
      {events && events.length > 0 && (
        <div className="table-scroll" tabIndex={0}>
          <table aria-label="Audit trail">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">What</th>
                <th scope="col">From</th>
              </tr>
            </thead>
            <tbody>
              {events.map((e) => (
                <tr key={e.id}>
                  <td title={e.at}>{ago(e.at)}</td>
                  <td className="mono">{e.actor}</td>
                  <td>{describe(e)}</td>
                  <td className="mono">{typeof e.data.from === 'string' ? e.data.from : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

/** One line per event: an API call as its method, route and answer; anything else as its type and main fields. */
function describe(e: AuditEvent): string {
  const d = e.data;
  if (e.type === 'api.call') {
    const params = Object.entries((d.params ?? {}) as Record<string, string>)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    return `${String(d.method)} ${String(d.route)}${params ? ` (${params})` : ''} → ${String(d.status)}`;
  }
  if (e.type === 'session.refused') return `sign-in refused: ${String(d.message ?? d.reason)}`;
  const fields = Object.entries(d)
    .filter(([k, v]) => k !== 'from' && (typeof v === 'string' || typeof v === 'number' || Array.isArray(v)))
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : String(v)}`)
    .join(' ');
  return `${e.type}${fields ? ` ${fields}` : ''}`;
}
