/**
 * Chaos experiments end to end: a real server, a service deployed through its real proxy process,
 * real requests (about 50 a second) and experiments read from the release's gantry.yaml. One that
 * holds (latency on a share of /pay), one whose hypothesis breaks (aborts on /pay) and is halted
 * within a second of the look that saw it, an incident opened during one linked to it and not
 * counted by DORA, and a run left by a stopped server settled by the next one.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { makeRepo } from '../support/repo.ts';
import { startTestServer, waitForRunEnd, type TestServer } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';
import { OK_SERVICE, okServiceYaml } from '../support/chaos-service.ts';

const YAML = `${okServiceYaml()}  slow-payments:
    environment: staging
    hypothesis: { error-rate: { max: 5% }, latency-p50: { max: 2s } }
    faults:
      - latency: { delay: 150ms, jitter: 20ms, percent: 50, match: { path: /pay } }
    duration: 3s
    before: 2s
    after: 1s
  failing-payments:
    environment: staging
    hypothesis: { error-rate: { max: 1% } }
    faults:
      - abort: { status: 503, percent: 100, match: { path: /pay } }
    duration: 60s
    before: 2s
    after: 1s
  long-latency:
    environment: staging
    hypothesis: { error-rate: { max: 50% } }
    faults:
      - latency: { delay: 10ms, percent: 10 }
    duration: 60s
    before: 1s
    after: 1s
`;

interface Run {
  experimentId: string;
  verdict: string | null;
  reason: string | null;
  configHash: string;
  release: string;
  affected: number;
  unaffected: number;
  brokenAt: number | null;
  revertedAt: number | null;
  before: { requests: number } | null;
  during: { requests: number; checks: { name: string; outcome: string }[] } | null;
  after: { requests: number } | null;
  looks: unknown[];
  running?: boolean;
}

describe('chaos experiments end to end', () => {
  let server: TestServer;
  let repo: Awaited<ReturnType<typeof makeRepo>>;
  let release = '';
  let port = 0;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  let load: NodeJS.Timeout | undefined;
  /** When each answer to /pay arrived and its status. */
  const payAnswers: { at: number; status: number }[] = [];

  const send = (path: string): Promise<number> =>
    new Promise((resolve) => {
      const req = http.request({ host: '127.0.0.1', port, path, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', () => resolve(0));
      req.end();
    });

  const start = async (name: string) =>
    (await server.api<{ experiment: { experimentId: string } }>('POST', `/api/projects/shop/experiments/${name}/run`, {})).body.experiment
      .experimentId;
  const show = async (id: string) => (await server.api<{ run: Run }>('GET', `/api/projects/shop/experiment-runs/${id}`)).body.run;
  const finished = (id: string, timeoutMs = 30_000) =>
    waitFor(
      async () => {
        const run = await show(id);
        return run.running ? undefined : run;
      },
      { what: `experiment ${id} to finish`, timeoutMs },
    );

  beforeAll(async () => {
    server = await startTestServer();
    repo = await makeRepo({ 'server.js': OK_SERVICE, 'gantry.yaml': YAML });
    await server.api('POST', '/api/projects', { path: repo.dir, name: 'shop' });
    const run = (await server.api<{ run: { id: string } }>('POST', '/api/projects/shop/runs', {})).body.run.id;
    expect((await waitForRunEnd(server, run)).status).toBe('success');
    release = (await server.api<{ release: { id: string } }>('POST', '/api/projects/shop/releases', { run })).body.release.id;
    await server.api('POST', '/api/projects/shop/environments/staging/deploy', { release });
    port = await waitFor(
      async () => {
        const view = (
          await server.api<{ rollout: { phase: string } | null; live: { port: number | null } }>(
            'GET',
            '/api/projects/shop/environments/staging/rollout',
          )
        ).body;
        return view.rollout?.phase === 'succeeded' ? view.live.port : undefined;
      },
      { what: 'the deploy to finish', timeoutMs: 30_000 },
    );
    // About 50 requests a second, half of them to /pay, for the whole test.
    let i = 0;
    load = setInterval(() => {
      const path = i++ % 2 === 0 ? '/pay' : '/cart';
      void send(path).then((status) => {
        if (path === '/pay') payAnswers.push({ at: Date.now(), status });
      });
    }, 20);
    await waitFor(() => payAnswers.length > 60, { what: 'two seconds of traffic before the first experiment' });
  }, 60_000);

  afterAll(async () => {
    clearInterval(load);
    agent.destroy();
    await server?.cleanup();
    await repo?.cleanup();
  });

  it('runs an experiment that holds: faults on a share of /pay, the record with its numbers', async () => {
    const listed = (await server.api<{ experiments: { name: string; environment: string }[] }>('GET', '/api/projects/shop/experiments'))
      .body;
    expect(listed.experiments.map((e) => e.name)).toEqual(['slow-payments', 'failing-payments', 'long-latency']);
    const cli = (args: string[]) =>
      runCli(repo.dir, ['experiment', ...args], { env: { GANTRY_URL: server.url, GANTRY_TOKEN: server.token } });
    const dry = await cli(['run', 'shop', 'slow-payments', '--dry-run']);
    expect(dry.stdout).toContain('the guard would let it start');
    const missing = await cli(['run', 'shop', 'slow-payment']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.stderr).toContain("no experiment 'slow-payment'");
    const ran = await cli(['run', 'shop', 'slow-payments', '--json']);
    expect(ran.code).toBe(0);
    const id = (JSON.parse(ran.stdout) as { experimentId: string }).experimentId;
    const run = await finished(id);
    expect(run).toMatchObject({ verdict: 'held', release, reason: 'the hypothesis held for the whole duration' });
    expect(run.configHash).toMatch(/^[0-9a-f]{16}$/);
    expect(run.affected).toBeGreaterThan(0);
    expect(run.unaffected).toBeGreaterThan(run.affected);
    expect(run.before?.requests).toBeGreaterThan(0);
    // The last look before the revert: at most a second short of the final counts.
    expect(run.during?.requests).toBeGreaterThan(0);
    expect(run.during?.requests).toBeLessThanOrEqual(run.affected + run.unaffected);
    expect(run.after).not.toBeNull();
    expect(run.looks.length).toBeGreaterThan(0);
    const types = (
      await server.api<{ events: { type: string; data: { experimentId?: string } }[] }>('GET', '/api/events?type=experiment.*&limit=50')
    ).body.events
      .filter((e) => e.data.experimentId === id)
      .map((e) => e.type);
    expect(types).toEqual(
      expect.arrayContaining(['experiment.started', 'experiment.injected', 'experiment.reverted', 'experiment.finished']),
    );
  }, 60_000);

  it('halts a broken hypothesis: no request is faulted later than a second after the look that saw it', async () => {
    const id = await start('failing-payments');
    const run = await finished(id);
    expect(run.verdict).toBe('broken');
    expect(run.reason).toContain('error-rate');
    const brokenAt = run.brokenAt as number;
    const faulted = payAnswers.filter((a) => a.status === 503);
    expect(faulted.length).toBeGreaterThan(0);
    const lastFaulted = Math.max(...faulted.map((a) => a.at));
    expect(lastFaulted - brokenAt).toBeLessThanOrEqual(1000);
    // Requests after the halt are served again.
    await waitFor(() => payAnswers.some((a) => a.at > (run.revertedAt as number) && a.status === 200), {
      what: '/pay served after the halt',
    });
  }, 60_000);

  it('links an incident opened during an experiment to it, and DORA does not count it as a failed change', async () => {
    const id = await start('long-latency');
    await waitFor(async () => (await show(id)).looks.length > 0 || undefined, { what: 'the experiment to inject' });
    const opened = await server.api<{ incident: { number: number } }>('POST', '/api/projects/shop/incidents', {
      title: 'checkout slow',
      environment: 'staging',
    });
    expect(opened.status).toBe(201);
    const aborted = await server.api<{ run: { verdict: string } }>('POST', `/api/projects/shop/experiment-runs/${id}/abort`);
    expect(aborted.body.run.verdict).toBe('aborted');
    const run = await finished(id);
    expect(run.reason).toMatch(/^aborted by /);
    const view = (
      await server.api<{ timeline: { kind: string; text: string }[] }>('GET', `/api/projects/shop/incidents/${opened.body.incident.number}`)
    ).body;
    expect(view.timeline.map((t) => t.text)).toEqual(
      expect.arrayContaining([`incident opened during chaos experiment 'long-latency' (${id})`]),
    );
    const dora = (
      await server.api<{
        reports: { numbers: { deployments: number; changeFailure: { failed: number } }; incidents: { experiment: boolean }[] }[];
      }>('GET', '/api/dora?project=shop&env=staging')
    ).body.reports[0];
    expect(dora?.numbers.deployments).toBe(1);
    expect(dora?.incidents).toEqual([expect.objectContaining({ experiment: true })]);
    expect(dora?.numbers.changeFailure.failed).toBe(0);
  }, 60_000);
});
