/**
 * Rollout scenarios: each `NN_name.yaml` is an environment's config and a script of what happens
 * around a deploy (time passing, instance crashes, request metrics, Prometheus down, a stop, a
 * server restart); `NN_name.json` is what must come of it: the rollout's phases and events as
 * persisted in the store, its end, and the commands carried out on the supervisor and the proxy.
 *
 * They drive the real `DeliveryController` on a real SQLite store with the in-memory fakes of
 * its ports (test/support/fakes/) and a `ManualClock`: no sleeps, no wall-clock waits — after
 * each step the test lets pending promises settle, and time moves only when the script says.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { ManualClock } from '../../../src/core/clock.ts';
import { SecretBox } from '../../../src/server/auth/index.ts';
import { DeliveryController } from '../../../src/server/delivery/index.ts';
import { openStore, type Project, type ReleaseRecord, type Store } from '../../../src/store/index.ts';
import { FakeMetricsSource } from '../../support/fakes/fake-metrics.ts';
import { FakeProxyControl, FakeProxyHost } from '../../support/fakes/fake-proxy.ts';
import { FakeInstanceHost, FakeSupervisor } from '../../support/fakes/fake-supervisor.ts';

const DIR = import.meta.dirname;
/** How far the clock moves between two settles while the script advances time. */
const STEP_MS = 100;

const duration = z.union([z.number(), z.string().regex(/^\d+(ms|s|m)$/)]).transform((v) => {
  if (typeof v === 'number') return v;
  const n = Number.parseInt(v, 10);
  return v.endsWith('ms') ? n : v.endsWith('m') ? n * 60_000 : n * 1000;
});
const traffic = z.strictObject({ rps: z.number(), 'error-rate': z.number(), 'latency-ms': z.number() });
const stepSchema = z.union([
  z.strictObject({ advance: duration }),
  z.strictObject({ crash: z.enum(['canary', 'stable']) }),
  z.strictObject({ traffic: z.partialRecord(z.enum(['r1', 'r2']), traffic) }),
  z.strictObject({ prometheus: z.union([z.literal('down'), z.literal('up'), z.record(z.string(), z.number())]) }),
  z.strictObject({ act: z.enum(['promote', 'pause', 'resume', 'abort', 'approve']) }),
  z.strictObject({ stop: z.literal(true) }),
  z.strictObject({ restart: z.literal(true) }),
  /** Asserts the rollout's phase and weights at this point of the script. */
  z.strictObject({ expect: z.strictObject({ phase: z.string(), weights: z.string().optional() }) }),
]);
const scenarioSchema = z.strictObject({
  description: z.string(),
  instances: z.number().default(1),
  /** The `environments.production` section of both releases' gantry.yaml. */
  environment: z.string(),
  /** Release r2 starts but never passes readiness. */
  'never-ready': z.array(z.enum(['r1', 'r2'])).default([]),
  traffic: z.partialRecord(z.enum(['r1', 'r2']), traffic).default({}),
  prometheus: z.union([z.literal('down'), z.record(z.string(), z.number())]).optional(),
  script: z.array(stepSchema),
});
const expectedSchema = z.strictObject({
  phases: z.array(z.string()),
  events: z.array(z.string()),
  final: z.strictObject({
    phase: z.string(),
    reason: z.string().nullable().optional(),
    reasonMatches: z.string().optional(),
    current: z.string().nullable(),
    previous: z.string().nullable(),
  }),
  commands: z.array(z.string()),
});

function gantryYaml(scenario: z.infer<typeof scenarioSchema>, version: string): string {
  const environment = scenario.environment
    .trimEnd()
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n');
  return `pipeline:
  jobs:
    build: { steps: ["true"] }
service:
  run: ./serve --version ${version}
  instances: ${scenario.instances}
  health: { path: /healthz }
  stop: { drain-timeout: 1s }
environments:
  production:
    port: 18080
${environment}
`;
}

/** Lets every promise chain that does not wait for the clock run to its end. */
async function settle(): Promise<void> {
  for (let i = 0; i < 30; i++) await new Promise((resolve) => setImmediate(resolve));
}

