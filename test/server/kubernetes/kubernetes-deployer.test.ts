/**
 * A canary rollout in a Kubernetes namespace: the pure rollout reducer (src/delivery) decides, the
 * KubernetesDeployer carries its commands out through the client-node adapter against a SCRIPTED
 * Kubernetes API (test/support/scripted-kubernetes-api.ts), whose Deployments get their pods at
 * once, ready or never ready as each test scripts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { initialRollout, reduceRollout, type RolloutEvent, type RolloutState } from '../../../src/delivery/index.ts';
import { parseConfig } from '../../../src/pipeline/load-config.ts';
import { ClientNodeCluster, KubernetesDeployer } from '../../../src/server/kubernetes/index.ts';
import { ScriptedKubernetesApi } from '../../support/scripted-kubernetes-api.ts';

const config = parseConfig(
  [
    'pipeline: { jobs: { build: { steps: [make] } } }',
    'service: { run: node server.js, instances: 2 }',
    'environments:',
    '  production:',
    '    strategy: { canary: { steps: [{ weight: 20, pause: until-promoted }] } }',
    '    target: { kubernetes: { namespace: shop, image: "registry.test/shop:{release}", traffic: gateway, gateway: { name: public } } }',
  ].join('\n'),
  'gantry.yaml',
);
const envConfig = config.environments!.production!;
const RELEASES: Record<string, { number: number; sha: string }> = {
  'rel-7': { number: 7, sha: '7'.repeat(40) },
  'rel-8': { number: 8, sha: '8'.repeat(40) },
};

let api: ScriptedKubernetesApi;
let dir: string;
let cluster: ClientNodeCluster;

beforeAll(async () => {
  api = await ScriptedKubernetesApi.start();
  dir = mkdtempSync(join(tmpdir(), 'gantry-k8s-deploy-'));
  cluster = new ClientNodeCluster({ kubeconfig: api.writeKubeconfig(dir), context: 'scripted' });
});
afterAll(async () => {
  await api.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  api.requests.length = 0;
  api.pods = [];
  api.objects.clear();
});

function deployer(readyTimeoutMs: number): KubernetesDeployer {
  return new KubernetesDeployer({
    cluster,
    project: 'shop',
    environment: 'production',
    service: config.service!,
    envConfig,
    release: (id) => RELEASES[id]!,
    current: { releaseId: 'rel-7', release: RELEASES['rel-7']!, replicas: 2 },
    readyTimeoutMs,
    now: () => Date.now(),
  });
}

/** A canary rollout from release 7 (running, 2 pods) to release 8, as `gantry deploy` starts it. */
function canaryOfRelease8(id: string): RolloutState {
  return initialRollout({
    id,
    environment: 'production',
    releaseId: 'rel-8',
    previousReleaseId: 'rel-7',
    strategy: envConfig.strategy,
    approvalRequired: false,
    instances: 2,
  });
}

/** Feeds `event` to the reducer, carries out its commands, and feeds back what they report, until nothing is left. */
async function drive(d: KubernetesDeployer, state: RolloutState, event: RolloutEvent, commands: string[]): Promise<RolloutState> {
  const queue: RolloutEvent[] = [event];
  let current = state;
  while (queue.length > 0) {
    const transition = reduceRollout(current, queue.shift()!);
    current = transition.state;
    for (const command of transition.commands) {
      if (command.type !== 'record')
        commands.push(command.type === 'set-weights' ? `set-weights ${command.stable}/${command.canary}` : command.type);
      queue.push(...(await d.execute(command)));
    }
  }
  return current;
}

const routeWeights = () => {
  const route = api.objects.get('/apis/gateway.networking.k8s.io/v1/namespaces/shop/httproutes/shop-production');
  if (route === undefined) return [];
  return (route.spec.rules.at(-1).backendRefs as { name: string; weight: number }[]).map((b) => `${b.name}=${b.weight}`);
};
const writes = () =>
  api.requests
    .filter((r) => r.method === 'PATCH' || r.method === 'DELETE')
    .map((r) => `${r.method} ${r.path.split('/').slice(-2).join('/')}`);

describe('a canary rollout on Kubernetes, driven by the rollout reducer', () => {
  it('starts the canary, shifts the HTTPRoute weights, promotes and removes the old release', async () => {
    api.podsOnApply = 'ready';
    const d = deployer(20_000);
    const commands: string[] = [];
    let state = canaryOfRelease8('RO-1');
    state = await drive(d, state, { type: 'start', at: Date.now() }, commands);
    expect(state.phase).toBe('progressing');
    expect(routeWeights()).toEqual(['shop-production-r7=800', 'shop-production-r8=200']);
    expect(api.pods.map((p) => p.name).sort()).toEqual([
      'shop-production-r7-0',
      'shop-production-r7-1',
      'shop-production-r8-0',
      'shop-production-r8-1',
    ]);

    api.requests.length = 0;
    state = await drive(d, state, { type: 'promote', at: Date.now(), actor: 'alice' }, commands);
    expect(state.phase).toBe('succeeded');
    expect(commands).toEqual(['start-instances', 'set-weights 80/20', 'set-weights 0/100', 'swap-pools', 'stop-instances', 'finished']);
    expect(routeWeights()).toEqual(['shop-production-r8=1000']);
    // The old release leaves the traffic before its Service and pods go.
    const after = writes();
    expect(after.slice(-3)).toEqual([
      'PATCH httproutes/shop-production',
      'DELETE services/shop-production-r7',
      'DELETE deployments/shop-production-r7',
    ]);
    expect(api.pods.map((p) => p.name).sort()).toEqual(['shop-production-r8-0', 'shop-production-r8-1']);
    // The stable Service now selects the promoted release.
    expect(api.objects.get('/api/v1/namespaces/shop/services/shop-production')?.spec.selector['gantry.dev/release']).toBe('8');
  }, 60_000);

  it('rolls back when the canary pods never become ready: the canary is deleted, the stable release keeps every request', async () => {
    api.podsOnApply = 'unready';
    const d = deployer(500);
    const commands: string[] = [];
    let state = canaryOfRelease8('RO-2');
    state = await drive(d, state, { type: 'start', at: Date.now() }, commands);
    expect(state.phase).toBe('failed');
    expect(commands[0]).toBe('start-instances');
    expect(commands).toContain('stop-instances');
    expect(routeWeights()).toEqual(['shop-production-r7=1000']);
    expect(writes()).toContain('DELETE deployments/shop-production-r8');
    expect(api.pods.filter((p) => p.release === '8')).toEqual([]);
  }, 60_000);
});
