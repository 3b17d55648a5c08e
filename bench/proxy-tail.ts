/**
 * Proxy tail (issue "Hardening" §4): the latency Gantry's proxy process adds at the tail, against
 * HAProxy in the same run, with the same 90/10 split to the same two backends.
 *
 * 1. Maximum rate of each path (direct to a backend, HAProxy, Gantry): `wrk -t1 -c50` (closed
 *    loop), REPS interleaved runs after a warm-up, median.
 * 2. Open loop (latency from each request's scheduled time, wrk2-style) at half of HAProxy's
 *    maximum and at ~70 % of Gantry's own, each path in turn at the same offered rate: added p50 /
 *    p99 / p99.9 over direct, the longest stall (time during which requests were due and none was
 *    answered), throughput, each proxy's CPU per request (user + system, from /proc: far less
 *    sensitive to a shared machine than latency) and its upstream connections (mid-run, `ss`).
 *    Many short rounds per level (OPEN_REPS, OPEN_REPS_70), every path once a round in a random
 *    order: one machine stall lands in one path's round, and the headline ratio is of the medians
 *    over rounds of each round's added p99, which such a stall cannot decide. Beside it each path's
 *    p99 pooled over its rounds, and its episodes of requests ≥ 20 ms late per minute, with those
 *    no stall probe saw (a 1 ms sleeper per core, late only when the machine took its core).
 *    Each run first sends WARM_SECONDS of the same load on the same connections, unmeasured, for
 *    every path alike: the figures are each proxy's steady state, not its first second (Gantry
 *    closes upstream connections idle for 2 s, HAProxy keeps them, so the gap between two runs
 *    would otherwise cost Gantry alone a round of reconnections).
 * 3. Where the time went, per run: each core's busy share split into the system under test, the
 *    generator and everyone else (`foreign`, from /proc/stat: on a shared machine the neighbours'
 *    share decides the latencies more than either proxy), and for Gantry its own GC pauses,
 *    event-loop delay and utilization and the upstream connections it opened (`GET /runtime`).
 *
 * Gantry runs as in production: the proxy process (`src/proxy/proxy-host.ts`) steered over its
 * control socket by a `ProxyClient`, which meanwhile plays the server's part — the analysis' two
 * `window` reads every second over the last five minutes, and the roll-ups read and acknowledged
 * every ten seconds. System under test (proxy + backends) pinned to CPU 0, load generator to CPU 1.
 *
 * Prints one JSON object; progress on stderr. Bounded: a deadline (DEADLINE_MS, default 300 s) and
 * every process started here stopped by PID on exit, error, deadline or Ctrl-C.
 * Env: REPS [2] wrk runs per path, WRK_SECONDS [3], SECONDS [2.5] per open-loop run, OPEN_REPS [7]
 * rounds at half of HAProxy's max, OPEN_REPS_70 [3] at 70 % of Gantry's, SEED (the rounds' order),
 * PROBE_MS [5] (a probe wake-up this late is a stall), CONNS [64] open-loop connections,
 * WARM_SECONDS [0.8] unmeasured load before each open-loop run, RUNTIME [1] (0: do not read the Gantry process's pauses), FLOOR [1] (0: without the minimal Node proxy), RT [0] (1: SCHED_FIFO, see below), PIN [1], NODE_FLAGS (extra flags for the proxy process, e.g.
 * `--cpu-prof --cpu-prof-dir=/tmp/prof` or `--trace-gc`), PROXY_LOG (a file that keeps the proxy
 * process's output, e.g. what --trace-gc prints; by default it goes with the temp dir), RATE (no
 * maximum rates: one open-loop level at this rate, to compare variants quickly), TRACE_CONTROL=1
 * (the control plane's reads on stderr with their epoch ms, to set beside each run's `slow` episodes).
 * Each run also reports when its slowest 1 % were due (`slow`: stalls or spread) and the proxy's
 * context switches per request (`switches_per_req`).
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUCKETS, quantileUs } from '../src/proxy/latency-histogram.ts';
import type { ProxyClient, RuntimeReport } from '../src/proxy/index.ts';
import {
  answers,
  contextSwitches,
  coreBusyTicks,
  cpuTicks,
  freePorts,
  HOST,
  type LateEpisode,
  LATE_MS,
  machineCounters,
  pacedLoad,
  ProcessSet,
  progress,
  round,
  runAsync,
  serveBackends,
  stallProbe,
  TICKS_PER_SECOND,
  wrkRunner,
  writeHaproxyConfig,
  type PacedResult,
} from './proxy-lib.ts';

const SELF = fileURLToPath(import.meta.url);
const PROXY_HOST = fileURLToPath(new URL('../src/proxy/proxy-host-main.ts', import.meta.url));
const FLOOR = fileURLToPath(new URL('./proxy-floor.ts', import.meta.url));
const mode = process.argv[2];

if (mode === 'serve-backend') {
  serveBackends(Number(process.argv[3]), Number(process.argv[4]));
} else if (mode === 'probe') {
  stallProbe(Number(process.argv[3]));
} else if (mode === 'load') {
  const [port, rate, seconds, conns, warm] = process.argv.slice(3).map(Number) as [number, number, number, number, number];
  process.stdout.write(`${JSON.stringify(await pacedLoad(port, rate, seconds, conns, warm))}\n`);
  process.exit(0);
} else {
  await main();
}

async function main(): Promise<void> {
  // Imported here, not at the top: the generator and the probe start from this file once per run.
  const { PROXY_FILES, PROXY_NODE_FLAGS, ProxyClient, proxyDir } = await import('../src/proxy/index.ts');
  const REPS = Number(process.env.REPS ?? 2);
  const WRK_SECONDS = Number(process.env.WRK_SECONDS ?? 3);
  const SECONDS = Number(process.env.SECONDS ?? 2.5);
  const OPEN_REPS = Number(process.env.OPEN_REPS ?? 7);
  const OPEN_REPS_70 = Number(process.env.OPEN_REPS_70 ?? 3);
  const PROBE_MS = Number(process.env.PROBE_MS ?? 5);
  const SEED = Number(process.env.SEED ?? Date.now() % 100_000);
  const CONNS = Number(process.env.CONNS ?? 64);
  const WARM_SECONDS = Number(process.env.WARM_SECONDS ?? 0.8);
  // RUNTIME=0: do not watch the Gantry process's pauses (to check that watching them costs nothing).
  const RUNTIME = process.env.RUNTIME !== '0';
  // FLOOR=0: leave out the minimal Node proxy (proxy-floor.ts), Node's own floor.
  const WITH_FLOOR = process.env.FLOOR !== '0';
  const PIN = process.env.PIN !== '0';
  const NODE_FLAGS = (process.env.NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const procs = new ProcessSet(Number(process.env.DEADLINE_MS ?? 300_000));
  const dir = mkdtempSync(join(tmpdir(), 'gantry-bench-tail-'));
  procs.onStop(() => rmSync(dir, { recursive: true, force: true }));
  // RT=1 (a loaded machine only): the system under test is SCHED_FIFO, so other users' work waits
  // instead of the proxies and backends. Node's background threads are then turned off (--single-threaded): a
  // main thread spinning on a GC helper pinned to its own core at the same FIFO priority never lets
  // the helper run (seen: a backend stuck at 95 % CPU). Figures then compare the code, not quiet-machine latency.
  const RT = process.env.RT === '1';
  const rt = (argv: string[]): string[] => (RT ? ['chrt', '-f', '10', ...argv] : argv);
  const NODE_RT = RT ? ['--single-threaded-gc'] : [];
  const sut = (argv: string[]): string[] => rt(PIN ? ['taskset', '-c', '0', ...argv] : argv);
  // The generator spins (it sends each request when due): under FIFO the kernel's RT throttling
  // would stop it for 50 ms every second, so it stays in the normal class (run the benchmark in a
  // high-priority session for it, see bench/README.md).
  const gen = (argv: string[]): string[] => (PIN ? ['taskset', '-c', '1', ...argv] : argv);
  let client: ProxyClient | null = null;
  let poller: NodeJS.Timeout | null = null;

  try {
    const [pa, pb, pHa, pG, pF] = (await freePorts(5)) as [number, number, number, number, number];
    const backends = await procs.start(
      'backends',
      sut([process.execPath, ...NODE_RT, SELF, 'serve-backend', String(pa), String(pb)]),
      async () => (await answers(pa)) && answers(pb),
    );
    const haproxy = await procs.start('haproxy', sut(['haproxy', '-db', '-f', writeHaproxyConfig(dir, pHa, pa, pb)]), () => answers(pHa));
    // The same Node flags as Gantry's proxy process: what differs between the two is the code.
    const floor = WITH_FLOOR
      ? await procs.start(
          'node floor',
          sut([process.execPath, ...PROXY_NODE_FLAGS, ...NODE_RT, ...NODE_FLAGS, FLOOR, String(pF), String(pa), String(pb)]),
          () => answers(pF),
        )
      : null;

    // One stall probe per core, above everything else (FIFO 50 where chrt is allowed): what makes it
    // late took the core from the whole machine, whichever path was being measured.
    const probes = await Promise.all([0, 1].map((cpu) => startProbe(procs, cpu, PROBE_MS)));
    // The proxy process is started here (pinned, with the flags ProxyClient gives it, and NODE_FLAGS) and adopted by a ProxyClient, as a restarted server adopts it.
    const dataDir = join(dir, 'data');
    const key = 'bench:tail';
    const hostDir = proxyDir(dataDir, key);
    mkdirSync(hostDir, { recursive: true, mode: 0o700 });
    const log = openSync(process.env.PROXY_LOG ?? join(hostDir, PROXY_FILES.log), 'a');
    const argv = sut([
      process.execPath,
      ...PROXY_NODE_FLAGS,
      ...NODE_RT,
      ...NODE_FLAGS,
      PROXY_HOST,
      '--dir',
      hostDir,
      '--key',
      key,
      '--label',
      'bench/tail',
      '--host',
      HOST,
      '--port',
      String(pG),
    ]);
    const child = spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', log, log], cwd: hostDir });
    closeSync(log);
    procs.onStop(() => {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    });
    // Adopted only once it wrote host.json: earlier, ProxyClient.start would spawn a second one.
    const hostFile = join(hostDir, PROXY_FILES.host);
    const until = performance.now() + 10_000;
    while (!existsSync(hostFile)) {
      if (child.exitCode !== null || performance.now() > until) throw new Error('the proxy process did not start; see its host.log');
      await new Promise((r) => setTimeout(r, 50));
    }
    client = await ProxyClient.start({ dataDir, environmentKey: key, label: 'bench/tail', host: HOST, port: pG, watch: false });
    const gantryPid = client.pid;
    // Under FIFO, Node's helper threads (JIT compilers, the platform's workers) would hold the core
    // as long as they run, against the main threads at the same priority: they go back to the
    // normal class and run when the main threads wait.
    if (RT) for (const pid of [backends.pid, gantryPid, ...(floor === null ? [] : [floor.pid])]) helpersToNormalClass(pid);
    if (gantryPid !== child.pid) throw new Error('adopted a proxy process this benchmark did not start');
    await client.setRoutes({
      upstreams: [
        { id: 'a', host: HOST, port: pa, pool: 'stable', version: 'v1' },
        { id: 'b', host: HOST, port: pb, pool: 'canary', version: 'v2' },
      ],
      weights: { stable: 90, canary: 10 },
      match: [],
    });
    const server = serverSide(client);
    poller = server.timer;
    // Starts the proxy process's pause watch (GC, event loop): each Gantry run below reads its own.
    if (RUNTIME) await client.runtime(true);
    const gantryClient = client;
    const backendsPid = backends.pid;

    const wrk = wrkRunner(dir, 50, gen);
    const paths = [
      { label: 'direct', port: pa, pid: 0 },
      { label: 'haproxy', port: pHa, pid: haproxy.pid },
      { label: 'gantry', port: pG, pid: gantryPid },
      ...(floor === null ? [] : [{ label: 'node_floor', port: pF, pid: floor.pid }]),
    ];
    const sutTicks = (): number =>
      cpuTicks(backendsPid) + cpuTicks(haproxy.pid) + cpuTicks(gantryPid) + (floor === null ? 0 : cpuTicks(floor.pid));
    const max: Record<string, { rps: number[]; cpu_us: number[] }> = {};
    // RATE=n: no maximum rates, one open-loop level at n req/s (for comparing variants quickly).
    const FIXED_RATE = Number(process.env.RATE ?? 0);
    for (let rep = 1; rep <= (FIXED_RATE > 0 ? 0 : REPS); rep++) {
      for (const p of paths) {
        await wrk(p.port, 1);
        const c0 = p.pid ? cpuTicks(p.pid) : 0;
        const r = await wrk(p.port, WRK_SECONDS);
        const c1 = p.pid ? cpuTicks(p.pid) : 0;
        const e = (max[p.label] ??= { rps: [], cpu_us: [] });
        e.rps.push(r.rps);
        e.cpu_us.push((((c1 - c0) / TICKS_PER_SECOND) * 1e6) / r.n);
        progress(`max rate, rep ${rep} ${p.label}: ${Math.round(r.rps)} req/s (wrk p99 ${r.p99} ms, errors ${r.errors})`);
      }
    }
    const med = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor((a.length - 1) / 2)] as number;
    const maxRps = (label: string): number => Math.round(med(max[label]?.rps ?? [0]));

    const levels =
      FIXED_RATE > 0
        ? [{ name: 'fixed', rate: FIXED_RATE }]
        : [
            { name: 'half_haproxy_max', rate: Math.round(maxRps('haproxy') / 2) },
            { name: 'gantry_70pct_of_own_max', rate: Math.round(maxRps('gantry') * 0.7) },
          ];
    const open: Record<string, { rate: number } & ReturnType<typeof compare>> = {};
    const rng = lcg(SEED);
    const byLabel = new Map(paths.map((p) => [p.label, p]));
    for (const level of levels) {
      const rounds: Record<string, OpenRun>[] = [];
      const nRounds = level.name === 'gantry_70pct_of_own_max' ? OPEN_REPS_70 : OPEN_REPS;
      for (let rep = 1; rep <= nRounds; rep++) {
        // Every path once a round, in a fresh random order: a machine stall lands on whichever
        // path was running, and a drift over the round favours none.
        const order = shuffle([...byLabel.keys()], rng);
        const runs: Record<string, OpenRun> = {};
        for (const label of order) {
          const p = byLabel.get(label) as (typeof paths)[number];
          const c0 = p.pid ? cpuTicks(p.pid) : 0;
          const cs0 = contextSwitches(p.pid || backendsPid);
          const sut0 = sutTicks();
          const cores0 = coreBusyTicks();
          const wall0 = performance.now();
          const machine0 = machineCounters();
          const runtime0 = label === 'gantry' && RUNTIME ? await gantryClient.runtime(true) : null;
          const argv = gen([
            process.execPath,
            ...NODE_RT,
            SELF,
            'load',
            String(p.port),
            String(level.rate),
            String(SECONDS),
            String(CONNS),
            String(WARM_SECONDS),
          ]);
          let conns: number | null = null;
          const sample = setTimeout(
            () => {
              conns = upstreamConnections(pa, pb);
            },
            (SECONDS * 1000) / 2,
          );
          const r = await runAsync(argv, (SECONDS + 30) * 1000);
          clearTimeout(sample);
          const out = r.stdout.trim();
          if (r.status !== 0 || out === '') throw new Error(`open-loop load failed: ${r.stderr}`);
          const paced = JSON.parse(out) as PacedResult;
          // The proxy's CPU over the warm-up and the measured run, per request of both.
          const requests = Math.max(paced.done, 1) * (1 + WARM_SECONDS / SECONDS);
          const cpuUs = p.pid ? round((((cpuTicks(p.pid) - c0) / TICKS_PER_SECOND) * 1e6) / requests, 1) : null;
          // The proxy's (for direct: the backends') context switches per request, warm-up included.
          const cs1 = contextSwitches(p.pid || backendsPid);
          const switches = {
            voluntary: round((cs1.voluntary - cs0.voluntary) / requests, 3),
            involuntary: round((cs1.involuntary - cs0.involuntary) / requests, 3),
          };
          const cpu = whereCpuWent(cores0, coreBusyTicks(), sut0, sutTicks(), paced, wall0, PIN);
          const runtime = runtime0 !== null ? gantryRuntime(await gantryClient.runtime(false), runtime0, requests) : null;
          runs[label] = {
            ...paced,
            cpu_us_per_req: cpuUs,
            switches_per_req: switches,
            upstream_connections: p.pid ? conns : null,
            cpu,
            gantry_runtime: runtime,
            machine: machineDuring(paced, SECONDS, probes, machine0, machineCounters(), wall0),
          };
          progress(
            `${level.name} (${level.rate} req/s) round ${rep} ${label}: ${JSON.stringify({ ...paced, hist: undefined, late_episodes: paced.late_episodes.length })} machine ${JSON.stringify(runs[label].machine)}${cpuUs === null ? '' : ` cpu ${cpuUs} µs/req, upstream conns ${conns}`} switches ${JSON.stringify(switches)} cores ${JSON.stringify(cpu)}${runtime === null ? '' : ` gantry ${JSON.stringify(runtime)}`}`,
          );
        }
        rounds.push(runs);
      }
      open[level.name] = { rate: level.rate, ...compare(rounds, SECONDS) };
    }
    const half = (open.half_haproxy_max ?? open.fixed) as ReturnType<typeof compare>;
    const at70 = (open.gantry_70pct_of_own_max ?? open.fixed) as ReturnType<typeof compare>;
    const result = {
      bench: 'proxy-tail',
      setup: {
        backend: 'node:http (one process, two ports)',
        split: '90/10',
        gantry: 'proxy process (proxy-host.ts), adopted by a ProxyClient reading window ×2 each second and roll-ups each 10 s',
        max_rate: `wrk -t1 -c50 -d${WRK_SECONDS}s after 1 s warm-up, ${REPS} interleaved reps, median`,
        open_loop: `${WARM_SECONDS} s unmeasured warm-up then ${SECONDS} s measured per path (same connections), ${OPEN_REPS} rounds at half of HAProxy's max and ${OPEN_REPS_70} at 70 % of Gantry's, every path once a round in a random order (seed ${SEED}), ${CONNS} keep-alive connections, latency from each request's scheduled time; added latencies are medians over rounds of each round's path − direct`,
        stall_probe: `one per core, ${probes[0]?.scheduling}, 1 ms sleeps, wake-ups ≥ ${PROBE_MS} ms late recorded; late episodes: requests ≥ ${LATE_MS} ms late`,
        seed: SEED,
        pinning: PIN ? 'proxies + backends on CPU 0, load generator on CPU 1' : 'none',
        scheduling: RT ? 'system under test SCHED_FIFO 10 (chrt; Node helper threads SCHED_OTHER, GC single-threaded)' : 'default',
        node_flags: [...PROXY_NODE_FLAGS, ...NODE_RT, ...NODE_FLAGS].join(' '),
      },
      max_rate: Object.fromEntries(
        Object.entries(max).map(([k, v]) => [
          k,
          { rps: Math.round(med(v.rps)), runs: v.rps.map(Math.round), cpu_us_per_req: round(med(v.cpu_us), 1) },
        ]),
      ),
      ratio_gantry_to_haproxy_rps: round(maxRps('gantry') / maxRps('haproxy'), 2),
      target_ratio_rps: 0.5,
      open_loop: open,
      ratio_added_p99_gantry_to_haproxy_at_70pct: at70.ratio_added_p99,
      ratio_added_p99_gantry_to_haproxy_at_half: half.ratio_added_p99,
      ratio_cpu_per_req_gantry_to_haproxy_at_70pct: at70.ratio_cpu_per_req,
      target_ratio_added_p99: 2,
      control_plane: { window_reads: server.stats.windows, rollups_read: server.stats.rollups, failures: server.stats.failures },
      machine: { cores: cpus().length, node: process.version, loadavg_1m_at_end: round(loadavg()[0] ?? 0, 2) },
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    if (poller !== null) clearInterval(poller);
    if (!procs.aborted) {
      await client?.close().catch(() => undefined);
      await procs.stopAll();
    }
  }
}

/** One open-loop run of a path, with the proxy's CPU per request, its upstream connections and where the CPU went. */
type OpenRun = PacedResult & {
  cpu_us_per_req: number | null;
  switches_per_req: { voluntary: number; involuntary: number };
  upstream_connections: number | null;
  cpu: CpuShares;
  gantry_runtime: GantryRuntime | null;
  machine: MachineDuring;
};

