/**
 * The shell: who is signed in, the header, and the routes. Pages other than the projects list
 * load as their own chunks, so the first load stays small.
 */
import { lazy, Suspense, useEffect, useState } from 'react';
import { Link, Route, Switch } from 'wouter';
import { loadSession, send, type Session } from './api.ts';
import ProjectsPage from './pages/ProjectsPage.tsx';
import { SearchBox } from './search/SearchBox.tsx';

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
const NewServicePage = lazy(() => import('./pages/NewServicePage.tsx'));

export function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    loadSession().then(setSession, (err: Error) => setError(err.message));
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
              <Link href="/new">New service</Link>
            </>
          )}
        </nav>
        {session && <SearchBox />}
        {session && (
          <span className="who">
            <span title="signed in as">{session.actor}</span>
            <button
              type="button"
              onClick={() => {
                void send('POST', '/auth/logout').finally(() => {
                  window.location.assign('/');
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
        {session === undefined && !error && <p aria-busy="true">Loading…</p>}
        {session === null && <SignIn />}
        {session && (
          <Suspense fallback={<p aria-busy="true">Loading…</p>}>
            <Switch>
              <Route path="/" component={ProjectsPage} />
              <Route path="/projects/:project" component={ProjectPage} />
              <Route path="/projects/:project/environments/:env" component={EnvironmentPage} />
              <Route path="/projects/:project/environments/:env/traces" component={TracesPage} />
              <Route path="/projects/:project/environments/:env/traces/:trace" component={TracesPage} />
              <Route path="/projects/:project/deploys" component={DeploysPage} />
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
              <Route path="/new" component={NewServicePage} />
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

function SignIn() {
  return (
    <section className="sign-in">
      <h1>Sign in to Gantry</h1>
      <p>
        Run <code>gantry open</code> on the machine where Gantry runs: it prints a one-time link that signs this browser in.
      </p>
    </section>
  );
}
