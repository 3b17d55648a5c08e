/**
 * Per-step overhead of the engine: one job of 200 `true` steps through `gantry run`, against a
 * bash loop starting 200 shells (`bash -c true`) and 200 × `/bin/true`, measured in the same run
 * and interleaved so that noise from other tenants hits every variant alike.
 *
 *   per-step overhead over bash (ms) = (job ms − bash loop ms) / 200      target ≤ 3 ms
 *   ratio = job ms / bash loop ms                                          target ≤ 2
 *
 * "job ms" is the engine's own finishedAt − startedAt of the job; the end-to-end wall time of the
 * CLI (Node start-up, config, working-tree snapshot) is reported beside it, and a 1-step job gives
 * the fixed cost. CPU time (user+sys of the process and its children) is reported too: on a
 * shared machine it moves much less than wall time. A Node loop spawning the same step script
 * 200 times (node-spawn-loop.ts) is the floor of any Node-based runner. With bubblewrap working,
 * the 200-step job also runs inside the sandbox.
 *
 * Env: REPS (default 3), STEPS (default 200), BENCH_CPU_PROF=<dir> to write a --cpu-prof of an
 * extra, uncounted --no-sandbox run there. Peer (published, not run here): Buildbot 3.7,
 * 94.4 ms/step (/work/shared/bench/peers/README.md §2).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  benchMain,
  bwrapWorks,
  GANTRY_CLI,
  jobsSpanMs,
  NODE,
  parseRun,
  progress,
  REPO_ROOT,
  round,
  runOk,
  spread,
  tempDir,
  tempRepo,
} from './lib.ts';

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

interface Sample {
  wallMs: number;
  cpuMs: number;
  jobMs?: number;
}

async function gantryRun(repo: string, sandbox: boolean, profileDir?: string): Promise<Required<Sample>> {
  const node = profileDir ? [NODE, '--cpu-prof', '--cpu-prof-dir', profileDir] : [NODE];
  const r = await runOk([...node, GANTRY_CLI, 'run', '--json', ...(sandbox ? [] : ['--no-sandbox'])], { cwd: repo, cpu: true });
  return { wallMs: r.ms, cpuMs: r.cpuMs ?? Number.NaN, jobMs: jobsSpanMs(parseRun(r.stdout)) };
}

async function bashLoop(inner: string): Promise<Sample> {
  const r = await runOk(['bash', '-c', `for i in $(seq ${STEPS}); do ${inner}; done`], { cpu: true });
  return { wallMs: r.ms, cpuMs: r.cpuMs ?? Number.NaN };
}

async function nodeSpawnLoop(script: string): Promise<Sample> {
  const r = await runOk([NODE, join(REPO_ROOT, 'bench', 'node-spawn-loop.ts'), String(STEPS), script], { cpu: true });
  return { wallMs: Number(r.stdout.trim()), cpuMs: r.cpuMs ?? Number.NaN };
}

await benchMain('step-overhead', 115_000, async () => {
  const repo = await tempRepo('steps', pipeline(STEPS));
  const repo1 = await tempRepo('steps1', pipeline(1));
  const scratch = await tempDir('script');
  const script = join(scratch, 'step');
  await writeFile(script, 'true', { mode: 0o700 });
  const sandbox = await bwrapWorks();
  progress(`${STEPS} steps × ${REPS} reps; sandbox variant: ${sandbox ? 'yes' : 'no (bwrap missing or not working)'}`);
  if (CPU_PROF) {
    // An extra run, not counted: the profiler slows the CLI down.
    await gantryRun(repo, false, CPU_PROF);
    progress(`CPU profile of one --no-sandbox run written to ${CPU_PROF}`);
  }

  const plain: Required<Sample>[] = [];
  const boxed: Required<Sample>[] = [];
  const fixed: Required<Sample>[] = [];
  const bashC: Sample[] = [];
  const binTrue: Sample[] = [];
  const nodeLoop: Sample[] = [];
  for (let rep = 0; rep < REPS; rep++) {
    bashC.push(await bashLoop('bash -c true'));
    binTrue.push(await bashLoop('/bin/true'));
    nodeLoop.push(await nodeSpawnLoop(script));
    const p = await gantryRun(repo, false);
    plain.push(p);
    fixed.push(await gantryRun(repo1, false));
    if (sandbox) boxed.push(await gantryRun(repo, true));
    progress(
      `rep ${rep + 1}: bash -c loop ${round(bashC[rep]?.wallMs ?? 0)} ms, node spawn loop ${round(nodeLoop[rep]?.wallMs ?? 0)} ms, gantry job ${p.jobMs} ms (wall ${round(p.wallMs)}, cpu ${round(p.cpuMs)})${sandbox ? `, sandboxed job ${boxed[rep]?.jobMs} ms` : ''}`,
    );
  }

  // Paired by rep: each rep's runs saw the same machine load.
  const perStep = (samples: Required<Sample>[], ref: Sample[]) => samples.map((s, i) => (s.jobMs - (ref[i]?.wallMs ?? 0)) / STEPS);
  const cpuPerStep = (samples: Sample[], base: Sample[]) => samples.map((s, i) => (s.cpuMs - (base[i]?.cpuMs ?? 0)) / STEPS);
  const overBash = spread(perStep(plain, bashC));
  const result: Record<string, unknown> = {
    steps: STEPS,
    reps: REPS,
    unit: 'ms (median, min, max over reps)',
    per_step_overhead_over_bash_ms: overBash.median,
    target_ms_per_step: TARGET_MS_PER_STEP,
    meets_target: overBash.median <= TARGET_MS_PER_STEP,
    gantry_no_sandbox: {
      job_ms: spread(
        plain.map((s) => s.jobMs),
        0,
      ),
      wall_ms: spread(
        plain.map((s) => s.wallMs),
        0,
      ),
      cpu_ms: spread(
        plain.map((s) => s.cpuMs),
        0,
      ),
      per_step_overhead_over_bash_c_ms: overBash,
      per_step_overhead_over_bin_true_ms: spread(perStep(plain, binTrue)),
      per_step_overhead_over_node_spawn_loop_ms: spread(perStep(plain, nodeLoop)),
      per_step_cpu_over_bash_c_ms: spread(cpuPerStep(plain, bashC)),
      // CPU of the 200-step run minus the 1-step run: what each extra step costs, start-up excluded.
      per_step_cpu_marginal_ms: spread(plain.map((s, i) => (s.cpuMs - (fixed[i]?.cpuMs ?? 0)) / (STEPS - 1))),
    },
    gantry_one_step_job: {
      job_ms: spread(
        fixed.map((s) => s.jobMs),
        0,
      ),
      wall_ms: spread(
        fixed.map((s) => s.wallMs),
        0,
      ),
      cpu_ms: spread(
        fixed.map((s) => s.cpuMs),
        0,
      ),
    },
    bash_loop_bash_c_true: { wall_ms: spread(bashC.map((s) => s.wallMs)), cpu_ms: spread(bashC.map((s) => s.cpuMs)) },
    bash_loop_bin_true: { wall_ms: spread(binTrue.map((s) => s.wallMs)), cpu_ms: spread(binTrue.map((s) => s.cpuMs)) },
    node_spawn_loop: { wall_ms: spread(nodeLoop.map((s) => s.wallMs)), cpu_ms: spread(nodeLoop.map((s) => s.cpuMs)) },
    ratio_job_to_bash_c_loop: round(median(plain.map((s) => s.jobMs)) / median(bashC.map((s) => s.wallMs))),
    peer: {
      name: 'Buildbot 3.7, published figure (/work/shared/bench/peers/README.md §2); not run here: not installed',
      per_step_overhead_ms: BUILDBOT_MS_PER_STEP,
      ratio_gantry_to_peer: round(overBash.median / BUILDBOT_MS_PER_STEP, 3),
    },
  };
  if (sandbox) {
    result.gantry_sandbox = {
      job_ms: spread(
        boxed.map((s) => s.jobMs),
        0,
      ),
      wall_ms: spread(
        boxed.map((s) => s.wallMs),
        0,
      ),
      cpu_ms: spread(
        boxed.map((s) => s.cpuMs),
        0,
      ),
      per_step_overhead_over_bash_c_ms: spread(perStep(boxed, bashC)),
      ratio_job_to_bash_c_loop: round(median(boxed.map((s) => s.jobMs)) / median(bashC.map((s) => s.wallMs))),
    };
  }
  if (CPU_PROF) result.cpu_profile_dir = CPU_PROF;
  return result;
});

function median(values: number[]): number {
  return spread(values, 6).median;
}
