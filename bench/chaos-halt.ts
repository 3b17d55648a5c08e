/**
 * Halt time (chaos issue, targets): from the look that saw the hypothesis broken to the last
 * faulted request, ≤ 1 s. The server's own ExperimentRunner (src/server/chaos) drives the run —
 * guard, steady state before, faults set, a look every second, clear on the broken look — with a
 * real SQLite store for its records and the system clock, against an in-process TrafficProxy on
 * loopback carrying ~RATE req/s, a quarter of them to /pay, where an abort fault (503, 100 %)
 * breaks the hypothesis (error rate ≤ 1 %). The client notes when each 503 arrived; the figure is
 * last 503 − `brokenAt`, over ROUNDS runs (max and median), against the 1 s target; ≤ 0 means no
 * faulted answer arrived after the look's timestamp at all. `clear_confirmed_ms_max`: the look to
 * the proxy confirming the clear (the record's append included).
 *
 * Env: ROUNDS [5], QUICK=1 (2 rounds), RATE [200], DEADLINE_MS [120000].
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { initialExperiment } from '../src/chaos/index.ts';
import { systemClock } from '../src/core/clock.ts';
import type { ExperimentConfig } from '../src/core/chaos-config.ts';
import { ExperimentRunner } from '../src/server/chaos/experiment-runner.ts';
import { openStore } from '../src/store/open-store.ts';
import { percentile, round, startRig, type Answer } from './chaos-lib.ts';

const ROUNDS = Number(process.env.ROUNDS ?? (process.env.QUICK === '1' ? 2 : 5));
const RATE = Number(process.env.RATE ?? 200);
const DEADLINE_MS = Number(process.env.DEADLINE_MS ?? 120_000);
const TARGET_MS = 1000;

const deadline = setTimeout(() => {
  process.stderr.write(`chaos-halt: deadline of ${DEADLINE_MS} ms passed\n`);
  process.exit(2);
}, DEADLINE_MS);
deadline.unref();

const config: ExperimentConfig = {
  name: 'failing-payments',
  environment: 'bench',
  hypothesis: { errorRate: { max: 0.01 }, latency: [] },
  faults: [{ kind: 'abort', status: 503, percent: 100, match: { path: '/pay' } }],
  durationMs: 30_000,
  beforeMs: 1000,
  afterMs: 500,
  guard: { noRollout: true },
};

const dir = mkdtempSync(join(tmpdir(), 'gantry-chaos-halt-'));
const store = await openStore({ url: `sqlite:${join(dir, 'gantry.db')}` });
const rig = await startRig();
const halts: number[] = [];
/** From the broken look to the proxy's confirmation that the faults are out (`revertedAt`, after the record's append). */
const clears: number[] = [];
try {
  for (let round_ = 1; round_ <= ROUNDS; round_++) {
    const answers: Answer[] = [];
    let i = 0;
    const load = setInterval(() => void rig.get(i++ % 4 === 0 ? '/pay' : '/cart').then((a) => answers.push(a)), 1000 / RATE);
    await new Promise((r) => setTimeout(r, 1200)); // traffic for the steady state before
    const target = {
      proxy: {
        setFaults: async (set: Parameters<typeof rig.proxy.chaos.set>[0]) => rig.proxy.chaos.set(set),
        clearFaults: async (id: string) => rig.proxy.chaos.clear(id),
        faultReport: async () => rig.proxy.chaos.report(),
        window: async (since: number, until: number) => rig.proxy.metrics.window(since, until),
      },
      release: 'r1',
      rolloutRelease: null,
    };
    const runner = new ExperimentRunner(
      {
        store,
        clock: systemClock,
        target: async () => target,
        budgets: () => [],
        eventEnv: () => ({ gantryVersion: 'bench', nodeVersion: process.version, host: 'bench' }),
        warn: (message, data) => process.stderr.write(`${message} ${JSON.stringify(data)}\n`),
      },
      { projectId: 'bench', actor: 'bench', target, slo: undefined },
      initialExperiment({ id: `halt-${round_}`, config, configHash: 'bench', release: 'r1', at: Date.now() }),
    );
    const final = await runner.done;
    await new Promise((r) => setTimeout(r, 300)); // answers in flight at the halt arrive
    clearInterval(load);
    const last503 = Math.max(...answers.filter((a) => a.status === 503).map((a) => a.at));
    const halt = last503 - (final.brokenAt ?? Number.NaN);
    halts.push(halt);
    clears.push((final.revertedAt ?? Number.NaN) - (final.brokenAt ?? Number.NaN));
    process.stderr.write(`round ${round_}: ${final.verdict}, last faulted request ${round(halt, 1)} ms after the broken look\n`);
  }
  process.stdout.write(
    `${JSON.stringify({
      bench: 'chaos-halt',
      rounds: ROUNDS,
      rate_rps: RATE,
      halt_ms_max: round(Math.max(...halts), 1),
      halt_ms_median: round(percentile(halts, 0.5), 1),
      halt_ms_each: halts.map((h) => round(h, 1)),
      clear_confirmed_ms_max: round(Math.max(...clears), 1),
      target_ms: TARGET_MS,
      ratio_max_to_target: round(Math.max(...halts) / TARGET_MS, 3),
      loadavg_1m_at_end: round(loadavg()[0] ?? 0),
    })}\n`,
  );
} finally {
  await rig.stop();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
