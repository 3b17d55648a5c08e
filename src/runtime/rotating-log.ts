/**
 * An instance's log file. Instances run for days, so instead of the job log's head-and-tail cap
 * the file rotates: past `capBytes` it becomes `<file>.1` (older ones shift to `.2` … `.<keep>`,
 * the oldest is deleted) and a fresh file starts. Disk use stays under (keep + 1) × capBytes.
 *
 * Lines use the job log format (`<ISO time> <o|e|s> <text>`, `core/log-line.ts`), masked with the instance's secrets before they are stored. Only one
 * supervisor writes a given log at a time (the data dir lock guarantees it).
 */
import { closeSync, fstatSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { logLinePrefix } from '../core/log-line.ts';
import type { Masker } from '../executor/index.ts';

export interface RotatingLogOptions {
  file: string;
  capBytes: number;
  /** Rotated files kept beside the current one. */
  keep: number;
  masker: Masker;
  now: () => number;
}

export class RotatingLog {
  readonly file: string;
  readonly #o: RotatingLogOptions;
  #fd: number;
  #size: number;

  constructor(o: RotatingLogOptions) {
    this.file = o.file;
    this.#o = o;
    mkdirSync(dirname(o.file), { recursive: true, mode: 0o700 });
    this.#fd = openSync(o.file, 'a', 0o600);
    this.#size = fstatSync(this.#fd).size;
  }

  /** Stores complete lines of a stream: `latin1` holds raw bytes (one char per byte), each line ending in `\n`. */
  lines(stream: 'o' | 'e', latin1: string): void {
    if (latin1.length === 0) return;
    const text = this.#o.masker.active ? this.#o.masker.maskBytes(latin1) : latin1;
    const prefix = logLinePrefix(new Date(this.#o.now()).toISOString(), stream);
    // Every line gets the prefix: prepend it, then after each newline except the final one.
    const formatted = `${prefix + text.slice(0, -1).replaceAll('\n', `\n${prefix}`)}\n`;
    this.#write(Buffer.from(formatted, 'latin1'));
  }

  /** A line of Gantry's own (UTF-8 text). */
  system(text: string): void {
    const line = `${logLinePrefix(new Date(this.#o.now()).toISOString(), 's')}${text.replace(/\r?\n/g, ' ')}\n`;
    this.#write(Buffer.from(line, 'utf8'));
  }

  close(): void {
    if (this.#fd === -1) return;
    closeSync(this.#fd);
    this.#fd = -1;
  }

  #write(bytes: Buffer): void {
    if (this.#fd === -1) return;
    if (this.#size > 0 && this.#size + bytes.length > this.#o.capBytes) this.#rotate();
    writeSync(this.#fd, bytes);
    this.#size += bytes.length;
  }

  #rotate(): void {
    closeSync(this.#fd);
    const { file, keep } = this.#o;
    if (keep <= 0) {
      rmSync(file, { force: true });
    } else {
      rmSync(`${file}.${keep}`, { force: true });
      for (let k = keep - 1; k >= 1; k--) renameIfExists(`${file}.${k}`, `${file}.${k + 1}`);
      renameSync(file, `${file}.1`);
    }
    this.#fd = openSync(file, 'a', 0o600);
    this.#size = 0;
  }
}

function renameIfExists(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
