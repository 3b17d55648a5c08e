/** Progressive delivery's I/O side: releases, the rollout driver per environment, its API, live views and roll-ups. */
export { AutoRelease, type AutoReleaseDeps } from './auto-release.ts';
export { DeliveryController, type DeliveryDeps } from './delivery-controller.ts';
export type {
  Clock,
  EnvironmentInstances,
  EnvironmentProxy,
  InstanceLabels,
  InstanceSupervisor,
  MetricQuerySource,
  MetricsSource,
  ProxyControl,
  ProxyOpenOptions,
  TargetChaos,
} from './ports.ts';
export { ProxyProcesses, SupervisedInstances } from './real-ports.ts';
export { registerDeliveryRoutes, type DeliveryRouteDeps } from './delivery-routes.ts';
export { registerEnvironmentViewRoutes } from './environment-view-routes.ts';
export { PrometheusSource, type PrometheusSourceOptions } from './prometheus-source.ts';
export { environmentLogBudget } from './release-config.ts';
export { ReleaseService, releaseDir, releaseSbomFile, type ReleaseServiceDeps } from './release-service.ts';
export { RollupRecorder } from './rollup-recorder.ts';
