/**
 * Disk-full end to end, through `gantry up` with bubblewrap, its real proxy and a real instance
 * whose /tmp is a 1 MiB tmpfs (`service.tmp-size`): the service's writes fail with ENOSPC while
 * the experiment runs and succeed again when it ends, or at once when it is aborted with the CLI
 * (`gantry experiment run --detach | abort | show | list`); after a kill -9 of the server the space
 * comes back by the experiment's deadline, and the restarted server records how the run ended.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sandboxAvailable } from '../../src/executor/index.ts';
import { deployShopToStaging, recordAfterRestart } from '../support/chaos-deploy.ts';
import { runCli } from '../support/cli.ts';
import { makeRepo } from '../support/repo.ts';
import { type GantryUp, startGantryUp } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

/** Answers /write with 200 when 64 KiB fit in its /tmp, else 507 and the error's code. */
const SERVICE = `
const fs = require('node:fs');
const http = require('node:http');
http.createServer((req, res) => {
  if (req.url !== '/write') return res.end('ok');
  try {
    fs.writeFileSync('/tmp/probe', Buffer.alloc(65536));
    res.end('ok');
  } catch (e) {
    res.statusCode = 507;
    res.end(e.code);
  }
  fs.rmSync('/tmp/probe', { force: true });
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

const YAML = `
pipeline:
  jobs:
    build: { steps: ["node --check server.js"] }
service:
  run: node server.js
  tmp-size: 1MiB
  health: { path: /healthz, readiness: { interval: 100ms } }
  stop: { drain-timeout: 1s }
environments:
  staging: { strategy: { recreate: {} } }
experiments:
  fill-tmp:
    environment: staging
    hypothesis: { latency-p50: { max: 30s } }
    faults:
      - disk-full: {}
    duration: 4s
    before: 1s
    after: 1s
  fill-tmp-long:
    environment: staging
    hypothesis: { latency-p50: { max: 30s } }
    faults:
      - disk-full: {}
    duration: 2m
    before: 1s
    after: 1s
`;

interface Run {
  verdict: string | null;
  running?: boolean;
  deadlineAt: number | null;
  instanceFaults: { kind: string; inside?: boolean; filledBytes?: number; helpers: { pid: number }[] }[];
}

describe.skipIf(!sandboxAvailable())('disk-full end to end', () => {
  let server: GantryUp;
  let repo: Awaited<ReturnType<typeof makeRepo>>;
  let port = 0;

  const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => (await server.api<T>(method, path, body)).body;
  // An aborted run ends its last phase after the abort answers; until then a new run is refused (409).
  const start = () =>
    waitFor(
      async () => {
        const r = await server.api<{ experiment?: { experimentId: string } }>('POST', '/api/projects/shop/experiments/fill-tmp/run', {});
        if (r.status === 409) return undefined;
        if (r.status !== 201 || r.body.experiment === undefined) throw new Error(`run refused: ${r.status} ${JSON.stringify(r.body)}`);
        return r.body.experiment.experimentId;
      },
      { what: 'the experiment to start (the previous run to end)', timeoutMs: 20_000 },
    );
  const show = async (id: string) => (await api<{ run: Run }>('GET', `/api/projects/shop/experiment-runs/${id}`)).run;
  const write = async (): Promise<string> => {
    const res = await fetch(`http://127.0.0.1:${port}/write`);
    return `${res.status} ${await res.text()}`;
  };
  const injected = (id: string) =>
    waitFor(
      async () => {
        const r = await show(id);
        return r.deadlineAt !== null && r.instanceFaults.length === 1 ? r : undefined;
      },
      { what: 'the disk to be filled', timeoutMs: 30_000 },
    );

  beforeAll(async () => {
    repo = await makeRepo({ 'server.js': SERVICE, 'gantry.yaml': YAML });
    server = await startGantryUp({ env: { GANTRY_SANDBOX: 'auto' } });
    port = await deployShopToStaging(server, repo.dir);
    await waitFor(async () => (await write()) === '200 ok', { what: 'the service to write to its /tmp' });
  }, 90_000);
  afterAll(async () => {
    await server?.stop();
    await repo?.cleanup();
  });

  it("fills the instance's /tmp inside its sandbox while the experiment runs, and frees it when it ends", async () => {
    const id = await start();
    const run = await injected(id);
    expect(run.instanceFaults[0]).toMatchObject({ kind: 'disk-full', inside: true });
    expect(run.instanceFaults[0]?.filledBytes).toBeGreaterThan(512 * 1024);
    expect(await write()).toBe('507 ENOSPC');
    const record = await waitFor(
      async () => {
        const r = await show(id);
        return r.running ? undefined : r;
      },
      { what: 'the experiment to finish', timeoutMs: 30_000 },
    );
    expect(record.verdict).toBe('held');
    expect(await write()).toBe('200 ok');
  }, 60_000);

  it('frees the space at once when aborted by hand with the CLI, which lists and shows the run', async () => {
    const cli = async (...args: string[]) => {
      const r = await runCli(repo.dir, ['experiment', ...args, '--json'], { env: { GANTRY_URL: server.url, GANTRY_TOKEN: server.token } });
      expect(r.stderr).toBe('');
      return JSON.parse(r.stdout) as Record<string, unknown>;
    };
    // Two minutes: the CLI takes seconds to start on a loaded machine, and the abort must come mid-run.
    const id = String((await cli('run', 'shop', 'fill-tmp-long', '--detach')).experimentId);
    await injected(id);
    expect(await write()).toBe('507 ENOSPC');
    expect(await cli('abort', 'shop', id)).toMatchObject({ experimentId: id, verdict: 'aborted' });
    await waitFor(async () => (await write()) === '200 ok', { what: 'the space to come back on abort', timeoutMs: 5000 });
    expect(await cli('show', 'shop', id)).toMatchObject({
      verdict: 'aborted',
      instanceFaults: [expect.objectContaining({ kind: 'disk-full' })],
    });
    const listed = (await cli('list', 'shop')) as { experiments: { name: string }[]; runs: { experimentId: string }[] };
    expect(listed.experiments.map((e) => e.name)).toEqual(['fill-tmp', 'fill-tmp-long']);
    expect(listed.runs.map((r) => r.experimentId)).toContain(id);
  }, 60_000);

  it('frees the space by the deadline after kill -9 of the server, and the next server records the run', async () => {
    const id = await start();
    const run = await injected(id);
    expect(await write()).toBe('507 ENOSPC');
    await server.kill('SIGKILL');
    expect(await write()).toBe('507 ENOSPC'); // the fault outlives the server until its deadline…
    const deadline = run.deadlineAt as number;
    const freedAt = await waitFor(async () => ((await write()) === '200 ok' ? Date.now() : undefined), {
      what: 'the space to come back at the deadline',
      timeoutMs: 20_000,
    });
    expect(freedAt).toBeGreaterThanOrEqual(deadline - 50);
    expect(freedAt - deadline).toBeLessThanOrEqual(3000); // … and not much longer on a loaded machine.

    const record = await recordAfterRestart<Run>(server, id);
    expect(record.verdict).toBe('aborted');
    expect(record.instanceFaults.map((f) => f.kind)).toEqual(['disk-full']);
  }, 90_000);
});
