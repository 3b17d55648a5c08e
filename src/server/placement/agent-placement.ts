/**
 * The placement book (docs/decisions/0043): which agent runs each instance and each proxy of the
 * environments placed on agents, the desired state each agent long-polls for, and what the agents
 * report back. In memory, on the server that drives rollouts.
 *
 * - Desired state: an agent is told the instances it should run (spec + its release's files by
 *   hash) and the proxies (with their last route table); it reconciles and reports. Each change
 *   of an agent's desired state raises its version and wakes its poll.
 * - Reports are taken only from the agent an instance is placed on: a lost agent coming back
 *   cannot report into an instance that moved (its next poll tells it to stop it).
 * - An agent not heard from within `lostAfterMs` is lost: its instances become `starting` again
 *   on another live agent carrying the labels (same instance id, so the rollout driver waits for
 *   it as before), its proxy moves with its last route table; calls to that proxy fail at once
 *   (PROXY_UNPLACED) until it runs again.
 * - Proxy calls (`window`, `drained`, faults …) are queued for the proxy's agent, handed out by
 *   its next poll (which returns at once) and answered by `report`; each has a deadline.
 */
import type { PlacementConfig } from '../../core/delivery-config.ts';
import { GantryError, InputError, NotFoundError } from '../../core/errors.ts';
import { newId } from '../../core/ids.ts';
import {
  type CallAnswer,
  candidatesFor,
  type DesiredInstance,
  type DesiredProxy,
  leastLoaded,
  type ProxyCall,
  type ProxyCallMethod,
  type ReportedInstance,
} from '../../placement/index.ts';
import type { RouteTable } from '../../proxy/index.ts';
import type { InstanceSpec, InstanceStatus } from '../../runtime/index.ts';
import type { TimerHandle } from '../../core/clock.ts';
import type { Clock, InstanceLabels } from '../delivery/index.ts';
import type { ReleaseTrees } from './release-trees.ts';

export interface AgentPlacementDeps {
  clock: Clock;
  /** An agent not heard from for this long is lost and its work moves (the agents' lease time). */
  lostAfterMs: number;
  /** The release files agents fetch for their instances. */
  trees: ReleaseTrees;
  /** The labels an agent was registered with (the store's). */
  registeredLabels(agent: string): Promise<readonly string[]>;
  /** The placement an instance's release gives its environment: an agent's instance the server does not know is adopted with it. */
  placementOf(spec: InstanceSpec): Promise<PlacementConfig | undefined>;
  /** The placement of an environment by its key (`<projectId>:<environment>`): an agent's proxy the server does not know is adopted with it. */
  placementOfEnvironment(environmentKey: string): Promise<PlacementConfig | undefined>;
  /** The agents expected to report after a restart (registered, not revoked, seen lately). */
  expectedAgents(): Promise<readonly string[]>;
  info(message: string, data: Record<string, unknown>): void;
}

interface AgentView {
  name: string;
  labels: string[];
  address: string;
  lastSeen: number;
  live: boolean;
  version: number;
  wake: (() => void) | null;
  calls: ProxyCall[];
  /** Environment keys of the proxies it reports running. */
  proxies: Set<string>;
}

interface PlacedInstance {
  spec: InstanceSpec;
  placement: PlacementConfig;
  agent: string | null;
  status: InstanceStatus;
  /** False once a stop was asked for: it leaves its agent's desired state. */
  wanted: boolean;
  stopped: Promise<void>;
  markStopped: () => void;
}

interface PlacedProxy {
  environmentKey: string;
  label: string;
  port: number;
  placement: PlacementConfig;
  agent: string | null;
  routes: RouteTable | null;
}

