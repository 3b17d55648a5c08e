/**
 * Bad canary (issue 3 §5, made realistic in issue "Hardening"): how fast Gantry takes a bad
 * release back, seen from outside.
 *
 * A stable release serves RATE requests/s (open loop) on the environment's port with background
 * noise (BASE_FAIL_RATE [1 %] random errors, JITTER_MS [20 ms] mean random extra latency, as every
 * release here); each trial deploys a brand-new bad release as a canary at WEIGHT % (one step,
 * long enough that only the analysis can end it) and waits for the rollout to settle:
 * - errors: the canary fails BAD_FAIL_RATE [6 %] of requests at random — target ≤ 15 s from the
 *   canary's first request to 100 % of traffic on stable;
 * - slow: every canary answer SLOW_MS [100] ms later — time to detection, no target.
 * The analysis is `benchAnalysis` (error-rate max 5 % and max-increase 2 %, latency-p99
 * max-increase 50 ms; the one config a team would run, so both kinds meet every check); each
 * trial's canary is a new release so no earlier trial's requests sit in its analysis window.
 *
 * Per trial, from the canary's first request (the first answer whose body carries its VERSION;
 * its send time):
 * - `to_rolling_back_ms`: to the rollout's move to rolling-back (the state history's time, which
 *   is when the weights go back to 100/0; cross-checked with the events API);
 * - `to_last_canary_answer_ms`: to the end of the last answer the canary gave (client clock);
 * - `to_stable_ms` = the larger of the two, judged against the target.
 * A trial whose rollout does not end rolled-back, or ends it for another check, is reported.
 *
 * Env: REPS [8] trials per kind, RATE [100] requests/s, WEIGHT [10] %, KINDS [errors,slow],
 *      BAD_FAIL_RATE [0.06], SLOW_MS [100], BASE_FAIL_RATE [0.01], JITTER_MS [20], ANALYSIS [{}]
 *      (JSON merged over the analysis; see delivery-lib.ts),
 *      DEADLINE_MS [480000], REUSE [0]: 1 deploys the same bad release in every trial of a kind
 *      (back to back, so the analysis window still holds the previous trial's requests — shows
 *      whether the analysis judges a canary by requests from before its rollout).
 */
import { benchMain, epochMs, progress, round, spread } from './lib.ts';
import {
  benchAnalysis,
  benchNoise,
  canaryStrategy,
  DeliveryBench,
  isFailure,
  OpenLoopLoad,
  phaseEntry,
  summarize,
  type Release,
  type ReleaseSpec,
} from './delivery-lib.ts';

const REPS = Number(process.env.REPS ?? 8);
const RATE = Number(process.env.RATE ?? 100);
const WEIGHT = Number(process.env.WEIGHT ?? 10);
const KINDS = (process.env.KINDS ?? 'errors,slow')
  .split(',')
  .map((k) => k.trim())
  .filter((k): k is Kind => k === 'errors' || k === 'slow');
const DEADLINE_MS = Number(process.env.DEADLINE_MS ?? 480_000);
const BAD_FAIL_RATE = Number(process.env.BAD_FAIL_RATE ?? 0.06);
const SLOW_MS = Number(process.env.SLOW_MS ?? 100);
const NOISE = benchNoise();
const ANALYSIS = benchAnalysis();
const REUSE = process.env.REUSE === '1';
const TARGET_MS = 15_000;
const ENV = 'production';

type Kind = 'errors' | 'slow';
const SPECS: Record<Kind, (i: number) => ReleaseSpec> = {
  errors: (i) => ({ version: `v-err-${i}`, ...NOISE, failRate: BAD_FAIL_RATE }),
  slow: (i) => ({ version: `v-slow-${i}`, ...NOISE, slowMs: SLOW_MS }),
};
const EXPECTED_CHECK: Record<Kind, RegExp> = { errors: /error/i, slow: /latency|p99/i };

interface Trial {
  kind: Kind;
  release: number;
  phase: string;
  reason: string | null;
  expected_check: boolean;
  canary_requests: number;
  canary_5xx: number;
  to_rolling_back_ms: number | null;
  to_rolling_back_event_ms: number | null;
  to_last_canary_answer_ms: number | null;
  to_stable_ms: number | null;
  canary_routed_to_rolling_back_ms: number | null;
  gantry_failed_requests: number;
}

