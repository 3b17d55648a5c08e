/**
 * Service logs as the server reads them: searches over an environment's (or every
 * environment's) segment files. A search lists the segments that may hold lines of its window
 * (log-segments.ts), scans each once (segment-scan.ts), keeps the last `limit` matches of each
 * and answers the newest `limit` overall, in time order, with how many matched in all.
 */
import { lineKey } from '../../core/line-key.ts';
import { STREAM_NAMES, type StreamCode } from '../../core/log-line.ts';
import type { Project, ReleaseRecord } from '../../store/ports.ts';
import { compileLogQuery, type LogQueryInput, structuredFields } from './log-query.ts';
import { environmentLogDir, listSegments, loggedEnvironments } from './log-segments.ts';
import { lastMatches, scanBuffer, scanSegment } from './segment-scan.ts';

export interface ServiceLogsDeps {
  dataDir: string;
  projects: { get(idOrName: string): Promise<Project | undefined>; list(): Promise<Project[]> };
  releases: { get(id: string): Promise<ReleaseRecord | undefined> };
}

/** One stored line of a service, as every reader gets it. */
export interface ServiceLogLine {
  project: string;
  environment: string;
  /** The release's number; null for the environment's own lines (drop markers). */
  release: number | null;
  instance: string;
  stream: (typeof STREAM_NAMES)[StreamCode];
  /** ISO time the line was read from the instance. */
  time: string;
  text: string;
  /** The dashboard's log explorer, at this line. */
  link: string;
  /** The fields of a JSON line. */
  fields?: Record<string, unknown>;
}

export interface ServiceLogSearch extends LogQueryInput {
  project: Project;
  /** Every environment of the project when absent. */
  environment?: string;
  releaseId?: string;
  instance?: string;
  limit: number;
}

export interface ServiceLogAnswer {
  lines: ServiceLogLine[];
  /** Every match in the window; more than `lines.length` when older ones were left out. */
  matched: number;
  /** Bytes of log read to answer. */
  scannedBytes: number;
  /** When the search began (the API's answer): a follow from here misses nothing. */
  searchedAt?: string;
}

/** The query of the global search (issue 11 §4): exactly this shape. */
export interface GlobalLogQuery {
  project?: string;
  environment?: string;
  text?: string;
  regex?: string;
  since?: number;
  until?: number;
  limit: number;
}

export class ServiceLogs {
  readonly #deps: ServiceLogsDeps;
  readonly #releaseNumbers = new Map<string, number | null>();

  constructor(deps: ServiceLogsDeps) {
    this.#deps = deps;
  }

  get dataDir(): string {
    return this.#deps.dataDir;
  }

  async search(q: ServiceLogSearch, signal?: AbortSignal): Promise<ServiceLogAnswer> {
    const matcher = compileLogQuery(q);
    const environments =
      q.environment !== undefined
        ? [q.environment]
        : (await loggedEnvironments(this.#deps.dataDir)).filter((e) => e.projectId === q.project.id).map((e) => e.environment);
    const found: { environment: string; releaseId: string; instance: string; at: string; stream: StreamCode; text: string }[] = [];
    let matched = 0;
    let scannedBytes = 0;
    const buffer = scanBuffer();
    for (const environment of environments) {
      const segments = await listSegments(environmentLogDir(this.#deps.dataDir, q.project.id, environment), {
        releaseId: q.releaseId,
        instance: q.instance,
        sinceMs: q.sinceMs,
        untilMs: q.untilMs,
      });
      for (const segment of segments) {
        if (signal?.aborted) break;
        const scan = await scanSegment(segment.file, matcher, q.limit, signal, buffer);
        matched += scan.count;
        scannedBytes += scan.bytes;
        for (const m of lastMatches(scan, q.limit))
          found.push({ environment, releaseId: segment.releaseId, instance: segment.instance, ...m });
      }
    }
    // Stable: lines of one instance stamped in the same millisecond keep their file order.
    found.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
    const lines: ServiceLogLine[] = [];
    for (const f of found.slice(-q.limit)) {
      const release = f.releaseId === '' ? null : await this.#releaseNumber(f.releaseId);
      lines.push(serviceLogLine(q.project.name, f.environment, release, f.instance, f.stream, f.at, f.text));
    }
    return { lines, matched, scannedBytes };
  }

  /**
   * The global search's entry (issue 11 §4): lines of every project (or one), newest `limit`
   * in time order. A project that does not exist has no lines.
   */
  async searchServiceLogs(query: GlobalLogQuery): Promise<Omit<ServiceLogLine, 'fields'>[]> {
    const projects =
      query.project === undefined
        ? await this.#deps.projects.list()
        : [await this.#deps.projects.get(query.project)].filter((p) => p !== undefined);
    const all: ServiceLogLine[] = [];
    for (const project of projects) {
      const answer = await this.search({
        project,
        environment: query.environment,
        text: query.text,
        grep: query.regex,
        sinceMs: query.since,
        untilMs: query.until,
        limit: query.limit,
      });
      all.push(...answer.lines);
    }
    all.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
    return all.slice(-query.limit).map(({ fields: _fields, ...line }) => line);
  }

  async #releaseNumber(releaseId: string): Promise<number | null> {
    if (!this.#releaseNumbers.has(releaseId)) {
      if (this.#releaseNumbers.size > 10_000) this.#releaseNumbers.clear();
      this.#releaseNumbers.set(releaseId, (await this.#deps.releases.get(releaseId))?.number ?? null);
    }
    return this.#releaseNumbers.get(releaseId) ?? null;
  }
}

export function serviceLogLine(
  project: string,
  environment: string,
  release: number | null,
  instance: string,
  stream: StreamCode,
  time: string,
  text: string,
): ServiceLogLine {
  const fields = structuredFields(text);
  const line: ServiceLogLine = {
    project,
    environment,
    release,
    instance,
    stream: STREAM_NAMES[stream],
    time,
    text,
    link: serviceLogLink(project, environment, instance, time, text),
  };
  if (fields) line.fields = fields;
  return line;
}

/** The log explorer at one line: the instance and the line's time (lines of one millisecond are shown together). */
export function serviceLogLink(project: string, environment: string, instance: string, time: string, text: string): string {
  const q = new URLSearchParams({ instance, at: time, line: lineKey(text) });
  return `/projects/${encodeURIComponent(project)}/environments/${encodeURIComponent(environment)}/logs?${q}`;
}
