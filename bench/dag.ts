/**
 * DAG throughput of the engine: 1,000 jobs, fan-out then fan-in (one root job, 998 middle jobs
 * needing it, one final job needing all of them), one `true` step each, through
 * `gantry run --no-sandbox --json` (jobs at once = the number of cores). Target: ≤ 10 s wall on
 * 2 cores. The peer floor is `make -j<cores>` (and `ninja -j<cores>` when installed) running the
 * same DAG shape in the same run.
 *
 * Env: JOBS (default 1000), REPS (default 1 for gantry, make/ninja run 3×), GANTRY_TIMEOUT_MS
 * (default 90000: a run past it is reported as not finished, not as a figure).
 */
import { writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { benchMain, gantry, jobsSpanMs, parseRun, progress, round, runCmd, runOk, spread, tempDir, tempRepo, type RunJson } from './lib.ts';

const JOBS = Number(process.env.JOBS ?? 1000);
const REPS = Number(process.env.REPS ?? 1);
const GANTRY_TIMEOUT_MS = Number(process.env.GANTRY_TIMEOUT_MS ?? 90_000);
const TARGET_MS = 10_000;
const MIDDLE = JOBS - 2;
const middleIds = Array.from({ length: MIDDLE }, (_, i) => `m${i + 1}`);

function pipeline(): string {
  const step = ['      steps:', '        - run: "true"'];
  const lines = ['pipeline:', '  on:', '    push:', '  jobs:', '    root:', ...step];
  for (const id of middleIds) lines.push(`    ${id}:`, '      needs: [root]', ...step);
  lines.push('    final:', `      needs: [${middleIds.join(', ')}]`, ...step);
  return `${lines.join('\n')}\n`;
}

function makefile(): string {
  return [
    'all: final',
    `final: ${middleIds.join(' ')}`,
    '\ttrue',
    `${middleIds.join(' ')}: root`,
    '\ttrue',
    'root:',
    '\ttrue',
    `.PHONY: all final root ${middleIds.join(' ')}`,
    '',
  ].join('\n');
}

function ninjaFile(): string {
  const lines = ['rule r', '  command = true', 'build root: r'];
  for (const id of middleIds) lines.push(`build ${id}: r || root`);
  lines.push(`build final: r || ${middleIds.join(' ')}`, 'default final', '');
  return lines.join('\n');
}

async function hasTool(name: string): Promise<boolean> {
  return (await runCmd(['sh', '-c', `command -v ${name}`]).catch(() => null))?.code === 0;
}

await benchMain('dag', 118_000, async () => {
  const cores = cpus().length;
  const repo = await tempRepo('dag', pipeline());
  const refs = await tempDir('dag-make');
  await writeFile(join(refs, 'Makefile'), makefile());
  await writeFile(join(refs, 'build.ninja'), ninjaFile());
  const ninja = await hasTool('ninja');

  const make: number[] = [];
  const ninjaMs: number[] = [];
  const gantryRuns: { wallMs: number; cpuMs: number; spanMs: number; jobMsSum: number }[] = [];
  let unfinished: string | null = null;
  for (let rep = 0; rep < Math.max(3, REPS); rep++) {
    make.push((await runOk(['make', '-s', `-j${cores}`, '-f', 'Makefile'], { cwd: refs })).ms);
    if (ninja) ninjaMs.push((await runOk(['ninja', '-j', String(cores)], { cwd: refs })).ms);
    // Its targets are never written, so ninja reruns everything each time; its log is dropped anyway.
    await runCmd(['rm', '-f', join(refs, '.ninja_log'), join(refs, '.ninja_deps')]);
    if (rep >= REPS || unfinished) continue;
    progress(`gantry run: ${JOBS} jobs (rep ${rep + 1}), parallel ${cores}`);
    try {
      const r = await gantry(['run', '--no-sandbox', '--json'], { cwd: repo, timeoutMs: GANTRY_TIMEOUT_MS, cpu: true });
      if (r.code !== 0 && r.stdout.trim() === '') throw new Error(`gantry run exited ${r.code}: ${r.stderr.slice(-1000)}`);
      const run: RunJson = parseRun(r.stdout);
      if (run.jobs.length !== JOBS) throw new Error(`expected ${JOBS} jobs, the run reported ${run.jobs.length}`);
      const jobMsSum = run.jobs.reduce((t, j) => t + (Date.parse(j.finishedAt ?? '') - Date.parse(j.startedAt ?? '')), 0);
      gantryRuns.push({ wallMs: r.ms, cpuMs: r.cpuMs ?? Number.NaN, spanMs: jobsSpanMs(run), jobMsSum });
      progress(`gantry: wall ${round(r.ms)} ms, jobs span ${jobsSpanMs(run)} ms, make -j${cores} ${round(make[rep] ?? 0)} ms`);
    } catch (error) {
      unfinished = (error as Error).message;
      progress(`gantry run did not complete: ${unfinished}`);
    }
  }

  const wall =
    gantryRuns.length > 0
      ? spread(
          gantryRuns.map((g) => g.wallMs),
          0,
        )
      : null;
  const makeSpread = spread(make);
  return {
    jobs: JOBS,
    shape: `1 root → ${MIDDLE} middle → 1 final, one \`true\` step each`,
    parallel: cores,
    reps: gantryRuns.length,
    gantry_wall_ms: wall,
    gantry_not_finished: unfinished,
    gantry_jobs_span_ms:
      gantryRuns.length > 0
        ? spread(
            gantryRuns.map((g) => g.spanMs),
            0,
          )
        : null,
    gantry_cpu_ms:
      gantryRuns.length > 0
        ? spread(
            gantryRuns.map((g) => g.cpuMs),
            0,
          )
        : null,
    // Sum of the jobs' own durations / parallelism, vs the span: how much of the span is scheduling.
    gantry_sum_of_job_ms:
      gantryRuns.length > 0
        ? spread(
            gantryRuns.map((g) => g.jobMsSum),
            0,
          )
        : null,
    gantry_ms_per_job: wall ? round(wall.median / JOBS, 2) : null,
    target_ms: TARGET_MS,
    meets_target: wall ? wall.median <= TARGET_MS : false,
    peer: {
      name: `make -j${cores} (GNU make), same DAG, same run`,
      wall_ms: makeSpread,
      ratio_gantry_to_peer: wall ? round(wall.median / makeSpread.median, 1) : null,
    },
    ...(ninja ? { ninja_wall_ms: spread(ninjaMs) } : {}),
  };
});
