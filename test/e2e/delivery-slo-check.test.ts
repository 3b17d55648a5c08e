/**
 * An SLO's burn rate as a canary check, end to end: a real server, real service processes and
 * real requests through Gantry's proxy. The canary fails a third of its requests; the only
 * check is the availability SLO's burn rate, so the rollback can only come from it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, waitForRunEnd, type TestServer } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';
import { makeRepo } from '../support/repo.ts';
import { SERVICE_JS, serviceYaml } from './fixtures/service-config.ts';

function yaml(version: string, failRate: number): string {
  const production = `  production:
    strategy:
      canary:
        steps: [{ weight: 50, pause: 30s }]
        analysis:
          slo: { name: availability, max-burn-rate: 14.4 }`;
  return `${serviceYaml({ version, instances: 1, env: `FAIL_RATE: "${failRate}"`, environments: production })}slos:
  availability: { objective: 99%, period: 30d }
`;
}

interface View {
  rollout: { id: string; phase: string; state: { reason: string | null } } | null;
  live: { port: number | null; weights: { stable: number; canary: number } };
}

describe('an SLO burn rate as a canary check', () => {
  let server: TestServer;
  let repo: Awaited<ReturnType<typeof makeRepo>>;
  const releases: string[] = [];

  beforeAll(async () => {
    server = await startTestServer();
    repo = await makeRepo({ 'server.js': SERVICE_JS, 'gantry.yaml': yaml('v1', 0) });
    await server.api('POST', '/api/projects', { path: repo.dir, name: 'slo-canary' });
    for (const [version, failRate] of [
      ['v1', 0],
      ['v2', 0.3],
    ] as const) {
      if (version !== 'v1') await repo.commit({ 'gantry.yaml': yaml(version, failRate) }, version);
      const run = (await server.api<{ run: { id: string } }>('POST', '/api/projects/slo-canary/runs', {})).body.run.id;
      expect((await waitForRunEnd(server, run)).status).toBe('success');
      releases.push((await server.api<{ release: { id: string } }>('POST', '/api/projects/slo-canary/releases', { run })).body.release.id);
    }
  });
  afterAll(async () => {
    await server?.cleanup();
    await repo?.cleanup();
  });

  const view = async () => (await server.api<View>('GET', '/api/projects/slo-canary/environments/production/rollout')).body;
  async function deploy(release: string | undefined, load: boolean): Promise<View> {
    const { body } = await server.api<{ rollout: { id: string } }>('POST', '/api/projects/slo-canary/environments/production/deploy', {
      release,
    });
    let ended: View | undefined;
    const isEnded = (v: View) =>
      v.rollout?.id === body.rollout.id && ['succeeded', 'rolled-back', 'aborted', 'failed'].includes(v.rollout.phase);
    while (load && ended === undefined) {
      const v = await view();
      if (isEnded(v)) ended = v;
      else if (v.live.port !== null)
        await Promise.all(
          Array.from({ length: 10 }, () =>
            fetch(`http://127.0.0.1:${v.live.port}/`).then(
              (r) => r.text(),
              () => '',
            ),
          ),
        );
    }
    return (
      ended ?? waitFor(async () => ((v) => (isEnded(v) ? v : undefined))(await view()), { what: 'the rollout to end', timeoutMs: 60_000 })
    );
  }

  it("rolls back a canary that burns the SLO's budget too fast, naming the SLO and its burn rate", async () => {
    expect((await deploy(releases[0], false)).rollout?.phase).toBe('succeeded');
    const final = await deploy(releases[1], true);
    expect(final.rollout?.phase).toBe('rolled-back');
    expect(final.rollout?.state.reason).toMatch(
      /slo-availability-burn-rate: burn rate [\d.]+ of SLO 'availability' \(\d+ of \d+ requests errors, objective 99%\) is above 14\.4/,
    );
    expect(final.live.weights).toEqual({ stable: 100, canary: 0 });
  });
});
