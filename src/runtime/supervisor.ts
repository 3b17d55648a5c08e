/**
 * The embedded runtime's supervisor: runs service instances as local processes, tells when they
 * are ready, restarts them, and lets them outlive the server. The API and its guarantees are
 * documented in ./index.ts; the moving parts live beside this file (probes, process control,
 * spool logs, records). This class owns the lifecycle: every state change goes through
 * `transition()` (instance-state.ts), is persisted, then reported through `onChange`.
 *
 * Concurrency: everything runs on the event loop. Callbacks of a process (exit, probes) hold
 * the `Proc` they belong to and are ignored once it is no longer the instance's current one, so
 * a late probe answer never moves a restarted or stopped instance.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, rmSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { HealthCheckConfig } from '../core/delivery-config.ts';
import { GantryError, InputError, NotFoundError, ConflictError } from '../core/errors.ts';
import { createMasker, sandboxAvailable } from '../executor/index.ts';
import { probe } from './health-check.ts';
import { instanceSandboxArgv } from './instance-sandbox.ts';
import { backoffDelay, DEFAULT_BACKOFF, transition, type Backoff } from './instance-state.ts';
import { InstanceStore, type InstanceRecord } from './instance-store.ts';
import { silentLogger, type Logger } from '../platform/logger.ts';
import { pickPort, portFree } from '../platform/ports.ts';
import { caBinds } from '../platform/ca-binds.ts';
import { childEnv, NETWORK_ENV } from '../platform/child-env.ts';
import { isSameProcess, listProcesses, startTimeOf, type ProcStat } from '../platform/proc.ts';
import { INSTANCE_KEY_VAR, killLeftovers, terminateInstance, TreeSampler, type InstanceProcessRef } from './process-control.ts';
import type { FaultableInstance } from './instance-faults.ts';
import { RotatingLog } from './rotating-log.ts';
import { SpoolPump } from './spool-pump.ts';
import type { InstanceExit, InstanceSpec, InstanceState, InstanceStatus, SupervisorOptions } from './types.ts';

/** WARN and ERROR messages of the supervisor (the server's log): static, data beside them. */
const LOG = {
  startFailed: 'cannot start the instance',
  restartFailed: 'cannot restart the instance',
  exitHandlingFailed: 'exit handling failed',
  superseded: 'a supervisor of a newer lease holder took the runtime dir over: this one starts, stops and records nothing more',
} as const;

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const DEFAULT_STATS_MS = 5000;
const DEFAULT_POLL_MS = 200;
const DEFAULT_LOG_CAP = 10 * 1024 * 1024;
const DEFAULT_LOG_KEEP = 3;
/**
 * How often log offsets are persisted while output flows: after a crash of the server at most
 * this much output is stored twice (at least once, never lost).
 */
const OFFSETS_SAVE_MS = 1000;
/** Immediate retries on a new port when an instance that never got ready lost its port to another process. */
const MAX_PORT_RETRIES = 3;
/** One running (or waiting) process of an instance. */
interface Proc {
  pid: number;
  startTime: string;
  /** Set for processes this supervisor spawned; adopted ones are watched through /proc. */
  child: ChildProcess | null;
  /** Resolves once the exit was fully handled (leftovers killed, logs drained, next step decided). */
  handled: Promise<void>;
  markHandled: () => void;
  exitSeen: boolean;
  /** A stop or liveness kill in progress; exit handling waits for it. */
  terminating: Promise<void> | null;
  readyOk: number;
  readyFail: number;
  liveFail: number;
  /** Whether this process ever passed readiness (port-conflict retries only apply before). */
  everReady: boolean;
  timers: Set<NodeJS.Timeout>;
  sampler: TreeSampler;
}

interface Instance {
  spec: InstanceSpec;
  envKey: string;
  desired: 'running' | 'stopped';
  state: InstanceState;
  port: number;
  sandboxed: boolean;
  restarts: number;
  /** Crashes in a row, for the backoff. */
  failures: number;
  portRetries: number;
  startedAt: string | null;
  readySinceMs: number | null;
  lastExit: InstanceExit | null;
  cpuPercent: number | null;
  rssBytes: number | null;
  proc: Proc | null;
  restartTimer: NodeJS.Timeout | null;
  spawning: Promise<void> | null;
  log: RotatingLog;
  pump: SpoolPump;
  paths: InstancePaths;
  waiters: Set<() => void>;
  /** When the record (with the log offsets) was last written, on the monotonic clock. */
  offsetsSavedAt: number;
  /** Operations (stop, restart) in flight, awaited by detach(). */
  busy: Set<Promise<unknown>>;
}

interface InstancePaths {
  /** Supervisor-private: spools and logs. Hidden from the sandbox. */
  dir: string;
  /** The instance's own writable dir (HOME). */
  home: string;
  /** Its private tmp. */
  tmp: string;
  out: string;
  err: string;
  log: string;
}

