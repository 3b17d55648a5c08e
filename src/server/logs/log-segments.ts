/**
 * Where service logs live and how a search finds the files it needs.
 *
 * Layout: `<data>/service-logs/<projectId>/<environment>/<releaseId>/<instanceId>/instance.log`
 * (the file being written) and `instance.log.<n>` (rotated segments, n growing, never renamed;
 * runtime/rotating-log.ts). Beside the releases, `drops.log` holds the environment's own system
 * lines: what the budget deleted, and when.
 *
 * The time index is the files themselves: a segment covers [time of its first line, time of its
 * last line], lines inside are in time order. Listing an environment stats its files and reads
 * their first 24 bytes and last few KiB, so a search skips every segment outside its window
 * without scanning it.
 */
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

export const SERVICE_LOGS_DIR = 'service-logs';
export const CURRENT_LOG = 'instance.log';
export const DROPS_LOG = 'drops.log';
/** The `instance` of the environment's own lines (drop markers). */
export const ENVIRONMENT_LINES = 'gantry';

export interface Segment {
  file: string;
  releaseId: string;
  instance: string;
  /** Rotation number; the file being written is `Infinity` (it is the newest). */
  n: number;
  size: number;
  /** Time of the first line; the mtime when the file is empty or unreadable. */
  firstMs: number;
  lastMs: number;
}

export function environmentLogDir(dataDir: string, projectId: string, environment: string): string {
  return join(dataDir, SERVICE_LOGS_DIR, safeName(projectId), safeName(environment));
}

/** Where an instance's log files go (the supervisor's `log.dirOf`). */
export function instanceLogDir(dataDir: string, projectId: string, environment: string, releaseId: string, instance: string): string {
  return join(environmentLogDir(dataDir, projectId, environment), safeName(releaseId), safeName(instance));
}

/** Every environment that has logs, as [projectId, environment]. */
export async function loggedEnvironments(dataDir: string): Promise<{ projectId: string; environment: string }[]> {
  const out: { projectId: string; environment: string }[] = [];
  for (const project of await dirs(join(dataDir, SERVICE_LOGS_DIR))) {
    for (const environment of await dirs(join(dataDir, SERVICE_LOGS_DIR, project))) {
      out.push({ projectId: decodeURIComponent(project), environment: decodeURIComponent(environment) });
    }
  }
  return out;
}

export interface SegmentFilter {
  releaseId?: string;
  instance?: string;
  /** Only segments that may hold lines in [sinceMs, untilMs). */
  sinceMs?: number;
  untilMs?: number;
}

/** A segment's place, without its times (what a follow needs: no file opened to list it). */
export type SegmentFile = Pick<Segment, 'file' | 'releaseId' | 'instance' | 'n'>;

/** An environment's segments that may hold lines of the filter, oldest first within each instance. */
export async function listSegments(envDir: string, filter: SegmentFilter = {}): Promise<Segment[]> {
  const out: Segment[] = [];
  for (const f of await listSegmentFiles(envDir, filter)) {
    const segment = await describe(f);
    if (segment && overlaps(segment, filter)) out.push(segment);
  }
  return out;
}

/** The segment files of an environment (and its drops log, unfiltered), oldest first within each instance. */
export async function listSegmentFiles(envDir: string, filter: Pick<SegmentFilter, 'releaseId' | 'instance'> = {}): Promise<SegmentFile[]> {
  const out: SegmentFile[] = [];
  const releases = filter.releaseId === undefined ? await dirs(envDir) : [safeName(filter.releaseId)];
  for (const release of releases) {
    const instances = filter.instance === undefined ? await dirs(join(envDir, release)) : [safeName(filter.instance)];
    for (const instance of instances) {
      const dir = join(envDir, release, instance);
      for (const name of await files(dir)) {
        const n = segmentNumber(name);
        if (n !== null)
          out.push({ file: join(dir, name), releaseId: decodeURIComponent(release), instance: decodeURIComponent(instance), n });
      }
    }
  }
  if (filter.instance === undefined && filter.releaseId === undefined) {
    out.push({ file: join(envDir, DROPS_LOG), releaseId: '', instance: ENVIRONMENT_LINES, n: Number.POSITIVE_INFINITY });
  }
  return out.sort((a, b) => a.instance.localeCompare(b.instance) || a.n - b.n);
}

function overlaps(s: Segment, f: SegmentFilter): boolean {
  return (f.sinceMs === undefined || s.lastMs >= f.sinceMs) && (f.untilMs === undefined || s.firstMs < f.untilMs);
}

function segmentNumber(name: string): number | null {
  if (name === CURRENT_LOG) return Number.POSITIVE_INFINITY;
  if (!name.startsWith(`${CURRENT_LOG}.`)) return null;
  const n = Number(name.slice(CURRENT_LOG.length + 1));
  return Number.isInteger(n) && n > 0 ? n : null;
}

async function describe(f: SegmentFile): Promise<Segment | null> {
  const info = await stat(f.file).catch(() => null);
  if (!info?.isFile()) return null;
  const times = await edgeTimes(f.file, info.size);
  return { ...f, size: info.size, firstMs: times.first ?? info.mtimeMs, lastMs: times.last ?? info.mtimeMs };
}

/** How far back from a file's end its last line start is looked for (lines are cut at 64 KiB; most are short). */
const TAIL_BYTES = 8192;

/** The times of a file's first and last lines (`<ISO time> …`), null where there is none. */
async function edgeTimes(file: string, size: number): Promise<{ first: number | null; last: number | null }> {
  const handle = await open(file, 'r').catch(() => null);
  if (!handle) return { first: null, last: null };
  try {
    const head = Buffer.alloc(24);
    const { bytesRead } = await handle.read(head, 0, 24, 0);
    const tailStart = Math.max(0, size - TAIL_BYTES);
    const tail = Buffer.alloc(size - tailStart);
    await handle.read(tail, 0, tail.length, tailStart);
    // The last line starts after the last `\n` that is not the file's final byte.
    const lastNl = tail.lastIndexOf(0x0a, tail.length - 2);
    const last = lastNl === -1 ? (tailStart === 0 ? 0 : -1) : lastNl + 1;
    return { first: isoTime(head, 0, bytesRead), last: last === -1 ? null : isoTime(tail, last, tail.length) };
  } finally {
    await handle.close();
  }
}

function isoTime(buffer: Buffer, start: number, end: number): number | null {
  const ms = Date.parse(buffer.toString('latin1', start, Math.min(end, start + 24)));
  return Number.isNaN(ms) ? null : ms;
}

async function dirs(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory()).map((e) => e.name);
}

async function files(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => e.name);
}

/** Names from users (environments) and ids become one path component each, whatever they hold. */
function safeName(name: string): string {
  const encoded = encodeURIComponent(name);
  return encoded === '.' || encoded === '..' ? encoded.replaceAll('.', '%2E') : encoded;
}
