/**
 * Follows a job's log file as it grows (the executor appends in batches), emitting whole lines.
 * Reading the file — instead of a channel from the executor — means a follower that connects
 * late gets everything from the start, and nothing races between "read so far" and "live".
 */
import { open, stat } from 'node:fs/promises';
import { parseLogLine, type ParsedLogLine } from '../executor/log-writer.ts';

export interface FollowOptions {
  file: string;
  /** Is the job over (its log complete)? Checked when the file stops growing. */
  isDone(): Promise<boolean>;
  onLines(lines: ParsedLogLine[]): void;
  signal: AbortSignal;
  pollMs?: number;
}

export async function followLog(o: FollowOptions): Promise<void> {
  const pollMs = o.pollMs ?? 150;
  let offset = 0;
  let ino: number | null = null;
  let partial = '';
  const buffer = Buffer.alloc(256 * 1024);
  while (!o.signal.aborted) {
    const info = await stat(o.file).catch(() => null);
    if (info && ino !== null && info.ino !== ino) {
      // The writer replaced the file (head + marker + tail after truncation): restart from the top.
      offset = 0;
      partial = '';
    }
    if (info) ino = info.ino;
    if (info && info.size > offset) {
      const handle = await open(o.file, 'r');
      try {
        while (offset < info.size && !o.signal.aborted) {
          const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
          if (bytesRead === 0) break;
          offset += bytesRead;
          const text = partial + buffer.subarray(0, bytesRead).toString('utf8');
          const lines = text.split('\n');
          partial = lines.pop() ?? '';
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
        if (partial) o.onLines([parseLogLine(partial)]);
        return;
      }
      continue;
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
