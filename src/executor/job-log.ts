/**
 * The log a job's runner writes to. It is the Node log writer (log-writer.ts) until the job's
 * step helper can take it over: the helper then writes the steps' output to the file itself
 * (formatted, masked and capped alike, see spawner.ts), so a step printing 100 MB does not pass
 * through Node, and Gantry's own lines go through the helper too, to stay in order with it.
 * `takeBack` returns the file to the Node writer (before the helper leaves the job).
 */
import type { LogLoan, LogWriter } from './log-writer.ts';
import type { Masker } from './masker.ts';
import type { Spawner } from './spawner.ts';

export class JobLog {
  readonly #writer: LogWriter;
  /** The helper writing the log now, if any. */
  #helper: Spawner | null = null;
  /**
   * Gantry's lines written while the log is being handed to a helper (the job's setup, e.g. its
   * cache restore, runs meanwhile): the lent writer would drop them, and the helper does not have
   * the log yet. Whoever holds it at the end of the hand-over writes them, in order.
   */
  #handingOver: string[] | null = null;

  constructor(writer: LogWriter) {
    this.#writer = writer;
  }

  stdout(chunk: Buffer): void {
    this.#writer.stdout(chunk);
  }

  stderr(chunk: Buffer): void {
    this.#writer.stderr(chunk);
  }

  system(text: string): void {
    if (this.#handingOver) this.#handingOver.push(text);
    else if (this.#helper) this.#helper.logSystem(text);
    else this.#writer.system(text);
  }

  /**
   * Lends the log to `spawner` for the job's steps. With a nested helper in a sandbox
   * (`enterSandbox`), the files are opened by the pooled helper outside it, then handed to the
   * nested one inside, where the data dir is hidden; without one, the helper opens them and starts
   * logging in one request. When the helper cannot take the log (an old one, a file it cannot
   * open), the Node writer keeps it: only `enterSandbox` may throw.
   */
  async lendTo(spawner: Spawner, masker: Masker, enterSandbox: (() => Promise<void>) | null): Promise<void> {
    const loan = this.#writer.lend();
    if (!loan) return enterSandbox?.();
    this.#handingOver = [];
    try {
      await this.#handOver(loan, spawner, masker, enterSandbox);
    } finally {
      const lines = this.#handingOver;
      this.#handingOver = null;
      for (const text of lines) this.system(text);
    }
  }

  async #handOver(loan: LogLoan, spawner: Spawner, masker: Masker, enterSandbox: (() => Promise<void>) | null): Promise<void> {
    if (!enterSandbox) {
      try {
        await spawner.openAndStartLog(loan, { ...loan, maskForms: masker.byteForms });
        this.#helper = spawner;
      } catch {
        this.#writer.resume(untouched(loan));
      }
      return;
    }
    let fds: number[];
    try {
      fds = await spawner.openLogFiles(loan.file, loan.ringFile);
    } catch {
      this.#writer.resume(untouched(loan));
      return enterSandbox();
    }
    try {
      await enterSandbox();
    } catch (error) {
      this.#writer.resume(untouched(loan));
      throw error;
    }
    try {
      await spawner.startLog({ ...loan, fds, maskForms: masker.byteForms });
      this.#helper = spawner;
    } catch {
      this.#writer.resume(untouched(loan));
    }
  }

  /**
   * The Node writer has the log again, with what the helper stored counted in (recounted when the
   * helper ended). `final` when the job's steps are over: a truncated log is then finished by
   * the helper (marker and tail appended there, see `Spawner.endLog`), not copied through Node.
   */
  async takeBack(o: { final?: boolean } = {}): Promise<void> {
    const helper = this.#helper;
    if (!helper) return;
    this.#helper = null;
    this.#writer.resume(await helper.endLog(o));
  }
}

/** The borrower's return when it wrote nothing. */
function untouched(loan: LogLoan) {
  return {
    headBytes: loan.headBytes,
    headLines: loan.headLines,
    totalBytes: loan.headBytes,
    totalLines: loan.headLines,
    ringWritten: 0,
    truncated: false,
    error: null,
  };
}