/** What the machine did to everyone while a run was measured (see `machineDuring`). */
interface MachineDuring {
  /** Stall probe wake-ups at least PROBE_MS late on each core (count, longest ms, their epoch ms and lengths). */
  probe_cpu0: { stalls: number; max_ms: number };
  probe_cpu1: { stalls: number; max_ms: number };
  /** The probes' stalls in the window, [epoch ms, ms late, core]. */
  stalls: [number, number, number][];
  /** Hypervisor steal on each core, % of the wall time (warm-up included). */
  steal_cpu0_pct: number;
  steal_cpu1_pct: number;
  /** Time some task on the machine waited for a CPU (/proc/pressure/cpu), % of the wall time. */
  psi_cpu_some_pct: number;
}

/** A running stall probe: its late wake-ups so far as [epoch ms, ms late]. */
interface Probe {
  cpu: number;
  stalls: [number, number][];
  scheduling: string;
}

/** Starts the stall probe on `cpu` (see `stallProbe` in proxy-lib.ts), FIFO 50 if allowed. */
async function startProbe(procs: ProcessSet, cpu: number, thresholdMs: number): Promise<Probe> {
  const fifo = spawnSync('chrt', ['-f', '50', 'true']).status === 0;
  const argv = ['taskset', '-c', String(cpu), ...(fifo ? ['chrt', '-f', '50'] : []), process.execPath, SELF, 'probe', String(thresholdMs)];
  const probe: Probe = { cpu, stalls: [], scheduling: fifo ? 'SCHED_FIFO 50' : 'default' };
  let ready = false;
  let rest = '';
  const onData = (d: Buffer): void => {
    const lines = (rest + d.toString()).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      if (line === 'READY') ready = true;
      const m = /^(\d+) (\S+)$/.exec(line);
      if (m) probe.stalls.push([Number(m[1]), Number(m[2])]);
    }
  };
  await procs.start(`stall probe ${cpu}`, argv, async () => ready, onData);
  return probe;
}

