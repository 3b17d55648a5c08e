/** Kubernetes as a deploy target, the server's side: the cluster port, its client-node adapter, and the render route. */
export { type ClusterCredentials, ClientNodeCluster } from './client-node-cluster.ts';
export { registerKubernetesRoutes, type KubernetesRouteDeps } from './kubernetes-routes.ts';
export type { ApplyOutcome, KubernetesCluster, PodReadiness } from './ports.ts';
export { KubernetesDeployer, type KubernetesDeployerDeps } from './kubernetes-deployer.ts';
export {
  KubernetesTargets,
  type KubernetesChaosInput,
  type KubernetesTargetInput,
  type KubernetesTargetsDeps,
} from './kubernetes-targets.ts';
export { ClusterFaultProxy, sumFaultReports } from './cluster-chaos.ts';
