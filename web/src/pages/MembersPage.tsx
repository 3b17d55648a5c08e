/**
 * A project's members: who holds which role on the project, on one of its environments, or on
 * every project (server-wide), and — for those allowed to manage members — granting and taking
 * roles (PUT/DELETE /api/projects/:project/members). docs/access.md says what each role may do.
 */
import { useCallback, useEffect, useState } from 'react';
import { useParams } from 'wouter';
import { getJson, p, send } from '../api.ts';
import { ConfirmButton } from '../components/ConfirmButton.tsx';
import { ErrorAlert } from '../components/PageTitle.tsx';

interface Grant {
  subject: string;
  role: string;
  project: string | null;
  environment: string | null;
  createdBy: string;
}

const ROLES = ['viewer', 'developer', 'maintainer', 'admin'] as const;

export default function MembersPage() {
  const { project = '' } = useParams<{ project: string }>();
  const [grants, setGrants] = useState<Grant[] | null>(null);
  const [canManage, setCanManage] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [subject, setSubject] = useState('');
  const [role, setRole] = useState<string>('developer');
  const [environment, setEnvironment] = useState('');

  const load = useCallback(() => {
    getJson<{ grants: Grant[]; canManage: boolean }>(p`/api/projects/${project}/members`).then(
      (body) => {
        setGrants(body.grants);
        setCanManage(body.canManage);
        setError(null);
      },
      (err: Error) => setError(err.message),
    );
  }, [project]);
  useEffect(load, [load]);

  const scope = (g: Grant) => (g.project === null ? 'every project' : g.environment ? `environment ${g.environment}` : 'the project');

  return (
    <section aria-labelledby="members-title">
      <h1 id="members-title">Members of {project}</h1>
      <ErrorAlert error={error} />
      {grants === null && !error && <p aria-busy="true">Loading…</p>}
      {grants && (
        <div className="table-scroll" tabIndex={0}>
          <table aria-label="Members">
            <thead>
              <tr>
                <th scope="col">Who</th>
                <th scope="col">Role</th>
                <th scope="col">Where</th>
                <th scope="col">Granted by</th>
                {canManage && <th scope="col">Revoke</th>}
              </tr>
            </thead>
            <tbody>
              {grants.map((g) => (
                <tr key={`${g.subject}|${g.project ?? ''}|${g.environment ?? ''}`}>
                  <th scope="row" className="mono">
                    {g.subject}
                  </th>
                  <td>{g.role}</td>
                  <td>{scope(g)}</td>
                  <td className="mono small">{g.createdBy}</td>
                  {canManage && (
                    <td>
                      {g.project !== null && (
                        <ConfirmButton
                          label={`Revoke ${g.subject}`}
                          confirmLabel="Revoke"
                          question={`Take ${g.subject}'s ${g.role} role on ${scope(g)}?`}
                          onConfirm={async () => {
                            const query = g.environment ? `?environment=${encodeURIComponent(g.environment)}` : '';
                            await send('DELETE', `${p`/api/projects/${project}/members/${g.subject}`}${query}`);
                            load();
                          }}
                        />
                      )}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {canManage && (
        <form
          className="toolbar"
          aria-label="Grant a role"
          onSubmit={(e) => {
            e.preventDefault();
            send('PUT', p`/api/projects/${project}/members`, {
              subject,
              role,
              ...(environment.trim() ? { environment: environment.trim() } : {}),
            }).then(
              () => {
                setSubject('');
                load();
              },
              (err: Error) => setError(err.message),
            );
          }}
        >
          <label>
            User or group{' '}
            <input value={subject} onChange={(e) => setSubject(e.target.value)} placeholder="user:alice or group:shop-devs" required />
          </label>
          <label>
            Role{' '}
            <select value={role} onChange={(e) => setRole(e.target.value)}>
              {ROLES.map((r) => (
                <option key={r}>{r}</option>
              ))}
            </select>
          </label>
          <label>
            Environment <input value={environment} onChange={(e) => setEnvironment(e.target.value)} placeholder="(the whole project)" />
          </label>
          <button type="submit">Grant</button>
        </form>
      )}
    </section>
  );
}
