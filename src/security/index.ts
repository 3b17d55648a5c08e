/**
 * Security gates' pure core: version order per ecosystem, OSV records and their evaluation,
 * lockfiles read into package graphs. No I/O: callers hand in file contents.
 */
export * from './osv/index.ts';
export { ECOSYSTEMS, type Ecosystem, isEcosystem, versionComparator } from './versions/index.ts';
