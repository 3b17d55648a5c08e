/**
 * Environments placed on agents end to end (issue 14 §1; docs/decisions/0043): a real server on
 * loopback and two `gantry agent` processes, each the PID 1 of its own PID namespace so a "host"
 * dies whole — the agent, its service instances and its proxy — as a lost machine would. The
 * service's instances and the environment's proxy run on the agents, not on the server; a canary
 * is analysed on the agent proxy's measurements and promoted; a lost agent's instances and proxy
 * move to the other; a rollback works there.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentHost, canUnshare, killAgentHost, spawnAgentHost } from '../support/agent-hosts.ts';
import { makeRepo, type TestRepo } from '../support/repo.ts';
import { startTestServer, type TestServer, waitForRunEnd } from '../support/server.ts';
import { freePort } from '../support/net.ts';
import { waitFor } from '../support/wait.ts';
import { SERVICE_JS } from './fixtures/service-config.ts';

/** Agents not heard from for this long are lost (their work moves). */
const LOST_AFTER_MS = 1500;
const yaml = (version: string) => `
pipeline:
  jobs:
    build: { steps: ["node --check server.js"] }
service:
  run: node server.js
  env: { VERSION: ${version} }
  instances: 2
  health: { path: /healthz, readiness: { interval: 100ms } }
  stop: { drain-timeout: 1s }
environments:
  production:
    placement: { labels: [web], spread: 2 }
    strategy:
      canary:
        steps: [{ weight: 50, pause: 1s }]
        analysis:
          error-rate: { max: 2% }
          min-requests: 10
          window: 3s
`;

interface Placement {
  agents: { name: string; live: boolean }[];
  proxy: { agent: string; address: string; port: number } | null;
  instances: { id: string; state: string; agent: string | null; releaseId: string }[];
}

interface RolloutView {
  rollout: { id: string; phase: string; state: { lastAnalysis: { outcome: string } | null } } | null;
  live: { port: number | null; instances: { id: string; releaseId: string; state: string }[] };
}

let server: TestServer;
let serverDir: string;
let serverPort: number;
let work: string;
let repo: TestRepo;
const hosts: AgentHost[] = [];
const releases: string[] = [];

async function startAgentHost(name: string): Promise<AgentHost> {
  const added = await server.api<{ token: string }>('POST', '/api/agents', { name, labels: ['web'] });
  expect(added.status).toBe(201);
  const host = spawnAgentHost(name, added.body.token, ['--server', server.url, '--capacity', '1', '--work-dir', join(work, name)]);
  hosts.push(host);
  return host;
}

const placement = async () => (await server.api<Placement>('GET', '/api/projects/placed/environments/production/placement')).body;
const rollout = async () => (await server.api<RolloutView>('GET', '/api/projects/placed/environments/production/rollout')).body;

/** The rollout's end; at the deadline, the error says where everything ran and what the agents said. */
async function settled(id: string): Promise<RolloutView> {
  return waitFor(
    async () => {
      const view = await rollout();
      return view.rollout?.id === id && ['succeeded', 'rolled-back', 'aborted', 'failed'].includes(view.rollout.phase) ? view : undefined;
    },
    { what: 'the rollout to end', timeoutMs: 60_000 },
  ).catch(async (error: unknown) => {
    const agents = hosts.map((h) => `${h.name}:\n${h.output().split('\n').slice(-10).join('\n')}`).join('\n');
    throw new Error(`${(error as Error).message}\nplacement: ${JSON.stringify(await placement())}\n${agents}`);
  });
}

async function get(port: number): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://127.0.0.1:${port}/`);
  return { status: response.status, body: (await response.text()).trim() };
}

