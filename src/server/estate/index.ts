/** The platform as code as the server runs it: plan and all-or-nothing apply of a desired estate. */
export { registerEstateRoutes } from './estate-routes.ts';
export {
  EstateService,
  type EstateServiceDeps,
  type FingerprintedPlan,
  PLATFORM_APPLIED_EVENT,
  type PlanFingerprint,
} from './estate-service.ts';
