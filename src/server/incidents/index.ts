/** Incidents as the server runs them: opened by page alerts or by hand, their lifecycle, timeline, impact and postmortem. */
export { registerIncidentRoutes, type IncidentRouteDeps } from './incident-routes.ts';
export { type IncidentImpact, IncidentService, type IncidentServiceDeps, type IncidentView } from './incident-service.ts';
