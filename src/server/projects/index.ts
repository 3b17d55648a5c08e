/** Projects: registration, git hooks, URL polling, webhooks and schedules — everything that turns a push into a trigger. */
export { commitStateOf, FORGE_STATUS_SENT, FORGE_TOKEN_SECRET, ForgeStatusReporter, resendLostStatuses } from './forge-status.ts';
export { registerProjectRoutes, type ProjectRouteDeps } from './project-routes.ts';
export { ProjectService, type AddProjectRequest, type ProjectServiceDeps } from './project-service.ts';
