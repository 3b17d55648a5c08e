/**
 * An in-memory `InstanceSupervisor` for tests. Instances live in a `FakeInstanceHost` (the
 * machine), so they outlive one supervisor: a new `FakeSupervisor` on the same host `adopt()`s
 * them, as the real one does after a server restart. Time is the test's `Clock`: readiness
 * timeouts and restart backoff only move when the test advances it.
 *
 * Failures a test can inject: `neverReady(releaseId)` (starts, never passes readiness),
 * `failStart(releaseId)` (start rejects), `crash(id)` (the process exits; it is restarted after
 * `restartMs` and ready again, or stays down with `crashLoop`). Every call that acts is appended
 * to `host.commands` as a short line (`start canary r2`, `stop r1`, `crash r2`).
 */
import { ConflictError, GantryError, NotFoundError } from '../../../src/core/errors.ts';
import type { Clock, TimerHandle } from '../../../src/core/clock.ts';
import type { InstanceSpec, InstanceState, InstanceStatus } from '../../../src/runtime/index.ts';
import type { InstanceLabels, InstanceSupervisor } from '../../../src/server/delivery/index.ts';

export interface FakeInstance {
  spec: InstanceSpec;
  state: InstanceState;
  port: number;
  restarts: number;
  /** Short name for command logs: the release's alias (see `FakeInstanceHost.alias`). */
  release: string;
}

/** The machine the instances run on; shared by the supervisors of successive "servers". */
export class FakeInstanceHost {
  readonly instances = new Map<string, FakeInstance>();
  /** What was done, in order; pass one array to several fakes for one log. */
  readonly commands: string[];
  readonly #neverReady = new Set<string>();
  readonly #failStart = new Set<string>();
  readonly #aliases = new Map<string, string>();
  #nextPort = 41_000;
  /** How long a crashed instance takes to be restarted and ready again. */
  restartMs = 1000;
  crashLoop = false;

  constructor(commands: string[] = []) {
    this.commands = commands;
  }

  /** Names a release id in command lines (e.g. `r2` for the release numbered 2). */
  alias(releaseId: string, name: string): void {
    this.#aliases.set(releaseId, name);
  }
  nameOf(releaseId: string): string {
    return this.#aliases.get(releaseId) ?? releaseId;
  }
  neverReady(releaseId: string): void {
    this.#neverReady.add(releaseId);
  }
  failStart(releaseId: string): void {
    this.#failStart.add(releaseId);
  }
  isNeverReady(releaseId: string): boolean {
    return this.#neverReady.has(releaseId);
  }
  isFailStart(releaseId: string): boolean {
    return this.#failStart.has(releaseId);
  }
  port(): number {
    return this.#nextPort++;
  }
}

export class FakeSupervisor implements InstanceSupervisor {
  readonly host: FakeInstanceHost;
  readonly #clock: Clock;
  readonly #known = new Set<string>();
  readonly #listeners = new Set<(status: InstanceStatus) => void>();
  readonly #waiters = new Set<() => void>();
  readonly #timers = new Set<TimerHandle>();
  #detached = false;

  constructor(clock: Clock, host = new FakeInstanceHost()) {
    this.#clock = clock;
    this.host = host;
  }

  async adopt(): Promise<InstanceStatus[]> {
    for (const id of this.host.instances.keys()) this.#known.add(id);
    return this.list();
  }

