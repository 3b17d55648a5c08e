/**
 * Instance faults end to end, through `gantry up`, its real proxy process and real instances (one
 * experiment from gantry.yaml, one from a file under .gantry/experiments/):
 * - the target: an instance-kill experiment on a 2-instance service under 100 req/s
 *   shows 0 failed requests (the proxy retries the requests the killed instance dropped, and the
 *   supervisor restarts it), and the record names the instance it killed;
 * - a pause outlives a kill -9 of the server only until the experiment's deadline: the helper
 *   the runtime left resumes the instance, and the restarted server records how the run ended.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStat } from '../../src/platform/proc.ts';
import { deployShopToStaging, recordAfterRestart } from '../support/chaos-deploy.ts';
import { makeRepo } from '../support/repo.ts';
import { type GantryUp, startGantryUp } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';
import { OK_SERVICE, okServiceYaml } from '../support/chaos-service.ts';

const YAML = `${okServiceYaml({ instances: 2 })}  pause-one:
    environment: staging
    hypothesis: { latency-p50: { max: 30s } }
    faults:
      - pause: { instances: 1 }
    duration: 5s
    before: 1s
    after: 1s
`;

/** Kept in its own file: experiments under .gantry/experiments/ are merged with gantry.yaml's. */
const KILL_FILE = `
experiments:
  kill-one:
    environment: staging
    hypothesis: { error-rate: { max: 1% } }
    faults:
      - kill: { instances: 1 }
    duration: 4s
    before: 1s
    after: 1s
`;

interface Mark {
  pid: number;
  startTime: string;
}
interface Run {
  verdict: string | null;
  reason: string | null;
  running?: boolean;
  deadlineAt: number | null;
  instanceFaults: { kind: string; instanceId: string; release: string; paused: Mark[]; helpers: Mark[] }[];
  during: { requests: number; errors: number } | null;
  failedRequests: { method: string; target: string; status: number; inside: boolean }[];
}

describe('instance faults end to end', () => {
  let server: GantryUp;
  let repo: Awaited<ReturnType<typeof makeRepo>>;
  let port = 0;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

  const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => (await server.api<T>(method, path, body)).body;
  const start = async (name: string) =>
    (await api<{ experiment: { experimentId: string } }>('POST', `/api/projects/shop/experiments/${name}/run`, {})).experiment.experimentId;
  const show = async (id: string) => (await api<{ run: Run }>('GET', `/api/projects/shop/experiment-runs/${id}`)).run;
  const send = (): Promise<{ status: number; error: string | null }> =>
    new Promise((resolve) => {
      const req = http.request({ host: '127.0.0.1', port, path: '/work', agent }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, error: null }));
      });
      req.on('error', (e) => resolve({ status: 0, error: e.message }));
      req.end();
    });
  const instances = async () =>
    (
      await api<{ live: { instances: { id: string; state: string; restarts: number }[] } }>(
        'GET',
        '/api/projects/shop/environments/staging/rollout',
      )
    ).live.instances;

  beforeAll(async () => {
    repo = await makeRepo({ 'server.js': OK_SERVICE, 'gantry.yaml': YAML, '.gantry/experiments/instances.yaml': KILL_FILE });
    server = await startGantryUp({ env: { GANTRY_SANDBOX: 'off' } });
    port = await deployShopToStaging(server, repo.dir);
    await waitFor(async () => (await instances()).filter((i) => i.state === 'ready').length === 2, { what: 'two ready instances' });
  }, 90_000);
  afterAll(async () => {
    agent.destroy();
    await server?.stop();
    await repo?.cleanup();
  });

  it('kills one of two instances under 100 req/s without a failed request', async () => {
    const answers: { at: number; status: number; error: string | null }[] = [];
    const pending = new Set<Promise<void>>();
    // 100 requests a second, each on its own: a slow answer does not slow the rate.
    const load = setInterval(() => {
      const p = send().then((a) => {
        answers.push({ at: Date.now(), ...a });
      });
      pending.add(p);
      void p.finally(() => pending.delete(p));
    }, 10);
    try {
      await waitFor(() => answers.length >= 100, { what: 'the load to run for a second' });
      const id = await start('kill-one');
      const run = await waitFor(
        async () => {
          const r = await show(id);
          return r.running ? undefined : r;
        },
        { what: 'the experiment to finish', timeoutMs: 30_000 },
      );
      expect(run.instanceFaults.map((f) => f.kind)).toEqual(['kill']);
      const killed = run.instanceFaults[0]?.instanceId;
      // The supervisor brought the killed instance back.
      await waitFor(async () => (await instances()).some((i) => i.id === killed && i.restarts >= 1 && i.state === 'ready'), {
        what: 'the killed instance to be restarted',
      });
      // The record names every failed request (none here): which, when, its status, inside or outside the blast radius.
      expect(run.failedRequests).toEqual([]);
      expect(run.during?.errors).toBe(0);
      expect(run.verdict).toBe('held');
    } finally {
      clearInterval(load);
      await Promise.all([...pending]);
    }
    const failed = answers.filter((a) => a.status !== 200);
    expect(answers.length).toBeGreaterThan(400);
    expect(failed).toEqual([]);
  }, 60_000);

  it('resumes a paused instance at the deadline after kill -9 of the server, and the next server records it', async () => {
    const id = await start('pause-one');
    const run = await waitFor(
      async () => {
        const r = await show(id);
        return r.deadlineAt !== null && r.instanceFaults.length === 1 ? r : undefined;
      },
      { what: 'the pause to be set' },
    );
    const paused = run.instanceFaults[0]?.paused ?? [];
    expect(paused.length).toBeGreaterThanOrEqual(1);
    const state = (m: Mark) => {
      const s = readStat(m.pid);
      return s !== null && s.startTime === m.startTime ? s.state : 'gone';
    };
    expect(paused.map(state)).toContain('T');
    await server.kill('SIGKILL');
    expect(paused.map(state)).toContain('T'); // the pause outlives the server until its deadline…
    const deadline = run.deadlineAt as number;
    const resumedAt = await waitFor(() => (paused.every((m) => state(m) !== 'T') ? Date.now() : undefined), {
      what: 'the helper to resume the instance',
      timeoutMs: 20_000,
    });
    expect(resumedAt).toBeGreaterThanOrEqual(deadline - 50);
    expect(resumedAt - deadline).toBeLessThanOrEqual(1500); // … and not much longer on a loaded machine.

    const record = await recordAfterRestart<Run>(server, id);
    expect(record.verdict).toBe('aborted');
    expect(record.instanceFaults.map((f) => f.kind)).toEqual(['pause']);
  }, 90_000);
});
