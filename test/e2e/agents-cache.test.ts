/**
 * Caches and artifacts move between agent hosts (issue 14 §1): a job on one agent saves a cache
 * and an artifact larger than one request body (the server takes 8 MiB per request, so both go
 * up in parts), and a job of the same run on another agent restores the cache through the
 * server's shared cache (the server's own job cache) and gets the artifact, byte for byte
 * (checked by sha256 on each side).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_MAIN, cliEnv, NODE } from '../support/cli.ts';
import { makeRepo, type TestRepo } from '../support/repo.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

let server: TestServer;
let repo: TestRepo;
let work: string;
const agents: ChildProcess[] = [];

async function startAgent(name: string, labels: string[]): Promise<void> {
  const added = await server.api<{ token: string }>('POST', '/api/agents', { name, labels });
  expect(added.status).toBe(201);
  const child = spawn(NODE, [CLI_MAIN, 'agent', '--server', server.url, '--capacity', '1', '--work-dir', join(work, name)], {
    env: cliEnv({ GANTRY_AGENT_TOKEN: added.body.token }),
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  agents.push(child);
}

interface RunView {
  status: string;
  jobs: { key: string; status: string; outputs: Record<string, string> }[];
}

async function runToEnd(): Promise<{ id: string; view: RunView }> {
  const answer = await server.api<{ run: { id: string } }>('POST', '/api/projects/shared-cache/runs', {});
  expect(answer.status).toBe(201);
  const id = answer.body.run.id;
  const view = await waitFor(
    async () => {
      const v = (await server.api<RunView>('GET', `/api/runs/${id}`)).body;
      return ['success', 'failure', 'cancelled'].includes(v.status) ? v : undefined;
    },
    { what: 'the run to end', timeoutMs: 60_000 },
  );
  return { id, view };
}

const log = async (runId: string, job: string) => (await server.api<string>('GET', `/api/runs/${runId}/jobs/${job}/log`)).body;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'gantry-agent-cache-'));
  server = await startTestServer({ options: { agentLeaseMs: 10_000 } });
  repo = await makeRepo({
    'gantry.yaml': `
pipeline:
  jobs:
    save:
      runs-on: [host-a]
      cache: { key: "big-v1", paths: [big] }
      artifacts: [out/**]
      outputs: { cache: "\${{ steps.made.outputs.cache }}", artifact: "\${{ steps.made.outputs.artifact }}" }
      steps:
        - id: made
          run: |
            mkdir -p big out
            if [ ! -e big/data ]; then head -c 9000000 /dev/urandom > big/data; fi
            head -c 9000000 /dev/urandom > out/artifact
            echo "cache=$(sha256sum big/data | cut -d' ' -f1)" >> "$GANTRY_OUTPUT"
            echo "artifact=$(sha256sum out/artifact | cut -d' ' -f1)" >> "$GANTRY_OUTPUT"
    restore:
      needs: save
      runs-on: [host-b]
      cache: { key: "big-v1", paths: [big] }
      outputs: { cache: "\${{ steps.got.outputs.cache }}", artifact: "\${{ steps.got.outputs.artifact }}" }
      steps:
        - id: got
          run: |
            echo "cache=$(sha256sum big/data | cut -d' ' -f1)" >> "$GANTRY_OUTPUT"
            echo "artifact=$(sha256sum out/artifact | cut -d' ' -f1)" >> "$GANTRY_OUTPUT"
`,
  });
  expect((await server.api('POST', '/api/projects', { path: repo.dir, name: 'shared-cache' })).status).toBe(201);
});

afterAll(async () => {
  for (const child of agents) {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) continue;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    process.kill(child.pid, 'SIGKILL');
    await gone;
  }
  await server?.cleanup();
  await repo?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('caches and artifacts between agent hosts', () => {
  it('restores on one agent the cache another saved, and moves artifacts over 8 MiB, each checked by hash', async () => {
    await startAgent('host-a', ['host-a']);
    await startAgent('host-b', ['host-b']);
    const { id, view } = await runToEnd();
    expect(view.status).toBe('success');
    const outputs = (key: string) => view.jobs.find((j) => j.key === key)?.outputs;
    const saved = outputs('save');
    expect(saved?.cache).toMatch(/^[0-9a-f]{64}$/);
    expect(outputs('restore')).toEqual(saved);
    expect(await log(id, 'restore')).toContain('cache restored (exact hit): big-v1');

    // The shared cache is the server's own: it holds the blob once, under its hash.
    const blobs = readdirSync(join(server.dataDir, 'cache', 'blobs'), { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => e.name);
    expect(blobs).toEqual([saved?.cache]);
    // Two agent processes and 18 MB each way take their time on a loaded machine.
  }, 120_000);
});