/** Runs service instances; see ./index.ts for the contract. */
export class Supervisor {
  readonly #dataDir: string;
  readonly #onChange: ((s: InstanceStatus) => void) | undefined;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #backoff: Backoff;
  readonly #statsMs: number;
  readonly #pollMs: number;
  readonly #logCap: number;
  readonly #logKeep: number;
  readonly #logDirOf: ((spec: InstanceSpec) => string) | undefined;
  readonly #ports: { from: number; to: number } | undefined;
  readonly #hidden: string[];
  /** The host variables every instance gets (read once), under its own. */
  readonly #hostEnv: Record<string, string>;
  readonly #store: InstanceStore;
  readonly #keyPrefix: string;
  readonly #instances = new Map<string, Instance>();
  /** Ids between the checks of start() and their registration (start awaits a port in between). */
  readonly #starting = new Set<string>();
  #pollTimer: NodeJS.Timeout | null = null;
  #statsTimer: NodeJS.Timeout | null = null;
  #detached = false;
  /** Another supervisor took the lock over (a newer lease holder): this one acts no more. */
  #superseded = false;

  constructor(o: SupervisorOptions) {
    this.#dataDir = resolve(o.dataDir);
    this.#onChange = o.onChange;
    this.#logger = o.logger ?? silentLogger;
    this.#now = o.now ?? Date.now;
    this.#backoff = { ...DEFAULT_BACKOFF, ...stripUndefined(o.backoff ?? {}) };
    this.#statsMs = o.statsIntervalMs ?? DEFAULT_STATS_MS;
    this.#pollMs = o.pollMs ?? DEFAULT_POLL_MS;
    this.#logCap = o.log?.capBytes ?? DEFAULT_LOG_CAP;
    this.#logKeep = o.log?.keep ?? DEFAULT_LOG_KEEP;
    this.#logDirOf = o.log?.dirOf;
    this.#ports = o.ports;
    this.#hidden = [this.#dataDir, ...(o.hiddenPaths ?? [])];
    this.#hostEnv = childEnv({ inherit: [...NETWORK_ENV, ...(o.passEnv ?? [])] });
    this.#store = new InstanceStore(this.#dataDir, o.secretCodec, o.lockFence);
    this.#keyPrefix = createHash('sha256').update(this.#dataDir).digest('hex').slice(0, 12);
  }

