/** The event log as the API shows it (scoped to projects and environments) and in-process change notifications. */
export { registerEventRoutes, type EventRouteDeps } from './event-routes.ts';
export { EventScopes, type EventScope, type ScopedEvent } from './event-scope.ts';
export { LiveHub } from './live-hub.ts';
export { hubKeyOf, RemoteChanges, type RemoteChangesDeps } from './remote-changes.ts';
export { exportEventLines, type ExportWindow, registerEventExportRoute, type EventExportDeps } from './event-export.ts';
