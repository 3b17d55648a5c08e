/**
 * An agent host cut off from the network (issue 14 §1, "How to test it here"): the agent runs in
 * a network namespace of its own, joined to the server by a veth pair with addresses this test
 * creates; pulling the link down while it runs a job must stop that job on the cut-off host before
 * the server hands it to another agent, and the job then finishes there under a higher fencing
 * token. The job writes a tick with its workspace every 100 ms until told to end, so the test sees from the file
 * that the two attempts never ran at the same time.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_MAIN, cliEnv, NODE } from '../support/cli.ts';
import { makeRepo, type TestRepo } from '../support/repo.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

const LEASE_MS = 5000;
const id = randomBytes(3).toString('hex');
const NETNS = `gantry-${id}`;
const HOST_LINK = `gh${id}`;
const AGENT_LINK = `ga${id}`;
// A /30 of 10.213.0.0/16 picked from the id, so parallel runs of the test do not collide.
const octet = Number.parseInt(id.slice(0, 2), 16) % 250;
const SERVER_ADDRESS = `10.213.${octet}.1`;
const AGENT_ADDRESS = `10.213.${octet}.2`;

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'ignore' });
}

const canNetns = (() => {
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
    execFileSync('unshare', ['--pid', '--fork', '--kill-child', '--mount-proc', 'true'], { stdio: 'ignore' });
    return process.getuid?.() === 0;
  } catch {
    return false;
  }
})();

let server: TestServer;
let repo: TestRepo;
let marks: string;
let work: string;
let netnsMade = false;
const children: ChildProcess[] = [];
/** Each agent's own log (stderr), shown when a wait times out. */
const agentLogs = new Map<string, string>();

async function startAgent(name: string, inNetns: boolean): Promise<ChildProcess> {
  const added = await server.api<{ token: string }>('POST', '/api/agents', { name, labels: ['linux'] });
  expect(added.status).toBe(201);
  const agent = [NODE, CLI_MAIN, 'agent', '--server', server.url, '--capacity', '1', '--work-dir', join(work, name)];
  const argv = ['unshare', '--pid', '--fork', '--kill-child', '--mount-proc', ...agent];
  const [command, ...args] = inNetns ? ['ip', 'netns', 'exec', NETNS, ...argv] : argv;
  const child = spawn(command as string, args, {
    env: cliEnv({ GANTRY_AGENT_TOKEN: added.body.token }),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    agentLogs.set(name, (agentLogs.get(name) ?? '') + chunk);
  });
  children.push(child);
  return child;
}

function ticks(): string[] {
  const file = join(marks, 'ticks');
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean) : [];
}

beforeAll(async () => {
  if (!canNetns) return;
  marks = await mkdtemp(join(tmpdir(), 'gantry-cutoff-marks-'));
  work = await mkdtemp(join(tmpdir(), 'gantry-cutoff-hosts-'));
  ip('netns', 'add', NETNS);
  netnsMade = true;
  ip('link', 'add', HOST_LINK, 'type', 'veth', 'peer', 'name', AGENT_LINK);
  ip('link', 'set', AGENT_LINK, 'netns', NETNS);
  ip('addr', 'add', `${SERVER_ADDRESS}/30`, 'dev', HOST_LINK);
  ip('link', 'set', HOST_LINK, 'up');
  ip('netns', 'exec', NETNS, 'ip', 'addr', 'add', `${AGENT_ADDRESS}/30`, 'dev', AGENT_LINK);
  ip('netns', 'exec', NETNS, 'ip', 'link', 'set', AGENT_LINK, 'up');
  ip('netns', 'exec', NETNS, 'ip', 'link', 'set', 'lo', 'up');
  server = await startTestServer({ options: { agentLeaseMs: LEASE_MS, host: SERVER_ADDRESS } });
  repo = await makeRepo({
    'gantry.yaml': `
pipeline:
  jobs:
    slow:
      runs-on: [linux]
      steps:
        - run: |
            while [ ! -e ${marks}/go ]; do echo "tick $(pwd)" >> ${marks}/ticks; sleep 0.1; done
            echo "end $(pwd)" >> ${marks}/ticks
`,
  });
  expect((await server.api('POST', '/api/projects', { path: repo.dir, name: 'cutoff' })).status).toBe(201);
});