  async start(spec: InstanceSpec): Promise<InstanceStatus> {
    this.#assertAttached();
    validateSpec(spec);
    this.#store.lock();
    this.#assertNotFenced();
    if (this.#starting.has(spec.id)) throw new ConflictError(`instance ${spec.id} is being started`);
    const existing = this.#instances.get(spec.id);
    if (existing && existing.state !== 'stopped' && existing.state !== 'failed') {
      throw new ConflictError(`instance ${spec.id} is already ${existing.state}`);
    }
    if (!existing && this.#store.loadAll().records.some((r) => r.id === spec.id && r.desired === 'running')) {
      throw new ConflictError(`instance ${spec.id} has a record of a running instance: adopt() it first`);
    }
    if (existing) this.#release(existing);
    const paths = this.#pathsOf(spec);
    // A fresh start reads its spools from the beginning: drop what an earlier instance of this id left.
    rmSync(paths.out, { force: true });
    rmSync(paths.err, { force: true });
    this.#starting.add(spec.id);
    let inst: Instance;
    try {
      const port = await pickPort(this.#takenPorts(), this.#ports);
      inst = this.#create(spec, paths, { port, restarts: 0, lastExit: null, desired: 'running', offsets: { o: 0, e: 0 } });
      // Reported by the spawn just below.
      this.#setState(inst, 'starting', false);
      this.#instances.set(spec.id, inst);
    } finally {
      this.#starting.delete(spec.id);
    }
    this.#ensureTimers();
    inst.log.system(
      `[gantry] starting instance ${spec.id} (release ${spec.releaseId}, environment ${spec.environment}, pool ${spec.pool})`,
    );
    try {
      await this.#spawn(inst);
    } catch (error) {
      inst.log.system(`[gantry] cannot start the instance: ${error instanceof Error ? error.message : String(error)}`);
      this.#logOf(inst).warn(LOG.startFailed, { err: error });
      if (!inst.proc) this.#setState(inst, 'failed');
      throw error;
    }
    return this.#status(inst);
  }

  async waitReady(id: string, timeoutMs: number): Promise<InstanceStatus> {
    const inst = this.#get(id);
    return new Promise((resolvePromise, reject) => {
      const check = (): boolean => {
        if (inst.state === 'ready') {
          resolvePromise(this.#status(inst));
          return true;
        }
        if (inst.state === 'failed' || inst.state === 'stopping' || inst.state === 'stopped') {
          reject(new GantryError('INSTANCE_NOT_READY', `instance ${id} is ${inst.state}`, this.#status(inst)));
          return true;
        }
        return false;
      };
      if (check()) return;
      const waiter = () => {
        if (!check()) return;
        clearTimeout(timer);
        inst.waiters.delete(waiter);
      };
      const timer = setTimeout(() => {
        inst.waiters.delete(waiter);
        reject(new GantryError('INSTANCE_NOT_READY', `instance ${id} not ready after ${timeoutMs} ms (${inst.state})`, this.#status(inst)));
      }, timeoutMs);
      inst.waiters.add(waiter);
    });
  }

  async stop(id: string): Promise<void> {
    const inst = this.#get(id);
    this.#assertNotFenced();
    const op = this.#stop(inst);
    inst.busy.add(op);
    try {
      await op;
    } finally {
      inst.busy.delete(op);
    }
  }

  status(id: string): InstanceStatus | undefined {
    const inst = this.#instances.get(id);
    return inst ? this.#status(inst) : undefined;
  }

  /** What an instance serves (environment, release, pool), also for adopted instances. */
  labels(id: string): { environment: string; releaseId: string; pool: string } | undefined {
    const spec = this.#instances.get(id)?.spec;
    return spec ? { environment: spec.environment, releaseId: spec.releaseId, pool: spec.pool } : undefined;
  }

  list(): InstanceStatus[] {
    return [...this.#instances.values()].map((i) => this.#status(i));
  }

  /**
   * A running instance as a chaos fault takes it: its processes (for a kill, a pause, pressure
   * inside its sandbox), the size of its in-memory /tmp (for a disk-full) and a graceful restart (the liveness path: out of traffic, the stop signal, SIGKILL
   * after the drain timeout, started again). Undefined when no process of it runs.
   */
  faultable(id: string): FaultableInstance | undefined {
    const inst = this.#instances.get(id);
    const proc = inst?.proc;
    if (inst === undefined || !proc || inst.desired !== 'running' || proc.terminating || this.#fenced()) return undefined;
    return {
      ref: this.#refOf(inst, proc),
      tmpSizeBytes: inst.sandboxed ? (inst.spec.service.tmpSizeBytes ?? null) : null,
      restart: (reason) => {
        if (inst.proc === proc) this.#killForRestart(inst, proc, reason);
      },
    };
  }

  /** Deletes a stopped (or failed) instance's record, log and files. */
  forget(id: string): void {
    const inst = this.#get(id);
    if (inst.state !== 'stopped' && inst.state !== 'failed') throw new ConflictError(`instance ${id} is ${inst.state}: stop it first`);
    this.#release(inst);
    this.#instances.delete(id);
    this.#store.remove(id);
  }

  async adopt(): Promise<InstanceStatus[]> {
    this.#assertAttached();
    this.#store.lock();
    this.#assertNotFenced();
    const adopted: Instance[] = [];
    const work: Promise<void>[] = [];
    for (const record of this.#store.loadAll().records) {
      if (this.#instances.has(record.id)) continue;
      const inst = this.#create(record.spec, this.#pathsOf(record.spec), {
        port: record.port,
        restarts: record.restarts,
        lastExit: record.lastExit,
        desired: record.desired,
        offsets: record.logOffsets,
      });
      inst.sandboxed = record.sandboxed;
      this.#instances.set(record.id, inst);
      adopted.push(inst);
      this.#ensureTimers();
      const alive = record.pid !== null && record.startTime !== null && isSameProcess(record.pid, record.startTime);
      inst.log.system(`[gantry] supervisor ${process.pid} attached; output read now was written while the instance was unsupervised`);
      inst.pump.pump();
      if (record.desired === 'stopped') {
        // A new instance is 'stopped' until told otherwise: a dead one stays so, a live one is still stopping.
        if (alive) {
          this.#setState(inst, 'stopping');
          work.push(this.#finishAdoptedStop(inst, record));
        } else this.#persist(inst);
        continue;
      }
      // Concurrently: each attach waits for a probe, each revival for leftovers to die.
      if (alive) work.push(this.#attach(inst, record.pid as number, record.startTime as string, record.startedAt));
      else work.push(this.#reviveDead(inst, record));
    }
    await Promise.all(work);
    return adopted.map((i) => this.#status(i));
  }

  async detach(): Promise<void> {
    if (this.#detached) return;
    for (const inst of this.#instances.values()) await Promise.allSettled([...inst.busy]);
    this.#detached = true;
    this.#clearTimers();
    for (const inst of this.#instances.values()) {
      if (inst.restartTimer) clearTimeout(inst.restartTimer);
      inst.restartTimer = null;
      if (inst.proc) {
        clearProcTimers(inst.proc);
        inst.proc.child?.removeAllListeners('exit');
      }
      inst.pump.pump();
      this.#persist(inst);
      for (const waiter of inst.waiters) waiter();
      inst.log.close();
      inst.pump.close();
    }
    this.#instances.clear();
    this.#store.unlock();
  }

  // ── lifecycle ───────────────────────────────────────────────────────────────────────────────

  /** Starts the instance's next process. stop() waits for a spawn in progress before it acts. */
  async #spawn(inst: Instance): Promise<void> {
    const spawning = this.#spawnProcess(inst);
    inst.spawning = spawning;
    try {
      await spawning;
    } finally {
      if (inst.spawning === spawning) inst.spawning = null;
    }
  }

  async #spawnProcess(inst: Instance): Promise<void> {
    const { spec } = inst;
    if (!(await portFree(inst.port))) {
      const previous = inst.port;
      inst.port = await pickPort(this.#takenPorts(inst), this.#ports);
      inst.log.system(`[gantry] port ${previous} is in use by another process: using ${inst.port}`);
    }
    if (inst.desired !== 'running' || this.#detached) return;
    const sandboxed = spec.sandbox === 'auto' && sandboxAvailable();
    if (spec.sandbox === 'auto' && !sandboxed)
      inst.log.system('[gantry] bubblewrap is not available here: the instance runs without a sandbox');
    if (!sandboxed && spec.service.tmpSizeBytes !== undefined)
      inst.log.system('[gantry] tmp-size needs the sandbox: the instance gets a /tmp on disk, which a disk-full fault will not fill');
    inst.sandboxed = sandboxed;
    const cwd = resolve(spec.workDir, spec.service.workingDirectory ?? '.');
    const env = this.#envOf(inst, sandboxed);
    const argv = ['bash', '-c', spec.service.run];
    const binds = sandboxed ? caBinds(this.#hostEnv, this.#hidden) : null;
    for (const sentence of binds?.unreadable ?? []) inst.log.system(`[gantry] ${sentence}`);
    const command = sandboxed
      ? instanceSandboxArgv(argv, {
          workDir: spec.workDir,
          instanceDir: inst.paths.home,
          tmpDir: inst.paths.tmp,
          tmpSizeBytes: spec.service.tmpSizeBytes,
          hiddenPaths: this.#hidden,
          binds: binds?.args,
          cwd,
        })
      : argv;
    // A restart due while this server was paused past its lease: the new owner's supervisor decides now.
    this.#assertNotFenced();
    // Persisted before the process exists: should we die right after spawning, the record's key finds it.
    this.#persist(inst);

    const out = openSync(inst.paths.out, 'a', 0o600);
    const err = openSync(inst.paths.err, 'a', 0o600);
    let child: ChildProcess;
    try {
      child = spawn(command[0] as string, command.slice(1), { cwd, env, detached: true, stdio: ['ignore', out, err] });
    } finally {
      closeSync(out);
      closeSync(err);
    }
    const spawned = await new Promise<Error | null>((done) => {
      child.once('spawn', () => done(null));
      child.once('error', (error) => done(error));
    });
    if (spawned !== null || child.pid === undefined) {
      inst.log.system(`[gantry] cannot start the instance: ${spawned?.message ?? 'no pid'}`);
      this.#logOf(inst).warn(LOG.startFailed, { err: spawned ?? 'no pid' });
      this.#setState(inst, 'failed');
      return;
    }
    child.unref();
    const pid = child.pid;
    const proc = this.#newProc(pid, startTimeOf(pid) ?? '', child);
    inst.proc = proc;
    child.once('exit', (code, signal) => void this.#onExit(inst, proc, { code, signal }));
    inst.startedAt = new Date(this.#now()).toISOString();
    inst.readySinceMs = null;
    inst.log.system(`[gantry] process ${pid} started on port ${inst.port}${sandboxed ? ' (bubblewrap)' : ''}`);
    this.#logOf(inst).info('instance process started', { pid, port: inst.port, sandboxed });
    this.#persist(inst);
    this.#notify(inst);
    this.#scheduleProbes(inst, proc, false);
  }

  /** Reattaches to a live process left by an earlier supervisor. */
  async #attach(inst: Instance, pid: number, startTime: string, startedAt: string | null): Promise<void> {
    const proc = this.#newProc(pid, startTime, null);
    inst.proc = proc;
    inst.startedAt = startedAt;
    this.#setState(inst, 'starting');
    // It was serving before the server went away: one passing probe is enough to say so again.
    const ok = await probe(inst.spec.service.health.readiness, this.#probeTarget(inst)).catch(() => false);
    if (inst.proc === proc && ok && inst.state === 'starting') {
      proc.everReady = true;
      inst.readySinceMs = this.#now();
      // Persisted and reported just below.
      this.#setState(inst, 'ready', false);
    }
    inst.log.system(`[gantry] adopted process ${pid} on port ${inst.port} (${inst.state})`);
    this.#logOf(inst).info('instance process adopted', { pid, port: inst.port, state: inst.state });
    this.#persist(inst);
    this.#notify(inst);
    if (inst.proc === proc) this.#scheduleProbes(inst, proc, true);
  }

  /** A record whose process is gone: clean up what it left and start it again at once. */
  async #reviveDead(inst: Instance, record: InstanceRecord): Promise<void> {
    this.#setState(inst, 'restarting');
    const leftovers = await killLeftovers(inst.envKey);
    inst.pump.drain();
    await inst.pump.compact(false);
    inst.lastExit = record.pid === null ? record.lastExit : { code: null, signal: null };
    inst.log.system(
      `[gantry] process ${record.pid ?? '-'} is gone (found on adoption)${leftovers.length > 0 ? `; killed ${leftovers.length} leftover process(es)` : ''}: restarting`,
    );
    await this.#restart(inst);
  }

  async #finishAdoptedStop(inst: Instance, record: InstanceRecord): Promise<void> {
    const ref: InstanceProcessRef = {
      pid: record.pid as number,
      startTime: record.startTime as string,
      envKey: inst.envKey,
      sandboxed: record.sandboxed,
    };
    await terminateInstance(ref, inst.spec.service.stop.signal, inst.spec.service.stop.drainTimeoutMs);
    inst.pump.drain();
    inst.log.system('[gantry] finished a stop interrupted by the server going away');
    this.#setState(inst, 'stopped');
  }

  async #restart(inst: Instance): Promise<void> {
    inst.restartTimer = null;
    if (inst.desired !== 'running' || this.#detached || inst.state !== 'restarting') return;
    inst.restarts++;
    this.#setState(inst, 'starting', false);
    try {
      await this.#spawn(inst);
    } catch (error) {
      // E.g. NO_FREE_PORT, or the data dir became unwritable: nothing a retry loop would fix by itself.
      inst.log.system(`[gantry] cannot restart the instance: ${error instanceof Error ? error.message : String(error)}`);
      this.#logOf(inst).warn(LOG.restartFailed, { err: error });
      if ((inst.state as InstanceState) === 'starting' && !inst.proc) this.#setState(inst, 'failed');
    }
  }

  async #stop(inst: Instance): Promise<void> {
    inst.desired = 'stopped';
    if (inst.restartTimer) clearTimeout(inst.restartTimer);
    inst.restartTimer = null;
    // A process being spawned right now must be known before it can be stopped.
    if (inst.spawning) await inst.spawning.catch(() => {});
    if (inst.state === 'stopped') return;
    if (inst.state === 'failed') {
      this.#setState(inst, 'stopped');
      return;
    }
    const proc = inst.proc;
    if (inst.state !== 'stopping') this.#setState(inst, 'stopping');
    if (!proc) {
      this.#setState(inst, 'stopped');
      return;
    }
    const { signal, drainTimeoutMs } = inst.spec.service.stop;
    inst.log.system(`[gantry] stopping: ${signal}, then SIGKILL after ${drainTimeoutMs} ms`);
    clearProcTimers(proc);
    proc.terminating ??= terminateInstance(this.#refOf(inst, proc), signal, drainTimeoutMs);
    await proc.terminating;
    if (!proc.child) void this.#onExit(inst, proc, { code: null, signal: null });
    await proc.handled;
  }

  /** Liveness failed: take the instance out of traffic, end it, and let exit handling restart it. */
  #killForRestart(inst: Instance, proc: Proc, reason: string): void {
    if (proc.terminating || inst.desired !== 'running' || this.#fenced()) return;
    inst.log.system(`[gantry] ${reason}: restarting`);
    clearProcTimers(proc);
    this.#setState(inst, 'restarting');
    const { signal, drainTimeoutMs } = inst.spec.service.stop;
    proc.terminating = terminateInstance(this.#refOf(inst, proc), signal, drainTimeoutMs);
    const op = proc.terminating.then(() => {
      if (!proc.child) void this.#onExit(inst, proc, { code: null, signal: null });
    });
    inst.busy.add(op);
    void op.finally(() => inst.busy.delete(op));
  }

  async #onExit(inst: Instance, proc: Proc, exit: InstanceExit): Promise<void> {
    if (proc.exitSeen || inst.proc !== proc || this.#detached) return;
    proc.exitSeen = true;
    clearProcTimers(proc);
    try {
      // The new owner stopped it, or will restart it: not this supervisor's to handle any more.
      if (this.#fenced()) return;
      if (proc.terminating) await proc.terminating;
      const leftovers = await killLeftovers(inst.envKey);
      inst.pump.drain();
      await inst.pump.compact(false);
      inst.proc = null;
      inst.lastExit = exit;
      inst.startedAt = null;
      inst.cpuPercent = null;
      inst.rssBytes = null;
      const how = exit.signal ? `signal ${exit.signal}` : exit.code === null ? 'an unknown status' : `code ${exit.code}`;
      inst.log.system(
        `[gantry] process ${proc.pid} exited with ${how}${leftovers.length > 0 ? `; killed ${leftovers.length} leftover process(es)` : ''}`,
      );
      this.#logOf(inst).info('instance process exited', {
        pid: proc.pid,
        code: exit.code,
        signal: exit.signal,
        leftovers: leftovers.length,
        desired: inst.desired,
      });
      if (inst.desired === 'stopped') {
        if (inst.state !== 'stopping') this.#setState(inst, 'stopping', false);
        this.#setState(inst, 'stopped');
        return;
      }
      await this.#scheduleRestart(inst, proc);
    } catch (error) {
      // Runs from an event handler: a throw here would take the whole server down.
      inst.log.system(`[gantry] exit handling failed: ${error instanceof Error ? error.message : String(error)}`);
      this.#logOf(inst).error(LOG.exitHandlingFailed, { err: error });
    } finally {
      proc.markHandled();
    }
  }

  async #scheduleRestart(inst: Instance, proc: Proc): Promise<void> {
    const healthyFor = inst.readySinceMs === null ? 0 : this.#now() - inst.readySinceMs;
    if (healthyFor >= this.#backoff.resetAfterMs) inst.failures = 0;
    inst.readySinceMs = null;
    const lostPort = !proc.everReady && inst.portRetries < MAX_PORT_RETRIES && !(await portFree(inst.port));
    // stop() may have come while the port was tested.
    if (inst.desired !== 'running' || this.#detached) return;
    let delayMs: number;
    if (lostPort) {
      // It probably lost a bind race for its port (EADDRINUSE): a new port, no backoff.
      inst.portRetries++;
      delayMs = 0;
      inst.log.system(`[gantry] port ${inst.port} was taken by another process before the instance bound it: retrying on a new port`);
    } else {
      inst.failures++;
      delayMs = backoffDelay(inst.failures, this.#backoff);
      inst.log.system(`[gantry] restarting in ${delayMs} ms (restart ${inst.restarts + 1}, ${inst.failures} in a row)`);
      this.#logOf(inst).info('instance restart scheduled', { delayMs, restart: inst.restarts + 1, failures: inst.failures });
    }
    if (inst.state !== 'restarting') this.#setState(inst, 'restarting', false);
    this.#persist(inst);
    this.#notify(inst);
    inst.restartTimer = setTimeout(() => {
      const op = this.#restart(inst);
      inst.busy.add(op);
      void op.finally(() => inst.busy.delete(op));
    }, delayMs);
  }

  // ── probes ──────────────────────────────────────────────────────────────────────────────────

  #scheduleProbes(inst: Instance, proc: Proc, adopted: boolean): void {
    const { readiness, liveness } = inst.spec.service.health;
    this.#scheduleProbe(inst, proc, 'readiness', readiness, adopted ? readiness.intervalMs : readiness.initialDelayMs);
    if (liveness) this.#scheduleProbe(inst, proc, 'liveness', liveness, adopted ? liveness.intervalMs : liveness.initialDelayMs);
  }

  #scheduleProbe(inst: Instance, proc: Proc, kind: 'readiness' | 'liveness', check: HealthCheckConfig, delayMs: number): void {
    if (inst.proc !== proc || proc.terminating || this.#detached) return;
    const timer = setTimeout(
      () => {
        proc.timers.delete(timer);
        void probe(check, this.#probeTarget(inst))
          .catch(() => false)
          .then((ok) => {
            if (inst.proc !== proc || proc.terminating || proc.exitSeen || this.#detached) return;
            if (kind === 'readiness') this.#onReadiness(inst, proc, check, ok);
            else this.#onLiveness(inst, proc, check, ok);
            this.#scheduleProbe(inst, proc, kind, check, check.intervalMs);
          });
      },
      Math.max(0, delayMs),
    );
    proc.timers.add(timer);
  }

  #onReadiness(inst: Instance, proc: Proc, check: HealthCheckConfig, ok: boolean): void {
    if (ok) {
      proc.readyOk++;
      proc.readyFail = 0;
      if ((inst.state === 'starting' || inst.state === 'unready') && proc.readyOk >= check.successThreshold) {
        proc.everReady = true;
        inst.portRetries = 0;
        inst.readySinceMs = this.#now();
        inst.log.system(`[gantry] ready (${proc.readyOk} passing readiness checks)`);
        this.#setState(inst, 'ready');
      }
      return;
    }
    proc.readyFail++;
    proc.readyOk = 0;
    if (inst.state === 'ready' && proc.readyFail >= check.failureThreshold) {
      inst.readySinceMs = null;
      inst.log.system(`[gantry] unready (${proc.readyFail} failing readiness checks)`);
      this.#setState(inst, 'unready');
    }
  }

  #onLiveness(inst: Instance, proc: Proc, check: HealthCheckConfig, ok: boolean): void {
    if (ok) {
      proc.liveFail = 0;
      return;
    }
    proc.liveFail++;
    if (proc.liveFail >= check.failureThreshold) this.#killForRestart(inst, proc, `liveness failed ${proc.liveFail} times in a row`);
  }

  // ── periodic work ───────────────────────────────────────────────────────────────────────────

  #ensureTimers(): void {
    this.#pollTimer ??= setInterval(() => this.#poll(), this.#pollMs);
    this.#statsTimer ??= setInterval(() => this.#sample(), this.#statsMs);
  }

  #clearTimers(): void {
    if (this.#pollTimer) clearInterval(this.#pollTimer);
    if (this.#statsTimer) clearInterval(this.#statsTimer);
    this.#pollTimer = null;
    this.#statsTimer = null;
  }

  /** Logs in, and the exit of adopted processes (not our children: no exit event) noticed. */
  #poll(): void {
    for (const inst of this.#instances.values()) {
      try {
        if (inst.pump.pump() && performance.now() - inst.offsetsSavedAt >= OFFSETS_SAVE_MS) this.#persist(inst);
        const proc = inst.proc;
        if (!proc) continue;
        void inst.pump.compact(true);
        if (!proc.child && !proc.exitSeen && !proc.terminating && !isSameProcess(proc.pid, proc.startTime)) {
          void this.#onExit(inst, proc, { code: null, signal: null });
        }
      } catch (error) {
        inst.log.system(`[gantry] log capture failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }

  #sample(): void {
    let procs: ProcStat[] | null = null;
    for (const inst of this.#instances.values()) {
      const proc = inst.proc;
      if (!proc || proc.exitSeen) continue;
      procs ??= listProcesses();
      const s = proc.sampler.sample(proc.pid, performance.now(), procs);
      inst.cpuPercent = s.cpuPercent;
      inst.rssBytes = s.rssBytes;
    }
  }

  // ── helpers ─────────────────────────────────────────────────────────────────────────────────

  #create(
    spec: InstanceSpec,
    paths: InstancePaths,
    o: { port: number; restarts: number; lastExit: InstanceExit | null; desired: 'running' | 'stopped'; offsets: { o: number; e: number } },
  ): Instance {
    for (const dir of [paths.dir, paths.home, paths.tmp]) mkdirSync(dir, { recursive: true, mode: 0o700 });
    const log = new RotatingLog({
      file: paths.log,
      capBytes: this.#logCap,
      keep: this.#logKeep,
      masker: createMasker(spec.secrets),
      now: this.#now,
    });
    return {
      spec,
      envKey: `${this.#keyPrefix}/${spec.id}`,
      desired: o.desired,
      state: 'stopped',
      port: o.port,
      sandboxed: false,
      restarts: o.restarts,
      failures: 0,
      portRetries: 0,
      startedAt: null,
      readySinceMs: null,
      lastExit: o.lastExit,
      cpuPercent: null,
      rssBytes: null,
      proc: null,
      restartTimer: null,
      spawning: null,
      log,
      pump: new SpoolPump({ out: paths.out, err: paths.err, log, offsets: o.offsets }),
      paths,
      waiters: new Set(),
      offsetsSavedAt: 0,
      busy: new Set(),
    };
  }

  #newProc(pid: number, startTime: string, child: ChildProcess | null): Proc {
    let markHandled = () => {};
    const handled = new Promise<void>((r) => {
      markHandled = r;
    });
    return {
      pid,
      startTime,
      child,
      handled,
      markHandled,
      exitSeen: false,
      terminating: null,
      readyOk: 0,
      readyFail: 0,
      liveFail: 0,
      everReady: false,
      timers: new Set(),
      sampler: new TreeSampler(),
    };
  }

  /** Closes an instance's files before it is replaced or forgotten. */
  #release(inst: Instance): void {
    if (inst.restartTimer) clearTimeout(inst.restartTimer);
    inst.log.close();
    inst.pump.close();
  }

  #pathsOf(spec: InstanceSpec): InstancePaths {
    const dir = join(this.#store.dir, spec.id);
    return {
      dir,
      home: join(dir, 'home'),
      tmp: join(dir, 'tmp'),
      out: join(dir, 'stdout.spool'),
      err: join(dir, 'stderr.spool'),
      log: join(this.#logDirOf?.(spec) ?? dir, 'instance.log'),
    };
  }

  #envOf(inst: Instance, sandboxed: boolean): Record<string, string> {
    // GANTRY_ENVIRONMENT defaults to the spec's environment key; the caller may name it better
    // through spec.env. What the supervisor relies on (port, dirs, the instance key) comes last.
    return childEnv({
      set: {
        ...this.#hostEnv,
        GANTRY_ENVIRONMENT: inst.spec.environment,
        ...inst.spec.env,
        PORT: String(inst.port),
        HOME: inst.paths.home,
        TMPDIR: sandboxed ? '/tmp' : inst.paths.tmp,
        GANTRY_INSTANCE_ID: inst.spec.id,
        GANTRY_RELEASE_ID: inst.spec.releaseId,
        [INSTANCE_KEY_VAR]: inst.envKey,
      },
    });
  }

  #probeTarget(inst: Instance) {
    return { port: inst.port, cwd: resolve(inst.spec.workDir, inst.spec.service.workingDirectory ?? '.'), env: this.#envOf(inst, false) };
  }

  #refOf(inst: Instance, proc: Proc): InstanceProcessRef {
    return { pid: proc.pid, startTime: proc.startTime, envKey: inst.envKey, sandboxed: inst.sandboxed };
  }

  #takenPorts(except?: Instance): Set<number> {
    const taken = new Set<number>();
    for (const i of this.#instances.values()) if (i !== except && i.state !== 'stopped') taken.add(i.port);
    return taken;
  }

  /** The only way `inst.state` changes: through the transition table, then persisted and reported (unless the caller does that next). */
  #setState(inst: Instance, to: InstanceState, report = true): void {
    const from = inst.state;
    inst.state = transition(inst.spec.id, inst.state, to);
    this.#logOf(inst).debug('instance state changed', { from, to });
    if (!report) return;
    this.#persist(inst);
    this.#notify(inst);
  }

  /** The server's log with the instance's context on every line. */
  #logOf(inst: Instance): Logger {
    return this.#logger.child({ instanceId: inst.spec.id, environment: inst.spec.environment, releaseId: inst.spec.releaseId });
  }

  #persist(inst: Instance): void {
    // The record is the new owner's now: writing this supervisor's stale view would undo its work.
    if (this.#fenced()) return;
    const proc = inst.proc;
    inst.offsetsSavedAt = performance.now();
    this.#store.save({
      id: inst.spec.id,
      spec: inst.spec,
      desired: inst.desired,
      state: inst.state,
      pid: proc?.pid ?? null,
      startTime: proc?.startTime ?? null,
      sandboxed: inst.sandboxed,
      port: inst.port,
      restarts: inst.restarts,
      startedAt: inst.startedAt,
      lastExit: inst.lastExit,
      logOffsets: inst.pump.offsets,
      envKey: inst.envKey,
    });
  }

  #notify(inst: Instance): void {
    const status = this.#status(inst);
    try {
      this.#onChange?.(status);
    } catch {
      // A listener's bug must not break supervision.
    }
    for (const waiter of [...inst.waiters]) waiter();
  }

  #status(inst: Instance): InstanceStatus {
    return {
      id: inst.spec.id,
      pid: inst.proc?.pid ?? null,
      port: inst.port,
      state: inst.state,
      restarts: inst.restarts,
      startedAt: inst.startedAt,
      lastExit: inst.lastExit,
      cpuPercent: inst.cpuPercent,
      rssBytes: inst.rssBytes,
      logFile: inst.paths.log,
      sandboxed: inst.sandboxed,
    };
  }

  #get(id: string): Instance {
    const inst = this.#instances.get(id);
    if (!inst) throw new NotFoundError(`no instance ${id}`);
    return inst;
  }

  /**
   * Whether another supervisor took the runtime dir's lock over (a server holding a newer lease,
   * docs/decisions/0037). Checked before every start, stop, restart and record write, so a server
   * paused past its lease that wakes with work under way does nothing more; its timers stop at once.
   */
  #fenced(): boolean {
    if (this.#superseded) return true;
    if (this.#store.holdsLock()) return false;
    this.#superseded = true;
    this.#clearTimers();
    for (const inst of this.#instances.values()) {
      if (inst.restartTimer) clearTimeout(inst.restartTimer);
      inst.restartTimer = null;
      if (inst.proc) clearProcTimers(inst.proc);
    }
    this.#logger.warn(LOG.superseded, { dir: this.#store.dir });
    return true;
  }

  #assertNotFenced(): void {
    if (this.#fenced()) throw new GantryError('SUPERVISOR_FENCED', `a supervisor of a newer lease holder took ${this.#store.dir} over`);
  }

  #assertAttached(): void {
    if (this.#detached) throw new GantryError('SUPERVISOR_DETACHED', 'this supervisor was detached; create a new one');
  }
}

function clearProcTimers(proc: Proc): void {
  for (const timer of proc.timers) clearTimeout(timer);
  proc.timers.clear();
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Rejects a spec the supervisor could never run, with INVALID_INPUT (400). */
function validateSpec(spec: InstanceSpec): void {
  const problems: string[] = [];
  if (!ID_PATTERN.test(spec.id)) problems.push(`id ${JSON.stringify(spec.id)} must match ${ID_PATTERN}`);
  if (spec.service.run.trim() === '') problems.push('service.run is empty');
  const { readiness, liveness } = spec.service.health;
  for (const [name, check] of [
    ['readiness', readiness],
    ['liveness', liveness],
  ] as const) {
    if (check && check.path === undefined && check.command === undefined) problems.push(`health.${name} needs a path or a command`);
    if (check && (check.intervalMs <= 0 || check.timeoutMs <= 0)) problems.push(`health.${name} needs a positive interval and timeout`);
  }
  const cwd = resolve(spec.workDir, spec.service.workingDirectory ?? '.');
  if (!isAbsolute(spec.workDir)) problems.push(`workDir ${spec.workDir} must be an absolute path`);
  else if (!isDirectory(spec.workDir)) problems.push(`workDir ${spec.workDir} is not a directory`);
  else if (!isDirectory(cwd)) problems.push(`working directory ${cwd} is not a directory`);
  if (problems.length > 0) throw new InputError(`cannot start instance ${spec.id}: ${problems.join('; ')}`, problems);
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
