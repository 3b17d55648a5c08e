/**
 * The delivery context's runtime ports with agents behind them (docs/decisions/0043): an
 * environment whose release says `placement` has its instances and its proxy on agents (through
 * `AgentPlacement`), every other one on this machine exactly as before (the local ports). The
 * rollout driver, the route table and the canary analysis cannot tell the two apart.
 */
import { GantryError } from '../../core/errors.ts';
import type { FaultReport, FaultSetRequest, RollupBatch, RouteTable, WindowStats } from '../../proxy/index.ts';
import type { FaultableInstance, InstanceSpec, InstanceStatus } from '../../runtime/index.ts';
import type { EnvironmentProxy, InstanceLabels, InstanceSupervisor, ProxyControl, ProxyOpenOptions } from '../delivery/index.ts';
import type { AgentPlacement } from './agent-placement.ts';
import type { PlacementLookup } from './placement-lookup.ts';

/** Instances of placed environments on agents, the others on the local supervisor. */
export class PlacedInstances implements InstanceSupervisor {
  readonly #local: InstanceSupervisor;
  readonly #book: AgentPlacement;
  readonly #lookup: PlacementLookup;

  constructor(local: InstanceSupervisor, book: AgentPlacement, lookup: PlacementLookup) {
    this.#local = local;
    this.#book = book;
    this.#lookup = lookup;
  }

  /** The local instances, and what the agents report running (waiting for each expected agent up to the lost time). */
  async adopt(): Promise<unknown> {
    const [local] = await Promise.all([this.#local.adopt(), this.#book.adopt()]);
    return local;
  }
  async start(spec: InstanceSpec): Promise<InstanceStatus> {
    const placement = await this.#lookup.ofRelease(spec.releaseId, environmentOf(spec.environment));
    return placement === undefined ? this.#local.start(spec) : this.#book.start(spec, placement);
  }
  waitReady(id: string, timeoutMs: number): Promise<InstanceStatus> {
    return this.#book.has(id) ? this.#book.waitReady(id, timeoutMs) : this.#local.waitReady(id, timeoutMs);
  }
  stop(id: string): Promise<void> {
    return this.#book.has(id) ? this.#book.stop(id) : this.#local.stop(id);
  }
  list(): InstanceStatus[] {
    return [...this.#local.list(), ...this.#book.list()];
  }
  labels(id: string): InstanceLabels | undefined {
    return this.#book.labels(id) ?? this.#local.labels(id);
  }
  onChange(listener: (status: InstanceStatus) => void): () => void {
    const offLocal = this.#local.onChange(listener);
    const offBook = this.#book.onChange(listener);
    return () => {
      offLocal();
      offBook();
    };
  }
  detach(): Promise<void> {
    return this.#local.detach();
  }
  /** Chaos instance faults reach local instances only (an agent's processes are not this host's). */
  faultable(id: string): FaultableInstance | undefined {
    return this.#book.has(id) ? undefined : this.#local.faultable?.(id);
  }
}

/** Proxies of placed environments on agents, the others local. */
export class PlacedProxies implements ProxyControl {
  readonly #local: ProxyControl;
  readonly #book: AgentPlacement;
  readonly #lookup: PlacementLookup;

  constructor(local: ProxyControl, book: AgentPlacement, lookup: PlacementLookup) {
    this.#local = local;
    this.#book = book;
    this.#lookup = lookup;
  }

  async open(options: ProxyOpenOptions): Promise<EnvironmentProxy> {
    const placement = await this.#lookup.ofEnvironment(options.environmentKey, options.releaseId);
    if (placement === undefined) return this.#local.open(options);
    this.#book.openProxy({ environmentKey: options.environmentKey, label: options.label, port: options.port }, placement);
    return new AgentProxy(this.#book, options.environmentKey);
  }

  closeAbandoned(environmentKeys: ReadonlySet<string>): Promise<void> {
    for (const key of environmentKeys) this.#book.closeProxy(key);
    return this.#local.closeAbandoned(environmentKeys);
  }
}

/** How long a call to a proxy on an agent may take besides its own wait (a poll round trip and the call). */
const CALL_MS = 10_000;

/** An environment's proxy on an agent, asked through the agent's poll. */
export class AgentProxy implements EnvironmentProxy {
  readonly #book: AgentPlacement;
  readonly #key: string;

  constructor(book: AgentPlacement, environmentKey: string) {
    this.#book = book;
    this.#key = environmentKey;
  }

  async setRoutes(table: RouteTable): Promise<void> {
    this.#book.rememberRoutes(this.#key, table);
    try {
      await this.#book.call(this.#key, 'setRoutes', [table], CALL_MS);
    } catch (error) {
      // A proxy that runs nowhere now starts with this table wherever it runs next.
      if (!(error instanceof GantryError && error.code === 'PROXY_UNPLACED')) throw error;
    }
  }
  async drained(upstreamId: string, timeoutMs: number): Promise<boolean> {
    return (await this.#book.call(this.#key, 'drained', [upstreamId, timeoutMs], timeoutMs + CALL_MS)) as boolean;
  }
  async window(sinceMs: number, untilMs: number, filter?: { version?: string; pool?: 'stable' | 'canary' }): Promise<WindowStats> {
    return (await this.#book.call(this.#key, 'window', [sinceMs, untilMs, filter ?? {}], CALL_MS)) as WindowStats;
  }
  async readRollups(): Promise<RollupBatch> {
    return (await this.#book.call(this.#key, 'readRollups', [], CALL_MS)) as RollupBatch;
  }
  async ackRollups(through: number): Promise<void> {
    await this.#book.call(this.#key, 'ackRollups', [through], CALL_MS);
  }
  async prometheus(): Promise<string> {
    return (await this.#book.call(this.#key, 'prometheus', [], CALL_MS)) as string;
  }
  async setFaults(set: FaultSetRequest): Promise<void> {
    await this.#book.call(this.#key, 'setFaults', [set], CALL_MS);
  }
  async clearFaults(experimentId: string): Promise<FaultReport | null> {
    return (await this.#book.call(this.#key, 'clearFaults', [experimentId], CALL_MS)) as FaultReport | null;
  }
  async faultReport(): Promise<FaultReport | null> {
    return (await this.#book.call(this.#key, 'faultReport', [], CALL_MS)) as FaultReport | null;
  }
  /** Server shutdown: the proxy keeps running on its agent. */
  async detach(): Promise<void> {}
  async close(): Promise<void> {
    this.#book.closeProxy(this.#key);
  }
}

function environmentOf(environmentKey: string): string {
  return environmentKey.slice(environmentKey.indexOf(':') + 1);
}
