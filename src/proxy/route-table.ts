/**
 * The routing decision, without I/O: a validated route table compiled into a `Router` that
 * picks stable or canary by smooth weighted round robin (exactly 10 of every 100 requests at
 * 90/10, spread evenly, no randomness), honours match rules (header or cookie → canary) and
 * goes round robin within a pool. The proxy swaps a whole `Router` on `setRoutes`, so a request
 * sees either the old table or the new one, never a mix.
 */
import { InputError } from '../core/errors.ts';
import type { MatchRule } from '../core/delivery-config.ts';
import type { Pool } from './request-metrics.ts';

/** One instance the proxy may send requests to. */
export interface Upstream {
  id: string;
  host: string;
  port: number;
  pool: Pool;
  /** Release version it runs; metrics are labelled with it. */
  version: string;
}

/** Everything the proxy routes by; replaced as a whole by `TrafficProxy.setRoutes`. */
export interface RouteTable {
  upstreams: Upstream[];
  /** Percent of traffic per pool, summing to 100. A pool without upstreams gets none. */
  weights: { stable: number; canary: number };
  /** Requests matching any rule go to the canary pool (when it has upstreams). */
  match: MatchRule[];
}

/** A match rule with its header name lowercased and its regex compiled once. */
export interface CompiledRule {
  kind: 'header' | 'cookie';
  /** Lowercased header name, or the cookie name as is (cookie names are case-sensitive). */
  name: string;
  value: string | undefined;
  regex: RegExp | undefined;
}

/** Throws InputError listing every problem of a route table. */
export function validateRouteTable(t: RouteTable): void {
  const problems: string[] = [];
  const { stable, canary } = t.weights ?? { stable: Number.NaN, canary: Number.NaN };
  for (const [name, w] of [
    ['stable', stable],
    ['canary', canary],
  ] as const) {
    if (typeof w !== 'number' || !Number.isFinite(w) || w < 0 || w > 100)
      problems.push(`weights.${name} must be a number from 0 to 100 (got ${String(w)})`);
  }
  if (problems.length === 0 && Math.abs(stable + canary - 100) > 1e-9) problems.push(`weights must sum to 100 (got ${stable} + ${canary})`);
  const ids = new Set<string>();
  for (const [i, u] of (t.upstreams ?? []).entries()) {
    if (typeof u.id !== 'string' || u.id === '') problems.push(`upstreams[${i}].id must be a non-empty string`);
    else if (ids.has(u.id)) problems.push(`upstreams[${i}].id ${u.id} is listed twice`);
    else ids.add(u.id);
    if (typeof u.host !== 'string' || u.host === '') problems.push(`upstreams[${i}].host must be a non-empty string`);
    if (!Number.isInteger(u.port) || u.port < 1 || u.port > 65535) problems.push(`upstreams[${i}].port must be an integer from 1 to 65535`);
    if (u.pool !== 'stable' && u.pool !== 'canary') problems.push(`upstreams[${i}].pool must be stable or canary`);
    if (typeof u.version !== 'string') problems.push(`upstreams[${i}].version must be a string`);
  }
  for (const [i, r] of (t.match ?? []).entries()) {
    if ('regex' in r && r.regex !== undefined) {
      try {
        new RegExp(r.regex);
      } catch (e) {
        problems.push(`match[${i}].regex does not compile: ${(e as Error).message}`);
      }
    }
  }
  if (problems.length > 0) throw new InputError(`invalid route table: ${problems.join('; ')}`, { problems });
}

/** Compiles match rules for the proxy's header loop. */
export function compileRules(rules: MatchRule[]): CompiledRule[] {
  return rules.map((r) => {
    const regex = r.regex === undefined ? undefined : new RegExp(r.regex);
    return 'header' in r
      ? { kind: 'header', name: r.header.toLowerCase(), value: r.value, regex }
      : { kind: 'cookie', name: r.cookie, value: r.value, regex };
  });
}

/** Whether a header or cookie value satisfies a rule: equal to `value`, matching `regex`, or present when neither is set. */
export function ruleMatches(rule: CompiledRule, value: string): boolean {
  if (rule.value !== undefined && value !== rule.value) return false;
  if (rule.regex !== undefined && !rule.regex.test(value)) return false;
  return true;
}

/** Whether a Cookie header carries a cookie that satisfies a cookie rule. */
export function cookieMatches(rule: CompiledRule, cookieHeader: string): boolean {
  for (const part of cookieHeader.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== rule.name) continue;
    let v = part.slice(eq + 1).trim();
    if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
    if (ruleMatches(rule, v)) return true;
  }
  return false;
}

/**
 * A compiled route table over some upstream handle type `T` (the proxy's per-instance pools).
 * Mutable only in its round-robin cursors.
 */
export class Router<T> {
  readonly stable: T[];
  readonly canary: T[];
  readonly rules: CompiledRule[];
  readonly all: T[];
  readonly #ws: number;
  readonly #wc: number;
  #cs = 0;
  #cc = 0;
  #is = 0;
  #ic = 0;

  constructor(stable: T[], canary: T[], weights: { stable: number; canary: number }, rules: CompiledRule[]) {
    this.stable = stable;
    this.canary = canary;
    this.rules = rules;
    this.all = [...stable, ...canary];
    // An empty pool gets no traffic whatever its weight says.
    this.#ws = stable.length === 0 ? 0 : weights.stable;
    this.#wc = canary.length === 0 ? 0 : weights.canary;
    if (this.#ws === 0 && this.#wc === 0 && this.all.length > 0) {
      // Both weights 0, or the weighted pool is empty: the non-empty pool takes everything.
      if (stable.length > 0) this.#ws = 1;
      else this.#wc = 1;
    }
  }

  /** The next upstream: canary when a rule matched (and the canary has upstreams), else by weight. Null when empty. */
  pick(toCanary: boolean): T | null {
    if (toCanary && this.canary.length > 0) return this.#nextCanary();
    if (this.#wc === 0) return this.stable.length > 0 ? this.#nextStable() : null;
    if (this.#ws === 0) return this.#nextCanary();
    // Smooth weighted round robin (nginx's), for two peers.
    this.#cs += this.#ws;
    this.#cc += this.#wc;
    if (this.#cs >= this.#cc) {
      this.#cs -= this.#ws + this.#wc;
      return this.#nextStable();
    }
    this.#cc -= this.#ws + this.#wc;
    return this.#nextCanary();
  }

  /** Another upstream for a retry, not in `tried`: same pool first, then the other. Null when none is left. */
  retry(previous: T, tried: readonly T[]): T | null {
    const first = this.canary.includes(previous) ? this.canary : this.stable;
    const second = first === this.canary ? this.stable : this.canary;
    for (const pool of [first, second]) {
      const n = pool.length;
      const start = pool === this.stable ? this.#is : this.#ic;
      for (let k = 0; k < n; k++) {
        const u = pool[(start + k) % n] as T;
        if (!tried.includes(u)) return u;
      }
    }
    return null;
  }

  #nextStable(): T {
    const i = this.#is;
    this.#is = i + 1 >= this.stable.length ? 0 : i + 1;
    return this.stable[i] as T;
  }

  #nextCanary(): T {
    const i = this.#ic;
    this.#ic = i + 1 >= this.canary.length ? 0 : i + 1;
    return this.canary[i] as T;
  }
}
