/**
 * Environments placed on agents with several servers (docs/decisions/0043, 0037): two real
 * `gantry up` on one PostgreSQL and one `gantry agent` pointed at the server that does NOT drive
 * rollouts. The placement book lives on the driver alone; the other answers the agent's polls
 * with NOT_ROLLOUT_DRIVER naming the driver, and the agent follows. The placed environment's
 * instances and proxy run on the agent; kill -9 of the driver: the survivor takes the loops over,
 * the agent's polls come back to it, it adopts what the agent runs — and the environment is
 * served throughout (0 failed requests through the agent's proxy).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICE_JS } from './fixtures/service-config.ts';
import { type AgentHost, canUnshare, killAgentHost, spawnAgentHost } from '../support/agent-hosts.ts';
import { pgAvailable } from '../support/databases.ts';
import { makeRepo } from '../support/repo.ts';
import type { GantryUp } from '../support/server.ts';
import { apiOk as api, releaseOf, type ServerGroup, type StoredEvent, startServerGroup } from '../support/server-group.ts';
import { waitFor } from '../support/wait.ts';
import { steadyLoad } from '../support/steady-load.ts';

const yaml = `
pipeline:
  jobs:
    build: { steps: ["true"] }
service:
  run: node server.js
  env: { VERSION: v1 }
  instances: 2
  health: { path: /healthz, readiness: { interval: 100ms } }
  stop: { drain-timeout: 1s }
environments:
  production:
    placement: { labels: [web] }
`;
const ENV = '/api/projects/placed/environments/production';

interface Placement {
  agents: { name: string; live: boolean }[];
  proxy: { agent: string; address: string; port: number } | null;
  instances: { id: string; state: string; agent: string | null; releaseId: string }[];
}

describe.skipIf(!pgAvailable() || !canUnshare)('placed environments with several servers', () => {
  let group: ServerGroup;
  let a: GantryUp;
  let b: GantryUp;
  let host: AgentHost | undefined;
  let work: string;
  let repo: Awaited<ReturnType<typeof makeRepo>>;

  beforeAll(async () => {
    // Agents are lost after 3 s without a poll: long enough for a poll that follows a takeover.
    group = await startServerGroup(2, { env: { GANTRY_AGENT_LEASE_MS: '3000' } });
    [a, b] = group.servers as [GantryUp, GantryUp];
    work = await mkdtemp(join(tmpdir(), 'gantry-placed-servers-'));
    repo = await makeRepo({ 'server.js': SERVICE_JS, 'gantry.yaml': yaml });
  }, 60_000);
  afterAll(async () => {
    if (host) await killAgentHost(host);
    await group?.cleanup();
    await repo?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('runs a placed environment on an agent that polls the other server, and keeps serving it when the driver is killed -9', async () => {
    const placement = (s: GantryUp) => api<Placement>(s, 'GET', `${ENV}/placement`);
    await api(a, 'POST', '/api/projects', { path: repo.dir, name: 'placed' });
    const { token } = await api<{ token: string }>(a, 'POST', '/api/agents', { name: 'host-a', labels: ['web'] });
    host = spawnAgentHost('host-a', token, ['--server', b.url, '--capacity', '1', '--work-dir', join(work, 'host-a')]);
    await waitFor(async () => (await placement(a)).agents.some((g) => g.name === 'host-a' && g.live), {
      what: "the agent's polls to reach the driver through the other server",
      timeoutMs: 30_000,
    }).catch((error: Error) => {
      throw new Error(`${error.message}\nthe agent's output:\n${host?.output().slice(-3000)}`);
    });

    const deployed = await api<{ rollout: { id: string } }>(a, 'POST', `${ENV}/deploy`, { release: await releaseOf(a, 'placed') });
    const port = await waitFor(
      async () => {
        const view = await api<{ rollout: { id: string; phase: string } | null; live: { port: number | null } }>(
          a,
          'GET',
          `${ENV}/rollout`,
        );
        return view.rollout?.id === deployed.rollout.id && view.rollout.phase === 'succeeded' ? view.live.port : undefined;
      },
      { what: 'the deploy on the agent', timeoutMs: 60_000 },
    );
    const before = await placement(a);
    expect(before.proxy?.agent).toBe('host-a');
    expect(before.instances.filter((i) => i.state === 'ready').map((i) => i.agent)).toEqual(['host-a', 'host-a']);

    const load = steadyLoad(port);

    const killedAt = Date.now();
    await a.kill('SIGKILL');
    const takeover = await waitFor(
      async () =>
        (await api<{ events: StoredEvent[] }>(b, 'GET', '/api/events?type=server.lease.acquired')).events.find((e) => e.data.url === b.url),
      { what: 'B to take the loops over', timeoutMs: 20_000 },
    );
    const adopted = await waitFor(
      async () => {
        const p = await placement(b);
        const ready = p.instances.filter((i) => i.state === 'ready' && i.agent === 'host-a');
        return p.proxy?.agent === 'host-a' && ready.length === 2 ? Date.now() : undefined;
      },
      { what: "B to adopt the agent's instances and proxy", timeoutMs: 30_000 },
    ).catch((error: Error) => {
      throw new Error(`${error.message}\nthe agent's output:\n${host?.output().slice(-3000)}\nB's output:\n${b.output().slice(-3000)}`);
    });
    await load.stop();
    const { requests, failures } = load;
    // Figures for BENCHMARKS.md ("Several servers, seventh session").
    console.log(JSON.stringify({ takeoverMs: Date.parse(takeover.at) - killedAt, bookAdoptedMs: adopted - killedAt, requests, failures }));
    expect(Date.parse(takeover.at) - killedAt).toBeLessThan(10_000);
    expect(requests).toBeGreaterThan(50);
    expect(failures, load.failureReasons.join('\n')).toBe(0);
    expect(load.bodies).toEqual(new Set(['v1']));
  }, 180_000);
});
