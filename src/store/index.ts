/** The store module's public entry: the ports, and how to open an implementation of them. */
export type * from './ports.ts';
export { openStore, parseStoreUrl, StoreUnavailableError } from './open-store.ts';
export type { OpenStoreOptions, StoreLocation } from './open-store.ts';
export { createKyselyStore } from './kysely-store.ts';
export { LeaseFencedError } from './write-fence.ts';
