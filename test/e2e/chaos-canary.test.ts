/**
 * A chaos experiment during a canary: faults matching `release: canary` take only the requests
 * routed to the release the rollout brings in, and an instance fault on the canary takes only its
 * instances — a new release tried against a fault before it is promoted, with the stable one left
 * alone. Real server, real proxy, real instances of two releases.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRepo } from '../support/repo.ts';
import { nodeServiceYaml } from '../support/service-yaml.ts';
import { startTestServer, type TestServer, waitForRunEnd } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

const SERVICE = readFileSync(join(import.meta.dirname, 'fixtures', 'service.js'), 'utf8');

function gantryYaml(version: string): string {
  return nodeServiceYaml(
    `environments:
  production:
    strategy:
      canary:
        steps: [{ weight: 50, pause: 5m }]
experiments:
  canary-outage:
    environment: production
    hypothesis: { latency-p50: { max: 30s } }
    faults:
      - abort: { status: 503, match: { release: canary } }
      - cpu: { workers: 1, release: canary }
    duration: 20s
    before: 1s
    after: 1s
    guard: { no-rollout: false }
`,
    `  env: { VERSION: "${version}" }\n`,
  );
}

interface Run {
  experimentId: string;
  running?: boolean;
  deadlineAt: number | null;
  faults: { kind: string; match: { release?: string } }[];
  instanceFaults: { kind: string; release: string }[];
}

describe('a chaos experiment on the canary', () => {
  let server: TestServer;
  let repo: Awaited<ReturnType<typeof makeRepo>>;
  const release: string[] = [];

  const api = async <T>(method: string, path: string, body?: unknown) => (await server.api<T>(method, path, body)).body;
  const rollout = () =>
    api<{ rollout: { phase: string } | null; live: { port: number | null; weights: { canary: number } } }>(
      'GET',
      '/api/projects/shop/environments/production/rollout',
    );
  const build = async () => {
    const run = (await api<{ run: { id: string } }>('POST', '/api/projects/shop/runs', {})).run.id;
    expect((await waitForRunEnd(server, run)).status).toBe('success');
    release.push((await api<{ release: { id: string } }>('POST', '/api/projects/shop/releases', { run })).release.id);
  };

  beforeAll(async () => {
    server = await startTestServer();
    repo = await makeRepo({ 'server.js': SERVICE, 'gantry.yaml': gantryYaml('v1') });
    await server.api('POST', '/api/projects', { path: repo.dir, name: 'shop' });
    await build();
    await api('POST', '/api/projects/shop/environments/production/deploy', { release: release[0] });
    await waitFor(async () => (await rollout()).rollout?.phase === 'succeeded', { what: 'release 1 in production', timeoutMs: 30_000 });
    await repo.commit({ 'gantry.yaml': gantryYaml('v2') }, 'v2');
    await build();
    await api('POST', '/api/projects/shop/environments/production/deploy', { release: release[1] });
    await waitFor(async () => (await rollout()).live.weights.canary === 50, { what: 'the canary at 50 %', timeoutMs: 30_000 });
  }, 120_000);
  afterAll(async () => {
    await server?.cleanup();
    await repo?.cleanup();
  });

  it("faults only the canary's requests and instances, leaving the stable release alone", async () => {
    const port = (await rollout()).live.port as number;
    const get = async () => {
      const r = await fetch(`http://127.0.0.1:${port}/`);
      return { status: r.status, body: (await r.text()).trim() };
    };
    const before = await Promise.all(Array.from({ length: 40 }, get));
    expect(new Set(before.map((a) => a.body))).toEqual(new Set(['v1', 'v2'])); // both releases answer

    const id = (await api<{ experiment: { experimentId: string } }>('POST', '/api/projects/shop/experiments/canary-outage/run', {}))
      .experiment.experimentId;
    const run = await waitFor(
      async () => {
        const r = (await api<{ run: Run }>('GET', `/api/projects/shop/experiment-runs/${id}`)).run;
        return r.deadlineAt !== null && r.instanceFaults.length > 0 ? r : undefined;
      },
      { what: 'the faults to be set', timeoutMs: 20_000 },
    );
    // `canary` is resolved to the release the rollout brings in, for both kinds of fault.
    expect(run.faults[0]?.match.release).toBe(release[1]);
    expect(run.instanceFaults).toEqual([expect.objectContaining({ kind: 'cpu', release: release[1] })]);

    const during = await Promise.all(Array.from({ length: 60 }, get));
    const stable = during.filter((a) => a.status === 200);
    const faulted = during.filter((a) => a.status === 503);
    expect(stable.length + faulted.length).toBe(during.length);
    expect(new Set(stable.map((a) => a.body))).toEqual(new Set(['v1'])); // no canary answer got through…
    expect(stable.length).toBeGreaterThan(0); // … and the stable release kept serving
    expect(faulted.length).toBeGreaterThan(0);

    await api('POST', `/api/projects/shop/experiment-runs/${id}/abort`, {});
    await waitFor(async () => !(await api<{ run: Run }>('GET', `/api/projects/shop/experiment-runs/${id}`)).run.running, {
      what: 'the experiment to end',
    });
    const after = await Promise.all(Array.from({ length: 40 }, get));
    expect(after.every((a) => a.status === 200)).toBe(true);
  }, 60_000);
});
