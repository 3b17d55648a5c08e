/**
 * What continuous SLO evaluation costs the server: 100 environments × 3 SLOs (availability and
 * latency over 30 days, availability over 1 day), each with a full 30-day downsampled history,
 * evaluated every 2 s as `gantry up` does, with a roll-up per environment stored every 10 s.
 * Runs SloService in process on a real SQLite store; the proxies' live windows are given at the
 * port (their IPC is not counted: one small request per environment per evaluation). Reports the
 * CPU time per evaluation and the share of one core it takes, against the issue's 5 % target.
 *
 *   npm run bench:slo-evaluation     (ENVS=100 EVALUATIONS=200)
 */
import { join } from 'node:path';
import { ManualClock } from '../src/core/clock.ts';
import { defaultBurnRateRules, type SloConfig } from '../src/core/slo-config.ts';
import { SloService } from '../src/server/slo/index.ts';
import { compactHistory, historyTiers, recordSpan } from '../src/slo/index.ts';
import { openStore } from '../src/store/index.ts';
import type { SloBucket, SloKey } from '../src/store/ports.ts';
import { benchMain, progress, round, tempDir } from './lib.ts';

const DAY = 86_400_000;
const ENVS = Number(process.env.ENVS ?? 100);
// 200 evaluations cover every SLO's compaction (every 5 min, staggered) at least once.
const EVALUATIONS = Number(process.env.EVALUATIONS ?? 200);
const INTERVAL_MS = 2000;
const TARGET_SHARE = 0.05;

const SLOS: SloConfig[] = [
  { name: 'availability', objective: 0.999, periodMs: 30 * DAY, sli: { kind: 'availability' }, alerts: defaultBurnRateRules(30 * DAY) },
  {
    name: 'latency',
    objective: 0.99,
    periodMs: 30 * DAY,
    sli: { kind: 'latency', thresholdMs: 250 },
    alerts: defaultBurnRateRules(30 * DAY),
  },
  { name: 'daily', objective: 0.999, periodMs: DAY, sli: { kind: 'availability' }, alerts: defaultBurnRateRules(DAY) },
];

const COUNTS = {
  requests: 500,
  errors: 1,
  latency: [
    { valueMs: 20, count: 480 },
    { valueMs: 400, count: 20 },
  ],
};

await benchMain('slo-evaluation', 10 * 60_000, async () => {
  const dir = await tempDir('slo');
  const store = await openStore({ url: `sqlite:${join(dir, 'gantry.db')}` });
  const now0 = Date.UTC(2026, 11, 1);
  const clock = new ManualClock(now0);
  try {
    const project = await store.projects.create({ name: 'bench', source: { kind: 'local', path: dir }, webhookSecret: 'w' });
    // One full history per period, built as the service would (10-second samples, compacted hourly), copied to every SLO.
    const histories = new Map<number, SloBucket[]>();
    for (const periodMs of new Set(SLOS.map((s) => s.periodMs))) {
      const tiers = historyTiers(periodMs);
      let buckets: SloBucket[] = [];
      for (let t = now0 - periodMs; t < now0; t += 10_000) {
        buckets = recordSpan(buckets, tiers, t, t + 10_000, { good: 499, total: 500 });
        if ((t / 10_000) % 360 === 0) buckets = compactHistory(buckets, tiers, t + 10_000);
      }
      histories.set(periodMs, compactHistory(buckets, tiers, now0));
      progress(`history of ${periodMs / DAY} d: ${histories.get(periodMs)?.length} buckets`);
    }
    const environments = Array.from({ length: ENVS }, (_, i) => `env-${i}`);
    for (const environment of environments) {
      const rows: (SloKey & SloBucket)[] = [];
      for (const slo of SLOS)
        for (const b of histories.get(slo.periodMs) ?? []) rows.push({ projectId: project.id, environment, slo: slo.name, ...b });
      await store.slos.apply({ buckets: rows, removed: [], alerts: [], events: [] });
    }
    progress(`stored ${ENVS * SLOS.length} SLO histories`);

    const service = new SloService({
      store,
      clock,
      targets: async () => environments.map((environment) => ({ projectId: project.id, environment, slos: SLOS })),
      traffic: async () => COUNTS,
      eventEnv: () => ({ gantryVersion: 'bench', nodeVersion: process.version, host: 'bench' }),
      warn: (message, data) => progress(`${message} ${JSON.stringify(data)}`),
    });
    await service.evaluate(); // loads the histories (a start-up cost, not counted)
    let rolledUpTo = now0;
    const cpuMs: number[] = [];
    for (let i = 0; i < EVALUATIONS; i++) {
      clock.advance(INTERVAL_MS);
      if (clock.now() - rolledUpTo >= 10_000) {
        await store.metrics.append(
          environments.map((environment) => ({
            projectId: project.id,
            environment,
            version: 'r1',
            pool: 'stable',
            startMs: rolledUpTo,
            endMs: rolledUpTo + 10_000,
            requests: COUNTS.requests,
            errors: COUNTS.errors,
            data: { latency: COUNTS.latency },
          })),
        );
        rolledUpTo += 10_000;
      }
      const before = process.cpuUsage();
      await service.evaluate();
      const used = process.cpuUsage(before);
      cpuMs.push((used.user + used.system) / 1000);
    }
    const mean = cpuMs.reduce((a, b) => a + b, 0) / cpuMs.length;
    const sorted = [...cpuMs].sort((a, b) => a - b);
    const share = mean / INTERVAL_MS;
    return {
      environments: ENVS,
      slos: ENVS * SLOS.length,
      buckets_per_slo_30d: histories.get(30 * DAY)?.length,
      evaluations: EVALUATIONS,
      interval_ms: INTERVAL_MS,
      cpu_ms_per_evaluation: { mean: round(mean), p50: round(sorted[Math.floor(sorted.length / 2)] ?? 0), max: round(sorted.at(-1) ?? 0) },
      share_of_one_core: round(share, 4),
      target_share: TARGET_SHARE,
      ratio_to_target: round(share / TARGET_SHARE, 3),
    };
  } finally {
    await store.close();
  }
});
