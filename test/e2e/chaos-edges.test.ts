/**
 * A fault on one service edge, end to end: service `checkout` calls service `payments` through
 * payments' Gantry proxy; an experiment of payments aborts only the calls coming from checkout's
 * instances (the proxy finds the process at the other end of each connection and its instance
 * key), while payments' other callers are answered as usual.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRepo } from '../support/repo.ts';
import { type GantryUp, startGantryUp } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

const PAYMENTS = `
const http = require('node:http');
http.createServer((req, res) => res.end('paid')).listen(Number(process.env.PORT), '127.0.0.1');
`;
// Calls the port it is given and answers with the status it got (0: no answer).
const CHECKOUT = `
const http = require('node:http');
http.createServer(async (req, res) => {
  if (req.url === '/key') return res.end(process.env.GANTRY_INSTANCE_KEY);
  const port = new URL(req.url, 'http://x').searchParams.get('port');
  if (!port) return res.end('ok');
  const status = await fetch('http://127.0.0.1:' + port + '/charge').then((r) => r.status, () => 0);
  res.end(String(status));
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

const yaml = (extra: string) => `
pipeline:
  jobs:
    build: { steps: ["true"] }
service:
  run: node server.js
  health: { path: /healthz, readiness: { interval: 100ms } }
  stop: { drain-timeout: 1s }
environments:
  staging: { strategy: { recreate: {} } }
${extra}`;

const EXPERIMENT = `
experiments:
  checkout-edge:
    environment: staging
    hypothesis: { latency-p50: { max: 30s } }
    faults:
      - abort: { status: 503, match: { caller: checkout/staging } }
    duration: 60s
    before: 1s
    after: 1s
`;

describe('a fault on one service edge', () => {
  let server: GantryUp;
  const repos: Awaited<ReturnType<typeof makeRepo>>[] = [];
  const ports: Record<string, number> = {};
  const builds: Record<string, string> = {};

  const api = async <T>(method: string, path: string, body?: unknown) => (await server.api<T>(method, path, body)).body;
  async function deploy(name: string, files: Record<string, string>): Promise<void> {
    const repo = await makeRepo(files);
    repos.push(repo);
    await api('POST', '/api/projects', { path: repo.dir, name });
    const run = (await api<{ run: { id: string } }>('POST', `/api/projects/${name}/runs`, {})).run.id;
    await waitFor(async () => (await api<{ status: string }>('GET', `/api/runs/${run}`)).status === 'success', {
      what: `the build of ${name}`,
      timeoutMs: 30_000,
    });
    builds[name] = run;
    await release(name);
  }
  /** A new release of `name`'s build, deployed (recreate: new instances, new instance keys). */
  async function release(name: string): Promise<void> {
    const run = builds[name];
    const release = (await api<{ release: { id: string } }>('POST', `/api/projects/${name}/releases`, { run })).release.id;
    await api('POST', `/api/projects/${name}/environments/staging/deploy`, { release });
    ports[name] = await waitFor(
      async () => {
        const v = await api<{ rollout: { phase: string } | null; live: { port: number | null } }>(
          'GET',
          `/api/projects/${name}/environments/staging/rollout`,
        );
        return v.rollout?.phase === 'succeeded' ? v.live.port : undefined;
      },
      { what: `the deploy of ${name}`, timeoutMs: 30_000 },
    );
  }

  beforeAll(async () => {
    server = await startGantryUp();
    await Promise.all([
      deploy('payments', { 'server.js': PAYMENTS, 'gantry.yaml': yaml(EXPERIMENT) }),
      deploy('checkout', { 'server.js': CHECKOUT, 'gantry.yaml': yaml('') }),
    ]);
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    for (const r of repos) await r.cleanup();
  });

  it("cuts checkout's calls to payments and no one else's", async () => {
    const viaCheckout = async () => Number(await (await fetch(`http://127.0.0.1:${ports.checkout}/?port=${ports.payments}`)).text());
    const direct = async () => (await fetch(`http://127.0.0.1:${ports.payments}/charge`)).status;
    expect(await viaCheckout()).toBe(200);

    const id = (await api<{ experiment: { experimentId: string } }>('POST', '/api/projects/payments/experiments/checkout-edge/run', {}))
      .experiment.experimentId;
    await waitFor(
      async () => (await api<{ run: { deadlineAt: number | null } }>('GET', `/api/projects/payments/experiment-runs/${id}`)).run.deadlineAt,
      {
        what: 'the faults to be set',
      },
    );
    expect(await Promise.all([viaCheckout(), viaCheckout(), viaCheckout()])).toEqual([503, 503, 503]);
    expect(await Promise.all([direct(), direct(), direct()])).toEqual([200, 200, 200]);

    await api('POST', `/api/projects/payments/experiment-runs/${id}/abort`, {});
    const record = await waitFor(
      async () => {
        const r = (
          await api<{ run: { running?: boolean; affected: number; unaffected: number; faults: { match: { callerKeys?: string[] } }[] } }>(
            'GET',
            `/api/projects/payments/experiment-runs/${id}`,
          )
        ).run;
        return r.running ? undefined : r;
      },
      { what: 'the run to end' },
    );
    expect(record.affected).toBe(3);
    expect(record.unaffected).toBeGreaterThanOrEqual(3);
    expect(record.faults[0]?.match.callerKeys?.length).toBe(1);
    expect(await viaCheckout()).toBe(200);
  }, 60_000);

  it('follows checkout onto the instances a deploy starts during the experiment, its counts going on', async () => {
    const viaCheckout = async () => Number(await (await fetch(`http://127.0.0.1:${ports.checkout}/?port=${ports.payments}`)).text());
    const direct = async () => (await fetch(`http://127.0.0.1:${ports.payments}/charge`)).status;
    const checkoutKey = async () => (await fetch(`http://127.0.0.1:${ports.checkout}/key`)).text();
    const oldKey = await checkoutKey();

    const id = (await api<{ experiment: { experimentId: string } }>('POST', '/api/projects/payments/experiments/checkout-edge/run', {}))
      .experiment.experimentId;
    const run = async () =>
      (
        await api<{ run: { running?: boolean; phase?: string; affected: number; unaffected: number; setAt?: number } }>(
          'GET',
          `/api/projects/payments/experiment-runs/${id}`,
        )
      ).run;
    await waitFor(async () => (await run()).phase === 'watching', { what: 'the faults to be set' });
    expect(await viaCheckout()).toBe(503);

    await release('checkout');
    await waitFor(async () => (await checkoutKey().catch(() => oldKey)) !== oldKey, { what: "checkout's new instance to answer" });
    // Its key was not known when the faults were set: the server tells the proxy.
    await waitFor(async () => (await viaCheckout()) === 503, { what: "the new checkout instance's calls to be faulted" });
    expect(await Promise.all([viaCheckout(), viaCheckout(), viaCheckout()])).toEqual([503, 503, 503]);
    expect(await Promise.all([direct(), direct(), direct()])).toEqual([200, 200, 200]);

    await api('POST', `/api/projects/payments/experiment-runs/${id}/abort`, {});
    const record = await waitFor(
      async () => {
        const r = await run();
        return r.running ? undefined : r;
      },
      { what: 'the run to end' },
    );
    // One faulted before the deploy, at least four after: the counts went on (a new set would have reset them).
    expect(record.affected).toBeGreaterThanOrEqual(5);
    expect(record.unaffected).toBeGreaterThanOrEqual(3);
  }, 90_000);
});
