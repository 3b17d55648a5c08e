import { describe, expect, it } from 'vitest';
import {
  applyRolloutCommand,
  initialVersions,
  KUBERNETES_VERSIONS,
  type KubernetesObject,
  manifestsToYaml,
  placements,
  renderManifests,
  validateManifests,
} from '../../src/kubernetes/index.ts';
import { parseConfig } from '../../src/pipeline/load-config.ts';
import { parseAllDocuments } from 'yaml';

// biome-ignore lint/suspicious/noExplicitAny: the tests walk manifests as free JSON
type Json = any;

const GANTRY_YAML = `
pipeline:
  jobs: { build: { steps: [make] } }
service:
  run: node server.js
  env: { LOG_LEVEL: info }
  instances: 2
  health:
    readiness: { path: /ready, interval: 2s, success-threshold: 2 }
    liveness: { command: "curl -fs localhost:$PORT/live", success-threshold: 3 }
  stop: { drain-timeout: 45s }
environments:
  production:
    secrets: { DB_PASSWORD: PROD_DB_PASSWORD }
    strategy:
      canary:
        steps: [{ weight: 5, pause: 1m }]
        match: [{ header: x-canary, value: "yes" }, { cookie: beta }]
    target:
      kubernetes: { namespace: shop, image: "registry.test/shop:{release}" }
  edge:
    target:
      kubernetes:
        namespace: shop
        image: "registry.test/shop:{commit}"
        traffic: gateway
        gateway: { name: public, namespace: infra, hostnames: [shop.example.test] }
`;

const config = parseConfig(GANTRY_YAML, 'gantry.yaml');
const service = config.service!;
const R7 = { number: 7, sha: 'a'.repeat(40) };
const R8 = { number: 8, sha: 'b'.repeat(40) };

function render(
  environment: 'production' | 'edge',
  versions = [
    { release: R7, weight: 95, replicas: 2 },
    { release: R8, weight: 5, replicas: 1 },
  ],
): KubernetesObject[] {
  const envConfig = config.environments![environment]!;
  const match = envConfig.strategy.kind === 'canary' ? envConfig.strategy.match : [];
  return renderManifests({ project: 'shop', environment, service, envConfig, versions, match });
}

const byName = (objects: KubernetesObject[], kind: string, name: string) =>
  objects.find((o) => o.kind === kind && o.metadata.name === name) as Record<string, Json>;

