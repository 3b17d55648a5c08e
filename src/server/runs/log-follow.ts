/**
 * Follows a job's log file as it grows (the executor appends in batches), emitting whole lines.
 * Reading the file — instead of a channel from the executor — means a follower that connects
 * late gets everything from the start, and nothing races between "read so far" and "live".
 */
import { open, stat } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { parseLogLine, type ParsedLogLine } from '../../core/log-line.ts';

export interface FollowOptions {
  file: string;
  /** Is the job over (its log complete)? Checked when the file stops growing. */
  isDone(): Promise<boolean>;
  onLines(lines: ParsedLogLine[]): void;
  signal: AbortSignal;
  pollMs?: number;
  /**
   * Byte offset of a line start to begin at (a viewer that already has the lines before it);
   * if the file is replaced meanwhile, following restarts from the top of the new file.
   */
  startOffset?: number;
  /** Lines to drop after `startOffset` before emitting (a start line not written yet). */
  skipLines?: number;
  /** Following started over at the top of a new file: line numbers restart at 0. */
  onRestart?(): void;
  /** Before each look at the file (another server's log: bring the local copy up to date). */
  refresh?(): Promise<void>;
}

export async function followLog(o: FollowOptions): Promise<void> {
  const pollMs = o.pollMs ?? 150;
  let offset = o.startOffset ?? 0;
  let skip = o.skipLines ?? 0;
  let ino: number | null = null;
  let partial = '';
  // Decodes across reads: a UTF-8 character split between two reads stays one character.
  let decoder = new StringDecoder('utf8');
  const buffer = Buffer.alloc(256 * 1024);
  while (!o.signal.aborted) {
    await o.refresh?.();
    const info = await stat(o.file).catch(() => null);
    if (info && ((ino !== null && info.ino !== ino) || info.size < offset)) {
      // The file was replaced or rewritten (a retried job): restart from the top.
      offset = 0;
      skip = 0;
      partial = '';
      decoder = new StringDecoder('utf8');
      o.onRestart?.();
    }
    if (info) ino = info.ino;
    if (info && info.size > offset) {
      const handle = await open(o.file, 'r');
      try {
        while (offset < info.size && !o.signal.aborted) {
          const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
          if (bytesRead === 0) break;
          offset += bytesRead;
          const text = partial + decoder.write(buffer.subarray(0, bytesRead));
          const lines = text.split('\n');
          partial = lines.pop() ?? '';
          if (skip > 0 && lines.length) skip -= lines.splice(0, skip).length;
          if (lines.length) o.onLines(lines.map(parseLogLine));
        }
      } finally {
        await handle.close();
      }
      continue;
    }
    if (await o.isDone()) {
      const last = await stat(o.file).catch(() => null);
      if (!last || last.size <= offset) {
        partial += decoder.end();
        if (partial && skip === 0) o.onLines([parseLogLine(partial)]);
        return;
      }
      continue;
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
