/**
 * Forwards service logs to a Loki push endpoint (`/loki/api/v1/push`, JSON), one Loki stream per
 * instance, labelled `project`, `environment`, `release` (its number) and `instance`.
 *
 * It reads the stored files (the same follower as `--follow`), never the services' output, so
 * a slow or dead Loki cannot block or slow a service: lines wait in a bounded queue, are sent in
 * batches (`batchLines`, or every `flushMs`), and a batch that fails (network, 429, 5xx) is
 * retried with a doubling delay (`retryMs` up to 30 s) while newer lines queue behind it. When
 * the queue is full the oldest lines are dropped and counted (`status().dropped`); the next
 * push carries a system line in the environment's `gantry` stream saying how many, so the gap
 * is visible in Loki too. A batch Loki refuses as malformed (another 4xx) is dropped, counted
 * and logged, not retried forever. Lines are forwarded from when the forwarder starts (what was
 * stored before is in Gantry's own search); the queue lives in memory, so lines queued when the
 * server stops are not forwarded after a restart (counted as dropped only if the queue was full).
 */
import type { Clock, TimerHandle } from '../../core/clock.ts';
import { STREAM_NAMES } from '../../core/log-line.ts';
import { type FollowedLine, followServiceLogs } from './log-follow.ts';
import { compileLogQuery } from './log-query.ts';
import { environmentLogDir, ENVIRONMENT_LINES, loggedEnvironments } from './log-segments.ts';

export interface LokiForwarderOptions {
  /** The push endpoint, e.g. `http://127.0.0.1:3100/loki/api/v1/push`. */
  url: string;
  dataDir: string;
  clock: Clock;
  /** A project's name and a release's number, for labels. */
  projectName(projectId: string): Promise<string>;
  releaseNumber(releaseId: string): Promise<number | null>;
  /** A batch refused for good, or a retry: the server's log. */
  warn(message: string, data: Record<string, unknown>): void;
  batchLines?: number;
  flushMs?: number;
  maxQueueLines?: number;
  retryMs?: number;
  /** How often new environments are looked for, ms. */
  discoverMs?: number;
  pollMs?: number;
}

export interface LokiForwarderStatus {
  forwarded: number;
  dropped: number;
  rejected: number;
  queued: number;
  /** The last failure, cleared by a successful push. */
  lastError: string | null;
}

interface Entry {
  labels: string;
  ns: string;
  line: string;
}

const MAX_RETRY_MS = 30_000;
const LOG = { pushFailed: 'loki push failed, retrying', pushRejected: 'loki refused a batch; dropped' } as const;

export class LokiForwarder {
  readonly #o: Required<Omit<LokiForwarderOptions, 'projectName' | 'releaseNumber' | 'warn'>> &
    Pick<LokiForwarderOptions, 'projectName' | 'releaseNumber' | 'warn'>;
  readonly #queue: Entry[] = [];
  readonly #followed = new Map<string, AbortController>();
  /** Dropped lines not yet reported in Loki, per environment labels. */
  readonly #unreported = new Map<string, number>();
  readonly #status: LokiForwarderStatus = { forwarded: 0, dropped: 0, rejected: 0, queued: 0, lastError: null };
  #timer: TimerHandle | null = null;
  #discoverTimer: TimerHandle | null = null;
  #sending: Promise<void> | null = null;
  #failures = 0;
  #stopped = false;
  #startedAt = 0;

