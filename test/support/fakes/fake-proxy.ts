/**
 * An in-memory `ProxyControl` for tests. Proxies live in a `FakeProxyHost` (the machine), so
 * they outlive one server: a later `open` of the same environment adopts the proxy with its
 * route table, as the real proxy processes do. Request metrics are scripted per release
 * (`traffic(version, …)`): a steady rate, error fraction and latency, from which each
 * `window(since, until)` is computed exactly — no sockets, no clocks.
 *
 * Command log (`host.commands`): `proxy open <env> <port>` / `proxy adopt <env> <port>`,
 * `routes <env> <stable>/<canary> stable=<ready stable upstreams> canary=<…>` (only when the
 * table changed), `drain <env>`, `proxy close <env>`.
 */
import { InputError } from '../../../src/core/errors.ts';
import {
  ChaosFaults,
  type FaultReport,
  type FaultSetRequest,
  type RollupBatch,
  type RouteTable,
  type WindowStats,
} from '../../../src/proxy/index.ts';
import type { EnvironmentProxy, ProxyControl, ProxyOpenOptions } from '../../../src/server/delivery/index.ts';

/** Scripted traffic of one release: requests per second, the fraction answered 5xx, and a latency. */
export interface Traffic {
  rps: number;
  errorRate: number;
  latencyMs: number;
}

export class FakeProxyHost {
  readonly proxies = new Map<string, FakeEnvironmentProxy>();
  /** What was done, in order; pass one array to several fakes for one log. */
  readonly commands: string[];
  readonly #traffic = new Map<string, Traffic>();
  /** Environment names for command lines (`<projectId>:<env>` → `<env>`). */
  nameOf: (environmentKey: string) => string = (key) => key.slice(key.indexOf(':') + 1);
  /** Ports already listened on by something else: `open` rejects for them. */
  readonly busyPorts = new Set<number>();

  constructor(commands: string[] = []) {
    this.commands = commands;
  }

  traffic(version: string, traffic: Traffic): void {
    this.#traffic.set(version, traffic);
  }
  trafficOf(version: string): Traffic | undefined {
    return this.#traffic.get(version);
  }
}

export class FakeProxyControl implements ProxyControl {
  readonly host: FakeProxyHost;

  constructor(host = new FakeProxyHost()) {
    this.host = host;
  }

  async open(options: ProxyOpenOptions): Promise<EnvironmentProxy> {
    const existing = this.host.proxies.get(options.environmentKey);
    const name = this.host.nameOf(options.environmentKey);
    if (existing && !existing.closed && existing.port === options.port) {
      this.host.commands.push(`proxy adopt ${name} ${options.port}`);
      existing.detached = false;
      return existing;
    }
    if (existing && !existing.closed) await existing.close();
    if (this.host.busyPorts.has(options.port)) throw new Error(`listen EADDRINUSE ${options.host}:${options.port}`);
    const proxy = new FakeEnvironmentProxy(this.host, name, options.port, existing?.table ?? null);
    this.host.proxies.set(options.environmentKey, proxy);
    this.host.commands.push(`proxy open ${name} ${options.port}`);
    return proxy;
  }

  async closeAbandoned(environmentKeys: ReadonlySet<string>): Promise<void> {
    for (const [key, proxy] of this.host.proxies) if (environmentKeys.has(key) && !proxy.closed) await proxy.close();
  }
}

export class FakeEnvironmentProxy implements EnvironmentProxy {
  readonly #host: FakeProxyHost;
  readonly name: string;
  readonly port: number;
  table: RouteTable | null;
  /** Every table applied, in order. */
  readonly tables: RouteTable[] = [];
  closed = false;
  detached = false;
  /** Set to make control calls fail (the proxy keeps its last table). */
  unreachable = false;

  constructor(host: FakeProxyHost, name: string, port: number, table: RouteTable | null) {
    this.#host = host;
    this.name = name;
    this.port = port;
    this.table = table;
  }

  async setRoutes(table: RouteTable): Promise<void> {
    this.#control();
    if (table.weights.stable + table.weights.canary !== 100) throw new InputError('weights must sum to 100');
    const line = `routes ${this.name} ${table.weights.stable}/${table.weights.canary} stable=${count(table, 'stable')} canary=${count(table, 'canary')}`;
    const before = this.table;
    this.table = structuredClone(table);
    this.tables.push(this.table);
    const previous = before
      ? `routes ${this.name} ${before.weights.stable}/${before.weights.canary} stable=${count(before, 'stable')} canary=${count(before, 'canary')}`
      : null;
    if (line !== previous) this.#host.commands.push(line);
  }

  async drained(_upstreamId: string, _timeoutMs: number): Promise<boolean> {
    this.#control();
    return true;
  }

  async window(sinceMs: number, untilMs: number, filter: { version?: string; pool?: 'stable' | 'canary' } = {}): Promise<WindowStats> {
    this.#control();
    const traffic = filter.version ? this.#host.trafficOf(filter.version) : undefined;
    const seconds = Math.max(0, untilMs - sinceMs) / 1000;
    const requests = traffic ? Math.floor(traffic.rps * seconds) : 0;
    const errors = traffic ? Math.round(requests * traffic.errorRate) : 0;
    const latency = traffic && requests > 0 ? [{ valueMs: traffic.latencyMs, count: requests }] : [];
    const ms = traffic?.latencyMs ?? 0;
    return {
      requests,
      errors,
      connectionErrors: 0,
      statusClasses: { '1xx': 0, '2xx': requests - errors, '3xx': 0, '4xx': 0, '5xx': errors },
      latency,
      p50: ms,
      p90: ms,
      p99: ms,
    };
  }

  /** The real fault bookkeeping (no traffic goes through a fake, so its counts stay 0). */
  readonly chaos = new ChaosFaults();

  async setFaults(set: FaultSetRequest): Promise<void> {
    this.#control();
    this.chaos.set(set);
  }

  async clearFaults(experimentId: string): Promise<FaultReport | null> {
    this.#control();
    return this.chaos.clear(experimentId);
  }

  async faultReport(): Promise<FaultReport | null> {
    this.#control();
    return this.chaos.report();
  }

  async readRollups(): Promise<RollupBatch> {
    this.#control();
    return { rollups: [], through: 0, dropped: 0 };
  }

  async ackRollups(_through: number): Promise<void> {
    this.#control();
  }

  async prometheus(): Promise<string> {
    this.#control();
    return '';
  }

  async detach(): Promise<void> {
    this.detached = true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.#host.commands.push(`proxy close ${this.name}`);
  }

  #control(): void {
    if (this.closed) throw new Error(`the proxy of ${this.name} is closed`);
    if (this.unreachable) throw new Error(`the proxy of ${this.name} does not answer`);
  }
}

function count(table: RouteTable, pool: 'stable' | 'canary'): number {
  return table.upstreams.filter((u) => u.pool === pool).length;
}