interface PendingCall {
  agent: string;
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

export class AgentPlacement {
  readonly #deps: AgentPlacementDeps;
  readonly #agents = new Map<string, AgentView>();
  readonly #instances = new Map<string, PlacedInstance>();
  readonly #proxies = new Map<string, PlacedProxy>();
  readonly #pending = new Map<string, PendingCall>();
  readonly #listeners = new Set<(status: InstanceStatus) => void>();
  #version = 0;
  /** Agents that reported since this server started, and who waits for that (adopt). */
  readonly #heardFrom = new Set<string>();
  readonly #waiters = new Set<() => void>();
  #watch: TimerHandle | null = null;
  #stopped = false;

  constructor(deps: AgentPlacementDeps) {
    this.#deps = deps;
    // Versions start at the clock, so an agent holding a previous server's version still differs from this one's.
    this.#version = deps.clock.now();
  }

  /** How often an agent must report (a third of the time after which it counts as lost). */
  get heartbeatMs(): number {
    return Math.max(50, Math.floor(this.#deps.lostAfterMs / 3));
  }

  /** Starts watching for lost agents. */
  watch(): void {
    const every = Math.max(50, Math.floor(this.#deps.lostAfterMs / 4));
    const tick = () => {
      this.#findLost();
      if (!this.#stopped) this.#watch = this.#deps.clock.setTimeout(tick, every);
    };
    this.#watch = this.#deps.clock.setTimeout(tick, every);
  }

  /** Server shutdown: no more watching; polls under way answer now; agents keep what they run. */
  close(): void {
    this.#stopped = true;
    if (this.#watch) this.#deps.clock.clearTimeout(this.#watch);
    for (const agent of this.#agents.values()) agent.wake?.();
    for (const [id, call] of this.#pending) {
      clearTimeout(call.timer);
      call.reject(new GantryError('PROXY_UNPLACED', 'the server is stopping'));
      this.#pending.delete(id);
    }
  }

  // ---------------------------------------------------------------- instances (the supervisor port)

  has(id: string): boolean {
    return this.#instances.has(id);
  }

  /** Places a new instance on the least loaded matching agent (or none yet: it waits as `starting`). */
  start(spec: InstanceSpec, placement: PlacementConfig): InstanceStatus {
    const existing = this.#instances.get(spec.id);
    if (existing && existing.status.state !== 'stopped') throw new InputError(`instance ${spec.id} already runs`);
    let markStopped = () => {};
    const stopped = new Promise<void>((resolve) => {
      markStopped = resolve;
    });
    const placed: PlacedInstance = {
      spec,
      placement,
      agent: null,
      status: pendingStatus(spec.id),
      wanted: true,
      stopped,
      markStopped,
    };
    this.#instances.set(spec.id, placed);
    // Indexed now, so the agent's first fetch of the release does not wait for it.
    void this.#deps.trees.manifest(spec.workDir).catch(() => undefined);
    this.#place();
    this.#emit(placed);
    return { ...placed.status };
  }

  waitReady(id: string, timeoutMs: number): Promise<InstanceStatus> {
    const placed = this.#require(id);
    return new Promise((resolve, reject) => {
      const settle = (status: InstanceStatus): boolean => {
        if (status.id !== id) return false;
        if (status.state === 'ready') resolve({ ...status });
        else if (status.state === 'failed' || status.state === 'stopping' || status.state === 'stopped')
          reject(new GantryError('INSTANCE_NOT_READY', `instance ${id} is ${status.state}`, { id, state: status.state }));
        else return false;
        return true;
      };
      if (settle(placed.status)) return;
      const timer = setTimeout(() => {
        off();
        reject(new GantryError('INSTANCE_NOT_READY', `instance ${id} was not ready within ${timeoutMs} ms`, { id }));
      }, timeoutMs);
      const off = this.onChange((status) => {
        if (settle(status)) {
          clearTimeout(timer);
          off();
        }
      });
    });
  }

  /** Takes the instance out of its agent's desired state; resolves once the agent reports it stopped, or is lost. */
  async stop(id: string): Promise<void> {
    const placed = this.#require(id);
    if (placed.status.state === 'stopped') return;
    if (placed.wanted) {
      placed.wanted = false;
      if (placed.agent === null) {
        this.#setStatus(placed, { ...placed.status, state: 'stopped', pid: null });
        placed.markStopped();
      } else {
        this.#setStatus(placed, { ...placed.status, state: 'stopping' });
        this.#touch(placed.agent);
      }
    }
    await placed.stopped;
  }

  list(): InstanceStatus[] {
    return [...this.#instances.values()].map((p) => ({ ...p.status }));
  }

  /** The instance's labels, with the address of the agent it runs on (the proxy's upstream host). */
  labels(id: string): InstanceLabels | undefined {
    const placed = this.#instances.get(id);
    if (!placed) return undefined;
    const address = placed.agent === null ? undefined : this.#agents.get(placed.agent)?.address;
    return {
      environment: placed.spec.environment,
      releaseId: placed.spec.releaseId,
      pool: placed.spec.pool,
      ...(address === undefined ? {} : { host: address }),
    };
  }

  /** Which agent runs an instance (null while it waits for one). */
  agentOf(id: string): string | null {
    return this.#instances.get(id)?.agent ?? null;
  }

  onChange(listener: (status: InstanceStatus) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  // ---------------------------------------------------------------- proxies

  /** Places the environment's proxy (kept where it runs if an agent reports it already). */
  openProxy(options: { environmentKey: string; label: string; port: number }, placement: PlacementConfig): void {
    const existing = this.#proxies.get(options.environmentKey);
    if (existing) {
      existing.placement = placement;
      return;
    }
    const running = [...this.#agents.values()].find((a) => a.live && a.proxies.has(options.environmentKey));
    this.#proxies.set(options.environmentKey, {
      ...options,
      placement,
      agent: running?.name ?? null,
      routes: null,
    });
    if (running) this.#touch(running.name);
    this.#place();
  }

  /** Stops the environment's proxy on its agent (the next poll tells it). */
  closeProxy(environmentKey: string): void {
    const proxy = this.#proxies.get(environmentKey);
    if (!proxy) return;
    this.#proxies.delete(environmentKey);
    if (proxy.agent !== null) this.#touch(proxy.agent);
  }

  /** The proxy's last route table: what it starts with on the next agent when it moves. */
  rememberRoutes(environmentKey: string, routes: RouteTable): void {
    const proxy = this.#proxies.get(environmentKey);
    if (proxy) proxy.routes = routes;
  }

  /** Where the environment's proxy runs now: its agent and address, or null while it has none. */
  proxyLocation(environmentKey: string): { agent: string; address: string; port: number } | null {
    const proxy = this.#proxies.get(environmentKey);
    const agent = proxy?.agent ? this.#agents.get(proxy.agent) : undefined;
    return proxy && agent ? { agent: agent.name, address: agent.address, port: proxy.port } : null;
  }

  /** Asks the environment's proxy on its agent; rejects (PROXY_UNPLACED) at once when it runs nowhere, or at the deadline. */
  call(environmentKey: string, method: ProxyCallMethod, args: unknown[], timeoutMs: number): Promise<unknown> {
    const proxy = this.#proxies.get(environmentKey);
    const agent = proxy?.agent ? this.#agents.get(proxy.agent) : undefined;
    if (!proxy || !agent?.live)
      return Promise.reject(new GantryError('PROXY_UNPLACED', `the proxy of ${proxy?.label ?? environmentKey} runs on no live agent now`));
    const id = newId();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new GantryError('PROXY_UNPLACED', `the proxy of ${proxy.label} on agent ${agent.name} did not answer ${method} in time`));
      }, timeoutMs);
      this.#pending.set(id, { agent: agent.name, resolve, reject, timer });
      agent.calls.push({ id, environmentKey, method, args });
      agent.wake?.();
    });
  }

  // ---------------------------------------------------------------- the agents' side

  /** What the agent reported: who it is, where it is reached, what runs there, answers to calls. */
  async report(
    name: string,
    report: {
      address: string;
      labels?: readonly string[];
      instances: ReportedInstance[];
      proxies: { environmentKey: string; label?: string | undefined; port?: number | undefined; error?: string | undefined }[];
      answers: CallAnswer[];
    },
  ): Promise<void> {
    const registered = await this.#deps.registeredLabels(name);
    let agent = this.#agents.get(name);
    const labels = [...new Set([...registered, ...(report.labels ?? [])])];
    if (!agent) {
      agent = {
        name,
        labels,
        address: report.address,
        lastSeen: 0,
        live: false,
        version: 0,
        wake: null,
        calls: [],
        proxies: new Set(),
      };
      this.#agents.set(name, agent);
    }
    agent.labels = labels;
    agent.address = report.address;
    agent.lastSeen = this.#deps.clock.now();
    const cameBack = !agent.live;
    agent.live = true;
    if (cameBack) this.#deps.info('agent heard from: it runs placed environments now', { agent: name, address: report.address });
    agent.proxies = new Set(report.proxies.filter((p) => p.error === undefined).map((p) => p.environmentKey));
    for (const p of report.proxies) {
      if (p.error !== undefined) this.#deps.info('a proxy could not start on its agent', { agent: name, ...p });
      else if (!this.#proxies.has(p.environmentKey) && p.label !== undefined && p.port !== undefined)
        await this.#adoptProxy(agent, { environmentKey: p.environmentKey, label: p.label, port: p.port });
    }
    for (const reported of report.instances) {
      if (!this.#instances.has(reported.id)) await this.#adopt(agent, reported);
      this.#take(agent, reported);
    }
    this.#heardFrom.add(name);
    for (const waiter of this.#waiters) waiter();
    for (const answer of report.answers) {
      const call = this.#pending.get(answer.id);
      if (!call || call.agent !== name) continue;
      this.#pending.delete(answer.id);
      clearTimeout(call.timer);
      if (answer.ok) call.resolve(answer.result);
      else call.reject(new InputError(answer.error ?? 'the proxy refused the call'));
    }
    if (cameBack) this.#place();
  }

  /**
   * The agent's long poll: its desired state once it differs from `version` or calls wait, else
   * after `waitMs` (then it is also a heartbeat).
   */
  async desired(
    name: string,
    version: number,
    waitMs: number,
  ): Promise<{ version: number; instances: DesiredInstance[]; proxies: DesiredProxy[]; calls: ProxyCall[] }> {
    const agent = this.#agents.get(name);
    if (!agent) throw new NotFoundError(`agent ${name} has not reported`);
    if (agent.version === version && agent.calls.length === 0 && !this.#stopped) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, waitMs);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        agent.wake = done;
      });
      agent.wake = null;
    }
    agent.lastSeen = Math.max(agent.lastSeen, this.#deps.clock.now());
    const calls = agent.calls;
    agent.calls = [];
    const instances: DesiredInstance[] = [];
    for (const placed of this.#instances.values()) {
      if (placed.agent !== name || !placed.wanted) continue;
      instances.push({
        spec: placed.spec as unknown as Record<string, unknown>,
        release: await this.#deps.trees.manifest(placed.spec.workDir),
      });
    }
    const proxies: DesiredProxy[] = [...this.#proxies.values()]
      .filter((p) => p.agent === name)
      .map((p) => ({
        environmentKey: p.environmentKey,
        label: p.label,
        port: p.port,
        routes: p.routes as unknown as Record<string, unknown> | null,
      }));
    return { version: agent.version, instances, proxies, calls };
  }

  /** Agents as placement sees them (the placement route shows them). */
  agents(): { name: string; labels: string[]; address: string; live: boolean; instances: number; proxies: string[] }[] {
    return [...this.#agents.values()].map((a) => ({
      name: a.name,
      labels: a.labels,
      address: a.address,
      live: a.live,
      instances: [...this.#instances.values()].filter((p) => p.agent === a.name && p.wanted).length,
      proxies: [...this.#proxies.values()].filter((p) => p.agent === a.name).map((p) => p.environmentKey),
    }));
  }

  /** A revoked agent is lost at once: its work moves now rather than at the next deadline. */
  dropAgent(name: string): void {
    const agent = this.#agents.get(name);
    if (agent?.live) this.#lose(agent);
  }

  /**
   * After a restart: resolves once every agent expected to report has, or after the lost time
   * (one that has not by then would be lost anyway), so the first route tables include what the
   * agents run rather than leaving a placed environment without instances for a moment.
   */
  async adopt(): Promise<void> {
    const expected = await this.#deps.expectedAgents();
    if (expected.length === 0) return;
    await new Promise<void>((resolve) => {
      const check = () => {
        if (!expected.every((name) => this.#heardFrom.has(name))) return;
        done();
      };
      const timer = setTimeout(() => done(), this.#deps.lostAfterMs);
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve();
      };
      this.#waiters.add(check);
      check();
    });
  }

  // ---------------------------------------------------------------- inside

  /** A proxy an agent runs that this server does not know (it restarted): kept there if its environment is still placed. */
  async #adoptProxy(agent: AgentView, proxy: { environmentKey: string; label: string; port: number }): Promise<void> {
    const placement = await this.#deps.placementOfEnvironment(proxy.environmentKey);
    if (placement === undefined || this.#proxies.has(proxy.environmentKey)) return;
    this.#proxies.set(proxy.environmentKey, { ...proxy, placement, agent: agent.name, routes: null });
    this.#deps.info('proxy adopted from its agent', { environment: proxy.label, agent: agent.name });
  }

  /** An instance an agent runs that this server does not know (it restarted): taken back if its environment is still placed. */
  async #adopt(agent: AgentView, reported: ReportedInstance): Promise<void> {
    if (reported.spec === undefined || reported.state === 'stopped' || reported.state === 'stopping') return;
    const spec = reported.spec as unknown as InstanceSpec;
    if (spec.id !== reported.id) return;
    const placement = await this.#deps.placementOf(spec);
    // Placed elsewhere meanwhile (another report raced this one), or no longer placed: the agent stops it.
    if (placement === undefined || this.#instances.has(reported.id)) return;
    let markStopped = () => {};
    const stopped = new Promise<void>((resolve) => {
      markStopped = resolve;
    });
    const placed: PlacedInstance = { spec, placement, agent: agent.name, status: statusOf(reported), wanted: true, stopped, markStopped };
    this.#instances.set(spec.id, placed);
    void this.#deps.trees.manifest(spec.workDir).catch(() => undefined);
    this.#deps.info('instance adopted from its agent', { instance: spec.id, agent: agent.name });
    this.#emit(placed);
  }

  #require(id: string): PlacedInstance {
    const placed = this.#instances.get(id);
    if (!placed) throw new NotFoundError(`instance ${id} does not exist`);
    return placed;
  }

  /** A report of one instance, taken only from the agent it is placed on. */
  #take(agent: AgentView, reported: ReportedInstance): void {
    const placed = this.#instances.get(reported.id);
    if (!placed || placed.agent !== agent.name) return;
    if (placed.wanted && reported.state === 'stopped') {
      // Stopped by its agent without being asked (its own supervisor gave up): it is restarted there.
      this.#setStatus(placed, { ...placed.status, ...statusOf(reported), state: 'restarting' });
      return;
    }
    if (!placed.wanted && reported.state !== 'stopped') {
      this.#setStatus(placed, { ...statusOf(reported), state: 'stopping' });
      return;
    }
    this.#setStatus(placed, statusOf(reported));
    if (!placed.wanted) placed.markStopped();
  }

  #setStatus(placed: PlacedInstance, status: InstanceStatus): void {
    const before = placed.status;
    placed.status = status;
    if (before.state !== status.state || before.port !== status.port || before.pid !== status.pid || before.restarts !== status.restarts)
      this.#emit(placed);
  }

  #emit(placed: PlacedInstance): void {
    const status = { ...placed.status };
    for (const listener of this.#listeners) listener(status);
  }

  /** Raises the agent's desired-state version and wakes its poll. */
  #touch(name: string): void {
    const agent = this.#agents.get(name);
    if (!agent) return;
    agent.version = ++this.#version;
    agent.wake?.();
  }

  #findLost(): void {
    const now = this.#deps.clock.now();
    for (const agent of this.#agents.values()) {
      if (agent.live && now - agent.lastSeen > this.#deps.lostAfterMs) this.#lose(agent);
    }
  }

  /** The agent is gone: what it ran moves to other matching agents; its calls fail now. */
  #lose(agent: AgentView): void {
    agent.live = false;
    agent.proxies.clear();
    this.#deps.info('agent lost: its instances and proxies move to other agents', { agent: agent.name });
    for (const [id, call] of this.#pending) {
      if (call.agent !== agent.name) continue;
      this.#pending.delete(id);
      clearTimeout(call.timer);
      call.reject(new GantryError('PROXY_UNPLACED', `agent ${agent.name} was lost`));
    }
    agent.calls = [];
    for (const placed of this.#instances.values()) {
      if (placed.agent !== agent.name) continue;
      placed.agent = null;
      if (placed.wanted) {
        this.#setStatus(placed, pendingStatus(placed.spec.id, placed.status.restarts + 1));
      } else {
        this.#setStatus(placed, { ...placed.status, state: 'stopped', pid: null });
        placed.markStopped();
      }
    }
    for (const proxy of this.#proxies.values()) if (proxy.agent === agent.name) proxy.agent = null;
    this.#place();
  }

  /** Gives every instance and proxy without a live agent one, where a matching agent is live. */
  #place(): void {
    const agents = [...this.#agents.values()].map((a) => ({ name: a.name, labels: a.labels, live: a.live }));
    for (const placed of this.#instances.values()) {
      if (placed.agent !== null || !placed.wanted) continue;
      const load = new Map<string, number>();
      for (const other of this.#instances.values())
        if (other.wanted && other.agent !== null && other.spec.environment === placed.spec.environment)
          load.set(other.agent, (load.get(other.agent) ?? 0) + 1);
      const chosen = leastLoaded(candidatesFor(agents, placed.placement), load);
      if (chosen === undefined) continue;
      placed.agent = chosen;
      this.#deps.info('instance placed', { instance: placed.spec.id, agent: chosen });
      this.#touch(chosen);
    }
    for (const proxy of this.#proxies.values()) {
      if (proxy.agent !== null) continue;
      const load = new Map<string, number>();
      for (const other of this.#proxies.values()) if (other.agent !== null) load.set(other.agent, (load.get(other.agent) ?? 0) + 1);
      const chosen = leastLoaded(candidatesFor(agents, proxy.placement), load);
      if (chosen === undefined) continue;
      proxy.agent = chosen;
      this.#deps.info('proxy placed', { environment: proxy.label, agent: chosen });
      this.#touch(chosen);
    }
  }
}

/** An instance placed but not running anywhere yet. */
function pendingStatus(id: string, restarts = 0): InstanceStatus {
  return {
    id,
    pid: null,
    port: 0,
    state: 'starting',
    restarts,
    startedAt: null,
    lastExit: null,
    cpuPercent: null,
    rssBytes: null,
    logFile: '',
    sandboxed: false,
  };
}

function statusOf(r: ReportedInstance): InstanceStatus {
  return {
    id: r.id,
    pid: r.pid,
    port: r.port,
    state: r.state,
    restarts: r.restarts,
    startedAt: r.startedAt,
    lastExit: r.lastExit,
    cpuPercent: r.cpuPercent,
    rssBytes: r.rssBytes,
    logFile: r.logFile,
    sandboxed: r.sandboxed,
  };
}
