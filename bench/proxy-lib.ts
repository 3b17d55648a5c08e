/**
 * What the proxy benchmarks (`proxy-cost.ts`, `proxy-tail.ts`) share: the two backends, HAProxy's
 * configuration with the same 90/10 split, a bounded set of started processes stopped by PID, `wrk`
 * for the maximum rate, and the open-loop load generator that measures latency from each
 * request's scheduled time (no coordinated omission).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { BUCKETS, bucketIndex, quantileUs } from '../src/proxy/latency-histogram.ts';
import { pickPort } from '../src/platform/ports.ts';

export const HOST = '127.0.0.1';

export function progress(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

export function round(v: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** `n` distinct ports that were free a moment ago. */
export async function freePorts(n: number): Promise<number[]> {
  const taken = new Set<number>();
  while (taken.size < n) taken.add(await pickPort(taken));
  return [...taken];
}

/** The backends' child mode: one process, two ports, fixed tiny answers (mirrors the peers' node backend). */
export function serveBackends(portA: number, portB: number): void {
  for (const [port, body] of [
    [portA, 'A ok\n'],
    [portB, 'B ok\n'],
  ] as const) {
    createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
      res.end(body);
    }).listen(port, HOST);
  }
  process.stdout.write('READY\n');
}

/** HAProxy 2.6 with one thread, weights 90/10 round robin and keep-alive both ways, as the peers' script. */
export function writeHaproxyConfig(dir: string, port: number, a: number, b: number): string {
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(
    file,
    `global\n  nbthread 1\n  maxconn 4000\ndefaults\n  mode http\n  option http-keep-alive\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n  timeout http-keep-alive 65s\nfrontend fe\n  bind ${HOST}:${port}\n  default_backend canary\nbackend canary\n  balance roundrobin\n  http-reuse safe\n  server a ${HOST}:${a} weight 90\n  server b ${HOST}:${b} weight 10\n`,
  );
  return file;
}

/** Whether `GET /` on `port` answers 200 within a second. */
export async function answers(port: number): Promise<boolean> {
  try {
    const r = await fetch(`http://${HOST}:${port}/`, { signal: AbortSignal.timeout(1000) });
    await r.arrayBuffer();
    return r.status === 200;
  } catch {
    return false;
  }
}

export interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
}

/**
 * The processes a benchmark started: each waited for (bounded), and all stopped by PID (TERM, then
 * KILL after 3 s) on `stopAll`, which the deadline, SIGINT and SIGTERM also call.
 */
export class ProcessSet {
  readonly #procs: Proc[] = [];
  readonly #cleanups: (() => void)[] = [];
  #aborted = false;
  readonly #deadline: NodeJS.Timeout;

