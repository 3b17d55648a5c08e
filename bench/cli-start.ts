/**
 * How long the CLI takes to start, bundled (dist/bundle, what the package runs: scripts/bundle.ts)
 * against the same CLI from its sources, one module at a time (the baseline it replaced), and
 * `node -e 0` (Node's own floor), in the same run, alternating: `gantry --version` (every group
 * loads), `gantry validate --help` (one group) and `gantry up` until it prints its address (the
 * server). Both with Node's compile cache warm, as the launcher enables it. Medians of REPS: the
 * wall time to the end (the server: to the line with its address) and the process's CPU (user +
 * system: what waiting for it added to this process's children's times; the server's from its
 * /proc at that line).
 *
 * Run: `npm run bench:cli-start` (Env: REPS, default 9).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { CLOCK_TICKS_PER_SECOND, readStat } from '../src/platform/proc.ts';
import { benchMain, GANTRY_CLI, NODE, progress, REPO_ROOT, round, tempDir } from './lib.ts';

const REPS = Number(process.env.REPS ?? 9);
const SOURCES = join(REPO_ROOT, 'src', 'cli', 'main.ts');
/** `gantry up` prints its address once it listens. */
const READY = /http:\/\/127\.0\.0\.1:\d+/;

interface Sample {
  wallMs: number;
  cpuMs: number;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

const ticksToMs = (ticks: number): number => (ticks * 1000) / CLOCK_TICKS_PER_SECOND;
/** CPU ms of the children this process has waited for. */
const childrenCpuMs = (): number => ticksToMs(readStat(process.pid)?.childrenCpuTicks ?? Number.NaN);

/**
 * Runs argv to its own end (never killed: Node writes its compile cache as it exits): wall ms,
 * and its CPU from what the wait for it added to this process's children's times.
 */
function runToEnd(argv: string[], env: NodeJS.ProcessEnv): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const cpuBefore = childrenCpuMs();
    const child = spawn(NODE, argv, { env, stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`${argv.join(' ')} exited ${code}`));
      resolve({ wallMs: performance.now() - started, cpuMs: childrenCpuMs() - cpuBefore });
    });
  });
}

/** Starts argv and samples its CPU when its output first matches `ready`, then stops it (SIGTERM: a graceful exit). */
function runUntil(argv: string[], env: NodeJS.ProcessEnv, ready: RegExp): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(NODE, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let sample: Sample | undefined;
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (sample || !ready.test(output) || child.pid === undefined) return;
      sample = { wallMs: performance.now() - started, cpuMs: ticksToMs(readStat(child.pid)?.cpuTicks ?? Number.NaN) };
      child.kill('SIGTERM');
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('error', reject);
    child.once('exit', () => (sample ? resolve(sample) : reject(new Error(`${argv.join(' ')} ended before it was ready:\n${output}`))));
  });
}

await benchMain('cli-start', 600_000, async () => {
  const env = { ...process.env, NODE_COMPILE_CACHE: join(await tempDir('gantry-bench-compile-cache-'), 'cache'), GANTRY_SANDBOX: 'off' };
  const dataDir = async () => tempDir('gantry-bench-cli-start-');
  const cases: Record<string, (cli: string) => Promise<Sample>> = {
    version: (cli) => runToEnd([cli, '--version'], env),
    validate_help: (cli) => runToEnd([cli, 'validate', '--help'], env),
    up: async (cli) => runUntil([cli, '--data', await dataDir(), 'up', '--port', '0'], env, READY),
  };
  const clis = { bundled: GANTRY_CLI, sources: SOURCES };
  const samples: Record<string, Record<string, Sample[]>> = {};
  const floor: Sample[] = [];
  // One unmeasured round fills the compile cache for both (written as each process exits).
  for (const run of Object.values(cases)) for (const cli of Object.values(clis)) await run(cli);
  for (let rep = 0; rep < REPS; rep++) {
    progress(`cli-start: round ${rep + 1} of ${REPS}`);
    floor.push(await runToEnd(['-e', '0'], env));
    for (const [name, run] of Object.entries(cases)) {
      const order = rep % 2 === 0 ? Object.entries(clis) : Object.entries(clis).reverse();
      for (const [kind, cli] of order) {
        samples[name] ??= {};
        samples[name][kind] ??= [];
        samples[name][kind].push(await run(cli));
      }
    }
  }
  const results: Record<string, unknown> = {};
  for (const [name, byKind] of Object.entries(samples)) {
    const bundled = byKind.bundled ?? [];
    const sources = byKind.sources ?? [];
    const wall = { bundled: median(bundled.map((s) => s.wallMs)), sources: median(sources.map((s) => s.wallMs)) };
    const cpu = { bundled: median(bundled.map((s) => s.cpuMs)), sources: median(sources.map((s) => s.cpuMs)) };
    results[name] = {
      wall_ms: { bundled: round(wall.bundled, 0), sources: round(wall.sources, 0) },
      cpu_ms: { bundled: round(cpu.bundled, 0), sources: round(cpu.sources, 0) },
      wall_ratio_bundled_to_sources: round(wall.bundled / wall.sources),
      cpu_ratio_bundled_to_sources: round(cpu.bundled / cpu.sources),
    };
  }
  return {
    reps: REPS,
    node_floor: { wall_ms: round(median(floor.map((s) => s.wallMs)), 0), cpu_ms: round(median(floor.map((s) => s.cpuMs)), 0) },
    ...results,
  };
});
