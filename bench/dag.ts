/**
 * DAG throughput of the engine: 1,000 jobs, fan-out then fan-in (one root job, 998 middle jobs
 * needing it, one final job needing all of them), one `true` step each, through
 * `gantry run --json` (jobs at once = the number of cores), with the default executor (each job in
 * its own bubblewrap sandbox, when bubblewrap works here) and with `--no-sandbox`. Targets: the
 * sandboxed run ≤ 10× `make -j<cores>` of the same run; ≤ 10 s wall on 2 cores without the
 * sandbox. The peer floor is `make -j<cores>` (and `ninja -j<cores>` when installed) running the
 * same DAG shape in the same run, interleaved with Gantry's runs; beside it, the sandbox's own
 * floor (`sandbox_floor`): make with each recipe in bubblewrap as Gantry runs a job.
 *
 * Env: JOBS (default 1000), REPS (default 1 for each gantry variant, make/ninja run 3×),
 * GANTRY_TIMEOUT_MS (default 120000: a run past it is reported as not finished, not as a figure),
 * SANDBOX (`both` by default when bubblewrap works, `on` or `off` for one variant), DEADLINE_MS
 * (default 280000: the whole benchmark; a sandboxed run takes ~50 s on a loaded 2-core machine),
 * PARALLEL (Gantry's jobs at once, `--parallel`; default its own default; make and ninja keep -j<cores>),
 * SERVER (`on` by default: also the same DAG started through a `gantry up` server's API without
 * the sandbox, timed from the request to the run's end, with the server's CPU; `off` to skip).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { sandboxArgv } from '../src/executor/sandbox.ts';
import { CLOCK_TICKS_PER_SECOND, readStat } from '../src/platform/proc.ts';
import {
  benchMain,
  bwrapWorks,
  gantry,
  jobsSpanMs,
  parseRun,
  progress,
  round,
  runCmd,
  runOk,
  spread,
  startServer,
  tempDir,
  tempRepo,
  waitFor,
  type RunJson,
} from './lib.ts';

const JOBS = Number(process.env.JOBS ?? 1000);
const REPS = Number(process.env.REPS ?? 1);
const GANTRY_TIMEOUT_MS = Number(process.env.GANTRY_TIMEOUT_MS ?? 120_000);
const DEADLINE_MS = Number(process.env.DEADLINE_MS ?? 280_000);
const TARGET_MS = 10_000;
const TARGET_SANDBOX_RATIO = 10;
const SANDBOX = process.env.SANDBOX ?? 'both';
const PARALLEL = process.env.PARALLEL;
const SERVER = process.env.SERVER ?? 'on';
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

/**
 * The sandbox's own floor: the same DAG under make, each recipe in bubblewrap as Gantry starts a
 * one-step job (`sandboxArgv`, so the same mounts: the data dir hidden, a workspace and a temp
 * dir per job bound back; made beforehand, outside the timing). Gantry's sandboxed run over this
 * is what Gantry adds to the sandbox; this over plain make is what bubblewrap costs here.
 */