interface World {
  dir: string;
  /** What the fakes were told to do, in order (instances, then `proxy …`/`routes …` lines). */
  commands: string[];
  url: string;
  store: Store;
  clock: ManualClock;
  instances: FakeInstanceHost;
  proxies: FakeProxyHost;
  prometheus: FakeMetricsSource;
  supervisor: FakeSupervisor;
  controller: DeliveryController;
  secretBox: SecretBox;
  warnings: string[];
}

function controllerOf(world: Omit<World, 'controller' | 'supervisor'>): { controller: DeliveryController; supervisor: FakeSupervisor } {
  const supervisor = new FakeSupervisor(world.clock, world.instances);
  const controller = new DeliveryController({
    store: world.store,
    supervisor,
    proxies: new FakeProxyControl(world.proxies),
    secretBox: world.secretBox,
    dataDir: world.dir,
    host: '127.0.0.1',
    sandbox: 'off',
    prometheus: world.prometheus,
    clock: world.clock,
    eventEnv: () => ({ gantryVersion: 'test', nodeVersion: 'test', host: 'test' }),
    notify: () => undefined,
    warn: (message) => world.warnings.push(message),
    readyTimeoutMs: 30_000,
  });
  return { controller, supervisor };
}

let cleanup: (() => Promise<void>) | null = null;
afterEach(async () => {
  await cleanup?.();
  cleanup = null;
});

async function setUp(scenario: z.infer<typeof scenarioSchema>): Promise<{ world: World; project: Project; releases: ReleaseRecord[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'gantry-rollout-scenario-'));
  const url = `sqlite:${join(dir, 'gantry.db')}`;
  const store = await openStore({ url });
  const commands: string[] = [];
  const base = {
    dir,
    url,
    store,
    clock: new ManualClock(),
    commands,
    instances: new FakeInstanceHost(commands),
    proxies: new FakeProxyHost(commands),
    prometheus: new FakeMetricsSource(),
    secretBox: await SecretBox.open(dir),
    warnings: [] as string[],
  };
  const world: World = { ...base, ...controllerOf(base) };
  cleanup = async () => {
    await world.controller.stop();
    await world.store.close();
    await rm(dir, { recursive: true, force: true });
  };
  const project = await store.projects.create({ name: 'shop', source: { kind: 'local', path: dir }, webhookSecret: 'w' });
  const releases: ReleaseRecord[] = [];
  for (const version of ['r1', 'r2']) {
    const release = await store.releases.create({
      projectId: project.id,
      runId: null,
      sha: `sha-${version}`,
      ref: 'refs/heads/main',
      configText: gantryYaml(scenario, version),
      configHash: `hash-${version}`,
      artifactsPath: `releases/${version}`,
      createdBy: 'test',
    });
    world.instances.alias(release.id, version);
    releases.push(release);
  }
  for (const version of scenario['never-ready']) world.instances.neverReady(releaseOf(releases, version).id);
  for (const [version, t] of Object.entries(scenario.traffic))
    if (t) world.proxies.traffic(releaseOf(releases, version).id, { rps: t.rps, errorRate: t['error-rate'], latencyMs: t['latency-ms'] });
  if (scenario.prometheus === 'down') world.prometheus.unavailable = true;
  else for (const [check, value] of Object.entries(scenario.prometheus ?? {})) world.prometheus.set(check, value);
  return { world, project, releases };
}

function releaseOf(releases: ReleaseRecord[], version: string): ReleaseRecord {
  return releases[Number(version.slice(1)) - 1] as ReleaseRecord;
}

async function advance(world: World, ms: number): Promise<void> {
  for (let done = 0; done < ms; done += STEP_MS) {
    world.clock.advance(Math.min(STEP_MS, ms - done));
    await settle();
  }
}

