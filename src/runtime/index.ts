/**
 * The embedded runtime: Gantry's supervisor of service instances (local processes). The rollout
 * controller starts and stops instances through it; the proxy routes only to instances it
 * reports `ready`.
 *
 * ## Contract of `Supervisor`
 *
 * - `start(spec)` validates the spec (INVALID_INPUT), assigns a port on 127.0.0.1 that passes a
 *   bind test and that no other instance holds, and runs `service.run` with `bash -c` and $PORT
 *   (plus HOME = its own dir, TMPDIR, GANTRY_INSTANCE_ID, GANTRY_RELEASE_ID, GANTRY_ENVIRONMENT — the
 *   spec's environment unless spec.env names it;
 *   of the server's env only PATH, LANG, LC_ALL, TZ, the proxy and CA settings and the names of
 *   `passEnv`) in its own session and process group, from
 *   `workDir` (+ `service.workingDirectory`). With `sandbox: 'auto'` and bubblewrap working, it
 *   runs inside bwrap: host read-only, the data dir hidden, `workDir` read-only, its own dir
 *   writable, a private tmp on /tmp, and the CA files of the server's settings readable (even in
 *   /tmp). Resolves once the process runs (`starting`); CONFLICT when
 *   the id is running (or has a running record not adopted yet).
 * - Readiness probes (HTTP GET on 127.0.0.1:PORT, 2xx/3xx; or a command, exit 0) start after
 *   `initialDelayMs` and repeat every `intervalMs`: `successThreshold` passes in a row → `ready`,
 *   `failureThreshold` failures in a row → `unready` (and back). Liveness failures
 *   (`failureThreshold` in a row) restart the instance: state `restarting` at once (out of
 *   traffic), the stop signal, SIGKILL after the drain timeout.
 * - Any exit of the process restarts it after a backoff of 1 s, 2 s, 4 s … capped at 60 s
 *   (configurable); the backoff resets when the instance was ready for `resetAfterMs`. An
 *   instance that never got ready and whose port is now held by another process (it lost the
 *   race for it: EADDRINUSE) is restarted at once on a new port (3 times at most).
 *   Before any restart, what the old process left (background jobs, daemons) is SIGKILLed.
 * - `waitReady(id, ms)` resolves with the status once `ready`; rejects with INSTANCE_NOT_READY
 *   after `ms` (504) or when the instance is failed/stopping/stopped (503). NOT_FOUND for an unknown id.
 * - `stop(id)`: no more restarts; `service.stop.signal` to every process of the instance, SIGKILL
 *   after `drainTimeoutMs`; resolves when all of them are gone (state `stopped`). Idempotent.
 * - `forget(id)` deletes a stopped instance's record, log and files (CONFLICT while it runs).
 * - `status(id)`, `list()`: snapshots. CPU % and RSS of each instance's process tree are
 *   sampled from /proc every `statsIntervalMs` (5 s).
 * - Logs: `<dataDir>/instances/<id>/instance.log` (or in `log.dirOf(spec)`) in the job log format
 *   (`parseLogLine` of `core/log-line.ts`), secrets masked, rotated at 10 MiB into
 *   `instance.log.<n>` (n growing, never renamed; 3 kept by default, a marker line where older
 *   ones were deleted); Gantry's own lines (`s`) record starts, exits,
 *   readiness changes, restarts and their delays. How output gets there across server restarts:
 *   see spool-pump.ts (lines are stamped when read; after a server crash at most ~1 s of output
 *   may be stored twice, none is lost).
 * - Persistence and adoption: instances are detached processes that outlive the server. Each has
 *   a record `<dataDir>/instances/<id>.json` (mode 0600; env and secrets encrypted when a
 *   `secretCodec` is given) with its pid and start time (from /proc/<pid>/stat), port, spec,
 *   restarts and log offsets. `adopt()` loads every record not yet supervised: a process that is
 *   still the same (pid and start time match) is reattached (one passing readiness probe makes
 *   it `ready` again, probes and sampling resume, its log continues where it stopped); a dead
 *   one has its leftovers killed and is restarted at once; a stop interrupted by the server's
 *   death is finished. No duplicate is ever started: every process of an instance carries
 *   GANTRY_INSTANCE_KEY, and one supervisor at a time owns a data dir (SUPERVISOR_LOCKED, 409;
 *   the lock of a dead supervisor is taken over, and with `lockFence` a live one's holding a lower
 *   lease token; the supervisor that lost its lock so starts, stops, restarts and records nothing
 *   more: SUPERVISOR_FENCED).
 * - `detach()` stops supervising (timers, probes, log capture) without touching the processes,
 *   after in-flight stops and restarts finish; the instance records keep what the next
 *   `adopt()` needs. A detached supervisor refuses `start`/`adopt` (SUPERVISOR_DETACHED).
 * - `onChange(status)` follows every change of state, pid, port, restarts and last exit,
 *   after it was persisted; not CPU/RSS samples.
 *
 * - `faultable(id)` hands a running instance to a chaos fault (instance-faults.ts): its process
 *   ref for a kill, a pause or pressure beside it, and a graceful restart. A pause and pressure
 *   leave a detached helper that ends them at the experiment's deadline, server or not.
 *
 * Error codes: INVALID_INPUT, CONFLICT, NOT_FOUND, INSTANCE_NOT_READY, NO_FREE_PORT,
 * SUPERVISOR_LOCKED, SUPERVISOR_DETACHED, INVALID_INSTANCE_TRANSITION (a bug of ours).
 */
export { Supervisor } from './supervisor.ts';
export {
  killInstance,
  lastingFaultInPlace,
  pauseInstance,
  pressInstance,
  revertInstanceFault,
  type FaultableInstance,
  type LastingFault,
  type ProcessMark,
  type PressureSpec,
} from './instance-faults.ts';
export type {
  BackoffOptions,
  InstanceExit,
  InstanceSpec,
  InstanceState,
  InstanceStatus,
  SecretCodec,
  SupervisorOptions,
} from './types.ts';