async function sandboxedMakefile(dir: string): Promise<string> {
  const data = join(dir, 'data');
  for (const id of ['root', 'final', ...middleIds]) {
    await mkdir(join(data, 'w', id), { recursive: true });
    await mkdir(join(data, 'w', `${id}.tmp`));
  }
  const ws = join(data, 'w', '$@');
  const recipe = `\t@${sandboxArgv(['true'], { workspaceDir: ws, privateDirs: [`${ws}.tmp`], hiddenPaths: [data], network: true, cwd: ws }).join(' ')}`;
  return makefile().replaceAll('\ttrue', recipe);
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

interface GantryRun {
  wallMs: number;
  cpuMs: number;
  spanMs: number;
  jobMsSum: number;
}

/** The figures of one executor variant over its reps (nulls when none finished). */
function summary(runs: GantryRun[], makeMedianMs: number, unfinished: string | null) {
  const of = (pick: (g: GantryRun) => number) => (runs.length === 0 ? null : spread(runs.map(pick), 0));
  const wall = of((g) => g.wallMs);
  return {
    reps: runs.length,
    not_finished: unfinished,
    wall_ms: wall,
    jobs_span_ms: of((g) => g.spanMs),
    cpu_ms: of((g) => g.cpuMs),
    // Sum of the jobs' own durations / parallelism, vs the span: how much of the span is scheduling.
    sum_of_job_ms: of((g) => g.jobMsSum),
    ms_per_job: wall ? round(wall.median / JOBS, 2) : null,
    ratio_to_make: wall ? round(wall.median / makeMedianMs, 1) : null,
  };
}

/**
 * The DAG through a server: a fresh `gantry up` (no sandbox), the project added and the run
 * started through the API, its status polled (the run list, which carries no jobs) every 100 ms.
 * What the server adds over `gantry run`: every transition is a committed transaction.
 */
async function serverRun(repo: string): Promise<{ wallMs: number; cpuMs: number }> {
  const server = await startServer({ dataDir: await tempDir('dag-server'), env: { ...process.env, GANTRY_SANDBOX: 'off' } });
  try {
    await server.api('POST', '/api/projects', { name: 'dag', path: repo });
    const cpuMs = () => ((readStat(server.pid)?.cpuTicks ?? Number.NaN) * 1000) / CLOCK_TICKS_PER_SECOND;
    const cpuBefore = cpuMs();
    const started = performance.now();
    const { run } = await server.api<{ run: { id: string } }>('POST', '/api/projects/dag/runs', {});
    const status = await waitFor(
      'the run to end',
      async () => {
        const { runs } = await server.api<{ runs: { id: string; status: string }[] }>('GET', '/api/runs?project=dag&limit=1');
        const listed = runs[0];
        return listed?.id === run.id && ['success', 'failure', 'cancelled'].includes(listed.status) ? listed.status : undefined;
      },
      GANTRY_TIMEOUT_MS,
      100,
    );
    const wallMs = performance.now() - started;
    if (status !== 'success') throw new Error(`the run ended ${status}`);
    return { wallMs, cpuMs: cpuMs() - cpuBefore };
  } finally {
    await server.stop();
  }
}

await benchMain('dag', DEADLINE_MS, async () => {
  const cores = cpus().length;
  const repo = await tempRepo('dag', pipeline());
  const refs = await tempDir('dag-make');
  await writeFile(join(refs, 'Makefile'), makefile());
  await writeFile(join(refs, 'build.ninja'), ninjaFile());
  const ninja = await hasTool('ninja');
  const bwrap = await bwrapWorks();
  if (bwrap) await writeFile(join(refs, 'Makefile.sandboxed'), await sandboxedMakefile(refs));
  const variants: { name: 'sandbox' | 'no_sandbox'; args: string[] }[] = [];
  if (bwrap && SANDBOX !== 'off') variants.push({ name: 'sandbox', args: [] });
  if (SANDBOX !== 'on') variants.push({ name: 'no_sandbox', args: ['--no-sandbox'] });

  const make: number[] = [];
  const makeSandboxed: number[] = [];
  const ninjaMs: number[] = [];
  const runs = { sandbox: [] as GantryRun[], no_sandbox: [] as GantryRun[] };
  const serverRuns: { wallMs: number; cpuMs: number }[] = [];
  let serverUnfinished: string | null = null;
  const unfinished = { sandbox: null as string | null, no_sandbox: null as string | null };
  for (let rep = 0; rep < Math.max(3, REPS); rep++) {
    make.push((await runOk(['make', '-s', `-j${cores}`, '-f', 'Makefile'], { cwd: refs })).ms);
    if (bwrap) makeSandboxed.push((await runOk(['make', '-s', `-j${cores}`, '-f', 'Makefile.sandboxed'], { cwd: refs })).ms);
    if (ninja) ninjaMs.push((await runOk(['ninja', '-j', String(cores)], { cwd: refs })).ms);
    // Its targets are never written, so ninja reruns everything each time; its log is dropped anyway.
    await runCmd(['rm', '-f', join(refs, '.ninja_log'), join(refs, '.ninja_deps')]);
    if (rep >= REPS) continue;
    for (const variant of variants) {
      if (unfinished[variant.name]) continue;
      progress(`gantry run ${variant.args.join(' ')}: ${JOBS} jobs (rep ${rep + 1}), parallel ${PARALLEL ?? 'default'}`);
      try {
        const r = await gantry(['run', ...variant.args, ...(PARALLEL ? ['--parallel', PARALLEL] : []), '--json'], {
          cwd: repo,
          timeoutMs: GANTRY_TIMEOUT_MS,
          cpu: true,
        });
        if (r.code !== 0 && r.stdout.trim() === '') throw new Error(`gantry run exited ${r.code}: ${r.stderr.slice(-1000)}`);
        const run: RunJson = parseRun(r.stdout);
        if (run.jobs.length !== JOBS) throw new Error(`expected ${JOBS} jobs, the run reported ${run.jobs.length}`);
        const jobMsSum = run.jobs.reduce((t, j) => t + (Date.parse(j.finishedAt ?? '') - Date.parse(j.startedAt ?? '')), 0);
        runs[variant.name].push({ wallMs: r.ms, cpuMs: r.cpuMs ?? Number.NaN, spanMs: jobsSpanMs(run), jobMsSum });
        progress(
          `gantry (${variant.name}): wall ${round(r.ms)} ms, jobs span ${jobsSpanMs(run)} ms, make -j${cores} ${round(make[rep] ?? 0)} ms`,
        );
      } catch (error) {
        unfinished[variant.name] = (error as Error).message;
        progress(`gantry run (${variant.name}) did not complete: ${unfinished[variant.name]}`);
      }
    }
    if (SERVER !== 'off' && serverUnfinished === null) {
      progress(`gantry up, the run started through the API: ${JOBS} jobs (rep ${rep + 1})`);
      try {
        serverRuns.push(await serverRun(repo));
        progress(
          `gantry (server): wall ${round(serverRuns.at(-1)?.wallMs ?? 0)} ms, server CPU ${round(serverRuns.at(-1)?.cpuMs ?? 0)} ms`,
        );
      } catch (error) {
        serverUnfinished = (error as Error).message;
        progress(`the server's run did not complete: ${serverUnfinished}`);
      }
    }
  }

  const makeSpread = spread(make);
  const sandboxed = summary(runs.sandbox, makeSpread.median, unfinished.sandbox);
  const plain = summary(runs.no_sandbox, makeSpread.median, unfinished.no_sandbox);
  const plainWall = plain.wall_ms?.median ?? null;
  const sandboxRatio = sandboxed.ratio_to_make;
  return {
    jobs: JOBS,
    shape: `1 root → ${MIDDLE} middle → 1 final, one \`true\` step each`,
    parallel: PARALLEL ? Number(PARALLEL) : 'default',
    make_parallel: cores,
    sandbox_variant: bwrap ? SANDBOX : 'not run: bubblewrap missing or not working',
    gantry_sandbox: sandboxed,
    gantry_no_sandbox: plain,
    ...(SERVER !== 'off'
      ? {
          gantry_server_no_sandbox: {
            reps: serverRuns.length,
            not_finished: serverUnfinished,
            wall_ms:
              serverRuns.length === 0
                ? null
                : spread(
                    serverRuns.map((r) => r.wallMs),
                    0,
                  ),
            server_cpu_ms:
              serverRuns.length === 0
                ? null
                : spread(
                    serverRuns.map((r) => r.cpuMs),
                    0,
                  ),
            ratio_to_make: serverRuns.length === 0 ? null : round(spread(serverRuns.map((r) => r.wallMs)).median / makeSpread.median, 1),
          },
        }
      : {}),
    target_sandbox_ratio_to_make: TARGET_SANDBOX_RATIO,
    meets_sandbox_target: sandboxRatio !== null && sandboxRatio <= TARGET_SANDBOX_RATIO,
    target_no_sandbox_ms: TARGET_MS,
    meets_no_sandbox_target: plainWall !== null && plainWall <= TARGET_MS,
    peer: {
      name: `make -j${cores} (GNU make), same DAG, same run`,
      wall_ms: makeSpread,
      ratio_sandboxed_gantry_to_peer: sandboxRatio,
      ratio_gantry_no_sandbox_to_peer: plain.ratio_to_make,
    },
    ...(bwrap
      ? {
          sandbox_floor: {
            name: `make -j${cores}, each job in bubblewrap as Gantry starts a one-step job's sandbox, same run`,
            wall_ms: spread(makeSandboxed),
            ratio_to_make: round(spread(makeSandboxed).median / makeSpread.median, 1),
            ratio_sandboxed_gantry_to_it: sandboxed.wall_ms ? round(sandboxed.wall_ms.median / spread(makeSandboxed).median, 2) : null,
          },
        }
      : {}),
    ...(ninja ? { ninja_wall_ms: spread(ninjaMs) } : {}),
  };
});
