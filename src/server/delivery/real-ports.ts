/**
 * The real implementations of ./ports.ts: thin adapters over the runtime's `Supervisor` and the
 * proxy's `ProxyClient`, which keep their own behaviour (documented in src/runtime/index.ts and
 * src/proxy/index.ts). The composition root (src/server/start.ts) wires these.
 */
import { ProxyClient } from '../../proxy/index.ts';
import { Supervisor, type FaultableInstance, type InstanceSpec, type InstanceStatus, type SupervisorOptions } from '../../runtime/index.ts';
import type { EnvironmentProxy, InstanceLabels, InstanceSupervisor, ProxyControl, ProxyOpenOptions } from './ports.ts';

/** The runtime's supervisor behind the `InstanceSupervisor` port (its `onChange` option fans out to listeners). */
export class SupervisedInstances implements InstanceSupervisor {
  readonly #listeners = new Set<(status: InstanceStatus) => void>();
  readonly #supervisor: Supervisor;

  constructor(options: Omit<SupervisorOptions, 'onChange'>) {
    this.#supervisor = new Supervisor({
      ...options,
      onChange: (status) => {
        for (const listener of this.#listeners) listener(status);
      },
    });
  }

  adopt(): Promise<InstanceStatus[]> {
    return this.#supervisor.adopt();
  }
  start(spec: InstanceSpec): Promise<InstanceStatus> {
    return this.#supervisor.start(spec);
  }
  waitReady(id: string, timeoutMs: number): Promise<InstanceStatus> {
    return this.#supervisor.waitReady(id, timeoutMs);
  }
  stop(id: string): Promise<void> {
    return this.#supervisor.stop(id);
  }
  list(): InstanceStatus[] {
    return this.#supervisor.list();
  }
  labels(id: string): InstanceLabels | undefined {
    return this.#supervisor.labels(id);
  }
  onChange(listener: (status: InstanceStatus) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  detach(): Promise<void> {
    return this.#supervisor.detach();
  }
  faultable(id: string): FaultableInstance | undefined {
    return this.#supervisor.faultable(id);
  }
}

/**
 * Proxy processes under `<dataDir>/proxies/`, one per environment (`ProxyClient`). With several
 * servers, `fence` gives the background-loops lease token every command carries, so a proxy
 * refuses the commands of a server taken over while paused (docs/decisions/0037).
 */
export class ProxyProcesses implements ProxyControl {
  readonly #dataDir: string;
  readonly #fence: (() => number | null) | undefined;

  constructor(dataDir: string, o: { fence?: () => number | null } = {}) {
    this.#dataDir = dataDir;
    this.#fence = o.fence;
  }

  open(options: ProxyOpenOptions): Promise<EnvironmentProxy> {
    return ProxyClient.start({ dataDir: this.#dataDir, ...options, ...(this.#fence ? { fence: this.#fence } : {}) });
  }

  async closeAbandoned(environmentKeys: ReadonlySet<string>): Promise<void> {
    const found = await ProxyClient.adoptAll(this.#dataDir, { watch: false, ...(this.#fence ? { fence: this.#fence } : {}) });
    await Promise.all(found.map((proxy) => (environmentKeys.has(proxy.environmentKey) ? proxy.close() : proxy.detach())));
  }
}
