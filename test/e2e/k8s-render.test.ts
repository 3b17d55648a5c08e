/**
 * `gantry k8s render PROJECT ENV` end to end: a real server with a project and releases, the CLI
 * as a process. Its output is checked again here against the schemas of every supported
 * Kubernetes version, and a misspelled field in it is caught.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { KUBERNETES_VERSIONS, type KubernetesObject, validateManifests } from '../../src/kubernetes/index.ts';
import { runCli } from '../support/cli.ts';
import { storeReleases } from '../support/kubernetes-releases.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const CONFIG = (image: string) => `
pipeline:
  jobs: { build: { steps: [make] } }
service:
  run: node server.js
  instances: 3
  health: { path: /healthz }
environments:
  staging: {}
  production:
    strategy: { canary: { steps: [{ weight: 10, pause: 1m }] } }
    target:
      kubernetes: { namespace: shop, image: "${image}" }
`;

let server: TestServer;
let env: Record<string, string>;

beforeAll(async () => {
  server = await startTestServer();
  env = { GANTRY_URL: server.url, GANTRY_TOKEN: server.token };
  const project = await server.store.projects.create({ name: 'shop', source: { kind: 'local', path: '/nowhere' }, webhookSecret: 'w' });
  await storeReleases(server.store, project.id, [
    { sha: '1'.repeat(40), configText: CONFIG('registry.test/shop:{release}') },
    { sha: '2'.repeat(40), configText: CONFIG('registry.test/shop@{commit}') },
  ]);
}, 60_000);
afterAll(async () => {
  await server?.cleanup();
});

const documents = (yaml: string) => parseAllDocuments(yaml).map((d) => d.toJS() as KubernetesObject);

describe('gantry k8s render', () => {
  it('prints the newest release by default, which passes the schema of every supported version', async () => {
    const result = await runCli(process.cwd(), ['k8s', 'render', 'shop', 'production'], { env });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^# release: 2\n/);
    const objects = documents(result.stdout);
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'Deployment/shop-production-r2',
      'Service/shop-production-r2',
      'Service/shop-production',
      'ConfigMap/shop-production-routes',
      'Deployment/shop-production-proxy',
    ]);
    expect((objects[0] as unknown as { spec: { replicas: number } }).spec.replicas).toBe(3);
    for (const version of KUBERNETES_VERSIONS) expect(validateManifests(objects, version)).toEqual([]);

    const misspelled = structuredClone(objects[0]) as unknown as { spec: Record<string, unknown> };
    misspelled.spec.replica = misspelled.spec.replicas;
    delete misspelled.spec.replicas;
    for (const version of KUBERNETES_VERSIONS) {
      expect(validateManifests([misspelled as unknown as KubernetesObject], version)).toEqual([
        {
          object: 'Deployment/shop-production-r2',
          path: '/spec/replica',
          message: "unknown field 'replica' (not in the apps/v1/Deployment schema)",
        },
      ]);
    }
  });

  it('prints the release asked for', async () => {
    const result = await runCli(process.cwd(), ['k8s', 'render', 'shop', 'production', '--release', '1'], { env });
    expect(result.code).toBe(0);
    const deployment = documents(result.stdout)[0] as unknown as { spec: { template: { spec: { containers: { image: string }[] } } } };
    expect(deployment.spec.template.spec.containers[0]?.image).toBe('registry.test/shop:1');
  });

  it('says in one line why an environment cannot be rendered', async () => {
    const embedded = await runCli(process.cwd(), ['k8s', 'render', 'shop', 'staging'], { env });
    expect(embedded.code).not.toBe(0);
    expect(embedded.stderr.trim()).toMatch(/^[^\n]*environment 'staging' has no kubernetes target[^\n]*$/);
    const missing = await runCli(process.cwd(), ['k8s', 'render', 'shop', 'production', '--release', '9'], { env });
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/release #9 of shop does not exist/);
  });
});