/** The probes' stalls and the machine counters over one run's measured window. */
function machineDuring(
  paced: PacedResult,
  seconds: number,
  probes: Probe[],
  before: ReturnType<typeof machineCounters>,
  after: ReturnType<typeof machineCounters>,
  wall0: number,
): MachineDuring {
  const from = paced.epoch_t0_ms - 100;
  const to = paced.epoch_t0_ms + seconds * 1000;
  const stalls: [number, number, number][] = [];
  for (const p of probes) for (const [at, ms] of p.stalls) if (at + ms >= from && at <= to) stalls.push([at, ms, p.cpu]);
  const on = (cpu: number) => {
    const mine = stalls.filter((x) => x[2] === cpu);
    return { stalls: mine.length, max_ms: round(Math.max(0, ...mine.map((x) => x[1])), 1) };
  };
  const wallTicks = ((performance.now() - wall0) / 1000) * TICKS_PER_SECOND;
  const steal = (cpu: number): number => round((100 * ((after.steal[cpu] ?? 0) - (before.steal[cpu] ?? 0))) / Math.max(wallTicks, 1), 1);
  return {
    probe_cpu0: on(0),
    probe_cpu1: on(1),
    stalls,
    steal_cpu0_pct: steal(0),
    steal_cpu1_pct: steal(1),
    psi_cpu_some_pct: round(((after.psiSomeUs - before.psiSomeUs) / 1000 / (performance.now() - wall0)) * 100, 1),
  };
}

