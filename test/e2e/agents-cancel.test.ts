/**
 * A job running on an agent leaves no step behind (docs/decisions/0036): not when its run is
 * cancelled, and not when the agent itself stops (SIGTERM) or dies (SIGKILL). A real `gantry up`
 * and a real `gantry agent`, the step sandboxed when bubblewrap can run (as the embedded executor
 * would run it); each job's step is a `sleep` with a value of its own, so the test finds its
 * process in /proc whatever pid namespace the sandbox gave it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_MAIN, cliEnv, NODE } from '../support/cli.ts';
import { makeRepo, type TestRepo } from '../support/repo.ts';
import { type GantryUp, startGantryUp } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

let server: GantryUp;
let repo: TestRepo;
let work: string;
const agents: ChildProcess[] = [];
/** Each case's step sleeps this long plus a fraction of its own: its command line names it. */
const SLEEPS = { cancel: '600.101', term: '600.202', kill: '600.303' } as const;

function startAgent(name: string, token: string): ChildProcess {
  const child = spawn(NODE, [CLI_MAIN, 'agent', '--server', server.url, '--capacity', '1', '--work-dir', join(work, name)], {
    env: cliEnv({ GANTRY_AGENT_TOKEN: token }),
    stdio: 'ignore',
  });
  agents.push(child);
  return child;
}

/** The live (not zombie) processes whose command line is `sleep <seconds>`. */
function sleepers(seconds: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8') !== `sleep\0${seconds}\0`) continue;
      if (/^\d+ \(.*\) [ZX]/.test(readFileSync(`/proc/${entry}/stat`, 'utf8'))) continue;
      found.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

async function startJob(label: keyof typeof SLEEPS): Promise<{ agent: ChildProcess; runId: string; pid: number }> {
  const added = await server.api<{ token: string }>('POST', '/api/agents', { name: label, labels: ['linux'] });
  expect(added.status).toBe(201);
  const agent = startAgent(label, added.body.token);
  const run = await server.api<{ run: { id: string } }>('POST', `/api/projects/leftovers/runs`, { inputs: { seconds: SLEEPS[label] } });
  expect(run.status).toBe(201);
  const [pid] = await waitFor(() => sleepers(SLEEPS[label]).length === 1 && sleepers(SLEEPS[label]), {
    what: `the ${label} job's step to run on its agent`,
    timeoutMs: 45_000,
  });
  return { agent, runId: run.body.run.id, pid: pid as number };
}

async function cancelRun(runId: string): Promise<void> {
  expect((await server.api('POST', `/api/runs/${runId}/cancel`, {})).status).toBeLessThan(300);
  await waitFor(async () => (await server.api<{ status: string }>('GET', `/api/runs/${runId}`)).body.status === 'cancelled', {
    what: `run ${runId} to be cancelled`,
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'gantry-agents-cancel-'));
  [server, repo] = await Promise.all([
    // A short lease: the agent hears of a cancelled job at its next renewal, a third of it.
    startGantryUp({ env: { GANTRY_AGENT_LEASE_MS: '3000' } }),
    makeRepo({
      'gantry.yaml': `
pipeline:
  on: { manual: { inputs: { seconds: { required: true } } } }
  jobs:
    nap:
      runs-on: [linux]
      steps: ["sleep \${{ inputs.seconds }}"]
`,
    }),
  ]);
  expect((await server.api('POST', '/api/projects', { path: repo.dir, name: 'leftovers' })).status).toBe(201);
}, 60_000);

afterAll(async () => {
  for (const child of agents) {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) continue;
    process.kill(child.pid, 'SIGKILL');
    await exited(child);
  }
  // Whatever a failed case left behind is not left on the machine.
  for (const seconds of Object.values(SLEEPS)) for (const pid of sleepers(seconds)) process.kill(pid, 'SIGKILL');
  await server?.stop();
  await repo?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('a job on an agent', () => {
  it('has its step killed when its run is cancelled', async () => {
    const { agent, runId, pid } = await startJob('cancel');
    expect((await server.api('POST', `/api/runs/${runId}/cancel`, {})).status).toBeLessThan(300);
    await waitFor(() => sleepers(SLEEPS.cancel).length === 0, {
      what: `the cancelled job's step (pid ${pid}) to be gone`,
      timeoutMs: 20_000,
    });
    const view = await waitFor(
      async () => {
        const body = (await server.api<{ status: string }>('GET', `/api/runs/${runId}`)).body;
        return body.status === 'cancelled' && body;
      },
      { what: 'the run to be cancelled' },
    );
    expect(view.status).toBe('cancelled');
    // One agent at a time: the next case's job must go to the next case's agent.
    agent.kill('SIGTERM');
    await exited(agent);
  });

  it('leaves no step behind when the agent is stopped with SIGTERM', async () => {
    const { agent, runId, pid } = await startJob('term');
    process.kill(agent.pid as number, 'SIGTERM');
    await waitFor(() => sleepers(SLEEPS.term).length === 0, {
      what: `the step (pid ${pid}) of the stopped agent to be gone`,
      timeoutMs: 20_000,
    });
    await exited(agent);
    // The stopped agent's job is not over: once its lease expires it goes to the next agent that
    // polls, which would be the next case's (capacity 1, its own job waiting behind this one).
    await cancelRun(runId);
  });

  it('leaves no step behind when the agent is killed with SIGKILL', async () => {
    const { agent, pid } = await startJob('kill');
    process.kill(agent.pid as number, 'SIGKILL');
    await exited(agent);
    await waitFor(() => sleepers(SLEEPS.kill).length === 0, {
      what: `the step (pid ${pid}) of the killed agent to be gone`,
      timeoutMs: 20_000,
    });
  });
});
