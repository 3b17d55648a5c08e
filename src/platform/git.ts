/**
 * The one way Gantry runs git: without a terminal (no credential prompt can block the server),
 * in the C locale (stable messages), with a timeout, and failing with one error code.
 */
import { execFile } from 'node:child_process';
import { GantryError } from '../core/errors.ts';

/** Local commands; a remote (`ls-remote`, `fetch`, `clone`) passes `REMOTE_GIT_TIMEOUT_MS`. */
export const LOCAL_GIT_TIMEOUT_MS = 60_000;
/** Remote operations can hang on a dead host; the caller retries next time. */
export const REMOTE_GIT_TIMEOUT_MS = 30_000;

export interface GitOptions {
  cwd?: string;
  timeoutMs?: number;
  /** Extra environment (e.g. GIT_INDEX_FILE); the prompt and locale settings always win. */
  env?: Record<string, string>;
  maxBuffer?: number;
}

/** Runs git and returns stdout. Throws `GIT_FAILED` with the tail of stderr. */
export function runGit(args: string[], o: GitOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      args,
      {
        cwd: o.cwd,
        timeout: o.timeoutMs ?? LOCAL_GIT_TIMEOUT_MS,
        maxBuffer: o.maxBuffer ?? 256 * 1024 * 1024,
        encoding: 'utf8',
        env: { ...process.env, ...o.env, GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: '', SSH_ASKPASS: '', LC_ALL: 'C' },
      },
      (error, stdout, stderr) => {
        if (!error) return resolve(stdout);
        const detail = stderr.trim().split('\n').slice(-3).join(' ') || error.message;
        reject(new GantryError('GIT_FAILED', `git ${args[0] ?? ''} failed: ${detail}`, { args, stderr: stderr.slice(-4000) }));
      },
    );
  });
}