/** A small seeded generator (the run's order is reproducible from its `seed`). */
function lcg(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 2 ** 32;
  };
}

function shuffle<T>(a: T[], rnd: () => number): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [a[i], a[j]] = [a[j] as T, a[i] as T];
  }
  return a;
}

/**
 * Where each core's time went during a run (warm-up included), in % of the core: the system under
 * test (backends + both proxies, pinned to CPU 0), the generator (pinned to CPU 1), and everything
 * else on the machine (`foreign_*`: other users' work competing for the same cores).
 */
interface CpuShares {
  cpu0_busy_pct: number;
  cpu0_sut_pct: number;
  cpu0_foreign_pct: number;
  cpu1_busy_pct: number;
  cpu1_generator_pct: number;
  cpu1_foreign_pct: number;
}

function whereCpuWent(
  before: number[],
  after: number[],
  sut0: number,
  sut1: number,
  paced: PacedResult,
  wall0: number,
  pinned: boolean,
): CpuShares {
  const wallTicks = ((performance.now() - wall0) / 1000) * TICKS_PER_SECOND;
  const pct = (ticks: number): number => round((100 * ticks) / Math.max(wallTicks, 1), 1);
  const busy0 = (after[0] ?? 0) - (before[0] ?? 0);
  const busy1 = (after[1] ?? 0) - (before[1] ?? 0);
  const sut = sut1 - sut0;
  const generator = (paced.generator_cpu_ms / 1000) * TICKS_PER_SECOND;
  // Unpinned, nothing says which core ran what: only the totals mean something.
  return {
    cpu0_busy_pct: pct(busy0),
    cpu0_sut_pct: pct(sut),
    cpu0_foreign_pct: pinned ? pct(Math.max(0, busy0 - sut)) : Number.NaN,
    cpu1_busy_pct: pct(busy1),
    cpu1_generator_pct: pct(generator),
    cpu1_foreign_pct: pinned ? pct(Math.max(0, busy1 - generator)) : Number.NaN,
  };
}

