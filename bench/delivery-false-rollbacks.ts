/**
 * False rollbacks (issue 3 §5, made realistic in issue "Hardening"): healthy canaries — the same
 * code under a new VERSION label — must be promoted, not rolled back, by the analysis that
 * catches the bad ones, on a service with background noise like a real one.
 *
 *   target: ≤ 1 rollback per 100 trials
 *
 * PARALLEL environments of one project each get RATE requests/s (open loop, their own proxy
 * port) and run canary after canary until N trials are done in all: one step at 10 % weight for
 * PAUSE, the analysis of bench/delivery-bad-canary.ts (`benchAnalysis`: error-rate max 5 % and
 * max-increase 2 %, latency-p99 max-increase 50 ms; defaults otherwise). Every release, stable
 * and canary alike, fails BASE_FAIL_RATE of its requests at random and adds JITTER_MS of random
 * latency, so the error-rate checks see what they would see in production rather than zeros. The
 * releases rotate through RELEASES labels, so a release comes back to an environment only after
 * RELEASES − 1 other trials (the proxy's metrics are kept per release, and the analysis never
 * looks before its rollout's start). Every trial that does not end `succeeded` is listed with its
 * reason; a stuck rollout fails the benchmark.
 *
 * Env: N [20] trials, PARALLEL [4] environments, RATE [100] requests/s per environment,
 *      PAUSE [10s], RELEASES [4], BASE_FAIL_RATE [0.01], JITTER_MS [20], ANALYSIS [{}] (JSON
 *      merged over the analysis; see delivery-lib.ts), DEADLINE_MS [from N, PARALLEL and PAUSE].
 * The issue's 100 trials: `N=100 PARALLEL=5 npm run bench:delivery-false-rollbacks` (~4 min).
 */
import { benchMain, epochMs, progress, round } from './lib.ts';
import {
  benchAnalysis,
  benchNoise,
  canaryStrategy,
  DeliveryBench,
  isFailure,
  OpenLoopLoad,
  summarize,
  type Release,
  type RequestRecord,
} from './delivery-lib.ts';

const N = Number(process.env.N ?? 20);
const PARALLEL = Number(process.env.PARALLEL ?? 4);
const RATE = Number(process.env.RATE ?? 100);
const PAUSE = process.env.PAUSE ?? '10s';
const RELEASES = Math.max(3, Number(process.env.RELEASES ?? 4));
const NOISE = benchNoise();
const ANALYSIS = benchAnalysis();
const PAUSE_MS = Number(/^(\d+(?:\.\d+)?)s$/.exec(PAUSE)?.[1] ?? 10) * 1000;
const DEADLINE_MS = Number(process.env.DEADLINE_MS ?? 90_000 + Math.ceil(N / PARALLEL) * (PAUSE_MS + 5000) * 1.5);
const TARGET_PER_100 = 1;

interface Trial {
  env: string;
  release: number;
  phase: string;
  reason: string | null;
  ms: number;
}

await benchMain('delivery-false-rollbacks', DEADLINE_MS, async () => {
  const envs = Array.from({ length: PARALLEL }, (_, i) => `c${i + 1}`);
  const strategy = canaryStrategy([{ weight: 10, pause: PAUSE }], ANALYSIS);
  const bench = await DeliveryBench.create({ drainTimeout: '5s', environments: Object.fromEntries(envs.map((e) => [e, { strategy }])) });
  const releases: Release[] = [];
  for (let i = 1; i <= RELEASES; i++) releases.push(await bench.release({ version: `v-${i}`, ...NOISE }));
  const first = releases[0] as Release;
  await Promise.all(
    envs.map(async (env) => {
      const view = await bench.settled(env, await bench.deploy(env, first));
      if (view.rollout?.phase !== 'succeeded')
        throw new Error(`the first deploy to ${env} ended ${view.rollout?.phase}: ${view.rollout?.state.reason}`);
    }),
  );
  const loads = await Promise.all(envs.map(async (env) => new OpenLoopLoad({ port: await bench.port(env), rate: RATE }).start()));
  progress(`${PARALLEL} environments at ${RATE}/s each; ${N} canaries of one step 10% for ${PAUSE}`);

  const startedMs = epochMs();
  const trials: Trial[] = [];
  let claimed = 0;
  const worker = async (env: string) => {
    for (let k = 1; claimed < N; k++) {
      claimed += 1;
      let release = releases[k % RELEASES] as Release;
      // After rollbacks in a row the rotation can land on the release that runs: skip it.
      if ((await bench.rollout(env)).environment?.currentReleaseId === release.id) release = releases[++k % RELEASES] as Release;
      const t0 = epochMs();
      const view = await bench.settled(env, await bench.deploy(env, release), PAUSE_MS + 60_000, 200);
      const trial: Trial = {
        env,
        release: release.number,
        phase: view.rollout?.phase ?? '?',
        reason: view.rollout?.state.reason ?? null,
        ms: round(epochMs() - t0, 0),
      };
      trials.push(trial);
      progress(
        `${trials.length}/${N} ${env} → #${release.number}: ${trial.phase} in ${trial.ms} ms${trial.reason ? ` — ${trial.reason}` : ''}`,
      );
    }
  };
  let records: RequestRecord[] = [];
  try {
    await Promise.all(envs.map(worker));
  } finally {
    records = (await Promise.all(loads.map((l) => l.stop()))).flat();
  }

  const rolledBack = trials.filter((t) => t.phase === 'rolled-back');
  const other = trials.filter((t) => t.phase !== 'rolled-back' && t.phase !== 'succeeded');
  const per100 = trials.length > 0 ? (rolledBack.length / trials.length) * 100 : Number.NaN;
  return {
    settings: {
      trials: N,
      parallel_environments: PARALLEL,
      rate_per_s_per_environment: RATE,
      canary: `one step 10% for ${PAUSE}`,
      analysis: ANALYSIS,
      releases_rotated: RELEASES,
      base_fail_rate: NOISE.failRate,
      jitter_ms: NOISE.jitterMs,
    },
    trials: trials.length,
    succeeded: trials.filter((t) => t.phase === 'succeeded').length,
    false_rollbacks: rolledBack.length,
    false_rollbacks_per_100: round(per100, 2),
    rollbacks: rolledBack.map((t) => ({ env: t.env, release: t.release, ms: t.ms, reason: t.reason })),
    other_outcomes: other,
    trial_ms_median: round([...trials.map((t) => t.ms)].sort((a, b) => a - b)[Math.floor((trials.length - 1) / 2)] ?? 0, 0),
    wall_ms: round(epochMs() - startedMs, 0),
    gantry_failed_requests: records.filter(isFailure).length,
    load: summarize(records),
    target: { false_rollbacks_per_100: TARGET_PER_100 },
    meets_target: per100 <= TARGET_PER_100 && other.length === 0,
  };
});
