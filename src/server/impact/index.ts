/** Before and after each deploy, as the server shows it: the deploys API over the stored roll-ups. */
export { DEFAULT_IMPACT_ENVIRONMENT, type DeploysAnswer, type DeployWithImpact, registerImpactRoutes } from './impact-routes.ts';
