/**
 * Experiments on a Kubernetes environment whose traffic a Gateway API HTTPRoute splits
 * (`traffic: gateway`) are refused (CHAOS_FAULT_NOT_ON_GATEWAY): no Gantry proxy is in the
 * requests' path, so faults set on one would fault nothing and the hypothesis would "hold" on no
 * measurement. At validation when gantry.yaml declares both; before the run, through the real
 * ChaosService on a SQLite store, when the environment's target says so (an experiment file, a
 * release older than the check).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.ts';
import { GantryError } from '../../../src/core/errors.ts';
import { validateConfig } from '../../../src/pipeline/load-config.ts';
import { ChaosService } from '../../../src/server/chaos/index.ts';
import { FakeEnvironmentProxy, FakeProxyHost } from '../../support/fakes/fake-proxy.ts';
import { openStore } from '../../../src/store/open-store.ts';

const gantryYaml = (traffic: string) => `
pipeline:
  jobs: { build: { steps: [make] } }
service: { run: node server.js }
environments:
  production:
    target:
      kubernetes:
        namespace: shop
        image: registry.test/shop:{release}
        traffic: ${traffic}${traffic === 'gateway' ? '\n        gateway: { name: public }' : ''}
experiments:
  slow-down:
    environment: production
    hypothesis: { error-rate: { max: 5% } }
    faults: [{ latency: { delay: 200ms } }]
    duration: 1m
`;

const dir = mkdtempSync(join(tmpdir(), 'gantry-gateway-refusal-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('an experiment on a gateway-routed Kubernetes environment', () => {
  it('is refused at validation, naming the environment and the code; with traffic: proxy it is valid', () => {
    const problems = validateConfig(gantryYaml('gateway'), 'gantry.yaml').diagnostics;
    expect(problems.map((d) => `${d.line}: ${d.message}`)).toEqual([
      expect.stringMatching(
        /^15: environment 'production' splits its traffic with a Gateway API HTTPRoute \(traffic: gateway\).*CHAOS_FAULT_NOT_ON_GATEWAY/,
      ),
    ]);
    expect(validateConfig(gantryYaml('proxy'), 'gantry.yaml').diagnostics).toEqual([]);
  });

  it('is refused before the run with CHAOS_FAULT_NOT_ON_GATEWAY, no fault set', async () => {
    const store = await openStore({ url: `sqlite:${join(dir, 'gantry.db')}` });
    const project = await store.projects.create({ name: 'shop', source: { kind: 'local', path: dir }, webhookSecret: 's' });
    // Its gantry.yaml passes validation, as one older than the check or one whose experiment is
    // in .gantry/experiments/ would: what the delivery context says of the environment decides.
    const release = await store.releases.create({
      projectId: project.id,
      runId: null,
      sha: 'a'.repeat(40),
      ref: 'main',
      configText: gantryYaml('proxy'),
      configHash: 'h',
      artifactsPath: 'none',
      createdBy: 'test',
    });
    await store.rollouts.setEnvironment({
      projectId: project.id,
      name: 'production',
      currentReleaseId: release.id,
      previousReleaseId: null,
      port: null,
    });
    const proxy = new FakeEnvironmentProxy(new FakeProxyHost(), 'production', 0, null);
    const chaos = new ChaosService({
      store,
      clock: new ManualClock(Date.UTC(2026, 11, 7, 12, 0)),
      // The delivery context's answer for an environment an HTTPRoute routes.
      target: async () => ({
        proxy,
        release: release.id,
        rolloutRelease: null,
        instances: null,
        gateway: true,
      }),
      budgets: () => [],
      eventEnv: () => ({ gantryVersion: 'test', nodeVersion: process.version, host: 'test' }),
      warn: () => undefined,
    });
    try {
      const refused = await chaos.run(project, 'slow-down', { actor: 'test' }).then(
        () => null,
        (error: unknown) => error,
      );
      expect(refused).toBeInstanceOf(GantryError);
      expect((refused as GantryError).code).toBe('CHAOS_FAULT_NOT_ON_GATEWAY');
      expect((refused as GantryError).message).toContain("production's traffic is split by a Gateway API HTTPRoute");
      expect(await proxy.faultReport()).toBeNull();
      expect(await store.events.list({ type: 'experiment.started' })).toEqual([]);
    } finally {
      await chaos.stop();
      await store.close();
    }
  });
});
