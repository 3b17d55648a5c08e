/**
 * Blast radius (chaos issue, targets): with `percent: 10` and a match (path /pay), exactly the
 * matching requests are faulted and their share is 10 % within the binomial interval; requests
 * outside the blast radius (other paths, and the matching ones the draw left alone) see no error
 * and no added latency against a run with no fault, in the same process and run.
 *
 * In process, on loopback: a node:http backend and Gantry's TrafficProxy; the fault is an abort
 * (503) so the client can tell each faulted request apart. REQUESTS requests, half to /pay, half
 * to /cart, interleaved; first with no fault set (the baseline), then with the fault, then the
 * baseline again (so a drift in machine load shows). Prints one JSON object; bounded by a
 * deadline; closes everything it started.
 *
 * Env: REQUESTS [10000], QUICK=1 (2,000), CONCURRENCY [16], DEADLINE_MS [120000].
 */
import { loadavg } from 'node:os';
import { shareInterval, shareTestPValue } from '../src/chaos/index.ts';
import { percentile, round, sendAll, startRig, type Answer } from './chaos-lib.ts';

const REQUESTS = Number(process.env.REQUESTS ?? (process.env.QUICK === '1' ? 2000 : 10_000));
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 16);
const DEADLINE_MS = Number(process.env.DEADLINE_MS ?? 120_000);
const PERCENT = 10;

const deadline = setTimeout(() => {
  process.stderr.write(`chaos-blast-radius: deadline of ${DEADLINE_MS} ms passed\n`);
  process.exit(2);
}, DEADLINE_MS);
deadline.unref();

const rig = await startRig();
try {
  const paths = Array.from({ length: REQUESTS }, (_, i) => (i % 2 === 0 ? '/pay' : '/cart'));
  await sendAll(rig, paths.slice(0, 500), CONCURRENCY); // warm-up
  process.stderr.write('baseline (no fault)…\n');
  const before = await sendAll(rig, paths, CONCURRENCY);
  process.stderr.write(`fault: abort 503 on ${PERCENT}% of /pay…\n`);
  rig.proxy.chaos.set({
    experimentId: 'bench',
    faults: [{ kind: 'abort', status: 503, percent: PERCENT, match: { path: '/pay' } }],
    deadlineAt: Date.now() + DEADLINE_MS,
  });
  const during = await sendAll(rig, paths, CONCURRENCY);
  const report = rig.proxy.chaos.clear('bench');
  process.stderr.write('baseline again…\n');
  const after = await sendAll(rig, paths, CONCURRENCY);

  const matching = during.filter((a) => a.path === '/pay');
  const faulted = matching.filter((a) => a.status === 503).length;
  const outside = during.filter((a) => a.status !== 503);
  const outsideErrors = outside.filter((a) => a.status !== 200).length;
  const nonMatchingFaulted = during.filter((a) => a.path !== '/pay' && a.status !== 200).length;
  const baseline = [...before, ...after];
  const latency = (answers: Answer[]) => ({
    p50_ms: round(
      percentile(
        answers.map((a) => a.ms),
        0.5,
      ),
      3,
    ),
    p99_ms: round(
      percentile(
        answers.map((a) => a.ms),
        0.99,
      ),
      3,
    ),
  });
  const out = latency(outside);
  const base = latency(baseline);
  const pValue = shareTestPValue(faulted, matching.length, PERCENT / 100);
  const [lo, hi] = shareInterval(matching.length, PERCENT / 100);
  process.stdout.write(
    `${JSON.stringify({
      bench: 'chaos-blast-radius',
      requests: REQUESTS,
      matching: matching.length,
      faulted,
      share: round(faulted / matching.length, 4),
      expected_share: PERCENT / 100,
      interval_3sigma: [round(lo, 4), round(hi, 4)],
      binomial_p_value: round(pValue, 4),
      share_within_interval: faulted / matching.length >= lo && faulted / matching.length <= hi,
      proxy_counts: { affected: report?.affected, unaffected: report?.unaffected },
      non_matching_faulted: nonMatchingFaulted,
      outside: { requests: outside.length, errors: outsideErrors, ...out },
      no_fault_baseline: { requests: baseline.length, errors: baseline.filter((a) => a.status !== 200).length, ...base },
      ratio_outside_to_baseline_p50: round(out.p50_ms / base.p50_ms, 3),
      ratio_outside_to_baseline_p99: round(out.p99_ms / base.p99_ms, 3),
      loadavg_1m_at_end: round(loadavg()[0] ?? 0),
    })}\n`,
  );
} finally {
  await rig.stop();
}
