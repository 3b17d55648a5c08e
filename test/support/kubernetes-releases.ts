/** Releases of a Kubernetes project stored directly (no pipeline run), and what they run, for the Kubernetes end-to-end tests. */
import { createServer, type Server } from 'node:http';
import type { Store } from '../../src/store/ports.ts';

/** One release per commit, numbered in order, each with its gantry.yaml. */
export async function storeReleases(
  store: Store,
  projectId: string,
  releases: readonly { sha: string; configText: string }[],
): Promise<void> {
  for (const { sha, configText } of releases) {
    await store.releases.create({
      projectId,
      runId: null,
      sha,
      ref: 'refs/heads/main',
      configText,
      configHash: sha.slice(0, 8),
      artifactsPath: `releases/${sha.slice(0, 8)}`,
      createdBy: 'test',
    });
  }
}

/**
 * `shop`'s gantry.yaml with production on the scripted cluster (context `scripted` of
 * `kubeconfig`): `instances` of `node server.js`; `production` lines go under the environment
 * before its target (strategy, secrets; indented four spaces, each ending in a newline), `rest`
 * after the environments (SLOs, experiments).
 */
export function shopOnKubernetes(kubeconfig: string, o: { instances: number; production?: string; rest?: string }): string {
  return `
pipeline:
  jobs: { build: { steps: [make] } }
service:
  run: node server.js
  instances: ${o.instances}
environments:
  production:
${o.production ?? ''}    target:
      kubernetes: { namespace: shop, image: "registry.test/shop:{release}", kubeconfig: "${kubeconfig}", context: scripted }
${o.rest ?? ''}`;
}

/** `shop` on the scripted cluster behind its proxy pods, recreated on deploy, with one availability SLO. */
export const SLO_ON_KUBERNETES = (kubeconfig: string) =>
  shopOnKubernetes(kubeconfig, {
    instances: 1,
    production: '    strategy: { recreate: {} }\n',
    rest: `slos:
  availability: { objective: 99%, period: 1h }
`,
  });

/** Release 1's backend behind the pods: 500 under /fail, 200 elsewhere. */
export function startReleaseBackend(): Promise<Server> {
  const s = createServer((req, res) => {
    res.writeHead(req.url?.startsWith('/fail') ? 500 : 200, { 'content-type': 'text/plain' });
    res.end('release 1\n');
  });
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve(s)));
}
