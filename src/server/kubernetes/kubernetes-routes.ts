/**
 * `GET /api/projects/:project/environments/:env/kubernetes`: the manifests Gantry would apply for
 * an environment with a kubernetes target, as YAML, so a user can check them against their own
 * cluster (`gantry k8s render P ENV | kubectl apply --dry-run=server -f -`). The manifests are
 * validated against the schemas of every supported Kubernetes version before they are answered.
 */
import { stringify } from 'yaml';
import { z } from 'zod';
import { NotFoundError } from '../../core/errors.ts';
import type { Project, ReleaseRecord, Store } from '../../store/ports.ts';
import type { RouteTable } from '../http/index.ts';

export interface KubernetesRouteDeps {
  store: Store;
  requireProject(idOrName: string): Promise<Project>;
}

/** The release to render: the one asked for, else the environment's current one, else the newest. */
async function releaseToRender(store: Store, project: Project, environment: string, number: number | undefined): Promise<ReleaseRecord> {
  if (number !== undefined) {
    const release = await store.releases.getByNumber(project.id, number);
    if (release === undefined) throw new NotFoundError(`release #${number} of ${project.name} does not exist`);
    return release;
  }
  const current = (await store.rollouts.environment(project.id, environment))?.currentReleaseId;
  const release = current ? await store.releases.get(current) : (await store.releases.list(project.id, 1))[0];
  if (release === undefined) throw new NotFoundError(`${project.name} has no release yet (\`gantry release create\`)`);
  return release;
}

export function registerKubernetesRoutes(routes: RouteTable, deps: KubernetesRouteDeps): void {
  routes.add({
    method: 'GET',
    url: '/api/projects/:project/environments/:env/kubernetes',
    summary:
      "The Kubernetes manifests of an environment with a kubernetes target (YAML): a release (`release`, else the environment's current one, else the newest) taking all traffic, validated against the schemas of Kubernetes 1.29–1.33 (docs/kubernetes.md)",
    auth: 'admin',
    permission: 'read',
    params: z.object({ project: z.string().min(1), env: z.string().min(1) }),
    query: z.object({ release: z.coerce.number().int().min(1).optional() }),
    produces: 'application/yaml',
    handler: async ({ params, query, reply }) => {
      const project = await deps.requireProject(params.project);
      const release = await releaseToRender(deps.store, project, params.env, query.release);
      const { KUBERNETES_VERSIONS, manifestsToYaml, renderRelease, SCHEMA_VERSION } = await import('./render-release.ts');
      const objects = renderRelease(project, params.env, release);
      const head = stringify(
        {
          release: release.number,
          commit: release.sha,
          validated: `Kubernetes ${KUBERNETES_VERSIONS.join(', ')} (${SCHEMA_VERSION} OpenAPI schemas)`,
        },
        { lineWidth: 0 },
      )
        .trimEnd()
        .split('\n')
        .map((line) => `# ${line}`)
        .join('\n');
      return reply.type('application/yaml').send(`${head}\n${manifestsToYaml(objects)}`);
    },
  });
}