  constructor(deadlineMs: number) {
    this.#deadline = setTimeout(() => this.#abort(`deadline of ${deadlineMs} ms passed`), deadlineMs);
    process.once('SIGINT', () => this.#abort('interrupted'));
    process.once('SIGTERM', () => this.#abort('terminated'));
  }

  /** Runs `fn` at the end, after the processes are stopped (temp dirs…). */
  onStop(fn: () => void): void {
    this.#cleanups.push(fn);
  }

  /** Starts a long-running process and waits until `ready()` says so (10 s at most); `onStdout` sees its output as it comes. */
  async start(name: string, argv: string[], ready: () => Promise<boolean>, onStdout?: (d: Buffer) => void): Promise<Proc> {
    const [cmd, ...args] = argv as [string, ...string[]];
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    if (onStdout !== undefined) child.stdout?.on('data', onStdout);
    let log = '';
    const keep = (d: Buffer): void => {
      log = (log + d.toString()).slice(-2000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    if (child.pid === undefined) throw new Error(`${name} did not start`);
    const p = { name, child, pid: child.pid };
    this.#procs.push(p);
    const until = performance.now() + 10_000;
    while (!(await ready())) {
      if (child.exitCode !== null) throw new Error(`${name} exited: ${log}`);
      if (performance.now() > until) throw new Error(`${name} not ready within 10 s: ${log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return p;
  }

  async stopAll(): Promise<void> {
    clearTimeout(this.#deadline);
    for (const p of this.#procs.splice(0).reverse()) {
      if (p.child.exitCode !== null || p.child.signalCode !== null) continue;
      const gone = new Promise<void>((r) => p.child.once('exit', () => r()));
      signal(p.pid, 'SIGTERM');
      const t = setTimeout(() => signal(p.pid, 'SIGKILL'), 3000);
      await gone;
      clearTimeout(t);
    }
    for (const fn of this.#cleanups.splice(0)) fn();
  }

  get aborted(): boolean {
    return this.#aborted;
  }

  #abort(why: string): void {
    if (this.#aborted) return;
    this.#aborted = true;
    progress(`${why}; stopping`);
    void this.stopAll().then(() => process.exit(1));
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** User + system CPU ticks (1/100 s) of `pid` and its children. */
export function cpuTicks(pid: number): number {
  let t = 0;
  const children = spawnSync('ps', ['-o', 'pid=', '--ppid', String(pid)])
    .stdout.toString()
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .map(Number);
  for (const q of [pid, ...children]) {
    try {
      const f = readFileSync(`/proc/${q}/stat`, 'utf8')
        .replace(/^.*\) /, '')
        .split(' ');
      t += Number(f[11]) + Number(f[12]);
    } catch {
      // gone
    }
  }
  return t;
}

export const TICKS_PER_SECOND = 100;

/**
 * Context switches of `pid`'s threads so far (each thread's /proc status): voluntary (it waited for
 * I/O) and involuntary (preempted while runnable, e.g. by a process its own write woke on the same core).
 */
export function contextSwitches(pid: number): { voluntary: number; involuntary: number } {
  const out = { voluntary: 0, involuntary: 0 };
  let tasks: string[] = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    try {
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      out.voluntary += Number(/^voluntary_ctxt_switches:\s*(\d+)/m.exec(status)?.[1] ?? 0);
      out.involuntary += Number(/^nonvoluntary_ctxt_switches:\s*(\d+)/m.exec(status)?.[1] ?? 0);
    } catch {
      // the thread ended
    }
  }
  return out;
}

/** Busy ticks (everything but idle and iowait) of each CPU since boot, from /proc/stat. */
export function coreBusyTicks(): number[] {
  const out: number[] = [];
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^cpu(\d+) (.*)$/.exec(line);
    if (!m) continue;
    const f = (m[2] as string).trim().split(/\s+/).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is inside user)
    out[Number(m[1])] = (f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0) + (f[7] ?? 0);
  }
  return out;
}

/** What one `wrk` run measured (closed loop: the maximum rate at `conns` connections). */
export interface WrkResult {
  rps: number;
  p50: number;
  p99: number;
  n: number;
  errors: number;
}

/**
 * Runs a command to its end without blocking the event loop (the benchmark's own timers keep
 * running meanwhile), killed after `timeoutMs`; resolves with its exit code and stdout.
 */
export function runAsync(argv: string[], timeoutMs: number): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/** Writes the Lua script `wrk` reports with (one `RESULT` line) and returns a runner. */
export function wrkRunner(
  dir: string,
  conns: number,
  prefix: (argv: string[]) => string[],
): (port: number, seconds: number) => Promise<WrkResult> {
  const lua = join(dir, 'report.lua');
  writeFileSync(
    lua,
    `local n = 0\nfunction response(status, headers, body)\n  n = n + 1\n  if n >= 3000000 then wrk.thread:stop() end\nend\nfunction done(summary, latency, requests)\n  local e = summary.errors\n  io.write(string.format("RESULT %.1f %.3f %.3f %d %d\\n", summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.requests, e.connect + e.read + e.write + e.status + e.timeout))\nend\n`,
  );
  return async (port, seconds) => {
    const argv = prefix(['wrk', '-t1', `-c${conns}`, `-d${seconds}s`, '--timeout', '5s', '-s', lua, `http://${HOST}:${port}/`]);
    const r = await runAsync(argv, (seconds + 20) * 1000);
    const line = /RESULT (\S+) (\S+) (\S+) (\d+) (\d+)/.exec(r.stdout);
    if (!line) throw new Error(`wrk failed: ${r.stderr} ${r.stdout}`);
    return { rps: Number(line[1]), p50: Number(line[2]), p99: Number(line[3]), n: Number(line[4]), errors: Number(line[5]) };
  };
}

/** What one open-loop run measured; latencies in ms from each request's scheduled time. */
export interface PacedResult {
  rate: number;
  sent: number;
  done: number;
  errors: number;
  lost: number;
  achieved_rps: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  p999_ms: number;
  max_ms: number;
  /**
   * The longest time in which requests were due and none was answered: for each answer, the time
   * since the later of the previous answer and its own due time.
   */
  longest_stall_ms: number;
  /** Requests answered more than 10 ms after they were due. */
  over_10ms: number;
  /** The generator's own longest gap between two turns of its loop (its own pauses, for reading the rest). */
  generator_max_gap_ms: number;
  /** The generator process's CPU (user + system) over the whole run, warm-up included, ms. */
  generator_cpu_ms: number;
  /**
   * When the slow requests (at or above the run's p99) were due: grouped into episodes (runs of
   * 10 ms slots with a slow request, gaps under 50 ms joined), the longest five by slow requests,
   * and the share of all slow requests they hold. A few episodes holding most of them are stalls
   * (a pause, a burst of work); many small ones are queueing spread over the run.
   */
  slow: SlowTimeline;
  /** When the measured run started (the due time of its first request), epoch ms. */
  epoch_t0_ms: number;
  /** The latency histogram's non-empty buckets as [bucket index, count] (for pooling runs). */
  hist: [number, number][];
  /**
   * Episodes of requests answered at least `LATE_MS` (20 ms) after they were due: runs of 10 ms
   * slots (by due time) holding such a request, gaps under 50 ms joined. A fixed threshold, unlike
   * `slow`: their count per minute compares paths whatever each run's p99 was.
   */
  late_episodes: LateEpisode[];
}

/** See `PacedResult.late_episodes`. */
export interface LateEpisode {
  epoch_ms: number;
  length_ms: number;
  requests: number;
  worst_ms: number;
}

/** The lateness from which a request counts in `late_episodes`, ms. */
export const LATE_MS = 20;

/** See `PacedResult.slow`. */
export interface SlowTimeline {
  /** Slow requests (latency ≥ the run's p99). */
  requests: number;
  episodes: number;
  /** The share of slow requests in the five largest episodes. */
  top5_share: number;
  /** The five largest: start (ms after the measured run's start, and epoch ms), length, slow requests, worst latency. */
  top: { at_ms: number; epoch_ms: number; length_ms: number; slow: number; worst_ms: number }[];
}

/**
 * Open-loop load (wrk2-style): request i is due at start + i/rate and sent on the first idle
 * keep-alive connection (of `nConns`); its latency counts from when it was due, queueing included.
 * With `warmSeconds`, the same load runs that long first on the same connections, unmeasured: every
 * path is then measured in its steady state (upstream connections open, code compiled), not its start.
 * Warm-up and measurement are one schedule, without a seam (a second schedule, its fresh
 * closures and a 200 ms gap in which the load stopped) at the start of what is measured.
 */
export async function pacedLoad(port: number, rate: number, seconds: number, nConns: number, warmSeconds = 0): Promise<PacedResult> {
  const cpu0 = process.cpuUsage();
  const conns = await openConnections(port, nConns);
  const r = await paced(conns, rate, seconds, warmSeconds);
  for (const c of conns) c.s.destroy();
  const cpu = process.cpuUsage(cpu0);
  return { ...r, generator_cpu_ms: round((cpu.user + cpu.system) / 1000, 1) };
}

/** A keep-alive connection of the generator: the request it waits on is due at `due`. */
interface Conn {
  s: Socket;
  due: number;
  buf: Buffer | null;
  need: number;
  /** The run being measured; set by `paced`. */
  run: PacedRun | null;
  /** A request is out on it. */
  busy: boolean;
  /** Its request is one of the warm-up's (not measured). */
  warm: boolean;
}

/** One paced run's counters (the connections outlive it). */
interface PacedRun {
  hist: Float64Array;
  /** Per measured request in answer order: when it was due (ms after t0) and its latency (ms). */
  dueAt: Float32Array;
  latency: Float32Array;
  t0: number;
  done: number;
  /** Warm-up requests answered. */
  warmDone: number;
  errors: number;
  lastAnswer: number;
  longestStall: number;
  over10: number;
  idle: Conn[];
}

/** Opens `n` keep-alive connections that parse responses and report each to the run they belong to. */
async function openConnections(port: number, n: number): Promise<Conn[]> {
  const conns: Conn[] = [];
  await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<void>((resolve, reject) => {
          const s = connect({ host: HOST, port, noDelay: true }, () => resolve());
          const c: Conn = { s, due: 0, buf: null, need: -1, run: null, busy: false, warm: false };
          s.on('error', (e) => {
            if (c.run !== null) c.run.errors++;
            reject(e);
          });
          s.on('data', (d: Buffer) => {
            c.buf = c.buf === null ? d : Buffer.concat([c.buf, d]);
            for (;;) {
              const b: Buffer | null = c.buf;
              if (b === null) return;
              if (c.need < 0) {
                const end = b.indexOf('\r\n\r\n');
                if (end < 0) return;
                const m = /content-length:\s*(\d+)/i.exec(b.toString('latin1', 0, end));
                if (!m) {
                  if (c.run !== null) c.run.errors++;
                  s.destroy();
                  return;
                }
                c.need = end + 4 + Number(m[1]);
              }
              if (b.length < c.need) return;
              const run = c.run as PacedRun;
              if (Number(b.toString('latin1', 9, 12)) >= 500) run.errors++;
              c.buf = b.length === c.need ? null : b.subarray(c.need);
              c.need = -1;
              finishOne(run, c);
            }
          });
          conns.push(c);
        }),
    ),
  );
  return conns;
}

function finishOne(run: PacedRun, c: Conn): void {
  c.busy = false;
  if (c.warm) {
    run.warmDone++;
    run.idle.push(c);
    return;
  }
  const now = performance.now();
  const ms = now - c.due;
  run.hist[bucketIndex(ms * 1000)]! += 1;
  if (run.done < run.dueAt.length) {
    run.dueAt[run.done] = c.due - run.t0;
    run.latency[run.done] = ms;
  }
  if (ms > 10) run.over10++;
  const stall = now - Math.max(run.lastAnswer, c.due);
  if (stall > run.longestStall) run.longestStall = stall;
  run.lastAnswer = now;
  run.done++;
  run.idle.push(c);
}

/**
 * Paces `rate` requests a second over `conns` (all idle at the start): `warmSeconds` unmeasured,
 * then `seconds` measured, on one schedule.
 */
async function paced(conns: Conn[], rate: number, seconds: number, warmSeconds: number): Promise<Omit<PacedResult, 'generator_cpu_ms'>> {
  const first = conns[0] as Conn;
  const request = Buffer.from(`GET / HTTP/1.1\r\nHost: ${HOST}:${first.s.remotePort}\r\n\r\n`, 'latin1');
  const warmN = Math.floor(rate * warmSeconds);
  const total = Math.floor(rate * seconds);
  const start = performance.now() + 200;
  // The measured run's start: the due time of its first request.
  const t0 = start + (warmN * 1000) / rate;
  const run: PacedRun = {
    hist: new Float64Array(BUCKETS),
    dueAt: new Float32Array(total),
    latency: new Float32Array(total),
    t0,
    done: 0,
    warmDone: 0,
    errors: 0,
    lastAnswer: 0,
    longestStall: 0,
    over10: 0,
    idle: [],
  };
  for (const c of conns) {
    c.run = run;
    run.idle.push(c);
  }
  // Requests sent, the warm-up's included (the first warmN).
  let sentAll = 0;
  let maxGap = 0;
  const all = warmN + total;
  await new Promise<void>((resolve) => {
    const deadline = t0 + seconds * 1000 + 5000;
    let lastTurn = performance.now();
    const tick = (): void => {
      const now = performance.now();
      // The generator's own pauses count from the measured run's start.
      if (now - lastTurn > maxGap && now > t0) maxGap = now - lastTurn;
      lastTurn = now;
      while (sentAll < all && run.idle.length > 0) {
        const due = start + (sentAll * 1000) / rate;
        if (due > now) break;
        const c = run.idle.pop() as Conn;
        c.due = due;
        c.busy = true;
        c.warm = sentAll < warmN;
        c.s.write(request);
        sentAll++;
      }
      if ((sentAll >= all && run.done + run.warmDone >= sentAll) || now > deadline) {
        resolve();
        return;
      }
      setImmediate(tick);
    };
    setImmediate(tick);
  });
  const done = run.done;
  const sent = Math.max(0, sentAll - warmN);
  const elapsed = (performance.now() - t0) / 1000;
  const q = (p: number): number => quantileUs(run.hist, done, p) / 1000;
  return {
    rate,
    sent,
    done,
    errors: run.errors,
    lost: total - done,
    achieved_rps: Math.round(done / elapsed),
    p50_ms: q(0.5),
    p90_ms: q(0.9),
    p99_ms: q(0.99),
    p999_ms: q(0.999),
    max_ms: q(1),
    longest_stall_ms: round(run.longestStall, 2),
    over_10ms: run.over10,
    generator_max_gap_ms: round(maxGap, 2),
    slow: slowTimeline(run, q(0.99), performance.timeOrigin + t0),
    epoch_t0_ms: Math.round(performance.timeOrigin + t0),
    hist: sparse(run.hist),
    late_episodes: episodesOver(run, LATE_MS, performance.timeOrigin + t0).map((e) => ({
      epoch_ms: e.epoch_ms,
      length_ms: e.length_ms,
      requests: e.slow,
      worst_ms: e.worst_ms,
    })),
  };
}

function sparse(hist: Float64Array): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < hist.length; i++) if ((hist[i] as number) > 0) out.push([i, hist[i] as number]);
  return out;
}

/** Groups the requests at or above `p99Ms` by when they were due (see `PacedResult.slow`). */
function slowTimeline(run: PacedRun, p99Ms: number, epochT0: number): SlowTimeline {
  // The histogram's p99 is its bucket's highest value: compare against that bucket's low end.
  const episodes = episodesOver(run, p99Ms * 0.98, epochT0);
  const slowN = episodes.reduce((t, e) => t + e.slow, 0);
  const top = [...episodes].sort((a, b) => b.slow - a.slow).slice(0, 5);
  const inTop = top.reduce((t, e) => t + e.slow, 0);
  return { requests: slowN, episodes: episodes.length, top5_share: slowN === 0 ? 0 : round(inTop / slowN, 2), top };
}

/** Episodes (10 ms slots by due time, gaps under 50 ms joined) of the requests at least `minMs` late, in time order. */
function episodesOver(run: PacedRun, minMs: number, epochT0: number): SlowTimeline['top'] {
  const n = Math.min(run.done, run.dueAt.length);
  let last = 0;
  for (let i = 0; i < n; i++) last = Math.max(last, run.dueAt[i] as number);
  const slots = Math.floor(last / 10) + 1;
  const count = new Uint32Array(slots);
  const worst = new Float32Array(slots);
  for (let i = 0; i < n; i++) {
    const ms = run.latency[i] as number;
    if (ms < minMs) continue;
    const k = Math.max(0, Math.floor((run.dueAt[i] as number) / 10));
    count[k]! += 1;
    if (ms > (worst[k] as number)) worst[k] = ms;
  }
  const episodes: SlowTimeline['top'] = [];
  let cur: SlowTimeline['top'][number] | null = null;
  let lastSlot = -100;
  for (let k = 0; k < slots; k++) {
    if (count[k] === 0) continue;
    if (cur === null || k - lastSlot > 5) {
      cur = { at_ms: k * 10, epoch_ms: Math.round(epochT0 + k * 10), length_ms: 10, slow: 0, worst_ms: 0 };
      episodes.push(cur);
    }
    cur.length_ms = (k + 1) * 10 - cur.at_ms;
    cur.slow += count[k] as number;
    cur.worst_ms = Math.max(cur.worst_ms, round(worst[k] as number, 1));
    lastSlot = k;
  }
  return episodes;
}

/**
 * The stall probe's child mode: sleeps 1 ms at a time (a blocking wait, no event loop between) and
 * prints `<epoch ms> <ms late>` for every wake-up at least `thresholdMs` late, after `READY`. A
 * process that does almost nothing is late only when its core was taken from the whole machine
 * (hypervisor steal, a kernel stall, a higher-priority task): it names machine stalls without
 * reference to any proxy. Stopped by SIGTERM (no handler: the default action ends it).
 */
export function stallProbe(thresholdMs: number): never {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  process.stdout.write('READY\n');
  for (;;) {
    const t = performance.now();
    Atomics.wait(cell, 0, 0, 1);
    const late = performance.now() - t - 1;
    if (late >= thresholdMs) process.stdout.write(`${Math.round(performance.timeOrigin + t)} ${round(late, 1)}\n`);
  }
}

/** Steal ticks of each CPU (time the hypervisor ran something else) and the CPU pressure total (µs), now. */
export function machineCounters(): { steal: number[]; psiSomeUs: number } {
  const steal: number[] = [];
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^cpu(\d+) (.*)$/.exec(line);
    if (m) steal[Number(m[1])] = Number((m[2] as string).trim().split(/\s+/)[7] ?? 0);
  }
  let psiSomeUs = Number.NaN;
  try {
    psiSomeUs = Number(/^some .*total=(\d+)/m.exec(readFileSync('/proc/pressure/cpu', 'utf8'))?.[1] ?? Number.NaN);
  } catch {
    // no PSI on this kernel
  }
  return { steal, psiSomeUs };
}
