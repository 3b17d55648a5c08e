/**
 * The shell: who is signed in, the header, and the routes. Every page, the projects list on the
 * landing route too, and the header's search box load as their own chunks: the first chunk is the
 * shell (React and the header), so the header names the person as soon as React has run and the
 * session arrived, while the page's chunk is still on its way.
 */
import { lazy, Suspense, useEffect, useState } from 'react';
import { Link, Redirect, Route, Switch } from 'wouter';
import { loadSession, loadSignInMethods, onSessionEnded, send, type Session, type SignInMethods } from './api.ts';

const ProjectsPage = lazy(() => import('./pages/ProjectsPage.tsx'));
const SearchBox = lazy(() => import('./search/SearchBox.tsx').then((m) => ({ default: m.SearchBox })));
const ProjectPage = lazy(() => import('./pages/ProjectPage.tsx'));
const RunPage = lazy(() => import('./pages/RunPage.tsx'));
const EnvironmentPage = lazy(() => import('./pages/EnvironmentPage.tsx'));
const EventsPage = lazy(() => import('./pages/EventsPage.tsx'));
const IncidentsPage = lazy(() => import('./pages/IncidentsPage.tsx'));
const IncidentPage = lazy(() => import('./pages/IncidentPage.tsx'));
const NotificationsPage = lazy(() => import('./pages/NotificationsPage.tsx'));
const DoraPage = lazy(() => import('./pages/DoraPage.tsx'));
const SecurityPage = lazy(() => import('./pages/SecurityPage.tsx'));
const DeploysPage = lazy(() => import('./pages/DeploysPage.tsx'));
const TracesPage = lazy(() => import('./pages/TracesPage.tsx'));
const ServiceLogsPage = lazy(() => import('./pages/ServiceLogsPage.tsx'));
const SearchPage = lazy(() => import('./pages/SearchPage.tsx'));
const AuditPage = lazy(() => import('./pages/AuditPage.tsx'));
const MembersPage = lazy(() => import('./pages/MembersPage.tsx'));
const PeoplePage = lazy(() => import('./pages/PeoplePage.tsx'));
const ExperimentsPage = lazy(() => import('./pages/ExperimentsPage.tsx'));
const ExperimentRunPage = lazy(() => import('./pages/ExperimentRunPage.tsx'));
const NewServicePage = lazy(() => import('./pages/NewServicePage.tsx'));
const AgentsPage = lazy(() => import('./pages/AgentsPage.tsx'));

export function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [ended, setEnded] = useState<string | null>(null);
  useEffect(() => {
    loadSession().then(setSession, (err: Error) => setError(err.message));
    return onSessionEnded(setEnded);
  }, []);

  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="top">
        <nav aria-label="Main">
          <Link href="/" className="brand">
            Gantry
          </Link>
          {session && (
            <>
              <Link href="/">Projects</Link>
              <Link href="/events">Events</Link>
              <Link href="/incidents">Incidents</Link>
              <Link href="/notifications">Notifications</Link>
              <Link href="/dora">DORA</Link>
              <Link href="/agents">Agents</Link>
              {session.admin && <Link href="/audit">Audit</Link>}
              {session.admin && <Link href="/people">People</Link>}
              <Link href="/new">New service</Link>
            </>
          )}
        </nav>
        {session && (
          <Suspense fallback={null}>
            <SearchBox />
          </Suspense>
        )}
        {session && (
          <span className="who">
            <span title="signed in as">{session.actor}</span>
            <span className="roles" title={`roles: ${session.roles.join(', ')}`}>
              {session.roles.length > 0 ? session.roles.join(', ') : 'no role yet'}
            </span>
            <button
              type="button"
              onClick={() => {
                // The sign-in page, not a page that may send the browser straight back to the provider.
                void send('POST', '/auth/logout').finally(() => {
                  window.location.assign('/sign-in');
                });
              }}
            >
              Sign out
            </button>
          </span>
        )}
      </header>
      <main id="main" tabIndex={-1}>
        {error && (
          <p role="alert" className="error">
            The server did not answer: {error}
          </p>
        )}
        {ended && (
          <p role="alert" className="error">
            Your session has ended: {ended}. <a href="/">Sign in again</a>.
          </p>
        )}
        {session === undefined && !error && <p aria-busy="true">Loading…</p>}
        {session === null && <SignIn />}
        {session && (
          <Suspense fallback={<p aria-busy="true">Loading…</p>}>
            <Switch>
              <Route path="/" component={ProjectsPage} />
              <Route path="/sign-in">
                <Redirect to="/" replace />
              </Route>
              <Route path="/projects/:project" component={ProjectPage} />
              <Route path="/projects/:project/environments/:env" component={EnvironmentPage} />
              <Route path="/projects/:project/environments/:env/traces" component={TracesPage} />
              <Route path="/projects/:project/environments/:env/traces/:trace" component={TracesPage} />
              <Route path="/projects/:project/deploys" component={DeploysPage} />
              <Route path="/projects/:project/experiments" component={ExperimentsPage} />
              <Route path="/projects/:project/experiment-runs/:run" component={ExperimentRunPage} />
              <Route path="/projects/:project/environments/:env/logs" component={ServiceLogsPage} />
              <Route path="/runs/:run" component={RunPage} />
              <Route path="/runs/:run/jobs/:job" component={RunPage} />
              <Route path="/events" component={EventsPage} />
              <Route path="/incidents" component={IncidentsPage} />
              <Route path="/projects/:project/incidents/:number" component={IncidentPage} />
              <Route path="/projects/:project/security" component={SecurityPage} />
              <Route path="/notifications" component={NotificationsPage} />
              <Route path="/dora" component={DoraPage} />
              <Route path="/search" component={SearchPage} />
              <Route path="/audit" component={AuditPage} />
              <Route path="/people" component={PeoplePage} />
              <Route path="/projects/:project/members" component={MembersPage} />
              <Route path="/new" component={NewServicePage} />
              <Route path="/agents" component={AgentsPage} />
              <Route>
                <h1>Not found</h1>
                <p>
                  There is nothing at this address. <Link href="/">Back to the projects</Link>.
                </p>
              </Route>
            </Switch>
          </Suspense>
        )}
      </main>
    </>
  );
}

/** The provider's sign-in, coming back to the page this browser was opening. */
function startFromHere(start: string): string {
  const here = `${window.location.pathname}${window.location.search}`;
  return here === '/' || here === '/sign-in' ? start : `${start}?next=${encodeURIComponent(here)}`;
}

function SignIn() {
  const [methods, setMethods] = useState<SignInMethods | null>(null);
  useEffect(() => {
    loadSignInMethods().then(setMethods, () => setMethods({ link: true, oidc: null }));
  }, []);
  return (
    <section className="sign-in">
      <h1>Sign in to Gantry</h1>
      {methods?.oidc && (
        <p>
          <a className="button" href={startFromHere(methods.oidc.start)}>
            Sign in with your identity provider
          </a>
        </p>
      )}
      <p>
        {methods?.oidc ? 'Or run' : 'Run'} <code>gantry open</code> on the machine where Gantry runs: it prints a one-time link that signs
        this browser in.
      </p>
    </section>
  );
}
