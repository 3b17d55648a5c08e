/**
 * The live job table of `gantry run` and `gantry runs show --follow`: redrawn in place on a TTY
 * (at most 10 times a second), one plain line per job state change otherwise.
 */
import type { JobRecord } from '../store/ports.ts';
import { dim, formatMs, statusSymbol } from './output.ts';

export class LiveTable {
  readonly #out: NodeJS.WriteStream;
  readonly #tty: boolean;
  #linesDrawn = 0;
  #all: () => Iterable<JobRecord> = () => [];
  #timer: NodeJS.Timeout | null = null;
  readonly #lastStatus = new Map<string, string>();

  constructor(out: NodeJS.WriteStream = process.stderr) {
    this.#out = out;
    this.#tty = Boolean(out.isTTY);
  }

  /** `changed` jobs have a new state; `all` lists every job, read only when the table is redrawn. */
  update(changed: readonly JobRecord[], all: () => Iterable<JobRecord>): void {
    this.#all = all;
    if (!this.#tty) {
      for (const job of changed) {
        if (this.#lastStatus.get(job.key) === job.status) continue;
        this.#lastStatus.set(job.key, job.status);
        if (job.status === 'waiting') continue;
        this.#out.write(`${this.#row(job)}\n`);
      }
      return;
    }
    if (!this.#timer) {
      this.#draw();
      this.#timer = setInterval(() => this.#draw(), 100);
      this.#timer.unref();
    }
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    if (this.#tty) this.#draw();
  }

  #draw(): void {
    const rows = Array.from(this.#all(), (job) => this.#row(job));
    const up = this.#linesDrawn > 0 ? `\x1b[${this.#linesDrawn}F` : '';
    this.#out.write(`${up}${rows.map((r) => `\x1b[2K${r}`).join('\n')}\n`);
    this.#linesDrawn = rows.length;
  }

  #row(job: JobRecord): string {
    const started = job.startedAt ? Date.parse(job.startedAt) : null;
    const ended = job.finishedAt ? Date.parse(job.finishedAt) : null;
    const took = started ? formatMs((ended ?? Date.now()) - started) : '';
    const tests = job.tests ? dim(` ${job.tests.passed} passed, ${job.tests.failed} failed`, this.#out) : '';
    const reason = job.reason && job.status !== 'success' ? dim(`  ${job.reason}`, this.#out) : '';
    const attempt = job.attempt > 1 ? dim(` (attempt ${job.attempt})`, this.#out) : '';
    return `${statusSymbol(job.status, this.#out)} ${job.key.padEnd(24)} ${job.status.padEnd(9)} ${took.padStart(7)}${attempt}${tests}${reason}`;
  }
}
