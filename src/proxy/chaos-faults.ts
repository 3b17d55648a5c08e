/**
 * The faults of one chaos experiment as the proxy applies them: which requests they take (the
 * pure decision of src/chaos/fault-selection.ts), what is done to those, and the counts inside
 * and outside the blast radius that the server's hypothesis reads back.
 *
 * Contract:
 * - One experiment at a time per proxy: `set` replaces whatever was set (the server runs one per
 *   environment). Nothing is persisted: a restarted proxy process has no faults, the safe side.
 * - The deadline is the proxy's own: a timer clears the faults at `deadlineAt` (epoch ms) whether
 *   or not the server is there to ask, and a request arriving after it is never faulted even if
 *   the timer is late. `clear` (the server's revert) does the same at once. Either way the report
 *   is kept, with how it ended, until the next `set`, so a restarted server can read it.
 * - On clear, requests still held by a fault (a delay or a timeout not yet over) are forwarded at
 *   once: the last faulted request is the one the fault decided before the clear.
 * - `followCallers` gives a set's service-edge faults their caller's instances as they are now
 *   (a deploy of the caller started new ones): the faults, counts and deadline go on; only which
 *   connections come from a caller is learnt again.
 * - An empty list of faults is a set too: every request is counted outside the blast radius, so
 *   an experiment of instance faults alone (kill, pause…) reads its hypothesis the same way.
 * - When no experiment is set the proxy's request path pays one null check.
 */
import { compileFaults, faultDelayMs, selectFault, type CompiledFault } from '../chaos/fault-selection.ts';
import type { ProxyFault } from '../core/chaos-config.ts';
import { ConflictError, InputError } from '../core/errors.ts';
import { processesWithEnv } from '../platform/proc.ts';
import { processWithSocket, socketInode } from '../platform/socket-owner.ts';
import { BUCKETS, bucketHighUs, bucketIndex } from './latency-histogram.ts';
import type { LatencyBucket } from './request-metrics.ts';

/** A request that failed while the faults were set (5xx, or its connection cut: status 0). */
export interface FailedRequest {
  /** When it ended, epoch ms. */
  at: number;
  method: string;
  target: string;
  status: number;
}

/** How many failed requests each side keeps by name (the counts go on): the record says which, within reason. */
export const MAX_FAILED_KEPT = 100;

/** Requests on one side of the blast radius: how many, how many failed (5xx or cut), their latency, the first failures by name. */
export class ChaosSample {
  requests = 0;
  errors = 0;
  readonly hist = new Uint32Array(BUCKETS);
  readonly failed: FailedRequest[] = [];

  add(status: number, latencyMs: number, request?: { method: string; url: string }): void {
    this.requests++;
    if (status >= 500 || status === 0) {
      this.errors++;
      if (request !== undefined && this.failed.length < MAX_FAILED_KEPT)
        this.failed.push({ at: Date.now(), method: request.method, target: request.url, status });
    }
    this.hist[bucketIndex(latencyMs * 1000)]! += 1;
  }

  toJSON(): { requests: number; errors: number; latency: LatencyBucket[]; failed: FailedRequest[] } {
    const latency: LatencyBucket[] = [];
    for (let i = 0; i < this.hist.length; i++) {
      const n = this.hist[i] as number;
      if (n > 0) latency.push({ valueMs: bucketHighUs(i) / 1000, count: n });
    }
    return { requests: this.requests, errors: this.errors, latency, failed: [...this.failed] };
  }
}

/** How a fault set ended: the server cleared it, or the proxy's deadline did. */
export type FaultsEnd = 'cleared' | 'deadline';

/** What the server reads back: the counts and samples since `set`, and whether and how it ended. */
export interface FaultReport {
  experimentId: string;
  setAt: number;
  deadlineAt: number;
  endedAt: number | null;
  endedBy: FaultsEnd | null;
  /** Requests a fault took, and per fault in config order. */
  affected: number;
  byFault: number[];
  /** Requests that passed while the faults were set but no fault took. */
  unaffected: number;
  /** When the last faulted request was decided (epoch ms), null before the first. */
  lastFaultedAt: number | null;
  inside: ReturnType<ChaosSample['toJSON']>;
  outside: ReturnType<ChaosSample['toJSON']>;
}

/** What a held request does when its delay is over, or at once when the faults are cleared. */
export interface HeldRequest {
  release(): void;
}

/** The per-request decision the proxy acts on. */
export type FaultAction =
  | { kind: 'none'; sample: ChaosSample }
  | { kind: 'delay'; ms: number; sample: ChaosSample }
  | { kind: 'abort'; status: number; sample: ChaosSample }
  | { kind: 'reset'; sample: ChaosSample }
  | { kind: 'timeout'; ms: number; sample: ChaosSample };

/** Body sent with `PUT /faults`. */
export interface FaultSetRequest {
  experimentId: string;
  faults: ProxyFault[];
  deadlineAt: number;
}

