/**
 * People (admins): every user and service account with their groups, server-wide roles, the
 * dashboard sessions signed in now — each can be ended at once (its open streams too) — and
 * disabling a user, which stops their tokens and sessions.
 */
import { useCallback, useEffect, useState } from 'react';
import { getJson, p, send } from '../api.ts';
import { ConfirmButton } from '../components/ConfirmButton.tsx';
import { ErrorAlert } from '../components/PageTitle.tsx';
import { ago } from '../format.ts';

interface User {
  name: string;
  kind: string;
  displayName: string;
  email: string | null;
  externalId: string | null;
  disabledAt: string | null;
  groups: string[];
}
interface Grant {
  subject: string;
  role: string;
  project: string | null;
}
interface SessionInfo {
  id: string;
  owner: string | null;
  createdAt: string;
  expiresAt: string;
}

export default function PeoplePage() {
  const [users, setUsers] = useState<User[] | null>(null);
  const [grants, setGrants] = useState<Grant[]>([]);
  const [sessions, setSessions] = useState<SessionInfo[]>([]);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(() => {
    Promise.all([
      getJson<{ users: User[] }>('/api/users'),
      getJson<{ grants: Grant[] }>('/api/grants'),
      getJson<{ sessions: SessionInfo[] }>('/api/sessions'),
    ]).then(
      ([u, g, s]) => {
        setUsers(u.users);
        setGrants(g.grants.filter((x) => x.project === null));
        setSessions(s.sessions);
        setError(null);
      },
      (err: Error) => setError(err.message),
    );
  }, []);
  useEffect(load, [load]);
  const act = (call: Promise<unknown>) => call.then(load, (err: Error) => setError(err.message));
  const serverRoles = (u: User) =>
    grants
      .filter((g) => g.subject === `user:${u.name}` || u.groups.some((group) => g.subject === `group:${group}`))
      .map((g) => `${g.role} (${g.subject})`);

  return (
    <section aria-labelledby="people-title">
      <h1 id="people-title">People</h1>
      <ErrorAlert error={error} />
      {users === null && !error && <p aria-busy="true">Loading…</p>}
      {users && (
        <div className="table-scroll" tabIndex={0}>
          <table aria-label="Users">
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col">Groups</th>
                <th scope="col">Server-wide roles</th>
                <th scope="col">Sign-in</th>
                <th scope="col">State</th>
              </tr>
            </thead>
            <tbody>
              {users.map((u) => (
                <tr key={u.name} data-user={u.name}>
                  <th scope="row">
                    {u.displayName} <span className="mono small">{u.name}</span>
                    {u.kind === 'service' && <span className="muted small"> · service account</span>}
                  </th>
                  <td className="mono small">{u.groups.join(', ')}</td>
                  <td className="small">{serverRoles(u).join(', ') || '—'}</td>
                  <td className="small">{u.externalId ? 'identity provider' : 'tokens only'}</td>
                  <td>
                    <ConfirmButton
                      label={u.disabledAt ? `Enable ${u.name}` : `Disable ${u.name}`}
                      confirmLabel={u.disabledAt ? 'Enable' : 'Disable'}
                      question={
                        u.disabledAt
                          ? `Let ${u.name} sign in and use their tokens again?`
                          : `Disable ${u.name}? Their tokens and sessions stop working now, open streams included.`
                      }
                      onConfirm={() => act(send('PUT', p`/api/users/${u.name}/disabled`, { disabled: u.disabledAt === null }))}
                    />
                    {u.disabledAt && <span className="muted small"> disabled {ago(u.disabledAt)}</span>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <h2>Signed-in sessions</h2>
      {sessions.length === 0 ? (
        <p className="muted">No dashboard session is signed in.</p>
      ) : (
        <div className="table-scroll" tabIndex={0}>
          <table aria-label="Sessions">
            <thead>
              <tr>
                <th scope="col">Who</th>
                <th scope="col">Since</th>
                <th scope="col">Until</th>
                <th scope="col">End</th>
              </tr>
            </thead>
            <tbody>
              {sessions.map((s) => (
                <tr key={s.id} data-session={s.id}>
                  <th scope="row" className="mono">
                    {s.owner ? `user:${s.owner}` : 'gantry open (admin)'}
                  </th>
                  <td>{ago(s.createdAt)}</td>
                  <td title={s.expiresAt}>{s.expiresAt.slice(0, 16).replace('T', ' ')}</td>
                  <td>
                    <ConfirmButton
                      label={`End ${s.owner ?? 'admin'} session`}
                      confirmLabel="End session"
                      question="End this session now? Its next request is refused and its open streams end."
                      onConfirm={() => act(send('DELETE', p`/api/sessions/${s.id}`))}
                    />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
