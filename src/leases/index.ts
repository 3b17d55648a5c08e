/** Leases' pure core: who holds a lease after a claim (the stores' rule) and a holder's own view of it. */
export { decideClaim, decideRelease, type ClaimOutcome, type LeaseClaim, type LeaseRecord } from './lease-claim.ts';
export {
  initialLeaseHolder,
  reduceLeaseHolder,
  type LeaseHolderCommand,
  type LeaseHolderEvent,
  type LeaseHolderState,
  type LeaseHolderStep,
  type LeaseTiming,
} from './lease-holder.ts';