/** The variable every process of a Gantry instance carries (runtime/process-control.ts), naming the instance. */
const INSTANCE_KEY_VAR = 'GANTRY_INSTANCE_KEY';

/** How often the callers' processes are listed again when a connection's peer is not among them. */
const CALLER_REFRESH_MS = 1000;

/** The longest an experiment may set faults for in one call; a guard against a deadline in the far future. */
export const MAX_FAULT_SPAN_MS = 24 * 3_600_000;

/** One proxy's chaos state; `now` and `random` are ports so tests can drive them. */
export class ChaosFaults {
  #active: ActiveFaults | null = null;
  #last: FaultReport | null = null;
  readonly #now: () => number;
  readonly #random: () => number;

  constructor(o: { now?: () => number; random?: () => number } = {}) {
    this.#now = o.now ?? Date.now;
    this.#random = o.random ?? Math.random;
  }

  /** Grows with every `set`: what a connection learnt about its caller holds for one fault set only. */
  generation = 0;

  /** Whether faults are set: the request path's one check. */
  get active(): boolean {
    return this.#active !== null;
  }

  /** Sets an experiment's faults until `deadlineAt` (replacing any set). InputError for a deadline past or too far. */
  set(req: FaultSetRequest): void {
    const now = this.#now();
    if (!(req.deadlineAt > now)) throw new InputError(`the faults' deadline ${req.deadlineAt} is not in the future`);
    if (req.deadlineAt - now > MAX_FAULT_SPAN_MS) throw new InputError(`the faults' deadline is more than 24 h away`);
    // No fault at all is allowed: an experiment of instance faults alone still reads the counts.
    if (!Array.isArray(req.faults)) throw new InputError('give a list of faults');
    if (this.#active !== null) this.#end('cleared');
    this.generation++;
    const timer = setTimeout(() => this.#end('deadline'), req.deadlineAt - now);
    timer.unref();
    this.#active = {
      experimentId: req.experimentId,
      setAt: now,
      deadlineAt: req.deadlineAt,
      faults: compileFaults(req.faults),
      byFault: req.faults.map(() => 0),
      affected: 0,
      unaffected: 0,
      lastFaultedAt: null,
      inside: new ChaosSample(),
      outside: new ChaosSample(),
      held: new Set(),
      timer,
      callerKeys: callerKeysOf(req.faults),
      callerPids: new Map(),
      callersListedAt: Number.NEGATIVE_INFINITY,
    };
    this.#last = null;
  }

  /**
   * The caller instance keys of each fault of the set `experimentId` (`callerKeys[i]` for fault i;
   * null leaves fault i as it is), replacing those given at `set`. ConflictError when that set is
   * not the one in force (ended, or replaced): the caller of a fault no longer set is no matter.
   */
  followCallers(experimentId: string, callerKeys: readonly (readonly string[] | null)[]): void {
    const a = this.#active;
    if (a === null || a.experimentId !== experimentId)
      throw new ConflictError(`the faults of experiment ${experimentId} are not set here (any more)`);
    if (!Array.isArray(callerKeys) || callerKeys.length !== a.faults.length)
      throw new InputError(`give the caller keys of each of the ${a.faults.length} faults (null: unchanged)`);
    const faults = a.faults.map((f, i) => {
      const keys = callerKeys[i];
      if (keys === null || keys === undefined || f.fault.match.caller === undefined) return f.fault;
      if (!Array.isArray(keys) || keys.some((k) => typeof k !== 'string'))
        throw new InputError(`fault ${i}: the caller keys are a list of strings`);
      return { ...f.fault, match: { ...f.fault.match, callerKeys: [...keys] } };
    });
    a.faults = compileFaults(faults);
    a.callerKeys = callerKeysOf(faults);
    a.callerPids.clear();
    a.callersListedAt = Number.NEGATIVE_INFINITY;
    // Connections looked up against the old keys look again.
    this.generation++;
  }

  /** Clears the faults of `experimentId` (any, when omitted); returns the report, or the last one when none is set. */
  clear(experimentId?: string): FaultReport | null {
    const a = this.#active;
    if (a !== null && (experimentId === undefined || a.experimentId === experimentId)) this.#end('cleared');
    return this.report();
  }

  /** The current report, or the last one kept after an end. */
  report(): FaultReport | null {
    const a = this.#active;
    if (a === null) return this.#last;
    return reportOf(a, null, null);
  }

  /**
   * Decides one request's fate. Called only while `active`; a request after the deadline is
   * let through unfaulted (and the faults are cleared) even if the timer has not fired yet.
   */
  decide(method: string, target: string, headers: readonly string[], release: string, caller?: () => string | null): FaultAction | null {
    const a = this.#active;
    if (a === null) return null;
    const now = this.#now();
    if (now >= a.deadlineAt) {
      this.#end('deadline');
      return null;
    }
    const i = selectFault(a.faults, { method, target, headers, release, caller }, this.#random);
    if (i < 0) {
      a.unaffected++;
      return { kind: 'none', sample: a.outside };
    }
    a.affected++;
    a.byFault[i]! += 1;
    a.lastFaultedAt = now;
    const fault = (a.faults[i] as CompiledFault).fault;
    switch (fault.kind) {
      case 'latency':
        return { kind: 'delay', ms: faultDelayMs(fault, this.#random), sample: a.inside };
      case 'abort':
        return { kind: 'abort', status: fault.status, sample: a.inside };
      case 'reset':
        return { kind: 'reset', sample: a.inside };
      case 'timeout':
        return { kind: 'timeout', ms: fault.afterMs, sample: a.inside };
    }
  }

  /**
   * The instance key of the Gantry instance at the other end of a loopback connection (its local
   * port `peerPort`, ours `ourPort`), among the callers a fault names; null otherwise. A few /proc
   * reads: the proxy asks once per connection, and only when a fault matches on the caller.
   */
  callerOf(peerPort: number, ourPort: number): string | null {
    const a = this.#active;
    if (a === null || a.callerKeys.size === 0) return null;
    const inode = socketInode(peerPort, ourPort);
    if (inode === null) return null;
    let pid = processWithSocket(inode, a.callerPids.keys());
    const now = this.#now();
    if (pid === null && now - a.callersListedAt >= CALLER_REFRESH_MS) {
      // Callers restart (new pids, same key): list them again, at most once a second.
      a.callersListedAt = now;
      a.callerPids.clear();
      for (const key of a.callerKeys) for (const p of processesWithEnv(INSTANCE_KEY_VAR, key)) a.callerPids.set(p, key);
      pid = processWithSocket(inode, a.callerPids.keys());
    }
    return pid === null ? null : (a.callerPids.get(pid) ?? null);
  }

  /** Keeps a request held by a delay or timeout so a clear can let it go at once; returns its removal. */
  hold(request: HeldRequest): () => void {
    const a = this.#active;
    if (a === null) {
      request.release();
      return () => undefined;
    }
    a.held.add(request);
    return () => a.held.delete(request);
  }

  #end(by: FaultsEnd): void {
    const a = this.#active;
    if (a === null) return;
    this.#active = null;
    clearTimeout(a.timer);
    this.#last = reportOf(a, this.#now(), by);
    const held = [...a.held];
    a.held.clear();
    for (const h of held) h.release();
  }
}

interface ActiveFaults {
  experimentId: string;
  setAt: number;
  deadlineAt: number;
  /** Recompiled by `followCallers`; the counts stay. */
  faults: CompiledFault[];
  byFault: number[];
  affected: number;
  unaffected: number;
  lastFaultedAt: number | null;
  inside: ChaosSample;
  outside: ChaosSample;
  held: Set<HeldRequest>;
  timer: NodeJS.Timeout;
  /** Every caller a fault names (empty: no fault is on a service edge). */
  callerKeys: Set<string>;
  /** The callers' processes, pid → instance key, listed when a lookup misses. */
  callerPids: Map<number, string>;
  callersListedAt: number;
}

function callerKeysOf(faults: readonly ProxyFault[]): Set<string> {
  return new Set(faults.flatMap((f) => f.match.callerKeys ?? []));
}

function reportOf(a: ActiveFaults, endedAt: number | null, endedBy: FaultsEnd | null): FaultReport {
  return {
    experimentId: a.experimentId,
    setAt: a.setAt,
    deadlineAt: a.deadlineAt,
    endedAt,
    endedBy,
    affected: a.affected,
    byFault: [...a.byFault],
    unaffected: a.unaffected,
    lastFaultedAt: a.lastFaultedAt,
    inside: a.inside.toJSON(),
    outside: a.outside.toJSON(),
  };
}

/** Body sent with `PUT /faults/callers`: the caller keys of each fault (null: unchanged). */
export interface FaultCallersRequest {
  experimentId: string;
  callerKeys: (string[] | null)[];
}

/** The shape check of `PUT /faults/callers`. */
export function parseFaultCallers(body: unknown): FaultCallersRequest {
  const b = body as Partial<FaultCallersRequest> | null;
  if (typeof b !== 'object' || b === null || typeof b.experimentId !== 'string' || !Array.isArray(b.callerKeys))
    throw new InputError('invalid fault callers: expected { experimentId, callerKeys: [[...] | null, ...] }');
  return { experimentId: b.experimentId, callerKeys: b.callerKeys };
}

/** The shape check of `PUT /faults` (the faults were validated by the config schema on the server). */
export function parseFaultSet(body: unknown): FaultSetRequest {
  const b = body as Partial<FaultSetRequest> | null;
  if (
    typeof b !== 'object' ||
    b === null ||
    typeof b.experimentId !== 'string' ||
    typeof b.deadlineAt !== 'number' ||
    !Array.isArray(b.faults)
  )
    throw new InputError('invalid fault set: expected { experimentId, faults: [...], deadlineAt }');
  return { experimentId: b.experimentId, faults: b.faults, deadlineAt: b.deadlineAt };
}
