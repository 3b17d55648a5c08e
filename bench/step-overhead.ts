/**
 * Per-step overhead of the engine: one job of 200 `true` steps through `gantry run`, against a
 * bash loop starting 200 shells (`bash -c true`) and 200 × `/bin/true`, measured in the same run
 * and interleaved so that noise from other tenants hits every variant alike.
 *
 *   per-step overhead over bash (ms) = (job ms − bash loop ms) / 200      target ≤ 3 ms
 *
 * "job ms" is the engine's own finishedAt − startedAt of the job; the end-to-end wall time of the
 * CLI (Node start-up, config, working-tree snapshot) is reported beside it, and a 1-step job gives
 * the fixed cost. With bubblewrap working, the same runs are repeated inside the sandbox.
 *
 * Env: REPS (default 3), STEPS (default 200), BENCH_CPU_PROF=<dir> to write a --cpu-prof of the
 * an extra, uncounted --no-sandbox run there. Peer (published, not run here): Buildbot 3.7 94.4 ms/step
 * (/work/shared/bench/peers/README.md §2).
 */
import { benchMain, bwrapWorks, gantry, jobsSpanMs, NODE, GANTRY_CLI, parseRun, progress, round, runOk, spread, tempRepo } from './lib.ts';

const REPS = Number(process.env.REPS ?? 3);
const STEPS = Number(process.env.STEPS ?? 200);
const CPU_PROF = process.env.BENCH_CPU_PROF;
const TARGET_MS_PER_STEP = 3;
const BUILDBOT_MS_PER_STEP = 94.4;

function pipeline(steps: number): string {
  const lines = ['pipeline:', '  on:', '    push:', '  jobs:', '    steps:', '      steps:'];
  for (let i = 0; i < steps; i++) lines.push('        - run: "true"');
  return `${lines.join('\n')}\n`;
}

interface GantrySample { wallMs: number; jobMs: number }

async function gantryRun(repo: string, sandbox: boolean, profileDir?: string): Promise<GantrySample> {
  const args = ['run', '--json', ...(sandbox ? [] : ['--no-sandbox'])];
  const r = profileDir
    ? await runOk([NODE, '--cpu-prof', '--cpu-prof-dir', profileDir, GANTRY_CLI, ...args], { cwd: repo })
    : await gantry(args, { cwd: repo });
  if (r.code !== 0) throw new Error(`gantry run exited ${r.code}: ${r.stderr.slice(-1000)}`);
  return { wallMs: r.ms, jobMs: jobsSpanMs(parseRun(r.stdout)) };
}

async function bashLoop(inner: string): Promise<number> {
  return (await runOk(['bash', '-c', `for i in $(seq ${STEPS}); do ${inner}; done`])).ms;
}

await benchMain('step-overhead', 115_000, async () => {
  const repo = await tempRepo('steps', pipeline(STEPS));
  const repo1 = await tempRepo('steps1', pipeline(1));
  const sandbox = await bwrapWorks();
  progress(`${STEPS} steps × ${REPS} reps; sandbox variant: ${sandbox ? 'yes' : 'no (bwrap missing or not working)'}`);

  if (CPU_PROF) {
    // An extra run, not counted: the profiler slows the CLI down.
    await gantryRun(repo, false, CPU_PROF);
    progress(`CPU profile of one --no-sandbox run written to ${CPU_PROF}`);
  }
  const plain: GantrySample[] = [];
  const boxed: GantrySample[] = [];
  const fixed: GantrySample[] = [];
  const bashC: number[] = [];
  const binTrue: number[] = [];
  for (let rep = 0; rep < REPS; rep++) {
    bashC.push(await bashLoop('bash -c true'));
    binTrue.push(await bashLoop('/bin/true'));
    plain.push(await gantryRun(repo, false));
    fixed.push(await gantryRun(repo1, false));
    if (sandbox) boxed.push(await gantryRun(repo, true));
    progress(`rep ${rep + 1}: bash -c ${round(bashC[rep] ?? 0)} ms, /bin/true ${round(binTrue[rep] ?? 0)} ms, gantry job ${plain[rep]?.jobMs} ms (wall ${round(plain[rep]?.wallMs ?? 0)})${sandbox ? `, sandboxed job ${boxed[rep]?.jobMs} ms` : ''}`);
  }

  // Paired by rep: each rep's runs saw the same machine load.
  const perStep = (samples: GantrySample[], ref: number[]) => samples.map((s, i) => (s.jobMs - (ref[i] ?? 0)) / STEPS);
  const overPlain = spread(perStep(plain, bashC));
  const result: Record<string, unknown> = {
    steps: STEPS,
    reps: REPS,
    unit: 'ms',
    gantry_no_sandbox: {
      job_ms: spread(plain.map((s) => s.jobMs), 0),
      wall_ms: spread(plain.map((s) => s.wallMs), 0),
      per_step_overhead_over_bash_c_ms: overPlain,
      per_step_overhead_over_bin_true_ms: spread(perStep(plain, binTrue)),
      per_step_total_ms: spread(plain.map((s) => s.jobMs / STEPS)),
    },
    gantry_one_step_job: { job_ms: spread(fixed.map((s) => s.jobMs), 0), wall_ms: spread(fixed.map((s) => s.wallMs), 0) },
    bash_loop_bash_c_true_ms: spread(bashC),
    bash_loop_bin_true_ms: spread(binTrue),
    target_ms_per_step: TARGET_MS_PER_STEP,
    meets_target: overPlain.median <= TARGET_MS_PER_STEP,
    ratio_job_to_bash_c_loop: round(median(plain.map((s) => s.jobMs)) / median(bashC)),
    peer: {
      name: 'Buildbot 3.7 (published, /work/shared/bench/peers/README.md §2; not run here: not installed)',
      per_step_overhead_ms: BUILDBOT_MS_PER_STEP,
      ratio_gantry_to_peer: round(overPlain.median / BUILDBOT_MS_PER_STEP, 3),
    },
  };
  if (sandbox) {
    result.gantry_sandbox = {
      job_ms: spread(boxed.map((s) => s.jobMs), 0),
      wall_ms: spread(boxed.map((s) => s.wallMs), 0),
      per_step_overhead_over_bash_c_ms: spread(perStep(boxed, bashC)),
    };
  }
  if (CPU_PROF) result.cpu_profile_dir = CPU_PROF;
  return result;
});

function median(values: number[]): number {
  return spread(values, 6).median;
}
