/**
 * Which request a fault takes: the blast radius decided per request, as a pure function of the
 * request and a random source. The proxy calls `selectFault` once per request while an experiment
 * is on; tests and the blast-radius benchmark drive it with a seeded source, so the share it takes
 * can be checked against the binomial interval. No I/O, nothing allocated per request beyond what
 * reading a header needs.
 */
import type { FaultMatch, ProxyFault } from '../core/chaos-config.ts';
import { ConflictError } from '../core/errors.ts';

/** The parts of a request a match reads. `headers` is the parser's flat [name, value, name, value…] list. */
export interface FaultRequest {
  method: string;
  /** The request target as sent: origin-form (`/pay?x=1`) or absolute-form (`http://h/pay`). */
  target: string;
  headers: readonly string[];
  /** The release of the instance the request was routed to. */
  release: string;
  /**
   * The instance key of the Gantry instance that sent the request, looked up only when a fault
   * matches on the caller (it costs a few /proc reads); null when it is not an instance.
   */
  caller?: () => string | null;
}

/** A fault with its match prepared for per-request use (header names lower-cased once). */
export interface CompiledFault {
  fault: ProxyFault;
  /** percent / 100: compared with one draw of the random source. */
  share: number;
  path: string | null;
  method: string | null;
  headerName: string | null;
  headerValue: string;
  cookieName: string | null;
  cookieValue: string;
  release: string | null;
  /** The caller's instance keys, when the fault is on one service edge. */
  callers: ReadonlySet<string> | null;
}

/** Prepares faults for `selectFault`; their order is the order they are tried in. */
export function compileFaults(faults: readonly ProxyFault[]): CompiledFault[] {
  return faults.map((fault) => compileOne(fault, fault.match));
}

function compileOne(fault: ProxyFault, m: FaultMatch): CompiledFault {
  return {
    fault,
    share: Math.min(1, Math.max(0, fault.percent / 100)),
    path: m.path ?? null,
    method: m.method?.toUpperCase() ?? null,
    headerName: m.header?.name.toLowerCase() ?? null,
    headerValue: m.header?.value ?? '',
    cookieName: m.cookie?.name ?? null,
    cookieValue: m.cookie?.value ?? '',
    release: m.release ?? null,
    callers: m.callerKeys === undefined && m.caller === undefined ? null : new Set(m.callerKeys ?? []),
  };
}

/**
 * The index of the fault this request gets, or -1. Each fault whose match holds draws once from
 * `random` (uniform in [0, 1)) and takes the request when the draw is below its share; the first
 * that takes it wins. A request no match holds draws nothing, so the share among matching
 * requests is exactly Binomial(n, percent/100).
 */
export function selectFault(faults: readonly CompiledFault[], req: FaultRequest, random: () => number): number {
  for (let i = 0; i < faults.length; i++) {
    const f = faults[i] as CompiledFault;
    if (!matches(f, req)) continue;
    if (random() < f.share) return i;
  }
  return -1;
}

/** Whether every field of the fault's match holds for the request. */
export function matches(f: CompiledFault, req: FaultRequest): boolean {
  if (f.method !== null && req.method !== f.method) return false;
  if (f.release !== null && req.release !== f.release) return false;
  if (f.path !== null && !requestPath(req.target).startsWith(f.path)) return false;
  if (f.headerName !== null && headerValue(req.headers, f.headerName) !== f.headerValue) return false;
  if (f.cookieName !== null && !hasCookie(headerValue(req.headers, 'cookie'), f.cookieName, f.cookieValue)) return false;
  // Last: the caller is the only check that reads /proc.
  if (f.callers !== null) {
    const caller = req.caller?.() ?? null;
    if (caller === null || !f.callers.has(caller)) return false;
  }
  return true;
}

/** The path of a request target, without its query (absolute-form targets lose their scheme and authority). */
export function requestPath(target: string): string {
  let start = 0;
  if (target.charCodeAt(0) !== 47 /* / */) {
    const scheme = target.indexOf('://');
    if (scheme < 0) return target;
    const slash = target.indexOf('/', scheme + 3);
    if (slash < 0) return '/';
    start = slash;
  }
  const query = target.indexOf('?', start);
  return query < 0 ? (start === 0 ? target : target.slice(start)) : target.slice(start, query);
}

function headerValue(headers: readonly string[], lowerName: string): string | null {
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i] as string;
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) return headers[i + 1] as string;
  }
  return null;
}

function hasCookie(header: string | null, name: string, value: string): boolean {
  if (header === null) return false;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    if (pair.slice(0, eq).trim() === name && pair.slice(eq + 1).trim() === value) return true;
  }
  return false;
}

/**
 * The delay one request gets from a latency fault, in ms, never negative: the mean ± jitter
 * uniformly, or a normal draw with σ = jitter (Box-Muller on two draws of `random`).
 */
export function faultDelayMs(fault: Extract<ProxyFault, { kind: 'latency' }>, random: () => number): number {
  if (fault.jitterMs <= 0) return fault.delayMs;
  if (fault.distribution === 'uniform') return Math.max(0, fault.delayMs + (2 * random() - 1) * fault.jitterMs);
  const u = 1 - random();
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  return Math.max(0, fault.delayMs + z * fault.jitterMs);
}

/**
 * A small seeded source (mulberry32) for tests and benchmarks: the same seed gives the same
 * draws, so a share measured on it is reproducible.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The releases `release: stable` and `release: canary` stand for when an experiment starts. */
export interface RunningReleases {
  stable: string | null;
  /** The release a rollout under way is bringing in; null when none is. */
  canary: string | null;
}

/**
 * The faults with `match.release` of `stable` or `canary` replaced by the release it means now,
 * so that an experiment can try a canary against a fault before it is promoted. Throws
 * ConflictError when the release it names is not running (no rollout under way for `canary`).
 */
export function resolveFaultReleases(faults: readonly ProxyFault[], running: RunningReleases): ProxyFault[] {
  return faults.map((fault) => {
    const release = releaseNamed(fault.match.release, running, 'a fault');
    return release === fault.match.release ? fault : { ...fault, match: { ...fault.match, release } };
  });
}

/**
 * The release `named` stands for now: `stable` and `canary` resolved, anything else as written.
 * Throws ConflictError when it names one that does not run; `what` names the fault in the message.
 */
export function releaseNamed(named: string | undefined, running: RunningReleases, what: string): string | undefined {
  if (named !== 'stable' && named !== 'canary') return named;
  const release = running[named];
  if (release !== null) return release;
  throw new ConflictError(
    named === 'canary'
      ? `${what} targets the canary, but no rollout is under way to try it on`
      : `${what} targets the stable release, but none runs`,
  );
}
