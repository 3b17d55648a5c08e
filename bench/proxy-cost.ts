/**
 * Proxy cost (issue 3 §5): requests/s and latency through Gantry's TrafficProxy against HAProxy
 * with the same 90/10 split to the same two backends, like /work/shared/bench/peers/proxy-baseline.sh:
 * system under test (proxy + backends) pinned to CPU 0, the load generator to CPU 1.
 *
 * 1. Throughput: `wrk -t1 -c50 -d<DUR>s` (after a 1 s warm-up) against the backend directly,
 *    HAProxy, Gantry with metrics on and Gantry with metrics off, interleaved REPS times, with the
 *    proxy's CPU µs per request from /proc/<pid>/stat.
 * 2. Latency at half load: an open-loop paced client (this file, `load` mode, on CPU 1) at half of
 *    HAProxy's median req/s, latency measured from each request's scheduled send time (no
 *    coordinated omission), against direct / HAProxy / Gantry; "added p99" = proxy p99 − direct p99.
 *
 * Backends: two nginx `return 200` servers when nginx is installed, else one node:http process
 * on two ports (as the peers' script's node backend). Prints one JSON object; progress on stderr.
 * Bounded: every run has a timeout, the whole benchmark a deadline (DEADLINE_MS), and every
 * process started here is stopped by PID (TERM, then KILL) on exit, error, deadline or Ctrl-C.
 *
 * Env: DUR [5] s per wrk run, REPS [3], CONNS [50], HALF_SECONDS [5], PIN [1],
 *      BENCH_CPU_PROF=<dir> (the Gantry proxy writes a V8 CPU profile there).
 * Child modes (used by the benchmark itself): `serve-proxy`, `serve-backend`, `load`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TrafficProxy } from '../src/proxy/index.ts';
import {
  answers,
  cpuTicks,
  freePorts,
  HOST,
  pacedLoad,
  progress,
  round,
  serveBackends,
  TICKS_PER_SECOND,
  wrkRunner,
  writeHaproxyConfig,
} from './proxy-lib.ts';

const SELF = fileURLToPath(import.meta.url);
const mode = process.argv[2];

// ------------------------------------------------------------------ child modes

if (mode === 'serve-backend') {
  serveBackends(Number(process.argv[3]), Number(process.argv[4]));
} else if (mode === 'serve-proxy') {
  const [port, metrics, a, b] = process.argv.slice(3).map(Number) as [number, number, number, number];
  const proxy = new TrafficProxy({ environment: 'bench', port, metrics: metrics === 1 });
  proxy.setRoutes({
    upstreams: [
      { id: 'a', host: HOST, port: a, pool: 'stable', version: 'v1' },
      { id: 'b', host: HOST, port: b, pool: 'canary', version: 'v2' },
    ],
    weights: { stable: 90, canary: 10 },
    match: [],
  });
  await proxy.listen();
  process.on('SIGTERM', () => void proxy.close().then(() => process.exit(0)));
  process.stdout.write('READY\n');
} else if (mode === 'load') {
  const [port, rate, seconds, conns] = process.argv.slice(3).map(Number) as [number, number, number, number];
  process.stdout.write(`${JSON.stringify(await pacedLoad(port, rate, seconds, conns))}\n`);
  process.exit(0);
} else {
  await main();
}

// ------------------------------------------------------------------ the benchmark

interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
}

async function main(): Promise<void> {
  const DUR = Number(process.env.DUR ?? 5);
  const REPS = Number(process.env.REPS ?? 3);
  const CONNS = Number(process.env.CONNS ?? 50);
  const HALF_SECONDS = Number(process.env.HALF_SECONDS ?? 5);
  const PIN = process.env.PIN !== '0';
  const DEADLINE_MS = Number(process.env.DEADLINE_MS ?? 240_000);
  const procs: Proc[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'gantry-bench-proxy-'));
  const sut = (argv: string[]): string[] => (PIN ? ['taskset', '-c', '0', ...argv] : argv);
  const gen = (argv: string[]): string[] => (PIN ? ['taskset', '-c', '1', ...argv] : argv);

  const stopAll = async (): Promise<void> => {
    for (const p of procs.splice(0).reverse()) {
      if (p.child.exitCode !== null || p.child.signalCode !== null) continue;
      const gone = new Promise<void>((r) => p.child.once('exit', () => r()));
      try {
        process.kill(p.pid, 'SIGTERM');
      } catch {
        /* gone */
      }
      const t = setTimeout(() => {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }, 3000);
      await gone;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  let aborted = false;
  const abort = (why: string): void => {
    if (aborted) return;
    aborted = true;
    progress(`${why}; stopping`);
    void stopAll().then(() => process.exit(1));
  };
  const deadline = setTimeout(() => abort(`deadline of ${DEADLINE_MS} ms passed`), DEADLINE_MS);
  process.once('SIGINT', () => abort('interrupted'));
  process.once('SIGTERM', () => abort('terminated'));

  /** Starts a long-running process and waits until `ready()` says so (bounded). */
  const start = async (
    name: string,
    argv: string[],
    ready: () => Promise<boolean>,
    env: NodeJS.ProcessEnv = process.env,
  ): Promise<Proc> => {
    const [cmd, ...args] = argv as [string, ...string[]];
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let log = '';
    child.stdout?.on('data', (d: Buffer) => {
      log = (log + d.toString()).slice(-2000);
    });
    child.stderr?.on('data', (d: Buffer) => {
      log = (log + d.toString()).slice(-2000);
    });
    if (child.pid === undefined) throw new Error(`${name} did not start`);
    const p = { name, child, pid: child.pid };
    procs.push(p);
    const until = performance.now() + 10_000;
    while (!(await ready())) {
      if (child.exitCode !== null) throw new Error(`${name} exited: ${log}`);
      if (performance.now() > until) throw new Error(`${name} not ready within 10 s: ${log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return p;
  };
  const TCK = TICKS_PER_SECOND;

  try {
    const ports = await freePorts(7);
    const [pa, pb, pHa, pOn, pOff] = ports as [number, number, number, number, number];
    let backendKind: string;
    let backend: Proc;
    const hasNginx = spawnSync('sh', ['-c', 'command -v nginx']).status === 0;
    if (hasNginx) {
      backendKind = 'nginx (one worker, return 200)';
      writeFileSync(
        join(dir, 'nginx.conf'),
        `worker_processes 1;\ndaemon off;\npid ${dir}/nginx.pid;\nerror_log ${dir}/nginx-error.log warn;\nevents { worker_connections 4096; }\nhttp {\n  access_log off;\n  keepalive_requests 1000000;\n  keepalive_timeout 65s;\n  default_type text/plain;\n  server { listen ${HOST}:${pa}; location / { return 200 "A ok\\n"; } }\n  server { listen ${HOST}:${pb}; location / { return 200 "B ok\\n"; } }\n}\n`,
      );
      backend = await start(
        'nginx-backend',
        sut(['nginx', '-p', dir, '-e', `${dir}/nginx-error.log`, '-c', join(dir, 'nginx.conf')]),
        async () => (await answers(pa)) && answers(pb),
      );
    } else {
      backendKind = 'node:http (one process, two ports; nginx is not installed)';
      backend = await start(
        'node-backend',
        sut([process.execPath, SELF, 'serve-backend', String(pa), String(pb)]),
        async () => (await answers(pa)) && answers(pb),
      );
    }
    const haproxy = await start('haproxy', sut(['haproxy', '-db', '-f', writeHaproxyConfig(dir, pHa, pa, pb)]), () => answers(pHa));
    const profDir = process.env.BENCH_CPU_PROF;
    const nodeArgs = profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [];
    const gOn = await start(
      'gantry-metrics-on',
      sut([process.execPath, ...nodeArgs, SELF, 'serve-proxy', String(pOn), '1', String(pa), String(pb)]),
      () => answers(pOn),
    );
    const gOff = await start(
      'gantry-metrics-off',
      sut([process.execPath, SELF, 'serve-proxy', String(pOff), '0', String(pa), String(pb)]),
      () => answers(pOff),
    );

    const wrk = wrkRunner(dir, CONNS, gen);

    const paths = [
      { label: 'direct', port: pa, proc: null as Proc | null },
      { label: 'haproxy', port: pHa, proc: haproxy },
      { label: 'gantry_metrics_on', port: pOn, proc: gOn },
      { label: 'gantry_metrics_off', port: pOff, proc: gOff },
    ];
    const runs: Record<string, { rps: number[]; p50: number[]; p99: number[]; cpu_us: number[]; errors: number }> = {};
    for (let rep = 1; rep <= REPS; rep++) {
      for (const p of paths) {
        await wrk(p.port, 1); // warm-up: JIT, connection pools
        const c0 = p.proc ? cpuTicks(p.proc.pid) : 0;
        const b0 = cpuTicks(backend.pid);
        const r = await wrk(p.port, DUR);
        const c1 = p.proc ? cpuTicks(p.proc.pid) : 0;
        const b1 = cpuTicks(backend.pid);
        const e = (runs[p.label] ??= { rps: [], p50: [], p99: [], cpu_us: [], errors: 0 });
        e.rps.push(r.rps);
        e.p50.push(r.p50);
        e.p99.push(r.p99);
        e.errors += r.errors;
        e.cpu_us.push(p.proc ? (((c1 - c0) / TCK) * 1e6) / r.n : (((b1 - b0) / TCK) * 1e6) / r.n);
        progress(
          `rep ${rep} ${p.label}: ${Math.round(r.rps)} req/s p50 ${r.p50} ms p99 ${r.p99} ms, ${p.proc ? 'proxy' : 'backend'} CPU ${round(e.cpu_us.at(-1) ?? 0, 1)} µs/req, errors ${r.errors}`,
        );
      }
    }
    const med = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor((a.length - 1) / 2)] as number;
    const summary = Object.fromEntries(
      Object.entries(runs).map(([k, v]) => [
        k,
        {
          rps: Math.round(med(v.rps)),
          rps_min: Math.round(Math.min(...v.rps)),
          rps_max: Math.round(Math.max(...v.rps)),
          p50_ms: med(v.p50),
          p99_ms: med(v.p99),
          cpu_us_per_req: round(med(v.cpu_us), 1),
          errors: v.errors,
        },
      ]),
    );
    const haRps = summary.haproxy?.rps ?? 0;
    const halfRate = Math.round(haRps / 2);
    progress(`half load: ${halfRate} req/s paced, ${HALF_SECONDS} s per path`);
    const half: Record<string, Record<string, number>> = {};
    for (const p of paths.slice(0, 3)) {
      const [cmd, ...args] = gen([process.execPath, SELF, 'load', String(p.port), String(halfRate), String(HALF_SECONDS), '64']) as [
        string,
        ...string[],
      ];
      const r = spawnSync(cmd, args, { timeout: (HALF_SECONDS + 30) * 1000 });
      const out = r.stdout?.toString().trim() ?? '';
      if (r.status !== 0 || out === '') throw new Error(`paced load failed: ${r.stderr?.toString()}`);
      half[p.label] = JSON.parse(out) as Record<string, number>;
      progress(`half load ${p.label}: ${JSON.stringify(half[p.label])}`);
    }
    const gantry = summary.gantry_metrics_on;
    const off = summary.gantry_metrics_off;
    const result = {
      bench: 'proxy-cost',
      setup: {
        backend: backendKind,
        split: '90/10',
        wrk: `wrk -t1 -c${CONNS} -d${DUR}s, 1 s warm-up, ${REPS} interleaved reps, median (min-max)`,
        pinning: PIN ? 'proxy + backend on CPU 0, load generator on CPU 1' : 'none',
      },
      throughput: summary,
      ratio_gantry_to_haproxy_rps: gantry && haRps ? round(gantry.rps / haRps, 2) : null,
      target_ratio: 0.5,
      metrics_cost:
        gantry && off
          ? {
              rps_on: gantry.rps,
              rps_off: off.rps,
              rps_change_pct: round((gantry.rps / off.rps - 1) * 100, 1),
              cpu_us_on: gantry.cpu_us_per_req,
              cpu_us_off: off.cpu_us_per_req,
            }
          : null,
      half_load: {
        rate: halfRate,
        seconds: HALF_SECONDS,
        connections: 64,
        per_path: half,
        added_p99_ms_gantry_vs_direct: round((half.gantry_metrics_on?.p99_ms ?? 0) - (half.direct?.p99_ms ?? 0), 3),
        added_p99_ms_haproxy_vs_direct: round((half.haproxy?.p99_ms ?? 0) - (half.direct?.p99_ms ?? 0), 3),
        target_added_p99_ms: 2,
      },
      machine: { cores: cpus().length, node: process.version, loadavg_1m_at_end: round(loadavg()[0] ?? 0, 2) },
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    clearTimeout(deadline);
    if (!aborted) await stopAll();
  }
}