describe('rendering an environment for Kubernetes', () => {
  it('makes a Deployment and a Service per release, a stable Service and the proxy with its route table', () => {
    const objects = render('production');
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'Deployment/shop-production-r7',
      'Service/shop-production-r7',
      'Deployment/shop-production-r8',
      'Service/shop-production-r8',
      'Service/shop-production',
      'ConfigMap/shop-production-routes',
      'Deployment/shop-production-proxy',
    ]);
    expect(objects.every((o) => o.metadata.namespace === 'shop' && o.metadata.labels['app.kubernetes.io/managed-by'] === 'gantry')).toBe(
      true,
    );
    const canary = byName(objects, 'Deployment', 'shop-production-r8');
    expect(canary.spec.replicas).toBe(1);
    const container = canary.spec.template.spec.containers[0];
    expect(container.image).toBe('registry.test/shop:8');
    expect(container.command).toEqual(['/bin/sh', '-c', 'node server.js']);
    expect(container.env).toEqual(
      expect.arrayContaining([
        { name: 'LOG_LEVEL', value: 'info' },
        { name: 'PORT', value: '8080' },
        { name: 'GANTRY_RELEASE', value: '8' },
        { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'shop-production-secrets', key: 'PROD_DB_PASSWORD' } } },
      ]),
    );
    expect(container.readinessProbe).toMatchObject({ httpGet: { path: '/ready', port: 8080 }, periodSeconds: 2, successThreshold: 2 });
    // Kubernetes accepts only 1 as a liveness probe's success threshold.
    expect(container.livenessProbe).toMatchObject({
      exec: { command: ['/bin/sh', '-c', 'curl -fs localhost:$PORT/live'] },
      successThreshold: 1,
    });
    expect(canary.spec.template.spec.terminationGracePeriodSeconds).toBe(45);
    expect(byName(objects, 'Service', 'shop-production').spec.selector).toEqual({
      'app.kubernetes.io/name': 'shop-production',
      'app.kubernetes.io/component': 'proxy',
    });
    expect(JSON.parse(byName(objects, 'ConfigMap', 'shop-production-routes').data['routes.json']).routes).toEqual([
      { version: '7', weight: 95, upstream: 'http://shop-production-r7.shop.svc:80' },
      { version: '8', weight: 5, upstream: 'http://shop-production-r8.shop.svc:80' },
    ]);
  });

  it('splits traffic with an HTTPRoute where the environment has a gateway, match rules first', () => {
    const objects = render('edge');
    expect(objects.map((o) => o.kind)).toEqual(['Deployment', 'Service', 'Deployment', 'Service', 'Service', 'HTTPRoute']);
    const route = byName(objects, 'HTTPRoute', 'shop-edge');
    expect(route.spec.parentRefs).toEqual([{ name: 'public', namespace: 'infra' }]);
    expect(route.spec.hostnames).toEqual(['shop.example.test']);
    expect(route.spec.rules).toEqual([
      {
        backendRefs: [
          { name: 'shop-edge-r7', port: 80, weight: 950 },
          { name: 'shop-edge-r8', port: 80, weight: 50 },
        ],
      },
    ]);
    // The stable Service selects the stable release's pods: in-cluster callers never reach an unproven canary.
    expect(byName(objects, 'Service', 'shop-edge').spec.selector['gantry.dev/release']).toBe('7');
    expect(byName(objects, 'Deployment', 'shop-edge-r8').spec.template.spec.containers[0].image).toBe(
      `registry.test/shop:${'b'.repeat(40)}`,
    );
  });

  it("applies the environment's Secret before the pods that read it, only when given its values", () => {
    const envConfig = config.environments!.production!;
    const versions = [{ release: R7, weight: 100, replicas: 2 }];
    const withValues = renderManifests({
      project: 'shop',
      environment: 'production',
      service,
      envConfig,
      versions,
      secretValues: { PROD_DB_PASSWORD: 'p@ss' },
    });
    expect(withValues[0]).toEqual({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: expect.objectContaining({ name: 'shop-production-secrets', namespace: 'shop' }),
      type: 'Opaque',
      data: { PROD_DB_PASSWORD: Buffer.from('p@ss').toString('base64') },
    });
    for (const version of KUBERNETES_VERSIONS) expect(validateManifests(withValues, version)).toEqual([]);
    // `gantry k8s render` passes no values: no Secret, so no value is ever printed.
    const without = renderManifests({ project: 'shop', environment: 'production', service, envConfig, versions });
    expect(without.some((o) => o.kind === 'Secret')).toBe(false);
    expect(() => renderManifests({ project: 'shop', environment: 'production', service, envConfig, versions, secretValues: {} })).toThrow(
      /secret PROD_DB_PASSWORD has no value/,
    );
  });

  it('carries service.working-directory into the shell command and a stop signal other than SIGTERM into a preStop hook', () => {
    const envConfig = config.environments!.production!;
    const versions = [{ release: R7, weight: 100, replicas: 1 }];
    const container = (svc: typeof service) =>
      byName(
        renderManifests({ project: 'shop', environment: 'production', service: svc, envConfig, versions }),
        'Deployment',
        'shop-production-r7',
      ).spec.template.spec.containers[0];
    const plain = container(service);
    expect(plain.command).toEqual(['/bin/sh', '-c', 'node server.js']);
    expect(plain.lifecycle).toBeUndefined();
    const custom = { ...service, workingDirectory: "apps/it's web", stop: { ...service.stop, signal: 'SIGQUIT' as const } };
    const objects = renderManifests({ project: 'shop', environment: 'production', service: custom, envConfig, versions });
    const changed = byName(objects, 'Deployment', 'shop-production-r7').spec.template.spec.containers[0];
    expect(changed.command).toEqual(['/bin/sh', '-c', "cd 'apps/it'\\''s web' && node server.js"]);
    expect(changed.lifecycle).toEqual({
      preStop: { exec: { command: ['/bin/sh', '-c', 'kill -s QUIT 1; while kill -0 1 2>/dev/null; do sleep 1; done'] } },
    });
    for (const version of KUBERNETES_VERSIONS) expect(validateManifests(objects, version)).toEqual([]);
    expect(container({ ...service, stop: { ...service.stop, signal: 'SIGKILL' } }).lifecycle).toBeUndefined();
  });

  it('prints one YAML document per object', () => {
    const docs = parseAllDocuments(manifestsToYaml(render('production')));
    expect(docs.map((d) => (d.toJS() as KubernetesObject).kind)).toEqual([
      'Deployment',
      'Service',
      'Deployment',
      'Service',
      'Service',
      'ConfigMap',
      'Deployment',
    ]);
  });
});