/** Every instance of `releaseId` ready, each on a live agent, the proxy placed. */
async function runningOn(releaseId: string, count: number): Promise<Placement> {
  return waitFor(
    async () => {
      const p = await placement();
      const mine = p.instances.filter((i) => i.releaseId === releaseId && i.state !== 'stopped');
      return p.proxy && mine.length === count && mine.every((i) => i.state === 'ready' && i.agent !== null) ? p : undefined;
    },
    { what: `${count} ready instances of ${releaseId} on agents`, timeoutMs: 30_000 },
  );
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'gantry-placement-hosts-'));
  serverDir = await mkdtemp(join(tmpdir(), 'gantry-placement-server-'));
  serverPort = await freePort('127.0.0.1');
  server = await startTestServer({ dataDir: serverDir, options: { agentLeaseMs: LOST_AFTER_MS, port: serverPort } });
  repo = await makeRepo({ 'server.js': SERVICE_JS, 'gantry.yaml': yaml('v1') });
  expect((await server.api('POST', '/api/projects', { path: repo.dir, name: 'placed' })).status).toBe(201);
  for (const version of ['v1', 'v2']) {
    if (version !== 'v1') await repo.commit({ 'gantry.yaml': yaml(version) }, version);
    const run = (await server.api<{ run: { id: string } }>('POST', '/api/projects/placed/runs', {})).body.run.id;
    expect((await waitForRunEnd(server, run)).status).toBe('success');
    releases.push((await server.api<{ release: { id: string } }>('POST', '/api/projects/placed/releases', { run })).body.release.id);
  }
});

afterAll(async () => {
  for (const host of hosts) await killAgentHost(host);
  await server?.cleanup();
  await repo?.cleanup();
  await rm(work, { recursive: true, force: true });
  await rm(serverDir, { recursive: true, force: true });
});

