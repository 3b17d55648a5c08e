/** The security scanners run over files: a working tree or a staged change, OSV data from disk. */
export { type AdvisoryLoad, loadAdvisories } from './advisory-source.ts';
export { NO_ADVISORIES, type ScanOptions, type ScanReport, lockfileGraphs, scanTree } from './scan-tree.ts';
export { type ZipEntry, zipEntries } from './zip-entries.ts';
export { pathFilter } from './path-filter.ts';
export { readScanSettings } from './scan-settings.ts';