  constructor(o: LokiForwarderOptions) {
    this.#o = {
      batchLines: 1000,
      flushMs: 1000,
      maxQueueLines: 100_000,
      retryMs: 500,
      discoverMs: 5000,
      pollMs: 250,
      ...o,
    };
  }

  start(): void {
    this.#startedAt = this.#o.clock.now();
    void this.#discover();
    this.#schedule(this.#o.flushMs);
  }

  status(): LokiForwarderStatus {
    return { ...this.#status, queued: this.#queue.length };
  }

  /** Sends what is queued now (tests and shutdown); resolves when the queue is empty or a push failed. */
  async flush(): Promise<void> {
    while (this.#queue.length > 0 || this.#unreported.size > 0) {
      if (!(await this.#sendBatch())) return;
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const controller of this.#followed.values()) controller.abort();
    if (this.#timer) this.#o.clock.clearTimeout(this.#timer);
    if (this.#discoverTimer) this.#o.clock.clearTimeout(this.#discoverTimer);
    await this.#sending;
    await this.flush().catch(() => undefined);
  }

  async #discover(): Promise<void> {
    if (this.#stopped) return;
    for (const { projectId, environment } of await loggedEnvironments(this.#o.dataDir)) {
      const key = `${projectId}\0${environment}`;
      if (this.#followed.has(key)) continue;
      const controller = new AbortController();
      this.#followed.set(key, controller);
      const project = await this.#o.projectName(projectId);
      void followServiceLogs({
        envDir: environmentLogDir(this.#o.dataDir, projectId, environment),
        // Every line stored since the forwarder started, however late its environment is found.
        matcher: compileLogQuery({ sinceMs: this.#startedAt }),
        signal: controller.signal,
        pollMs: this.#o.pollMs,
        onLines: (lines) => void this.#enqueue(project, environment, lines),
      });
    }
    this.#discoverTimer = this.#o.clock.setTimeout(() => void this.#discover(), this.#o.discoverMs);
  }

  async #enqueue(project: string, environment: string, lines: FollowedLine[]): Promise<void> {
    const releases = new Map<string, string>();
    for (const line of lines) {
      if (!releases.has(line.releaseId))
        releases.set(line.releaseId, line.releaseId === '' ? '' : String((await this.#o.releaseNumber(line.releaseId)) ?? line.releaseId));
      const release = releases.get(line.releaseId) ?? '';
      // Loki drops a label with an empty value: the environment's own lines have no release.
      const labels = labelKey(
        release === '' ? { project, environment, instance: line.instance } : { project, environment, release, instance: line.instance },
      );
      this.#queue.push({ labels, ns: `${Date.parse(line.at)}000000`, line: `${STREAM_NAMES[line.stream]} ${line.text}` });
    }
    const excess = this.#queue.length - this.#o.maxQueueLines;
    if (excess > 0) {
      const gone = this.#queue.splice(0, excess);
      this.#status.dropped += gone.length;
      for (const e of gone) {
        const envLabels = environmentLabels(e.labels);
        this.#unreported.set(envLabels, (this.#unreported.get(envLabels) ?? 0) + 1);
      }
    }
    if (this.#queue.length >= this.#o.batchLines && !this.#sending && this.#failures === 0) this.#kick();
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    if (this.#timer) this.#o.clock.clearTimeout(this.#timer);
    this.#timer = this.#o.clock.setTimeout(() => this.#kick(), ms);
  }

  #kick(): void {
    if (this.#sending) return;
    this.#sending = this.#drain();
  }

  async #drain(): Promise<void> {
    // Awaited first, so `#sending` is set before this can finish and clear it.
    await Promise.resolve();
    let ok = true;
    while (ok && !this.#stopped && (this.#queue.length > 0 || this.#unreported.size > 0)) ok = await this.#sendBatch();
    const delay = ok ? this.#o.flushMs : Math.min(MAX_RETRY_MS, this.#o.retryMs * 2 ** Math.min(this.#failures - 1, 16));
    this.#sending = null;
    this.#schedule(delay);
  }

  /** One push of the oldest lines (and pending drop notes). False when it must be retried later. */
  async #sendBatch(): Promise<boolean> {
    const batch = this.#queue.slice(0, this.#o.batchLines);
    const notes = [...this.#unreported.entries()];
    const now = this.#o.clock.now();
    const noteEntries: Entry[] = notes.map(([labels, count]) => ({
      labels,
      ns: `${now}000000`,
      line: `${STREAM_NAMES.s} [gantry] ${count} lines were not forwarded to Loki (the forwarding queue was full)`,
    }));
    const body = JSON.stringify({ streams: toStreams([...batch, ...noteEntries]) });
    let failure: string | null = null;
    let refused = false;
    try {
      const response = await fetch(this.#o.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal: AbortSignal.timeout(10_000),
      });
      if (!response.ok) {
        failure = `HTTP ${response.status}: ${(await response.text()).slice(0, 200)}`;
        refused = response.status >= 400 && response.status < 500 && response.status !== 429;
      } else await response.body?.cancel();
    } catch (error) {
      failure = error instanceof Error ? error.message : String(error);
    }
    if (failure !== null && !refused) {
      this.#failures++;
      this.#status.lastError = failure;
      this.#o.warn(LOG.pushFailed, { url: this.#o.url, error: failure, attempt: this.#failures });
      return false;
    }
    this.#queue.splice(0, batch.length);
    for (const [labels, count] of notes) {
      const left = (this.#unreported.get(labels) ?? 0) - count;
      if (left > 0) this.#unreported.set(labels, left);
      else this.#unreported.delete(labels);
    }
    this.#failures = 0;
    if (refused) {
      this.#status.rejected += batch.length;
      this.#status.lastError = failure;
      this.#o.warn(LOG.pushRejected, { url: this.#o.url, error: failure, lines: batch.length });
      return true;
    }
    this.#status.forwarded += batch.length;
    this.#status.lastError = null;
    return true;
  }
}

function labelKey(labels: Record<string, string>): string {
  return JSON.stringify(labels);
}

/** The environment's own stream (`instance="gantry"`) of a line's labels. */
function environmentLabels(key: string): string {
  const labels = JSON.parse(key) as Record<string, string>;
  return labelKey({ project: labels.project ?? '', environment: labels.environment ?? '', instance: ENVIRONMENT_LINES });
}

function toStreams(entries: Entry[]): { stream: Record<string, string>; values: [string, string][] }[] {
  const streams = new Map<string, [string, string][]>();
  for (const e of entries) {
    let values = streams.get(e.labels);
    if (!values) streams.set(e.labels, (values = []));
    values.push([e.ns, e.line]);
  }
  return [...streams].map(([labels, values]) => ({ stream: JSON.parse(labels) as Record<string, string>, values }));
}
