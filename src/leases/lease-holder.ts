/**
 * One server's view of a lease it wants to hold, as a reducer: state and event in, state and
 * commands out, no I/O and no clock (the keeper in src/server/leases feeds it both).
 *
 * following ──granted──► owning ──(no renewal granted before the local deadline, or refused)──► lost
 *     ▲ refused                   ▲ granted (renewed: deadline moves)
 *
 * The holder's own deadline is measured from when it *sent* the claim that was granted, not when
 * the answer came, and ends `marginMs` before the expiry the others see: a slow answer or a
 * clock skew up to the margin never leaves two servers both believing they own the lease. `lost`
 * is final: a server that lost its lease stops what the lease guarded and goes away (as
 * Kubernetes' controller-manager exits when it loses its leader election) rather than try to
 * stop and restart every loop in place.
 */

export type LeaseHolderState =
  | { phase: 'following' }
  | { phase: 'owning'; token: number; deadlineMs: number }
  | { phase: 'lost'; token: number };

export type LeaseHolderEvent =
  /** The store granted a claim sent at `sentAtMs`. */
  | { type: 'granted'; token: number; sentAtMs: number }
  /** The store refused a claim: someone else holds an unexpired lease. */
  | { type: 'refused' }
  /** A claim failed (the store unreachable); nothing is known. */
  | { type: 'failed' }
  /** Time passed. */
  | { type: 'tick'; nowMs: number };

/** What the keeper must do after a transition. */
export type LeaseHolderCommand = 'start-owning' | 'stop-owning';

export interface LeaseTiming {
  ttlMs: number;
  /** How much earlier than the stored expiry the holder gives up (clock skew, slow answers). */
  marginMs: number;
}

export interface LeaseHolderStep {
  state: LeaseHolderState;
  commands: LeaseHolderCommand[];
}

export const initialLeaseHolder: LeaseHolderState = { phase: 'following' };

export function reduceLeaseHolder(state: LeaseHolderState, event: LeaseHolderEvent, timing: LeaseTiming): LeaseHolderStep {
  if (state.phase === 'lost') return { state, commands: [] };
  const deadline = (sentAtMs: number) => sentAtMs + timing.ttlMs - timing.marginMs;
  switch (event.type) {
    case 'granted':
      if (state.phase === 'following')
        return { state: { phase: 'owning', token: event.token, deadlineMs: deadline(event.sentAtMs) }, commands: ['start-owning'] };
      // A grant with another token means the lease changed hands in between: what we did as owner may be stale.
      if (event.token !== state.token) return { state: { phase: 'lost', token: state.token }, commands: ['stop-owning'] };
      return { state: { ...state, deadlineMs: Math.max(state.deadlineMs, deadline(event.sentAtMs)) }, commands: [] };
    case 'refused':
      if (state.phase === 'following') return { state, commands: [] };
      return { state: { phase: 'lost', token: state.token }, commands: ['stop-owning'] };
    case 'failed':
      return { state, commands: [] };
    case 'tick':
      if (state.phase === 'owning' && event.nowMs >= state.deadlineMs)
        return { state: { phase: 'lost', token: state.token }, commands: ['stop-owning'] };
      return { state, commands: [] };
  }
}
