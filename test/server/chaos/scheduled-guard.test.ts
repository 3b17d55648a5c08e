/**
 * A scheduled start refused by the guard, through the real ChaosService and its scheduler on a
 * SQLite store and a ManualClock: at the slot the schedule starts the experiment, the guard (an
 * SLO's error budget below `min-budget`) refuses it before any fault is set, and the event log
 * records a run started by `schedule` and aborted with the guard's reason.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.ts';
import { ChaosService } from '../../../src/server/chaos/index.ts';
import { FakeEnvironmentProxy, FakeProxyHost } from '../../support/fakes/fake-proxy.ts';
import { SCHEDULE_CHECK_MS } from '../../../src/server/chaos/experiment-scheduler.ts';
import { openStore } from '../../../src/store/open-store.ts';
import { waitFor } from '../../support/wait.ts';

const YAML = `
pipeline:
  jobs: { build: { steps: [make] } }
service: { run: x }
environments: { staging: {} }
slos: { availability: { objective: 99.9% } }
experiments:
  game-day:
    environment: staging
    hypothesis: { slo: availability }
    faults: [{ latency: { delay: 200ms } }]
    duration: 1m
    guard: { min-budget: 50% }
    schedule: { cron: '0 13 * * *', window: 2h, timezone: UTC }
`;

const dir = mkdtempSync(join(tmpdir(), 'gantry-scheduled-guard-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a scheduled experiment and its guard', () => {
  it('is started by the schedule at its slot and refused by the guard before any fault, as recorded', async () => {
    const store = await openStore({ url: `sqlite:${join(dir, 'gantry.db')}` });
    const project = await store.projects.create({ name: 'shop', source: { kind: 'local', path: dir }, webhookSecret: 's' });
    const release = await store.releases.create({
      projectId: project.id,
      runId: null,
      sha: 'a'.repeat(40),
      ref: 'main',
      configText: YAML,
      configHash: 'h',
      artifactsPath: 'none',
      createdBy: 'test',
    });
    await store.rollouts.setEnvironment({
      projectId: project.id,
      name: 'staging',
      currentReleaseId: release.id,
      previousReleaseId: null,
      port: null,
    });
    const clock = new ManualClock(Date.UTC(2026, 11, 7, 12, 59));
    const proxy = new FakeEnvironmentProxy(new FakeProxyHost(), 'staging', 0, null);
    const chaos = new ChaosService({
      store,
      clock,
      target: async () => ({
        proxy,
        release: release.id,
        rolloutRelease: null,
      }),
      budgets: () => [{ slo: 'availability', remaining: 0.2 }],
      eventEnv: () => ({ gantryVersion: 'test', nodeVersion: process.version, host: 'test' }),
      warn: () => undefined,
    });
    await chaos.start();
    try {
      // 13:00 is one minute away: the first look after it starts the run.
      for (let t = 0; t < 60_000 + SCHEDULE_CHECK_MS; t += SCHEDULE_CHECK_MS) {
        clock.advance(SCHEDULE_CHECK_MS);
        for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
      }
      const finished = await waitFor(async () => (await store.events.list({ type: 'experiment.finished' }))[0], {
        what: 'the refused run to be recorded',
      });
      const [started] = await store.events.list({ type: 'experiment.started' });
      expect(started?.actor).toBe('schedule');
      expect(finished.data.verdict).toBe('aborted');
      expect(String(finished.data.reason)).toMatch(
        /^the guard refused: SLO 'availability' has 20% of its error budget left, below the guard's 50%/,
      );
      expect(await proxy.faultReport()).toBeNull();
    } finally {
      await chaos.stop();
      await store.close();
    }
  });
});
