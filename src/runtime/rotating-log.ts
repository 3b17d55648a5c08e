/**
 * An instance's log file. Instances run for days, so instead of the job log's head-and-tail cap
 * the file rotates: past `capBytes` it becomes `<file>.<n>`, n one more than the newest rotated
 * file, and a fresh file starts. Rotated files keep their name for life, so a reader (a search,
 * a follower, a Loki forwarder) can hold on to one; their first line's time and their mtime
 * bound the time they cover, the cheap time index searches use. Past `keep` rotated files the
 * oldest is deleted and a system line in the new file says how much was dropped (never silent).
 * Disk use stays under (keep + 1) × capBytes.
 *
 * Lines use the job log format (`<ISO time> <o|e|s> <text>`, `core/log-line.ts`), masked with the instance's secrets before they are stored. Only one
 * supervisor writes a given log at a time (the data dir lock guarantees it).
 */
import { closeSync, fstatSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { logLinePrefix } from '../core/log-line.ts';
import type { Masker } from '../executor/index.ts';

export interface RotatingLogOptions {
  file: string;
  capBytes: number;
  /** Rotated files kept beside the current one (`Infinity`: all; a budget elsewhere deletes them). */
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

  /** The rotated files, oldest first, by their number. */
  rotated(): { file: string; n: number }[] {
    return rotatedFiles(this.file);
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
    const rotated = rotatedFiles(file);
    const next = (rotated.at(-1)?.n ?? 0) + 1;
    let dropped = 0;
    if (keep <= 0) {
      dropped += sizeOf(file);
      rmSync(file, { force: true });
    } else {
      renameSync(file, `${file}.${next}`);
      rotated.push({ file: `${file}.${next}`, n: next });
    }
    const excess = Math.max(0, rotated.length - Math.max(keep, 0));
    for (const old of rotated.slice(0, excess)) {
      dropped += sizeOf(old.file);
      rmSync(old.file, { force: true });
    }
    this.#fd = openSync(file, 'a', 0o600);
    this.#size = 0;
    if (dropped > 0) this.system(`${LOG_DROPPED_MARKER} ${dropped} bytes of the oldest output (${keep} rotated files kept)`);
  }
}

/** The start of the system line written where older output was deleted to stay within a budget. */
export const LOG_DROPPED_MARKER = '[gantry] log dropped:';

/** `<file>.<n>` beside `file`, oldest (lowest n) first. */
export function rotatedFiles(file: string): { file: string; n: number }[] {
  const dir = dirname(file);
  const prefix = `${basename(file)}.`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: { file: string; n: number }[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const n = Number(name.slice(prefix.length));
    if (Number.isInteger(n) && n > 0) out.push({ file: join(dir, name), n });
  }
  return out.sort((a, b) => a.n - b.n);
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}
