/**
 * The run reducer's cost per event as a run grows (issue 14's 10,000-job run): in process, a run
 * of `LARGE` independent jobs (start, every job started, every job finished) against the same at
 * `SMALL` jobs, CPU µs per event (process.cpuUsage, steadier than wall time on a shared machine).
 * A reducer whose work per event is independent of the run's size gives a ratio near 1; one that
 * scans every job per event gives LARGE ÷ SMALL. (Before the sixth session it scanned every job
 * per event: ~77 s of wall time for the 4,000 events of a 2,000-job run at a load of 30.)
 *
 * Two reducers: `applyRunEvent` (what the run driver runs: the driver's own state, changed in
 * place) and the pure `reduceRun` (a copy of the jobs record per event; tests and one-off callers).
 *
 * Knobs: SMALL [2000], LARGE [10000], PURE [1; 0 measures applyRunEvent alone: the pure one is jobs² at LARGE],
 * SHAPE [independent; `fan-in`: one more job needing all the others, as bench:dag's final job].
 */
import { parseConfig } from '../src/pipeline/load-config.ts';
import { compilePlan } from '../src/pipeline/plan.ts';
import { applyRunEvent, type ConditionEnv, initialRunState, type RunEvent, type RunState, reduceRun } from '../src/pipeline/run-reducer.ts';
import type { GantryContext } from '../src/core/types.ts';
import { benchMain, progress, round } from './lib.ts';

const SMALL = Number(process.env.SMALL ?? 2000);
const LARGE = Number(process.env.LARGE ?? 10_000);
const PURE = process.env.PURE !== '0';
const FAN_IN = process.env.SHAPE === 'fan-in';

type Reducer = (state: RunState, event: RunEvent, env: ConditionEnv) => { state: RunState };

/** CPU µs per event of one whole run of `jobs` independent jobs. */
function perEvent(jobs: number, reduce: Reducer): { events: number; cpu_us_per_event: number } {
  const lines = ['pipeline:', '  jobs:'];
  for (let i = 0; i < jobs; i++) lines.push(`    j${i}:`, '      runs-on: [bench]', '      steps: ["true"]');
  if (FAN_IN)
    lines.push('    last:', `      needs: [${Array.from({ length: jobs }, (_, i) => `j${i}`).join(', ')}]`, '      steps: ["true"]');
  const config = parseConfig(`${lines.join('\n')}\n`, 'gantry.yaml');
  const gantry = {
    sha: 'a',
    ref: 'refs/heads/main',
    event: 'manual',
    runId: 'r',
    runNumber: 1,
    project: 'p',
    workspace: '',
  } as unknown as GantryContext;
  const env = { inputs: {}, gantry, env: {} };
  let state = initialRunState('r', compilePlan(config.pipeline, { inputs: {}, gantry }));
  const before = process.cpuUsage();
  state = reduce(state, { type: 'start' }, env).state;
  for (let i = 0; i < jobs; i++) state = reduce(state, { type: 'job-started', key: `j${i}` }, env).state;
  for (let i = 0; i < jobs; i++) state = reduce(state, { type: 'job-finished', key: `j${i}`, status: 'success', outputs: {} }, env).state;
  if (FAN_IN) {
    state = reduce(state, { type: 'job-started', key: 'last' }, env).state;
    state = reduce(state, { type: 'job-finished', key: 'last', status: 'success', outputs: {} }, env).state;
  }
  const used = process.cpuUsage(before);
  if (state.status !== 'success') throw new Error(`the run ended ${state.status}`);
  const events = 2 * jobs + 1 + (FAN_IN ? 2 : 0);
  return { events, cpu_us_per_event: round((used.user + used.system) / events, 1) };
}

function sizes(name: string, reduce: Reducer) {
  const small = perEvent(SMALL, reduce);
  progress(`${name}, ${SMALL} jobs: ${small.cpu_us_per_event} µs/event`);
  const large = perEvent(LARGE, reduce);
  progress(`${name}, ${LARGE} jobs: ${large.cpu_us_per_event} µs/event`);
  return {
    small: { jobs: SMALL, ...small },
    large: { jobs: LARGE, ...large },
    ratio_per_event: round(large.cpu_us_per_event / small.cpu_us_per_event, 2),
  };
}

await benchMain('run-reducer', 600_000, async () => {
  const applied = sizes('applyRunEvent', applyRunEvent);
  const pure = PURE ? sizes('reduceRun', reduceRun) : null;
  return {
    apply_run_event: applied,
    reduce_run: pure,
    // Per event at LARGE: the driver's reducer against the pure one.
    large_ratio_applied_to_pure: pure && round(applied.large.cpu_us_per_event / pure.large.cpu_us_per_event, 3),
    shape: FAN_IN ? 'fan-in: one job needing all the others' : 'independent jobs',
    size_ratio: round(LARGE / SMALL, 2),
    loadavg: (await import('node:fs')).readFileSync('/proc/loadavg', 'utf8').trim(),
  };
});
