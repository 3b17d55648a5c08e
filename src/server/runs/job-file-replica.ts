/**
 * A job's files shared between servers on one PostgreSQL (docs/decisions/0037). The server running
 * a job copies its log into the store as it grows (`shipJobLog`) and, when the job has ended, the
 * rest of the job's directory — artifacts, tests.json, sarif.json (`shipJobFiles`); each file in
 * chunks at their byte offsets. A server asked for a job it did not run appends what the store
 * holds beyond its own copies to them first (`pullJobFile`, `pullJobFiles`), so the readers — the
 * log's line index, search and follow, the artifact and test routes, releases, the security
 * service — keep reading local files. The writer's own files are never touched by a pull: their
 * chunks all start before their own size.
 */
import { appendFile, mkdir, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { JobFileStore } from '../../store/ports.ts';

/** The biggest chunk one append stores. */
const CHUNK_BYTES = 256 * 1024;
/** How often a running job's log is copied into the store, ms. */
const SHIP_EVERY_MS = 250;
/** The log's path in the job's directory (engine/run-paths.ts `jobLogFile`). */
export const LOG_PATH = 'log';

/**
 * Where attempt `attempt` of a job's log is stored: the first at `log`, each retry apart (`log@2`,
 * …), so a retry — on another server after a crash — never lands on an earlier attempt's chunks.
 */
export function storedLogPath(attempt: number): string {
  return attempt <= 1 ? LOG_PATH : `${LOG_PATH}@${attempt}`;
}

/**
 * Brings this server's copy of attempt `attempt` of a job's log up to the store. A copy of an
 * earlier attempt pulled here (its attempt in `<file>.attempt`) is replaced; a log without that
 * note was written here, by the attempt that ran here, and is only ever appended to.
 */
export async function pullJobLog(files: JobFileStore, runId: string, jobKey: string, attempt: number, file: string): Promise<void> {
  const note = `${file}.attempt`;
  const pulled = await readFile(note, 'utf8').then(Number, () => null);
  if (pulled !== attempt) {
    const written = pulled === null && (await stat(file).catch(() => null)) !== null;
    if (!written) {
      await rm(file, { force: true });
      await mkdir(dirname(file), { recursive: true });
      await writeFile(note, String(attempt));
    }
  }
  await pullJobFile(files, runId, jobKey, storedLogPath(attempt), file);
}

/** This server is about to write the job's log (an attempt runs here): a copy pulled before is no longer one. */
export async function writingJobLog(file: string): Promise<void> {
  await rm(`${file}.attempt`, { force: true });
}

export interface LogShipping {
  /** Copies what is left and stops (the job ended). */
  finish(): Promise<void>;
}

/** Copies the bytes of `file` from `from` on into the store; returns how far it got. */
async function shipFrom(files: JobFileStore, runId: string, jobKey: string, path: string, file: string, from: number): Promise<number> {
  const info = await stat(file).catch(() => null);
  if (!info || info.size <= from) return from;
  let shipped = from;
  const handle = await open(file, 'r');
  try {
    while (shipped < info.size) {
      const buffer = Buffer.alloc(Math.min(CHUNK_BYTES, info.size - shipped));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, shipped);
      if (bytesRead === 0) break;
      await files.append(runId, jobKey, path, shipped, buffer.subarray(0, bytesRead));
      shipped += bytesRead;
    }
  } finally {
    await handle.close();
  }
  return shipped;
}

/** Starts copying the job's log into the store as it grows; `finish` after the job copies the rest. */
export function shipJobLog(
  files: JobFileStore,
  runId: string,
  jobKey: string,
  logFile: string,
  warn: (error: unknown) => void,
  storedPath = LOG_PATH,
): LogShipping {
  let shipped = 0;
  let copying: Promise<void> = Promise.resolve();
  const step = () => {
    copying = copying
      .then(async () => {
        shipped = await shipFrom(files, runId, jobKey, storedPath, logFile, shipped);
      })
      .catch(warn);
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

/** After the job: copies every file of its directory but the log (and the log writer's tail segments). */
export async function shipJobFiles(files: JobFileStore, runId: string, jobKey: string, jobDir: string): Promise<void> {
  for (const file of await filesUnder(jobDir)) {
    const path = relative(jobDir, file).split(sep).join('/');
    if (path === LOG_PATH || path.startsWith(`${LOG_PATH}.`)) continue;
    await shipFrom(files, runId, jobKey, path, file, 0);
  }
}

/** Brings this server's copy of one of a job's files up to what the store holds. */
export async function pullJobFile(files: JobFileStore, runId: string, jobKey: string, path: string, file: string): Promise<void> {
  for (;;) {
    const size = (await stat(file).catch(() => null))?.size ?? 0;
    const bytes = await files.read(runId, jobKey, path, size, 4 * CHUNK_BYTES);
    if (bytes.length === 0) return;
    await mkdir(dirname(file), { recursive: true });
    await appendFile(file, bytes);
  }
}

/** Brings this server's copy of a job's directory up to what the store holds (nothing to do for the server that ran it). */
export async function pullJobFiles(files: JobFileStore, runId: string, jobKey: string, jobDir: string): Promise<void> {
  for (const stored of await files.files(runId, jobKey)) {
    // Stored paths come from shipJobFiles' relative paths; one climbing out is not ours.
    if (stored.path.split('/').includes('..')) continue;
    // Logs are pulled by attempt (pullJobLog), not as files of the directory.
    if (stored.path === LOG_PATH || stored.path.startsWith(`${LOG_PATH}@`)) continue;
    const file = join(jobDir, ...stored.path.split('/'));
    const size = (await stat(file).catch(() => null))?.size ?? 0;
    if (size < stored.bytes) await pullJobFile(files, runId, jobKey, stored.path, file);
  }
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}
