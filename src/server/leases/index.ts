/** Leases as the server holds them: `LeaseKeeper` claims and renews one lease and says when it is won and lost. */
export { LeaseKeeper, type LeaseKeeperDeps } from './lease-keeper.ts';