afterAll(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      const gone = new Promise((resolve) => child.once('exit', resolve));
      process.kill(child.pid, 'SIGKILL');
      await gone;
    }
  }
  await server?.cleanup();
  await repo?.cleanup();
  // Deleting the namespace deletes the veth pair with it.
  if (netnsMade) ip('netns', 'del', NETNS);
  if (marks) await rm(marks, { recursive: true, force: true });
  if (work) await rm(work, { recursive: true, force: true });
});

describe.skipIf(!canNetns)('an agent host cut off', () => {
  it('stops its job before the lease runs out; the job moves to another agent and never runs twice at once', async () => {
    await startAgent('islanded', true);
    const runId = (await server.api<{ run: { id: string } }>('POST', '/api/projects/cutoff/runs', {})).body.run.id;
    await waitFor(() => ticks().some((t) => t.includes('/islanded/')), {
      what: 'the job to run on the namespaced agent',
      timeoutMs: 60_000,
    });
    await startAgent('mainland', false);
    await waitFor(
      async () => {
        const view = (await server.api<{ agents: { name: string; lastSeenAt: string | null }[] }>('GET', '/api/agents')).body;
        return view.agents.find((a) => a.name === 'mainland')?.lastSeenAt;
      },
      { what: 'the second agent to poll', timeoutMs: 60_000 },
    ).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}; its log: ${agentLogs.get('mainland') ?? ''}`);
    });
    ip('link', 'set', HOST_LINK, 'down');
    const cutAt = Date.now();
    // The job runs until told: only once its retry runs on the other agent. Had the cut-off
    // attempt outlived its lease, it would now write its end too.
    await waitFor(() => ticks().some((t) => t.includes('/mainland/')), {
      what: 'the job to restart on the other agent',
      timeoutMs: 60_000,
    });
    writeFileSync(join(marks, 'go'), '');

    const run = await waitFor(
      async () => {
        const view = (await server.api<{ status: string }>('GET', `/api/runs/${runId}`)).body;
        return ['success', 'failure', 'cancelled'].includes(view.status) ? view : undefined;
      },
      { what: 'the run to end', timeoutMs: 90_000 },
    );
    expect(run.status).toBe('success');
    const attempts = await server.store.agents.attempts(runId);
    // The cut-off host's attempt lost its lease and the other agent finished the job. (On a loaded
    // machine the other agent may itself miss its renewals once and take the job again: more lost
    // attempts between, each under its own higher token.)
    expect(attempts.map((a) => [a.fence, a.agentId, a.outcome])[0]).toEqual([1, 'islanded', 'lease-lost']);
    expect(attempts.at(-1)).toMatchObject({ fence: attempts.length, agentId: 'mainland', outcome: 'finished' });
    expect(attempts.slice(1, -1).map((a) => [a.agentId, a.outcome])).toEqual(attempts.slice(1, -1).map(() => ['mainland', 'lease-lost']));
    expect(Date.parse(attempts[1]?.startedAt ?? '') - cutAt).toBeLessThanOrEqual(LEASE_MS + LEASE_MS / 4 + 500);

    // The file the job wrote: the cut-off attempt's ticks all come before the first of the retry's, and it never ended.
    const lines = ticks();
    const firstMainland = lines.findIndex((t) => t.includes('/mainland/'));
    const lastIslanded = lines.findLastIndex((t) => t.includes('/islanded/'));
    expect(firstMainland).toBeGreaterThan(lastIslanded);
    expect(lines.filter((t) => t.startsWith('end ')).map((t) => t.includes('/mainland/'))).toEqual([true]);

    // Back on the network, the zombie is refused: its lease is gone and its token is stale.
    ip('link', 'set', HOST_LINK, 'up');
    const answer = await fetch(`${server.url}/api/agents`, { headers: { authorization: `Bearer ${server.token}` } });
    const agents = (await answer.json()) as { agents: { name: string; leases: unknown[] }[] };
    expect(agents.agents.find((a) => a.name === 'islanded')?.leases).toEqual([]);
  }, 180_000);
});
