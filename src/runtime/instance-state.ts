/**
 * The instance lifecycle as one transition table, and the restart backoff. Pure: the supervisor
 * asks here before every move, so an illegal move (a stopped instance becoming ready because a
 * late health check answered) is a thrown bug instead of a silent inconsistency.
 */
import { GantryError } from '../core/errors.ts';
import type { InstanceState } from './types.ts';

const TRANSITIONS: Readonly<Record<InstanceState, readonly InstanceState[]>> = {
  starting: ['ready', 'restarting', 'stopping', 'failed'],
  ready: ['unready', 'restarting', 'stopping'],
  unready: ['ready', 'restarting', 'stopping'],
  restarting: ['starting', 'stopping', 'failed'],
  stopping: ['stopped'],
  // An instance object begins 'stopped' (no process under supervision), also one rebuilt from its
  // record by adopt(): a live process whose stop the previous server did not finish makes it
  // 'stopping' (the stop is finished), a running one whose process is gone 'restarting' (it starts
  // again at once). Neither has another way in: stop() and the exit handling never leave 'stopped'.
  stopped: ['starting', 'stopping', 'restarting'],
  failed: ['starting', 'stopping', 'stopped'],
};

export function canTransition(from: InstanceState, to: InstanceState): boolean {
  return TRANSITIONS[from].includes(to);
}

/** Returns `to`, or throws INVALID_INSTANCE_TRANSITION (a supervisor bug, hence 500). */
export function transition(id: string, from: InstanceState, to: InstanceState): InstanceState {
  if (!canTransition(from, to)) {
    throw new GantryError('INVALID_INSTANCE_TRANSITION', `instance ${id}: illegal move ${from} → ${to}`, { id, from, to });
  }
  return to;
}

export interface Backoff {
  initialMs: number;
  maxMs: number;
  resetAfterMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 1000, maxMs: 60_000, resetAfterMs: 60_000 };

/** Delay before restart number `failures` (1-based) in a row: initial, ×2 each time, capped. */
export function backoffDelay(failures: number, b: Backoff): number {
  const exponent = Math.max(0, failures - 1);
  // 2^31 ms is beyond any cap; clamping the exponent avoids Infinity.
  return Math.min(b.maxMs, b.initialMs * 2 ** Math.min(exponent, 31));
}