describe('validating manifests offline', () => {
  it.each(KUBERNETES_VERSIONS)('finds nothing wrong with either traffic mode for Kubernetes %s', (version) => {
    expect(validateManifests(render('production'), version)).toEqual([]);
    expect(validateManifests(render('edge'), version)).toEqual([]);
  });

  it('refuses a misspelled field, a wrong type and a value outside an enum', () => {
    const objects = render('production');
    const deployment = structuredClone(objects[0]) as Record<string, Json>;
    deployment.spec.replica = 3;
    deployment.spec.template.spec.containers[0].imagePulPolicy = 'Always';
    deployment.spec.template.spec.containers[0].ports[0].containerPort = 'http';
    const service = structuredClone(objects[1]) as Record<string, Json>;
    service.spec.type = 'Internal';
    expect(validateManifests([deployment as KubernetesObject, service as KubernetesObject], '1.29')).toEqual([
      {
        object: 'Deployment/shop-production-r7',
        path: '/spec/template/spec/containers/0/ports/0/containerPort',
        message: 'must be integer',
      },
      {
        object: 'Deployment/shop-production-r7',
        path: '/spec/template/spec/containers/0/imagePulPolicy',
        message: "unknown field 'imagePulPolicy' (not in the apps/v1/Deployment schema)",
      },
      {
        object: 'Deployment/shop-production-r7',
        path: '/spec/replica',
        message: "unknown field 'replica' (not in the apps/v1/Deployment schema)",
      },
      {
        object: 'Service/shop-production-r7',
        path: '/spec/type',
        message: 'must be equal to one of the allowed values: ClusterIP, ExternalName, LoadBalancer, NodePort',
      },
    ]);
  });

  it('takes labels and annotations (maps) as data, not fields', () => {
    const deployment = structuredClone(render('production')[0]) as KubernetesObject;
    deployment.metadata.labels['team.example.test/owner'] = 'payments';
    expect(validateManifests([deployment], '1.33')).toEqual([]);
  });

  it('refuses a field newer than the target version, and a version it does not know', () => {
    const service = structuredClone(render('production')[1]) as Record<string, Json>;
    service.spec.trafficDistribution = 'PreferClose';
    expect(validateManifests([service as KubernetesObject], '1.29')).toEqual([
      { object: 'Service/shop-production-r7', path: '/spec/trafficDistribution', message: 'field added in Kubernetes 1.30, after 1.29' },
    ]);
    expect(validateManifests([service as KubernetesObject], '1.30')).toEqual([]);
    expect(() => validateManifests([], '1.28')).toThrow(/unsupported Kubernetes version '1.28'/);
  });
});

describe('the rollout commands as the cluster state', () => {
  const ctx = { instances: 2, release: (id: string) => (id === 'rel-8' ? R8 : R7) };

  it('starts a canary, shifts weights, promotes, and drains the old pool', () => {
    let state = initialVersions({ releaseId: 'rel-7', release: R7, replicas: 2 });
    state = applyRolloutCommand(state, { type: 'start-instances', pool: 'canary', releaseId: 'rel-8', count: 1 }, ctx);
    state = applyRolloutCommand(state, { type: 'set-weights', stable: 90, canary: 10 }, ctx);
    expect(placements(state)).toEqual([
      { release: R7, replicas: 2, weight: 90 },
      { release: R8, replicas: 1, weight: 10 },
    ]);
    state = applyRolloutCommand(state, { type: 'start-instances', pool: 'canary', releaseId: 'rel-8', count: 1 }, ctx);
    state = applyRolloutCommand(state, { type: 'swap-pools' }, ctx);
    expect(placements(state)).toEqual([
      { release: R8, replicas: 2, weight: 100 },
      { release: R7, replicas: 2, weight: 0 },
    ]);
    state = applyRolloutCommand(state, { type: 'stop-instances', pool: 'old', drain: true }, ctx);
    expect(placements(state)).toEqual([{ release: R8, replicas: 2, weight: 100 }]);
  });

  it('moves the weight of a pool without pods to the others (a rollback stops the canary)', () => {
    let state = initialVersions({ releaseId: 'rel-7', release: R7, replicas: 2 });
    state = applyRolloutCommand(state, { type: 'start-instances', pool: 'canary', releaseId: 'rel-8' }, ctx);
    state = applyRolloutCommand(state, { type: 'set-weights', stable: 50, canary: 50 }, ctx);
    state = applyRolloutCommand(state, { type: 'stop-instances', pool: 'canary', drain: false }, ctx);
    expect(placements(state)).toEqual([{ release: R7, replicas: 2, weight: 100 }]);
  });
});
