/**
 * Jobs' logs shared between servers on one PostgreSQL (docs/decisions/0037): the server running
 * a job copies its log file into the store as it grows (`shipJobLog`), in chunks at their byte
 * offsets; a server asked for a log it did not write appends what the store has beyond its own
 * copy to that copy first (`pullJobLog`), so the log routes — the line index, the search, the
 * follow — keep reading a local file. The writer's own file is never touched by a pull: its
 * chunks all start before its own size.
 */
import { appendFile, mkdir, open, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { JobLogStore } from '../../store/ports.ts';

/** The biggest chunk one append stores. */
const CHUNK_BYTES = 256 * 1024;
/** How often a running job's log is copied into the store, ms. */
const SHIP_EVERY_MS = 250;

export interface LogShipping {
  /** Copies what is left and stops (the job ended). */
  finish(): Promise<void>;
}

/** Starts copying `file` into the store as it grows; `finish` after the job copies the rest. */
export function shipJobLog(logs: JobLogStore, runId: string, jobKey: string, file: string, warn: (error: unknown) => void): LogShipping {
  let shipped = 0;
  let copying: Promise<void> = Promise.resolve();
  const copy = async () => {
    const info = await stat(file).catch(() => null);
    if (!info || info.size <= shipped) return;
    const handle = await open(file, 'r');
    try {
      while (shipped < info.size) {
        const buffer = Buffer.alloc(Math.min(CHUNK_BYTES, info.size - shipped));
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, shipped);
        if (bytesRead === 0) return;
        await logs.append(runId, jobKey, shipped, buffer.subarray(0, bytesRead));
        shipped += bytesRead;
      }
    } finally {
      await handle.close();
    }
  };
  const step = () => {
    copying = copying.then(copy).catch(warn);
    return copying;
  };
  const timer = setInterval(step, SHIP_EVERY_MS);
  timer.unref();
  return {
    finish: async () => {
      clearInterval(timer);
      await step();
    },
  };
}

/** Brings this server's copy of a job's log up to what the store holds (nothing to do for the writer). */
export async function pullJobLog(logs: JobLogStore, runId: string, jobKey: string, file: string): Promise<void> {
  for (;;) {
    const size = (await stat(file).catch(() => null))?.size ?? 0;
    const bytes = await logs.read(runId, jobKey, size, 4 * CHUNK_BYTES);
    if (bytes.length === 0) return;
    await mkdir(dirname(file), { recursive: true });
    await appendFile(file, bytes);
  }
}