/** The Gantry proxy process's own pauses during one run (warm-up included), from its `GET /runtime`. */
interface GantryRuntime {
  gc_count: number;
  gc_per_10k_requests: number;
  gc_total_ms: number;
  gc_max_ms: number;
  loop_delay_p99_ms: number;
  loop_delay_max_ms: number;
  loop_utilization: number;
  upstream_connections_opened: number;
  /** Requests sent on an upstream connection still being opened, and the longest such wait (ms). */
  requests_waiting_for_connect: number;
  connect_wait_max_ms: number;
  /** Requests that waited for a full pool's connection. */
  requests_waiting_for_pool: number;
}

/** Medians over rounds of the Gantry process's pauses, and the worst GC pause and loop delay of any round. */
function summariseRuntime(runs: GantryRuntime[]) {
  const m = (k: keyof GantryRuntime): number => round(median(runs.map((r) => r[k])), 2);
  return {
    gc_per_10k_requests: m('gc_per_10k_requests'),
    gc_total_ms: m('gc_total_ms'),
    gc_max_ms: round(Math.max(...runs.map((r) => r.gc_max_ms)), 2),
    loop_delay_p99_ms: m('loop_delay_p99_ms'),
    loop_delay_max_ms: round(Math.max(...runs.map((r) => r.loop_delay_max_ms)), 2),
    loop_utilization: m('loop_utilization'),
    upstream_connections_opened: m('upstream_connections_opened'),
    requests_waiting_for_connect: m('requests_waiting_for_connect'),
    connect_wait_max_ms: round(Math.max(...runs.map((r) => r.connect_wait_max_ms)), 2),
    requests_waiting_for_pool: m('requests_waiting_for_pool'),
  };
}

