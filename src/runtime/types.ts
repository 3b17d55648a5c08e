/**
 * The supervisor's vocabulary: what the rollout controller hands it (an `InstanceSpec`), and
 * what it reports back (an `InstanceStatus`). Plain data, no I/O, so the server, the proxy and
 * the CLI can share it without pulling in process code.
 */
import type { ServiceConfig } from '../core/delivery-config.ts';
import type { Logger } from '../platform/logger.ts';

/** One instance of a release's service, fully resolved by the caller (env already includes secrets). */
export interface InstanceSpec {
  /** Stable across restarts of the instance; used in file names, so `[A-Za-z0-9._-]`, starting with a letter or digit. */
  id: string;
  environment: string;
  releaseId: string;
  /** The proxy pool the instance serves (e.g. `stable`, `canary`); the supervisor only records it. */
  pool: string;
  service: ServiceConfig;
  /** The instance's environment variables: service env, environment overrides and secrets, resolved. */
  env: Record<string, string>;
  /** Secret values, masked (with their encodings) in the instance's log. */
  secrets: string[];
  /** The release's artifacts; the instance's working directory root, read-only for it in the sandbox. */
  workDir: string;
  /** `auto`: bubblewrap when it works here, otherwise a plain process (with a log line saying so). */
  sandbox: 'auto' | 'off';
}

/**
 * The lifecycle of one instance. `unready` is a running instance whose readiness check failed
 * after it had been ready (the proxy stops sending it requests); `restarting` covers the backoff
 * wait between a process ending and the next one starting; `failed` means it cannot be started
 * at all (spawn error), not that it crashed.
 */
export type InstanceState = 'starting' | 'ready' | 'unready' | 'restarting' | 'stopping' | 'stopped' | 'failed';

export interface InstanceExit {
  /** null when ended by a signal or when the exit was observed without being the parent (after adoption). */
  code: number | null;
  signal: string | null;
}

/** A snapshot of one instance, as `status()`, `list()` and `onChange` report it. */
export interface InstanceStatus {
  id: string;
  /** The supervised process (the bwrap process when sandboxed); null while none runs. */
  pid: number | null;
  /** 127.0.0.1 port the instance listens on ($PORT). */
  port: number;
  state: InstanceState;
  /** Processes started after the first one (crashes, liveness failures, dead on adoption). */
  restarts: number;
  /** ISO time the current process started; null while none runs. */
  startedAt: string | null;
  lastExit: InstanceExit | null;
  /** CPU of the whole process tree over the last sample interval, in percent of one core (may exceed 100). */
  cpuPercent: number | null;
  /** Resident memory of the whole process tree. */
  rssBytes: number | null;
  /** The instance's log (masked, timestamped; the job log format, read with `parseLogLine`). */
  logFile: string;
  /** Whether the current process runs inside bubblewrap. */
  sandboxed: boolean;
}

/** Encrypts the persisted env and secrets of instances (the server's `SecretBox` fits). */
export interface SecretCodec {
  encrypt(plaintext: string): string;
  decrypt(ciphertext: string): string;
}

export interface BackoffOptions {
  /** Delay before the first restart. Default 1000. */
  initialMs?: number;
  /** Ceiling of the doubling delay. Default 60000. */
  maxMs?: number;
  /** An instance ready for this long has its backoff reset. Default 60000. */
  resetAfterMs?: number;
}

export interface SupervisorOptions {
  /** Gantry's data dir: state in `instances/`, hidden from sandboxed instances. */
  dataDir: string;
  /** Called after every change of state, pid, port, restarts or last exit (not for CPU/RSS samples). Must not throw. */
  onChange?: (status: InstanceStatus) => void;
  /** Clock for timestamps and the backoff reset (timers stay real). */
  now?: () => number;
  backoff?: BackoffOptions;
  /** CPU/RSS sampling period. Default 5000. */
  statsIntervalMs?: number;
  /** How often spool files are read into logs and adopted processes are checked for exit. Default 200. */
  pollMs?: number;
  /**
   * Log file cap before rotation, and how many rotated files are kept (`Infinity`: all, when
   * someone else enforces a budget, as the server's service-log budget does). Defaults 10 MiB
   * and 3. `dirOf` places an instance's log files (default: its own dir under `instances/`), so
   * they can outlive the instance's record and be grouped by environment and release.
   */
  log?: { capBytes?: number; keep?: number; dirOf?: (spec: InstanceSpec) => string };
  /** Ports to assign from (inclusive); default: ephemeral ports chosen by the kernel. */
  ports?: { from: number; to: number };
  /** More paths hidden from sandboxed instances (the data dir always is). */
  hiddenPaths?: string[];
  /**
   * Host variables instances get besides PATH, LANG, LC_ALL, TZ and the network settings
   * (`NETWORK_ENV` of platform/child-env.ts): the server's `GANTRY_PASS_ENV`. Read when the
   * supervisor is made; an instance's own env wins.
   */
  passEnv?: readonly string[];
  /** When given, env and secrets are encrypted in the persisted instance records. */
  secretCodec?: SecretCodec;
  /**
   * Several servers sharing one runtime dir: the background-loops lease token this supervisor's
   * server holds (null while it holds none). The supervisor lock is taken over from a live holder
   * with a lower token — an owner paused past its lease — as from a dead one (docs/decisions/0037).
   */
  lockFence?: () => number | null;
  /**
   * The server's log (component `supervisor`): state changes and problems, with the instance's
   * id, environment and release beside them. The instance's own log gets its `[gantry]` lines
   * either way. Default: silent.
   */
  logger?: Logger;
}
