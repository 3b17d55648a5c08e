/**
 * A live agent stalled past its lease (docs/decisions/0036): the agent process is stopped
 * (SIGSTOP: it gets no CPU at all, as under a starved machine or a long pause, while its job's
 * processes keep running) in the middle of a step. Its lease watchdog, a process of its own, must
 * kill the step by the lease deadline, before the server hands the job to another agent, so the
 * step never ends twice; once resumed, the stalled agent must not report the job it lost.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_MAIN, cliEnv, NODE } from '../support/cli.ts';
import { makeRepo, type TestRepo } from '../support/repo.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

const LEASE_MS = 3000;

let server: TestServer;
let repo: TestRepo;
let marks: string;
let work: string;
const agents: { child: ChildProcess; log: () => string }[] = [];

async function startAgent(name: string): Promise<{ child: ChildProcess; log: () => string }> {
  const added = await server.api<{ token: string }>('POST', '/api/agents', { name, labels: ['linux'] });
  expect(added.status).toBe(201);
  const child = spawn(NODE, [CLI_MAIN, 'agent', '--server', server.url, '--capacity', '1', '--work-dir', join(work, name)], {
    env: cliEnv({ GANTRY_AGENT_TOKEN: added.body.token }),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    log += chunk;
  });
  const agent = { child, log: () => log };
  agents.push(agent);
  return agent;
}

function events(): string[] {
  const file = join(marks, 'events');
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean) : [];
}

/** Alive and not a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX]/.test(stat);
  } catch {
    return false;
  }
}

beforeAll(async () => {
  marks = await mkdtemp(join(tmpdir(), 'gantry-stall-marks-'));
  work = await mkdtemp(join(tmpdir(), 'gantry-stall-hosts-'));
  server = await startTestServer({ options: { agentLeaseMs: LEASE_MS } });
  // The first attempt outlives the lease by far; the test lets later ones be quick.
  repo = await makeRepo({
    'gantry.yaml': `
pipeline:
  jobs:
    step:
      runs-on: [linux]
      steps:
        - run: |
            echo "start $$ $GANTRY_WORKSPACE" >> ${marks}/events
            if [ -e ${marks}/quick ]; then sleep 0.2; else sleep 30; fi
            echo "end $$ $GANTRY_WORKSPACE" >> ${marks}/events
`,
  });
  expect((await server.api('POST', '/api/projects', { path: repo.dir, name: 'stall' })).status).toBe(201);
});

afterAll(async () => {
  for (const { child } of agents) {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) continue;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    process.kill(child.pid, 'SIGKILL');
    await gone;
  }
  await server?.cleanup();
  await repo?.cleanup();
  if (marks) await rm(marks, { recursive: true, force: true });
  if (work) await rm(work, { recursive: true, force: true });
});

describe('an agent stalled past its lease', () => {
  it('has its step killed by the lease deadline, before the job runs elsewhere; the step ends once', async () => {
    const stalled = await startAgent('stalled');
    const answer = await server.api<{ run: { id: string } }>('POST', '/api/projects/stall/runs', {});
    expect(answer.status).toBe(201);
    const runId = answer.body.run.id;
    const first = await waitFor(() => events().find((l) => l.startsWith('start ')), { what: 'the step to start', timeoutMs: 30_000 });
    const pid = Number(first.split(' ')[1]);
    expect(alive(pid)).toBe(true);

    process.kill(stalled.child.pid as number, 'SIGSTOP');
    // The watchdog's deadline is 5/6 of the lease after the last renewal sent: within a lease of the stop.
    await waitFor(() => !alive(pid), { what: "the stalled agent's step to be killed by its lease deadline", timeoutMs: LEASE_MS });
    writeFileSync(join(marks, 'quick'), '');

    await startAgent('spare');
    const run = await waitFor(
      async () => {
        const view = (await server.api<{ status: string }>('GET', `/api/runs/${runId}`)).body;
        return ['success', 'failure', 'cancelled'].includes(view.status) ? view : undefined;
      },
      { what: 'the run to end on the spare agent', timeoutMs: 30_000 },
    );
    expect(run.status).toBe('success');
    const attempts = await server.store.agents.attempts(runId);
    expect(attempts.map((a) => [a.fence, a.agentId, a.outcome])).toEqual([
      [1, 'stalled', 'lease-lost'],
      [2, 'spare', 'finished'],
    ]);
    // One end, the spare's: the stalled attempt was killed mid-step.
    const lines = events();
    expect(lines.filter((l) => l.startsWith('end '))).toEqual([expect.stringContaining(join(work, 'spare'))]);

    // Resumed, the stalled agent hears that its job was ended and reports nothing.
    process.kill(stalled.child.pid as number, 'SIGCONT');
    await waitFor(() => stalled.log().includes('the watchdog ended it'), { what: 'the resumed agent to see its job was ended' });
    await waitFor(() => stalled.log().includes('"msg":"job stopped"'), { what: 'the resumed agent to drop the job' });
    expect(stalled.log()).not.toContain('"msg":"job finished"');
    expect((await server.store.agents.attempts(runId)).map((a) => a.outcome)).toEqual(['lease-lost', 'finished']);
  });
});
