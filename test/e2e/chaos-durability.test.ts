/**
 * kill -9 of `gantry up` in the middle of a chaos experiment: the environment's proxy clears the
 * faults by itself at the experiment's deadline (no server is there to ask), and the next
 * `gantry up` records how the run ended.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { deployShopToStaging } from '../support/chaos-deploy.ts';
import { makeRepo } from '../support/repo.ts';
import { type GantryUp, startGantryUp } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';
import { OK_SERVICE, okServiceYaml } from '../support/chaos-service.ts';

const YAML = `${okServiceYaml()}  pay-outage:
    environment: staging
    hypothesis: { latency-p50: { max: 10s } }
    faults:
      - abort: { status: 503, match: { path: /pay } }
    duration: 4s
    before: 1s
    after: 1s
`;

async function api<T>(s: GantryUp, method: string, path: string, body?: unknown): Promise<T> {
  return (await s.api<T>(method, path, body)).body;
}

describe('a chaos experiment across kill -9 of the server', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('has its faults cleared by the proxy at the deadline, and the restarted server records how it ended', async () => {
    const repo = await makeRepo({ 'server.js': OK_SERVICE, 'gantry.yaml': YAML });
    cleanups.push(() => repo.cleanup());
    const server = await startGantryUp({ env: { GANTRY_SANDBOX: 'off' } });
    cleanups.push(() => server.stop());
    const port = await deployShopToStaging(server, repo.dir);
    const pay = () =>
      fetch(`http://127.0.0.1:${port}/pay`).then(
        (r) => r.status,
        () => 0,
      );

    const id = (await api<{ experiment: { experimentId: string } }>(server, 'POST', '/api/projects/shop/experiments/pay-outage/run', {}))
      .experiment.experimentId;
    const deadline = await waitFor(
      async () => {
        const r = await api<{ run: { deadlineAt: number | null } }>(server, 'GET', `/api/projects/shop/experiment-runs/${id}`);
        return r.run.deadlineAt ?? undefined;
      },
      { what: 'the faults to be set, with their deadline' },
    );
    expect(await pay()).toBe(503);
    await server.kill('SIGKILL');
    expect(await pay()).toBe(503); // the faults outlive the server until their deadline…
    const cleared = await waitFor(async () => ((await pay()) === 200 ? Date.now() : undefined), {
      what: 'the proxy to clear the faults by itself',
      timeoutMs: 20_000,
    });
    // … and not much longer (one poll of slack on a loaded machine).
    expect(cleared).toBeGreaterThanOrEqual(deadline - 50);
    expect(cleared - deadline).toBeLessThanOrEqual(1000);

    await server.startServer();
    const record = await waitFor(
      async () => {
        const r = await api<{
          run: { verdict: string | null; reason: string; running?: boolean; faultsEndedBy: string; affected: number };
        }>(server, 'GET', `/api/projects/shop/experiment-runs/${id}`);
        return r.run.running ? undefined : r.run;
      },
      { what: 'the restarted server to record the run', timeoutMs: 30_000 },
    );
    expect(record).toMatchObject({ verdict: 'aborted', faultsEndedBy: 'deadline' });
    expect(record.reason).toContain('the proxy cleared the faults at their deadline');
    expect(record.affected).toBeGreaterThanOrEqual(2);
  }, 120_000);
});
