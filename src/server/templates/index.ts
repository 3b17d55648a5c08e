/** Service templates as the server offers them: the list and the dashboard's "New service". */
export { type NewServiceDeps, type NewServiceRequest, newService, servicesDir } from './new-service.ts';
export { registerTemplateRoutes } from './template-routes.ts';