async function runScenario(name: string): Promise<void> {
  const scenario = scenarioSchema.parse(parse(readFileSync(join(DIR, `${name}.yaml`), 'utf8')));
  const expected = expectedSchema.parse(JSON.parse(readFileSync(join(DIR, `${name}.json`), 'utf8')));
  const { world, project, releases } = await setUp(scenario);
  const [r1, r2] = releases as [ReleaseRecord, ReleaseRecord];

  // r1 is the environment's current release: a first deploy, then the logs start afresh.
  await world.controller.start();
  const first = await world.controller.deploy(project, r1, 'production', 'test');
  await advance(world, 1000);
  expect((await world.store.rollouts.get(first.id))?.phase).toBe('succeeded');
  world.commands.length = 0;

  const rollout = await world.controller.deploy(project, r2, 'production', 'test');
  await settle();
  for (const step of scenario.script) {
    if ('advance' in step) await advance(world, step.advance);
    else if ('crash' in step) {
      const releaseId = step.crash === 'canary' ? r2.id : r1.id;
      const victim = world.supervisor.list().find((s) => s.state === 'ready' && world.supervisor.labels(s.id)?.releaseId === releaseId);
      if (!victim) throw new Error(`no ready ${step.crash} instance to crash`);
      world.supervisor.crash(victim.id);
    } else if ('traffic' in step) {
      for (const [version, t] of Object.entries(step.traffic))
        if (t)
          world.proxies.traffic(releaseOf(releases, version).id, { rps: t.rps, errorRate: t['error-rate'], latencyMs: t['latency-ms'] });
    } else if ('prometheus' in step) {
      world.prometheus.unavailable = step.prometheus === 'down';
      if (typeof step.prometheus === 'object')
        for (const [check, value] of Object.entries(step.prometheus)) world.prometheus.set(check, value);
    } else if ('act' in step) await world.controller.act(project, 'production', step.act, 'tester');
    else if ('stop' in step) await world.controller.stopEnvironment(project, 'production', 'tester');
    else if ('restart' in step) {
      // The server goes away (proxies and instances keep running), a new one opens the same database.
      await world.controller.stop();
      world.commands.push('server restart');
      await world.store.close();
      world.store = await openStore({ url: world.url });
      Object.assign(world, controllerOf(world));
      await world.controller.start();
    } else {
      const stored = await world.store.rollouts.get(rollout.id);
      if (!stored) throw new Error(`rollout ${rollout.id} is not stored`);
      expect(stored.phase, `phase at an expect step of ${name}`).toBe(step.expect.phase);
      if (step.expect.weights) {
        const weights = (stored.state as { weights: { stable: number; canary: number } }).weights;
        expect(`${weights.stable}/${weights.canary}`).toBe(step.expect.weights);
      }
    }
    await settle();
  }

  const stored = await world.store.rollouts.get(rollout.id);
  const events = (await world.store.events.list({ subjectPrefix: `rollout:${rollout.id}` })).map((e) => e.type);
  const environment = await world.store.rollouts.environment(project.id, 'production');
  const version = (id: string | null | undefined) => (id === r1.id ? 'r1' : id === r2.id ? 'r2' : (id ?? null));
  const state = stored?.state as { reason: string | null };
  const actual = {
    phases: events.filter((e) => e.startsWith('rollout.phase.')).map((e) => e.slice('rollout.phase.'.length)),
    events,
    final: {
      phase: stored?.phase,
      reason: state.reason,
      current: version(environment?.currentReleaseId),
      previous: version(environment?.previousReleaseId),
    },
    commands: world.commands,
  };
  if (process.env.PRINT_SCENARIO) console.log(name, JSON.stringify(actual, null, 2));
  const { reasonMatches, reason: expectedReason, ...expectedFinal } = expected.final;
  const { reason, ...actualFinal } = actual.final;
  if (reasonMatches !== undefined) expect(reason ?? '').toMatch(new RegExp(reasonMatches));
  else expect(reason).toBe(expectedReason ?? null);
  expect({ ...actual, final: actualFinal }).toEqual({ ...expected, final: expectedFinal });
}

describe('rollout scenarios', () => {
  const names = readdirSync(DIR)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -'.yaml'.length))
    .sort();
  it('has scenarios', () => expect(names.length).toBeGreaterThanOrEqual(6));
  for (const name of names) it(name, () => runScenario(name));
});
