/**
 * Where the proxy process's own pauses go: garbage collections (count, total and longest pause,
 * minor and major) and the event loop (how late a timer ran: the wait every request queued in the
 * process shared; and the share of time the loop was busy). A request's added latency beyond its
 * CPU comes from these; the tail benchmark reads them per run to tell the proxy's pauses from the
 * machine's (a neighbour's load shows as delay without GC or utilization to explain it).
 *
 * Nothing is watched until the first `read`: a proxy process nobody asks pays nothing (no GC hooks,
 * no timer). From then on the figures cover the period since the previous `read` that reset them.
 * The watch stops by itself a minute after the last read: its timer wakes an idle process 200
 * times a second (measured on the loaded 2-core machine: 1.3 → 15 ms of CPU per second idle; a
 * busy loop turns more often than that anyway), which only someone reading the figures should pay.
 */
import { constants, monitorEventLoopDelay, type EventLoopUtilization, PerformanceObserver, performance } from 'node:perf_hooks';

/** How often the event-loop monitor's timer samples (ms): pauses of this length or more are always seen. */
const LOOP_RESOLUTION_MS = 5;
/** By default the watch stops this long after the last read; the next read starts it afresh. */
const WATCH_IDLE_MS = 60_000;

type LoopHistogram = ReturnType<typeof monitorEventLoopDelay>;

/** The process's pauses over one period (from the previous resetting `read`, or the first read, to now). */
export interface RuntimePauseReport {
  /** Length of the period, ms. */
  periodMs: number;
  gc: {
    count: number;
    /** Minor (scavenges) and major (mark-compact) collections among `count`. */
    minor: number;
    major: number;
    totalMs: number;
    maxMs: number;
  };
  eventLoop: {
    /** Share of the period the loop was running JavaScript or native callbacks (0–1). */
    utilization: number;
    /** How late the monitor's timer ran: p50, p99 and the longest, ms. */
    delayP50Ms: number;
    delayP99Ms: number;
    delayMaxMs: number;
  };
}

/** Requests that waited for an upstream connection since the process started, and the longest wait since the last resetting read. */
export interface UpstreamWaitReport {
  count: number;
  totalMs: number;
  maxMs: number;
}

/**
 * A proxy process's `GET /runtime`: its pauses, the upstream connections its pools opened since it
 * started, and the requests that waited for one: sent on a connection still being opened
 * (`connect`), or held until a full pool released one (`pool`).
 */
export type RuntimeReport = RuntimePauseReport & {
  upstreamConnectionsOpened: number;
  upstreamWaits: { connect: UpstreamWaitReport; pool: UpstreamWaitReport };
};

interface GcTotals {
  count: number;
  minor: number;
  major: number;
  totalMs: number;
  maxMs: number;
}

const zeroGc = (): GcTotals => ({ count: 0, minor: 0, major: 0, totalMs: 0, maxMs: 0 });

/** The pause recorder of one process; `close()` stops watching. */
export class RuntimePauses {
  #gc: GcTotals = zeroGc();
  #observer: PerformanceObserver | null = null;
  #loop: LoopHistogram | null = null;
  #elu: EventLoopUtilization | null = null;
  #since = 0;
  #idleStop: NodeJS.Timeout | null = null;
  readonly #idleMs: number;

  constructor(o: { idleStopMs?: number } = {}) {
    this.#idleMs = o.idleStopMs ?? WATCH_IDLE_MS;
  }

  /** Whether the GC hooks and the loop timer are on (from a read until `idleStopMs` after the last one). */
  get watching(): boolean {
    return this.#observer !== null;
  }

  /** The figures since the last resetting read (watching starts at the first read, which then covers ~0 ms). */
  read(reset: boolean): RuntimePauseReport {
    if (this.#observer === null) this.#start();
    this.#idleStop?.refresh();
    const loop = this.#loop as LoopHistogram;
    const elu = performance.eventLoopUtilization(this.#elu as EventLoopUtilization);
    // The histogram holds the timer's lateness plus its interval, in ns.
    const lateMs = (ns: number): number => Math.max(0, Math.round(ns / 1e4 - LOOP_RESOLUTION_MS * 100) / 100);
    const hasSamples = loop.count > 0;
    const report: RuntimePauseReport = {
      periodMs: Math.round(performance.now() - this.#since),
      gc: { ...this.#gc, totalMs: Math.round(this.#gc.totalMs * 100) / 100, maxMs: Math.round(this.#gc.maxMs * 100) / 100 },
      eventLoop: {
        utilization: Math.round(elu.utilization * 1000) / 1000,
        delayP50Ms: hasSamples ? lateMs(loop.percentile(50)) : 0,
        delayP99Ms: hasSamples ? lateMs(loop.percentile(99)) : 0,
        delayMaxMs: hasSamples ? lateMs(loop.max) : 0,
      },
    };
    if (reset) {
      this.#gc = zeroGc();
      loop.reset();
      this.#elu = performance.eventLoopUtilization();
      this.#since = performance.now();
    }
    return report;
  }

  close(): void {
    if (this.#idleStop !== null) clearTimeout(this.#idleStop);
    this.#idleStop = null;
    this.#observer?.disconnect();
    this.#loop?.disable();
    this.#observer = null;
    this.#loop = null;
  }

  #start(): void {
    this.#observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        const g = this.#gc;
        g.count++;
        g.totalMs += e.duration;
        if (e.duration > g.maxMs) g.maxMs = e.duration;
        const kind = (e as { detail?: { kind?: number } | null }).detail?.kind;
        if (kind === constants.NODE_PERFORMANCE_GC_MINOR) g.minor++;
        else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) g.major++;
      }
    });
    this.#observer.observe({ entryTypes: ['gc'] });
    this.#loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
    this.#loop.enable();
    this.#elu = performance.eventLoopUtilization();
    this.#since = performance.now();
    this.#gc = zeroGc();
    this.#idleStop = setTimeout(() => this.close(), this.#idleMs);
    this.#idleStop.unref();
  }
}