function gantryRuntime(r: RuntimeReport, before: RuntimeReport, requests: number): GantryRuntime {
  return {
    gc_count: r.gc.count,
    gc_per_10k_requests: round((r.gc.count * 10_000) / Math.max(requests, 1), 2),
    gc_total_ms: r.gc.totalMs,
    gc_max_ms: r.gc.maxMs,
    loop_delay_p99_ms: r.eventLoop.delayP99Ms,
    loop_delay_max_ms: r.eventLoop.delayMaxMs,
    loop_utilization: r.eventLoop.utilization,
    upstream_connections_opened: r.upstreamConnectionsOpened - before.upstreamConnectionsOpened,
    // A proxy process older than this benchmark reports no waits.
    requests_waiting_for_connect: (r.upstreamWaits?.connect.count ?? 0) - (before.upstreamWaits?.connect.count ?? 0),
    connect_wait_max_ms: round(r.upstreamWaits?.connect.maxMs ?? 0, 2),
    requests_waiting_for_pool: (r.upstreamWaits?.pool.count ?? 0) - (before.upstreamWaits?.pool.count ?? 0),
  };
}

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/**
 * Each proxy's added latency over the direct path of the same round, as the median over rounds,
 * and Gantry's against HAProxy's.
 */
function compare(rounds: Record<string, OpenRun>[], seconds: number) {
  const added = (label: string, key: 'p50_ms' | 'p99_ms' | 'p999_ms'): number =>
    round(median(rounds.map((r) => (r[label] as OpenRun)[key] - (r.direct as OpenRun)[key])), 3);
  const proxy = (label: string) => ({
    p50_ms: added(label, 'p50_ms'),
    p99_ms: added(label, 'p99_ms'),
    p999_ms: added(label, 'p999_ms'),
    p99_ms_per_round: rounds.map((r) => round((r[label] as OpenRun).p99_ms - (r.direct as OpenRun).p99_ms, 3)),
  });
  const g = proxy('gantry');
  const h = proxy('haproxy');
  const withFloor = rounds.every((r) => r.node_floor !== undefined);
  const f = withFloor ? proxy('node_floor') : null;
  const labels = withFloor ? ['direct', 'haproxy', 'gantry', 'node_floor'] : ['direct', 'haproxy', 'gantry'];
  const med = (label: string, key: 'cpu_us_per_req' | 'achieved_rps' | 'longest_stall_ms' | 'upstream_connections'): number =>
    round(median(rounds.map((r) => Number((r[label] as OpenRun)[key] ?? 0))), 2);
  const robust = robustFigures(rounds, labels, seconds);
  const gp = robust.pooled_p99_ms.gantry ?? 0;
  const hp = robust.pooled_p99_ms.haproxy ?? 0;
  const dp = robust.pooled_p99_ms.direct ?? 0;
  return {
    // The histograms are pooled below; each run's own would only make the output long.
    per_round: rounds.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, { ...v, hist: undefined }]))),
    ...robust,
    // The issue's figure over all rounds of a path pooled (one machine stall in one round can decide
    // it); null when the direct path's pooled p99 was not below HAProxy's (a stall in a direct round).
    ratio_added_p99_pooled: hp - dp > 0.1 ? round((gp - dp) / (hp - dp), 2) : null,
    added_over_direct: { haproxy: h, gantry: g, ...(f === null ? {} : { node_floor: f }) },
    // HAProxy's added p99 can be ~0 on a quiet machine: the ratio is then measured against 0.1 ms.
    ratio_added_p99: round(g.p99_ms / Math.max(h.p99_ms, 0.1), 2),
    // Node's floor against HAProxy (what any Node proxy pays) and Gantry against the floor (what Gantry's own code adds).
    ratio_added_p99_floor_to_haproxy: f === null ? null : round(f.p99_ms / Math.max(h.p99_ms, 0.1), 2),
    ratio_added_p99_gantry_to_floor: f === null ? null : round(g.p99_ms / Math.max(f.p99_ms, 0.1), 2),
    cpu_us_per_req: {
      haproxy: med('haproxy', 'cpu_us_per_req'),
      gantry: med('gantry', 'cpu_us_per_req'),
      ...(withFloor ? { node_floor: med('node_floor', 'cpu_us_per_req') } : {}),
    },
    ratio_cpu_per_req: round(med('gantry', 'cpu_us_per_req') / Math.max(med('haproxy', 'cpu_us_per_req'), 0.1), 2),
    upstream_connections: { haproxy: med('haproxy', 'upstream_connections'), gantry: med('gantry', 'upstream_connections') },
    longest_stall_ms: Object.fromEntries(labels.map((label) => [label, med(label, 'longest_stall_ms')])),
    throughput_ratio_gantry_to_haproxy: round(med('gantry', 'achieved_rps') / Math.max(med('haproxy', 'achieved_rps'), 1), 2),
    // Other users' CPU on the cores while each path ran (median over rounds): a path measured beside more of it was slowed by the machine, not by itself.
    foreign_cpu_pct: Object.fromEntries(
      labels.map((label) => [
        label,
        {
          cpu0: round(median(rounds.map((r) => (r[label] as OpenRun).cpu.cpu0_foreign_pct)), 1),
          cpu1: round(median(rounds.map((r) => (r[label] as OpenRun).cpu.cpu1_foreign_pct)), 1),
        },
      ]),
    ),
    gantry_runtime: rounds.every((r) => r.gantry?.gantry_runtime)
      ? summariseRuntime(rounds.map((r) => (r.gantry as OpenRun).gantry_runtime as GantryRuntime))
      : null,
  };
}