  async start(spec: InstanceSpec): Promise<InstanceStatus> {
    this.#assertAttached();
    const existing = this.host.instances.get(spec.id);
    if (existing && existing.state !== 'stopped' && existing.state !== 'failed')
      throw new ConflictError(`instance ${spec.id} is already ${existing.state}`);
    const release = this.host.nameOf(spec.releaseId);
    this.host.commands.push(`start ${spec.pool} ${release}`);
    const instance: FakeInstance = { spec, state: 'starting', port: this.host.port(), restarts: 0, release };
    this.host.instances.set(spec.id, instance);
    this.#known.add(spec.id);
    if (this.host.isFailStart(spec.releaseId)) {
      this.#set(instance, 'failed');
      throw new GantryError('SPAWN_FAILED', `instance ${spec.id} cannot start`);
    }
    this.#changed(instance);
    const status = this.#status(instance);
    // Readiness comes after start resolved, as with a real process.
    if (!this.host.isNeverReady(spec.releaseId)) queueMicrotask(() => this.#set(instance, 'ready', 'starting'));
    return status;
  }

  waitReady(id: string, timeoutMs: number): Promise<InstanceStatus> {
    const instance = this.#get(id);
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        if (instance.state === 'ready') {
          resolve(this.#status(instance));
          return true;
        }
        if (instance.state === 'failed' || instance.state === 'stopping' || instance.state === 'stopped') {
          reject(new GantryError('INSTANCE_NOT_READY', `instance ${id} is ${instance.state}`, 503));
          return true;
        }
        return false;
      };
      if (check()) return;
      const timer = this.#clock.setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new GantryError('INSTANCE_NOT_READY', `instance ${id} not ready after ${timeoutMs} ms (${instance.state})`, 504));
      }, timeoutMs);
      const waiter = () => {
        if (!check()) return;
        this.#clock.clearTimeout(timer);
        this.#waiters.delete(waiter);
      };
      this.#waiters.add(waiter);
    });
  }

  async stop(id: string): Promise<void> {
    const instance = this.#get(id);
    if (instance.state === 'stopped') return;
    this.host.commands.push(`stop ${instance.release}`);
    if (instance.state !== 'stopping') this.#set(instance, 'stopping');
    await Promise.resolve();
    this.#set(instance, 'stopped');
  }

  list(): InstanceStatus[] {
    return [...this.#known].map((id) => this.#status(this.#get(id)));
  }

  labels(id: string): InstanceLabels | undefined {
    if (!this.#known.has(id)) return undefined;
    const spec = this.host.instances.get(id)?.spec;
    return spec ? { environment: spec.environment, releaseId: spec.releaseId, pool: spec.pool } : undefined;
  }

  onChange(listener: (status: InstanceStatus) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async detach(): Promise<void> {
    this.#detached = true;
    for (const timer of this.#timers) this.#clock.clearTimeout(timer);
    this.#listeners.clear();
  }

  /**
   * The instance's process exits: `restarting` (out of the routes), then after `restartMs` on the
   * clock `ready` again with one more restart, unless the host is in a crash loop.
   */
  crash(id: string): void {
    const instance = this.#get(id);
    this.host.commands.push(`crash ${instance.release}`);
    this.#set(instance, 'restarting');
    if (this.host.crashLoop) return;
    const timer = this.#clock.setTimeout(() => {
      this.#timers.delete(timer);
      if (instance.state !== 'restarting') return;
      instance.restarts++;
      this.#set(instance, 'ready');
    }, this.host.restartMs);
    this.#timers.add(timer);
  }

  /** Makes a started instance ready now (for releases marked `neverReady`). */
  makeReady(id: string): void {
    this.#set(this.#get(id), 'ready');
  }

  #set(instance: FakeInstance, state: InstanceState, onlyFrom?: InstanceState): void {
    if (onlyFrom !== undefined && instance.state !== onlyFrom) return;
    instance.state = state;
    this.#changed(instance);
  }

  #changed(instance: FakeInstance): void {
    for (const waiter of [...this.#waiters]) waiter();
    if (this.#detached || !this.#known.has(instance.spec.id)) return;
    const status = this.#status(instance);
    for (const listener of this.#listeners) listener(status);
  }

  #get(id: string): FakeInstance {
    const instance = this.#known.has(id) ? this.host.instances.get(id) : undefined;
    if (!instance) throw new NotFoundError(`no instance ${id}`);
    return instance;
  }

  #assertAttached(): void {
    if (this.#detached) throw new ConflictError('the supervisor is detached');
  }

  #status(instance: FakeInstance): InstanceStatus {
    const running = instance.state !== 'stopped' && instance.state !== 'failed';
    return {
      id: instance.spec.id,
      pid: running ? 10_000 + instance.port : null,
      port: instance.port,
      state: instance.state,
      restarts: instance.restarts,
      startedAt: running ? new Date(this.#clock.now()).toISOString() : null,
      lastExit: null,
      cpuPercent: null,
      rssBytes: null,
      logFile: `/dev/null/${instance.spec.id}`,
      sandboxed: false,
    };
  }
}
