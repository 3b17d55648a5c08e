/**
 * What checking an environment's Kubernetes manifests costs: render a canary (two releases and
 * the traffic split, proxy and gateway modes) and validate it against the v1.33.0 schema with the
 * strict unknown-field check (`validateManifests`: the validator runs behind recording proxies),
 * against the baseline of the same objects through `kubernetes-models`' validators alone (no
 * check for unknown fields). Interleaved rounds, CPU time per environment. In process, no I/O.
 *
 *   npm run bench:k8s-render     (ROUNDS=15 ENVS=200)
 */
import { HTTPRoute } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service } from 'kubernetes-models/v1/Service';
import { type KubernetesObject, renderManifests, validateManifests } from '../src/kubernetes/index.ts';
import { parseConfig } from '../src/pipeline/load-config.ts';
import { benchMain, progress, round, spread } from './lib.ts';

const ROUNDS = Number(process.env.ROUNDS ?? 15);
const ENVS = Number(process.env.ENVS ?? 200);

const config = parseConfig(
  `
pipeline: { jobs: { build: { steps: [make] } } }
service:
  run: node server.js
  env: { LOG_LEVEL: info, WORKERS: "4" }
  instances: 3
  health: { readiness: { path: /ready }, liveness: { path: /live } }
environments:
  production:
    secrets: { DB_PASSWORD: PROD_DB_PASSWORD }
    strategy: { canary: { steps: [{ weight: 10, pause: 5m }], match: [{ header: x-canary, value: "1" }] } }
    target: { kubernetes: { namespace: shop, image: "registry.test/shop:{release}" } }
  edge:
    strategy: { canary: { steps: [{ weight: 10, pause: 5m }] } }
    target: { kubernetes: { namespace: shop, image: "registry.test/shop:{release}", traffic: gateway, gateway: { name: public } } }
`,
  'gantry.yaml',
);

const MODELS: Record<string, { prototype: { validate(): void } }> = {
  Deployment,
  Service,
  ConfigMap,
  HTTPRoute,
};

function render(environment: 'production' | 'edge', i: number): KubernetesObject[] {
  return renderManifests({
    project: `shop${i}`,
    environment,
    service: config.service!,
    envConfig: config.environments![environment]!,
    versions: [
      { release: { number: 7, sha: '7'.repeat(40) }, weight: 90, replicas: 3 },
      { release: { number: 8, sha: '8'.repeat(40) }, weight: 10, replicas: 1 },
    ],
  });
}

function cpuMs(fn: () => void): number {
  const start = process.cpuUsage();
  fn();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

await benchMain('k8s-render', 120_000, async () => {
  const environments = Array.from({ length: ENVS }, (_, i) => render(i % 2 ? 'edge' : 'production', i));
  const strict = () => {
    for (const objects of environments) if (validateManifests(objects, '1.33').length > 0) throw new Error('invalid manifests');
  };
  const plain = () => {
    for (const objects of environments) for (const o of objects) MODELS[o.kind]?.prototype.validate.call(o);
  };
  const renderAll = () => {
    for (let i = 0; i < ENVS; i++) render(i % 2 ? 'edge' : 'production', i);
  };
  // Warm-up: the validators' modules load and compile on first use.
  strict();
  plain();
  const figures = { strict: [] as number[], plain: [] as number[], render: [] as number[] };
  for (let r = 0; r < ROUNDS; r++) {
    figures.strict.push(cpuMs(strict) / ENVS);
    figures.plain.push(cpuMs(plain) / ENVS);
    figures.render.push(cpuMs(renderAll) / ENVS);
    progress(`round ${r + 1}/${ROUNDS}`);
  }
  const median = (values: number[]) => spread(values, 4).median;
  return {
    environments: ENVS,
    objects_per_environment: round(environments.reduce((n, e) => n + e.length, 0) / ENVS, 1),
    rounds: ROUNDS,
    strict_validation_cpu_ms_per_env: spread(figures.strict, 4),
    baseline_kubernetes_models_cpu_ms_per_env: spread(figures.plain, 4),
    render_cpu_ms_per_env: spread(figures.render, 4),
    ratio_strict_to_baseline: round(median(figures.strict) / median(figures.plain), 2),
  };
});
