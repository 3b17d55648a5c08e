/** The security scanners run over files: a working tree or a staged change, OSV data from disk. */
export { type AdvisoryLoad, loadAdvisories } from './advisory-source.ts';
export { type ScanOptions, type ScanReport, scanTree } from './scan-tree.ts';
export { type ZipEntry, zipEntries } from './zip-entries.ts';