await benchMain('delivery-bad-canary', DEADLINE_MS, async () => {
  const bench = await DeliveryBench.create({
    drainTimeout: '5s',
    environments: {
      [ENV]: {
        strategy: canaryStrategy([{ weight: WEIGHT, pause: '120s' }], ANALYSIS),
      },
    },
  });
  const good = await bench.release({ version: 'v-good', ...NOISE });
  const bad: { kind: Kind; release: Release; spec: ReleaseSpec }[] = [];
  if (REUSE) {
    for (const kind of KINDS) {
      const spec = SPECS[kind](1);
      const release = await bench.release(spec);
      for (let i = 1; i <= REPS; i++) bad.push({ kind, spec, release });
    }
  } else {
    for (let i = 1; i <= REPS; i++) {
      for (const kind of KINDS) {
        const spec = SPECS[kind](i);
        bad.push({ kind, spec, release: await bench.release(spec) });
      }
    }
  }
  const first = await bench.settled(ENV, await bench.deploy(ENV, good));
  if (first.rollout?.phase !== 'succeeded')
    throw new Error(`the stable deploy ended ${first.rollout?.phase}: ${first.rollout?.state.reason}`);
  const port = await bench.port(ENV);
  progress(`${ENV} serves v-good on 127.0.0.1:${port}; load ${RATE}/s`);

  const load = new OpenLoopLoad({ port, rate: RATE }).start();
  const trials: Trial[] = [];
  try {
    await new Promise((resolve) => setTimeout(resolve, 2000));
    for (const { kind, spec, release } of bad) trials.push(await trial(bench, load, kind, spec, release));
  } finally {
    await load.stop();
  }

  const result: Record<string, unknown> = {
    settings: {
      rate_per_s: RATE,
      canary_weight_pct: WEIGHT,
      reps: REPS,
      same_release_every_trial: REUSE,
      analysis: ANALYSIS,
      base_fail_rate: NOISE.failRate,
      jitter_ms: NOISE.jitterMs,
    },
  };
  for (const kind of KINDS) {
    const mine = trials.filter((t) => t.kind === kind);
    const stable = mine.map((t) => t.to_stable_ms).filter((v): v is number => v !== null);
    const missed = mine.filter((t) => t.phase !== 'rolled-back' || !t.expected_check);
    result[kind] = {
      release: kind === 'errors' ? `FAIL_RATE=${BAD_FAIL_RATE}` : `SLOW_MS=${SLOW_MS}`,
      within_target: kind === 'errors' ? mine.filter((t) => t.to_stable_ms !== null && t.to_stable_ms <= TARGET_MS).length : undefined,
      to_stable_ms: stable.length > 0 ? spread(stable, 0) : null,
      to_rolling_back_ms: spreadOrNull(mine.map((t) => t.to_rolling_back_ms)),
      to_last_canary_answer_ms: spreadOrNull(mine.map((t) => t.to_last_canary_answer_ms)),
      canary_routed_to_rolling_back_ms: spreadOrNull(mine.map((t) => t.canary_routed_to_rolling_back_ms)),
      not_rolled_back_or_wrong_check: missed.length,
      ...(kind === 'errors'
        ? { target_ms: TARGET_MS, meets_target: missed.length === 0 && stable.length === mine.length && Math.max(...stable) <= TARGET_MS }
        : {}),
    };
  }
  return { ...result, trials, load: summarize(load.records) };
});

/** One canary of `release`: deploy, wait for the rollout to settle, read the times. */
async function trial(bench: DeliveryBench, load: OpenLoopLoad, kind: Kind, spec: ReleaseSpec, release: Release): Promise<Trial> {
  const t0 = epochMs();
  const from = load.records.length;
  const rolloutId = await bench.deploy(ENV, release);
  const view = await bench.settled(ENV, rolloutId, 90_000);
  const records = load.records.slice(from).filter((r) => r.sentMs >= t0);
  const canary = records.filter((r) => r.version === spec.version);
  const firstSent = canary.reduce((m, r) => Math.min(m, r.sentMs), Infinity);
  const lastDone = canary.reduce((m, r) => Math.max(m, r.doneMs), -Infinity);
  const rollingBack = phaseEntry(view, 'rolling-back');
  const routed = phaseEntry(view, 'progressing');
  const event = (await bench.events(rolloutId)).find((e) => e.type === 'rollout.phase.rolling-back');
  const has = canary.length > 0;
  const toRollingBack = has && rollingBack ? rollingBack.at - firstSent : null;
  const toLast = has ? lastDone - firstSent : null;
  const t: Trial = {
    kind,
    release: release.number,
    phase: view.rollout?.phase ?? '?',
    reason: view.rollout?.state.reason ?? null,
    expected_check: EXPECTED_CHECK[kind].test(view.rollout?.state.reason ?? ''),
    canary_requests: canary.length,
    canary_5xx: canary.filter((r) => r.outcome === 'app-5xx').length,
    to_rolling_back_ms: toRollingBack === null ? null : round(toRollingBack, 0),
    to_rolling_back_event_ms: has && event ? round(Date.parse(event.at) - firstSent, 0) : null,
    to_last_canary_answer_ms: toLast === null ? null : round(toLast, 0),
    to_stable_ms: toRollingBack === null || toLast === null ? null : round(Math.max(toRollingBack, toLast), 0),
    canary_routed_to_rolling_back_ms: routed && rollingBack ? round(rollingBack.at - routed.at, 0) : null,
    gantry_failed_requests: records.filter(isFailure).length,
  };
  progress(
    `${kind} #${release.number}: ${t.phase} — ${t.to_stable_ms ?? '?'} ms to stable (${t.canary_requests} canary requests, ${t.canary_5xx} 5xx) — ${t.reason ?? ''}`,
  );
  return t;
}

function spreadOrNull(values: (number | null)[]): ReturnType<typeof spread> | null {
  const present = values.filter((v): v is number => v !== null);
  return present.length > 0 ? spread(present, 0) : null;
}
