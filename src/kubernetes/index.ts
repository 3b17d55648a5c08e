/**
 * Kubernetes as a deploy target, the pure part: an environment's desired state as manifests
 * (a Deployment and a Service per release, a stable Service, the traffic split), their names, the
 * rollout's commands applied to that state, and offline validation against the API's schemas.
 * No I/O; the cluster is reached by server/kubernetes through its port.
 */
export { applyRolloutCommand, type DesiredVersions, initialVersions, placements, type PoolState } from './desired-state.ts';
export { manifestsToYaml } from './manifest-yaml.ts';
export {
  imageOf,
  type KubernetesObject,
  type KubernetesRelease,
  kubernetesTargetOf,
  PROXY_PORT,
  PROXY_METRICS_PORT,
  type RenderInput,
  renderManifests,
  SERVICE_PORT,
  type VersionPlacement,
} from './manifests.ts';
export { dnsLabel, FIELD_MANAGER, type KubernetesNames, kubernetesNames, LABELS } from './names.ts';
export {
  KUBERNETES_VERSIONS,
  type KubernetesVersion,
  type ManifestProblem,
  SCHEMA_VERSION,
  validateManifests,
} from './schema-validation.ts';
