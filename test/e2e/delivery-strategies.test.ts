/** Rolling and recreate strategies with real instances: what each promises under load. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, waitForRunEnd, type TestServer } from '../support/server.ts';
import { SERVICE_JS, serviceYaml } from './fixtures/service-config.ts';
import { waitFor } from '../support/wait.ts';
import { makeRepo } from '../support/repo.ts';

const yaml = (version: string) =>
  serviceYaml({
    version,
    instances: 3,
    drainTimeout: '2s',
    environments:
      '  rolling:\n    strategy: { rolling: { max-surge: 1, max-unavailable: 0 } }\n  recreate:\n    strategy: { recreate: {} }',
  });

interface View {
  rollout: { id: string; phase: string } | null;
  live: { port: number | null; instances: { releaseId: string; state: string }[] };
}

describe('deployment strategies', () => {
  let server: TestServer;
  let repo: Awaited<ReturnType<typeof makeRepo>>;
  const releases: string[] = [];

  beforeAll(async () => {
    server = await startTestServer();
    repo = await makeRepo({ 'server.js': SERVICE_JS, 'gantry.yaml': yaml('v1') });
    await server.api('POST', '/api/projects', { path: repo.dir, name: 'strat' });
    for (const version of ['v1', 'v2']) {
      if (version !== 'v1') await repo.commit({ 'gantry.yaml': yaml(version) }, version);
      const run = (await server.api<{ run: { id: string } }>('POST', '/api/projects/strat/runs', {})).body.run.id;
      expect((await waitForRunEnd(server, run)).status).toBe('success');
      releases.push((await server.api<{ release: { id: string } }>('POST', '/api/projects/strat/releases', { run })).body.release.id);
    }
  });
  afterAll(async () => {
    await server?.cleanup();
    await repo?.cleanup();
  });

  const view = async (env: string) => (await server.api<View>('GET', `/api/projects/strat/environments/${env}/rollout`)).body;
  async function deploy(env: string, release: string): Promise<View> {
    const { body } = await server.api<{ rollout: { id: string } }>('POST', `/api/projects/strat/environments/${env}/deploy`, { release });
    return waitFor(
      async () => {
        const v = await view(env);
        return v.rollout?.id === body.rollout.id && ['succeeded', 'rolled-back', 'aborted', 'failed'].includes(v.rollout.phase)
          ? v
          : undefined;
      },
      { what: `the ${env} rollout to end`, timeoutMs: 60_000 },
    );
  }
  async function underLoad<T>(port: number, work: () => Promise<T>) {
    let stop = false;
    const bodies = new Map<string, number>();
    let failures = 0;
    const load = (async () => {
      while (!stop) {
        const answers = await Promise.all(
          Array.from({ length: 5 }, () =>
            fetch(`http://127.0.0.1:${port}/`).then(
              async (r) => (r.status === 200 ? (await r.text()).trim() : null),
              () => null,
            ),
          ),
        );
        for (const a of answers) {
          if (a === null) failures++;
          else bodies.set(a, (bodies.get(a) ?? 0) + 1);
        }
      }
    })();
    const result = await work();
    stop = true;
    await load;
    return { result, bodies, failures };
  }

  it('rolling: replaces instances one at a time without a failed request', async () => {
    const first = await deploy('rolling', releases[0]!);
    expect(first.rollout?.phase).toBe('succeeded');
    const port = first.live.port!;
    const { result, bodies, failures } = await underLoad(port, () => deploy('rolling', releases[1]!));
    expect(result.rollout?.phase).toBe('succeeded');
    expect(failures).toBe(0);
    expect([...bodies.keys()].sort()).toEqual(['v1', 'v2']);
    // The last old instance is out of the routes when the rollout ends, and stops once drained.
    const ready = () => result.live.instances.filter((i) => i.state === 'ready');
    const settled = await waitFor(
      async () => {
        const live = (await view('rolling')).live.instances.filter((i) => i.state === 'ready');
        return live.every((i) => i.releaseId === releases[1]) ? live : undefined;
      },
      { what: 'the old release drained and stopped' },
    );
    expect(ready().length).toBeGreaterThanOrEqual(3);
    expect(settled).toHaveLength(3);
  });

  it('recreate: stops the old release, then starts the new one', async () => {
    const first = await deploy('recreate', releases[0]!);
    expect(first.rollout?.phase).toBe('succeeded');
    const second = await deploy('recreate', releases[1]!);
    expect(second.rollout?.phase).toBe('succeeded');
    expect((await (await fetch(`http://127.0.0.1:${second.live.port}/`)).text()).trim()).toBe('v2');
    expect(second.live.instances.filter((i) => i.state === 'ready').every((i) => i.releaseId === releases[1])).toBe(true);
  });
});
