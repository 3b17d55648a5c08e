/**
 * The placement book on its own (docs/decisions/0043): real release files, a ManualClock for the
 * agents' silence, reports as agents send them. What the end-to-end test shows with processes,
 * here case by case: spread, readiness, a lost agent's work moving (same instance id), a zombie's
 * reports ignored, stops, proxy calls answered, and failed at once when their agent is lost.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.ts';
import type { ServiceConfig } from '../../../src/core/delivery-config.ts';
import type { ReportedInstance } from '../../../src/placement/index.ts';
import type { InstanceSpec } from '../../../src/runtime/index.ts';
import { AgentPlacement, ReleaseTrees } from '../../../src/server/placement/index.ts';

const LOST_AFTER_MS = 3000;
const PLACEMENT = { labels: ['web'], spread: 2 };

let dir: string;
let clock: ManualClock;
let book: AgentPlacement;

function spec(id: string): InstanceSpec {
  return {
    id,
    environment: 'p1:production',
    releaseId: 'r1',
    pool: 'stable',
    service: {} as ServiceConfig,
    env: {},
    secrets: [],
    workDir: dir,
    sandbox: 'off',
  };
}

function reported(id: string, state: ReportedInstance['state'], port = 4000): ReportedInstance {
  return {
    id,
    environment: 'p1:production',
    releaseId: 'r1',
    pool: 'stable',
    pid: state === 'stopped' ? null : 100,
    port,
    state,
    restarts: 0,
    startedAt: null,
    lastExit: null,
    cpuPercent: null,
    rssBytes: null,
    logFile: '/agent/log',
    sandboxed: false,
  };
}

const report = (
  agent: string,
  instances: ReportedInstance[] = [],
  extra: { proxies?: string[]; answers?: { id: string; ok: boolean; result?: unknown }[] } = {},
) =>
  book.report(agent, {
    address: `10.0.0.${agent === 'a' ? 1 : 2}`,
    instances,
    proxies: (extra.proxies ?? []).map((environmentKey) => ({ environmentKey })),
    answers: extra.answers ?? [],
  });

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gantry-placement-release-'));
  await writeFile(join(dir, 'server.js'), 'console.log(1)\n');
  clock = new ManualClock();
  book = new AgentPlacement({
    clock,
    lostAfterMs: LOST_AFTER_MS,
    trees: new ReleaseTrees(),
    registeredLabels: async () => ['web'],
    placementOf: async () => PLACEMENT,
    placementOfEnvironment: async () => PLACEMENT,
    expectedAgents: async () => [],
    info: () => undefined,
  });
  book.watch();
});

afterEach(async () => {
  book.close();
  await rm(dir, { recursive: true, force: true });
});

describe('the placement book', () => {
  it('spreads instances over the matching agents and hands each its spec with the release files', async () => {
    await report('a');
    await report('b');
    book.start(spec('i1'), PLACEMENT);
    book.start(spec('i2'), PLACEMENT);
    expect(new Set([book.agentOf('i1'), book.agentOf('i2')])).toEqual(new Set(['a', 'b']));
    const desired = await book.desired(book.agentOf('i1') as string, 0, 0);
    expect(desired.instances.map((i) => i.spec.id)).toEqual(['i1']);
    expect(desired.instances[0]?.release).toEqual([expect.objectContaining({ path: 'server.js', executable: false })]);
  });

  it('is ready when its agent says so, and routes to the agent’s address', async () => {
    await report('a');
    book.start(spec('i1'), PLACEMENT);
    const ready = book.waitReady('i1', 5000);
    await report('a', [reported('i1', 'starting')]);
    expect(book.list()[0]?.state).toBe('starting');
    await report('a', [reported('i1', 'ready', 4100)]);
    expect(await ready).toMatchObject({ id: 'i1', state: 'ready', port: 4100 });
    expect(book.labels('i1')).toEqual({ environment: 'p1:production', releaseId: 'r1', pool: 'stable', host: '10.0.0.1' });
  });

  it('waits with an instance no agent can run yet, and places it when one reports', async () => {
    book.start(spec('i1'), PLACEMENT);
    expect(book.agentOf('i1')).toBeNull();
    expect(book.list()[0]?.state).toBe('starting');
    await report('b');
    expect(book.agentOf('i1')).toBe('b');
  });

  it('moves a lost agent’s instance to another matching agent under the same id, and ignores the lost one’s reports', async () => {
    await report('a');
    await report('b');
    book.start(spec('i1'), PLACEMENT);
    book.start(spec('i2'), PLACEMENT);
    const onA = book.agentOf('i1') === 'a' ? 'i1' : 'i2';
    await report('a', [reported(onA, 'ready')]);
    const changes: string[] = [];
    book.onChange((s) => changes.push(`${s.id}:${s.state}`));
    // b keeps reporting; a falls silent past the lost time.
    for (let t = 0; t < LOST_AFTER_MS + 1000; t += 500) {
      clock.advance(500);
      await report('b');
    }
    expect(book.agentOf(onA)).toBe('b');
    expect(changes).toContain(`${onA}:starting`);
    expect((await book.desired('b', 0, 0)).instances.map((i) => i.spec.id).sort()).toEqual(['i1', 'i2']);
    // The lost agent comes back and reports the instance it still runs: it is not taken.
    await report('a', [reported(onA, 'ready')]);
    expect(book.list().find((s) => s.id === onA)?.state).toBe('starting');
    expect((await book.desired('a', 0, 0)).instances).toEqual([]);
  });

  it('moves a revoked agent’s instance at once, without waiting for the lost time', async () => {
    await report('a');
    await report('b');
    book.start(spec('i1'), PLACEMENT);
    book.start(spec('i2'), PLACEMENT);
    const onA = book.agentOf('i1') === 'a' ? 'i1' : 'i2';
    book.dropAgent('a');
    expect(book.agentOf(onA)).toBe('b');
    expect(book.agents().find((a) => a.name === 'a')?.live).toBe(false);
  });

  it('stops an instance once its agent reports it stopped, or at once when that agent is lost', async () => {
    await report('a');
    book.start(spec('i1'), PLACEMENT);
    book.start(spec('i2'), PLACEMENT);
    await report('a', [reported('i1', 'ready'), reported('i2', 'ready', 4001)]);
    let stopped = false;
    const stop = book.stop('i1').then(() => {
      stopped = true;
    });
    expect(book.list().find((s) => s.id === 'i1')?.state).toBe('stopping');
    expect((await book.desired('a', 0, 0)).instances.map((i) => i.spec.id)).toEqual(['i2']);
    await report('a', [reported('i1', 'stopping'), reported('i2', 'ready', 4001)]);
    await Promise.resolve();
    expect(stopped).toBe(false);
    await report('a', [reported('i1', 'stopped'), reported('i2', 'ready', 4001)]);
    await stop;
    expect(book.list().find((s) => s.id === 'i1')?.state).toBe('stopped');
    const second = book.stop('i2');
    clock.advance(LOST_AFTER_MS + 1000);
    await second;
    expect(book.list().find((s) => s.id === 'i2')?.state).toBe('stopped');
  });

  it('after a restart, waits for the agents and takes back the instances and proxy they run', async () => {
    const restarted = new AgentPlacement({
      clock,
      lostAfterMs: LOST_AFTER_MS,
      trees: new ReleaseTrees(),
      registeredLabels: async () => ['web'],
      placementOf: async () => PLACEMENT,
      placementOfEnvironment: async () => PLACEMENT,
      expectedAgents: async () => ['a'],
      info: () => undefined,
    });
    let adopted = false;
    const adopting = restarted.adopt().then(() => {
      adopted = true;
    });
    await Promise.resolve();
    expect(adopted).toBe(false);
    await restarted.report('a', {
      address: '10.0.0.1',
      instances: [{ ...reported('i1', 'ready'), spec: spec('i1') as unknown as Record<string, unknown> }, reported('i9', 'ready', 4009)],
      proxies: [{ environmentKey: 'p1:production', label: 'shop/production', port: 8100 }],
      answers: [],
    });
    await adopting;
    // The one with its spec is taken back as it runs; the one without cannot be, and its agent is told to stop it.
    expect(restarted.list()).toEqual([expect.objectContaining({ id: 'i1', state: 'ready' })]);
    expect(restarted.labels('i1')?.host).toBe('10.0.0.1');
    const desired = await restarted.desired('a', 0, 0);
    expect(desired.instances.map((i) => i.spec.id)).toEqual(['i1']);
    expect(desired.proxies.map((p) => p.environmentKey)).toEqual(['p1:production']);
    expect(restarted.proxyLocation('p1:production')).toEqual({ agent: 'a', address: '10.0.0.1', port: 8100 });
    restarted.close();
  });

  it('answers proxy calls through the poll, fails them at once when the agent is lost, and moves the proxy with its last table', async () => {
    await report('a');
    await report('b');
    book.openProxy({ environmentKey: 'p1:production', label: 'shop/production', port: 8100 }, PLACEMENT);
    const agent = book.proxyLocation('p1:production')?.agent as string;
    const other = agent === 'a' ? 'b' : 'a';
    const routes = { upstreams: [], weights: { stable: 100, canary: 0 }, match: [] };
    book.rememberRoutes('p1:production', routes);
    const answer = book.call('p1:production', 'prometheus', [], 5000);
    const polled = await book.desired(agent, 0, 10_000);
    expect(polled.proxies).toEqual([{ environmentKey: 'p1:production', label: 'shop/production', port: 8100, routes }]);
    expect(polled.calls).toEqual([{ id: expect.any(String), environmentKey: 'p1:production', method: 'prometheus', args: [] }]);
    await report(agent, [], { proxies: ['p1:production'], answers: [{ id: polled.calls[0]?.id as string, ok: true, result: 'text' }] });
    expect(await answer).toBe('text');

    const pending = book.call('p1:production', 'window', [0, 1], 60_000);
    for (let t = 0; t < LOST_AFTER_MS + 1000; t += 500) {
      clock.advance(500);
      await report(other);
    }
    await expect(pending).rejects.toMatchObject({ code: 'PROXY_UNPLACED' });
    expect(book.proxyLocation('p1:production')).toMatchObject({ agent: other, port: 8100 });
    expect((await book.desired(other, 0, 0)).proxies[0]?.routes).toEqual(routes);
  });
});
