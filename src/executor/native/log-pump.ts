/**
 * The native log pump: a small C program the Perl step helper runs to write a job's logs (one per
 * helper, serving its logs one after the other), used wherever it can be built. It does what the helper's Perl log mode does
 * (spawner.ts, docs/decisions/0048) with about a third of its CPU time, and the helper falls back
 * to its Perl code when there is no pump.
 *
 * Built on first use, not at install: the package ships no binaries and installs run no scripts,
 * and a compiler may come later. `cc -O2` compiles the source into a cache directory
 * (`$GANTRY_NATIVE_DIR`, else `$XDG_CACHE_HOME/gantry/native`, else `~/.cache/gantry/native`), named
 * after a hash of the source, flags and architecture; the binary is written under a temporary name
 * and renamed into place, so processes building at once each rename a whole binary over the other.
 * The server and agents start the build as they start (`prepareLogPump`), so jobs find the file;
 * one that starts before the compiler is done waits for it (about a second).
 *
 * No compiler, a failed build or an unusable directory: `null`, the Perl path, and one line in
 * Node's debug log (`NODE_DEBUG=gantry`). `GANTRY_LOG_PUMP=perl` forces the Perl path (tests run
 * both). A sandbox needs no access to the cache: the helper outside it opens the binary and the
 * nested helper inside runs it by descriptor (`/proc/self/fd/<n>`).
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { debuglog } from 'node:util';
import { childEnv } from '../../platform/child-env.ts';
import { LOG_PUMP_SOURCE } from './log-pump-source.ts';

const debug = debuglog('gantry');
const CFLAGS = ['-O2', '-w'];
const COMPILE_TIMEOUT_MS = 120_000;

let built: Promise<string | null> | undefined;

/** The pump binary's path, built if need be; null when the helper must use its Perl code. */
export function logPump(): Promise<string | null> {
  if (process.env.GANTRY_LOG_PUMP === 'perl') return Promise.resolve(null);
  built ??= buildLogPump(cacheDir()).catch((error: unknown) => {
    debug('log pump unavailable, the step helper writes logs in Perl: %s', error instanceof Error ? error.message : String(error));
    return null;
  });
  return built;
}

/**
 * Builds the pump now, in the background, so that the first job after an upgrade does not wait
 * for the compiler: the server and agents call it as they start. Never rejects.
 */
export function prepareLogPump(): void {
  void logPump();
}

/**
 * The pump's binary in `dir`, compiled there first when missing. Rejects when it cannot be: no
 * compiler, a failed build, a directory that is not the user's own or that others may write to.
 */
export async function buildLogPump(dir: string, env: Record<string, string> = childEnv()): Promise<string> {
  const bin = binaryIn(dir);
  // A binary others could replace (or have put there) would run with the server's rights: the
  // directory and a binary found in it are checked every time, not only when building.
  if (existsSync(bin)) {
    ownOnly(dir);
    ownOnly(bin);
    if (executable(bin)) return bin;
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  ownOnly(dir);
  const tmp = `${bin}.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    await writeFile(`${tmp}.c`, LOG_PUMP_SOURCE);
    await new Promise<void>((resolve, reject) => {
      execFile('cc', [...CFLAGS, '-o', tmp, `${tmp}.c`], { env, timeout: COMPILE_TIMEOUT_MS }, (error, _out, stderr) =>
        error ? reject(new Error(`cc: ${error.message} ${stderr}`.trim())) : resolve(),
      );
    });
    await rename(tmp, bin);
    debug('log pump built: %s', bin);
    return bin;
  } finally {
    await rm(`${tmp}.c`, { force: true });
    await rm(tmp, { force: true });
  }
}

/** The binary's name: a hash of what makes it (source, flags, architecture). */
function binaryIn(dir: string): string {
  const key = createHash('sha256').update(LOG_PUMP_SOURCE).update(CFLAGS.join(' ')).update(process.arch).digest('hex').slice(0, 16);
  return join(dir, `log-pump-${key}`);
}

/** Throws unless `path` is the user's own and no one else may write to it. Synchronous for the reason below. */
function ownOnly(path: string): void {
  const st = statSync(path);
  if (typeof process.getuid === 'function' && st.uid !== process.getuid()) throw new Error(`${path} is not ours`);
  if ((st.mode & 0o022) !== 0) throw new Error(`${path} is writable by others`);
}

/** Synchronous on purpose: one stat, where an asynchronous one could wait for libuv's threads to start (~5 ms). */
function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function cacheDir(): string {
  if (process.env.GANTRY_NATIVE_DIR) return process.env.GANTRY_NATIVE_DIR;
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'gantry', 'native');
}
