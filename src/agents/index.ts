/** Agents' pure core: the lease book (who holds which job, fencing tokens) and the wire messages. */
export {
  EMPTY_LEASE_BOOK,
  labelsCover,
  type Lease,
  type LeaseBook,
  type LeaseBookOptions,
  type LeaseCommand,
  type LeaseEvent,
  type LeaseStep,
  type Poller,
  reduceLeases,
  type WaitingJob,
} from './lease-book.ts';