describe.skipIf(!canUnshare)('environments placed on agents', () => {
  it('runs the instances and the proxy on the agents, canaries with analysis to 100 %, moves a lost agent’s work, rolls back', async () => {
    const [v1, v2] = releases as [string, string];
    await startAgentHost('host-a');
    await startAgentHost('host-b');
    await waitFor(async () => ((await placement()).agents.filter((a) => a.live).length === 2 ? true : undefined), {
      what: `both agents to report (${hosts.map((h) => h.output()).join('\n')})`,
      timeoutMs: 60_000,
    });

    const first = await server.api<{ rollout: { id: string } }>('POST', '/api/projects/placed/environments/production/deploy', {
      release: v1,
    });
    expect(first.status).toBe(201);
    expect((await settled(first.body.rollout.id)).rollout?.phase).toBe('succeeded');
    const spread = await runningOn(v1, 2);
    // Spread over both agents, one instance each; nothing of it on the server's own supervisor.
    expect(new Set(spread.instances.filter((i) => i.releaseId === v1).map((i) => i.agent))).toEqual(new Set(['host-a', 'host-b']));
    const port = (await rollout()).live.port as number;
    expect(spread.proxy?.port).toBe(port);
    expect(await get(port)).toEqual({ status: 200, body: 'v1' });

    // A canary analysed on the agent proxy's measurements, promoted to 100 %, under load.
    const deployed = await server.api<{ rollout: { id: string } }>('POST', '/api/projects/placed/environments/production/deploy', {
      release: v2,
    });
    expect(deployed.status).toBe(201);
    const seen = new Set<string>();
    let failures = 0;
    let final: RolloutView | undefined;
    while (final === undefined) {
      const view = await rollout();
      if (view.rollout?.id === deployed.body.rollout.id && ['succeeded', 'rolled-back', 'aborted', 'failed'].includes(view.rollout.phase))
        final = view;
      for (const answer of await Promise.all(Array.from({ length: 10 }, () => get(port)))) {
        seen.add(answer.body);
        if (answer.status !== 200) failures++;
      }
    }
    expect(final.rollout?.phase).toBe('succeeded');
    expect(final.rollout?.state.lastAnalysis?.outcome).toBe('pass');
    expect(seen).toEqual(new Set(['v1', 'v2']));
    expect(failures).toBe(0);
    expect(await get(port)).toEqual({ status: 200, body: 'v2' });
    await runningOn(v2, 2);

    // The host running the proxy dies whole: its instance and the proxy move to the other agent.
    const proxyAgent = (await placement()).proxy?.agent;
    const lost = hosts.find((h) => h.name === proxyAgent) as AgentHost;
    const survivor = lost.name === 'host-a' ? 'host-b' : 'host-a';
    await killAgentHost(lost);
    const moved = await waitFor(
      async () => {
        const p = await placement();
        const live = p.instances.filter((i) => i.releaseId === v2 && i.state !== 'stopped');
        return p.proxy?.agent === survivor && live.length === 2 && live.every((i) => i.state === 'ready' && i.agent === survivor)
          ? p
          : undefined;
      },
      { what: `the instances and the proxy on ${survivor}`, timeoutMs: 30_000 },
    );
    expect(moved.proxy?.port).toBe(port);
    await waitFor(async () => ((await get(port).catch(() => null))?.body === 'v2' ? true : undefined), {
      what: 'the environment answering again through the moved proxy',
      timeoutMs: 15_000,
    });
    for (let i = 0; i < 10; i++) expect(await get(port)).toEqual({ status: 200, body: 'v2' });

    // Roll back on the surviving agent.
    const back = await server.api<{ rollout: { id: string } }>('POST', '/api/projects/placed/environments/production/rollback');
    expect(back.status).toBe(201);
    expect((await settled(back.body.rollout.id)).rollout?.phase).toBe('succeeded');
    const after = await runningOn(v1, 2);
    expect(after.instances.filter((i) => i.releaseId === v1 && i.state !== 'stopped').every((i) => i.agent === survivor)).toBe(true);
    for (let i = 0; i < 10; i++) expect(await get(port)).toEqual({ status: 200, body: 'v1' });
  }, 240_000);

  it('keeps a placed environment answering across a server restart: the new server takes back what the agents run', async () => {
    const [v1, v2] = releases as [string, string];
    const port = (await rollout()).live.port as number;
    const before = (await runningOn(v1, 2)).instances.filter((i) => i.state === 'ready').map((i) => i.id);
    let stop = false;
    let failures = 0;
    let served = 0;
    const load = (async () => {
      while (!stop) {
        const answer = await get(port).catch(() => ({ status: 0, body: '' }));
        if (answer.status === 200 && answer.body === 'v1') served++;
        else failures++;
      }
    })();
    await server.close();
    const whileDown = served;
    await waitFor(() => (served > whileDown + 20 ? true : undefined), {
      what: 'the proxy on the agent serving with no server',
      timeoutMs: 15_000,
    });
    server = await startTestServer({ dataDir: serverDir, options: { agentLeaseMs: LOST_AFTER_MS, port: serverPort } });
    const after = await runningOn(v1, 2);
    expect(
      after.instances
        .filter((i) => i.state === 'ready')
        .map((i) => i.id)
        .sort(),
    ).toEqual([...before].sort());
    const settledAt = served;
    await waitFor(() => (served > settledAt + 20 ? true : undefined), { what: 'requests after the restart', timeoutMs: 15_000 });
    stop = true;
    await load;
    expect(failures).toBe(0);

    // The adopted environment deploys as before.
    const deployed = await server.api<{ rollout: { id: string } }>('POST', '/api/projects/placed/environments/production/deploy', {
      release: v2,
    });
    expect(deployed.status).toBe(201);
    const load2 = (async () => {
      for (;;) {
        const view = await rollout();
        if (view.rollout?.id === deployed.body.rollout.id && ['succeeded', 'rolled-back', 'aborted', 'failed'].includes(view.rollout.phase))
          return view;
        await Promise.all(Array.from({ length: 5 }, () => get(port)));
      }
    })();
    expect((await load2).rollout?.phase).toBe('succeeded');
    expect(await get(port)).toEqual({ status: 200, body: 'v2' });
  }, 240_000);
});