/**
 * Figures a stall in one round cannot decide: each path's median p99 over rounds, its p99 over
 * all its rounds pooled, and its episodes of requests ≥ LATE_MS late per minute of measured load,
 * all of them and those no stall probe saw (at least PROBE_MS late on either core within 100 ms
 * before or during the episode): what the machine did not explain.
 */
function robustFigures(rounds: Record<string, OpenRun>[], labels: string[], seconds: number) {
  const minutes = (rounds.length * seconds) / 60;
  const each = <T>(f: (runs: OpenRun[]) => T): Record<string, T> =>
    Object.fromEntries(labels.map((l) => [l, f(rounds.map((r) => r[l] as OpenRun))]));
  const pooledP99 = (runs: OpenRun[]): number => {
    const hist = new Float64Array(BUCKETS);
    let n = 0;
    for (const r of runs)
      for (const [i, c] of r.hist) {
        hist[i] = (hist[i] as number) + c;
        n += c;
      }
    return quantileUs(hist, n, 0.99) / 1000;
  };
  const seenByProbe = (e: LateEpisode, r: OpenRun): boolean =>
    r.machine.stalls.some(([at, ms]) => at + ms >= e.epoch_ms - 100 && at <= e.epoch_ms + e.length_ms);
  return {
    median_p99_ms: each((runs) => round(median(runs.map((r) => r.p99_ms)), 3)),
    pooled_p99_ms: each((runs) => round(pooledP99(runs), 3)),
    late_episodes_per_min: each((runs) => round(runs.reduce((t, r) => t + r.late_episodes.length, 0) / minutes, 1)),
    late_episodes_not_seen_by_probe_per_min: each((runs) =>
      round(runs.reduce((t, r) => t + r.late_episodes.filter((e) => !seenByProbe(e, r)).length, 0) / minutes, 1),
    ),
    // Rounds in which a probe was late on CPU 0 (the system under test's core) while the path ran.
    runs_with_probe_stall_cpu0: each((runs) => runs.filter((r) => r.machine.probe_cpu0.stalls > 0).length),
  };
}

