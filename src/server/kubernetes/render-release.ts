/**
 * An environment's manifests for one release taking all traffic, validated against the schemas of
 * every supported Kubernetes version. Loaded by the route on first use: the schemas' validators
 * take a second to load, which a server that never renders should not pay at start.
 */
import { GantryError, InputError, NotFoundError } from '../../core/errors.ts';
import {
  KUBERNETES_VERSIONS,
  type KubernetesObject,
  kubernetesTargetOf,
  manifestsToYaml,
  renderManifests,
  SCHEMA_VERSION,
  validateManifests,
} from '../../kubernetes/index.ts';
import { parseStoredConfig } from '../../pipeline/stored-config.ts';
import type { Project, ReleaseRecord } from '../../store/ports.ts';

export { KUBERNETES_VERSIONS, manifestsToYaml, SCHEMA_VERSION };

/** The environment's manifests for one release taking all traffic, checked against every supported version. */
export function renderRelease(project: Project, environment: string, release: ReleaseRecord): KubernetesObject[] {
  const config = parseStoredConfig(release.configText);
  const envConfig = config.environments?.[environment];
  if (config.service === undefined) throw new InputError(`release #${release.number} has no \`service\` section`);
  if (envConfig === undefined) throw new NotFoundError(`release #${release.number} defines no environment '${environment}'`);
  kubernetesTargetOf(envConfig);
  const objects = renderManifests({
    project: project.name,
    environment,
    service: config.service,
    envConfig,
    versions: [
      { release: { number: release.number, sha: release.sha }, weight: 100, replicas: envConfig.instances ?? config.service.instances },
    ],
  });
  for (const version of KUBERNETES_VERSIONS) {
    const problems = validateManifests(objects, version);
    if (problems.length > 0) {
      const lines = problems.map((p) => `${p.object} ${p.path || '/'}: ${p.message}`);
      throw new GantryError('KUBERNETES_MANIFEST_INVALID', `the manifests fail the Kubernetes ${version} schema:\n${lines.join('\n')}`, {
        problems,
      });
    }
  }
  return objects;
}