/** Moves every thread of `pid` but its main thread back to SCHED_OTHER. */
function helpersToNormalClass(pid: number): void {
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    if (Number(tid) === pid) continue;
    const r = spawnSync('chrt', ['-o', '-p', '0', tid]);
    if (r.status !== 0) throw new Error(`chrt -o -p 0 ${tid}: ${r.stderr}`);
  }
}

/** Established TCP connections to the two backends now (from any proxy; the direct path's own are counted too). */
function upstreamConnections(pa: number, pb: number): number | null {
  const r = spawnSync('ss', ['-Htn', 'state', 'established', `( dport = :${pa} or dport = :${pb} )`], { encoding: 'utf8' });
  if (r.status !== 0) return null;
  return r.stdout.split('\n').filter((l) => l.trim() !== '').length;
}

/** What the server asks of a proxy while a canary is analysed: two windows a second, roll-ups every ten. */
function serverSide(client: ProxyClient): { timer: NodeJS.Timeout; stats: { windows: number; rollups: number; failures: number } } {
  const stats = { windows: 0, rollups: 0, failures: 0 };
  let tick = 0;
  // TRACE_CONTROL=1: each second's reads with their epoch time, to set beside the slow episodes.
  const trace = process.env.TRACE_CONTROL === '1';
  const timer = setInterval(() => {
    tick++;
    const now = Date.now();
    if (trace) progress(`control reads at ${now}${tick % 10 === 0 ? ' (with roll-ups)' : ''}`);
    for (const version of ['v1', 'v2'])
      client.window(now - 300_000, now, { version }).then(
        () => stats.windows++,
        () => stats.failures++,
      );
    if (tick % 10 === 0)
      client
        .readRollups()
        .then(async (batch) => {
          stats.rollups += batch.rollups.length;
          await client.ackRollups(batch.through);
        })
        .catch(() => stats.failures++);
  }, 1000);
  return { timer, stats };
}
