/**
 * The one way Gantry runs git: without a terminal (no credential prompt can block the server),
 * in the C locale (stable messages), with a timeout, and failing with one error code.
 */
import { execFile } from 'node:child_process';
import { GantryError } from '../core/errors.ts';
import { childEnv, GIT_HOST_ENV } from './child-env.ts';

/** Local commands; a remote (`ls-remote`, `fetch`, `clone`) passes `REMOTE_GIT_TIMEOUT_MS`. */
export const LOCAL_GIT_TIMEOUT_MS = 60_000;
/** Remote operations can hang on a dead host; the caller retries next time. */
export const REMOTE_GIT_TIMEOUT_MS = 30_000;

export interface GitOptions {
  cwd?: string;
  timeoutMs?: number;
  /**
   * Extra environment (e.g. GIT_INDEX_FILE); the prompt and locale settings always win. Of the
   * host's environment git sees only `childEnv`'s list plus `GIT_HOST_ENV` (never the server's secrets).
   */
  env?: Record<string, string>;
  maxBuffer?: number;
}

export interface GitResult {
  ok: boolean;
  stdout: string;
  stderr: string;
  /** Why it failed (exit status, timeout, buffer overflow); '' when ok. */
  error: string;
}

/** Runs git and returns stdout. Throws `GIT_FAILED` with the tail of stderr. */
export async function runGit(args: string[], o: GitOptions = {}): Promise<string> {
  const result = await tryGit(args, o);
  if (result.ok) return result.stdout;
  const detail = result.stderr.trim().split('\n').slice(-3).join(' ') || result.error;
  throw new GantryError('GIT_FAILED', `git ${args[0] ?? ''} failed: ${detail}`, { args, stderr: result.stderr.slice(-4000) });
}

/**
 * Runs git like `runGit` but reports failure instead of throwing: for probes whose failure is an
 * answer (`rev-parse --verify` of a missing commit, "is this a repository?").
 */
export function tryGit(args: string[], o: GitOptions = {}): Promise<GitResult> {
  return new Promise((resolve) => {
    execFile(
      'git',
      args,
      {
        cwd: o.cwd,
        timeout: o.timeoutMs ?? LOCAL_GIT_TIMEOUT_MS,
        maxBuffer: o.maxBuffer ?? 256 * 1024 * 1024,
        encoding: 'utf8',
        env: childEnv({
          inherit: GIT_HOST_ENV,
          set: { ...o.env, GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: '', SSH_ASKPASS: '', LC_ALL: 'C' },
        }),
      },
      (error, stdout, stderr) => resolve({ ok: !error, stdout, stderr, error: error ? error.message : '' }),
    );
  });
}

/**
 * The files a pull request changes, as GitHub's path filters see them: `head` against the base
 * branch from where the two diverged (`git diff base...head`). Undefined when the base branch is
 * not in the repository (then path filters match). Used by the server and by `gantry run
 * --event pull_request`.
 */
export async function pullRequestChangedFiles(gitDir: string, baseBranch: string, head: string): Promise<string[] | undefined> {
  if (!/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(head)) throw new Error(`not a full commit sha: ${JSON.stringify(head.slice(0, 80))}`);
  const base = `refs/heads/${baseBranch}`;
  if (!(await tryGit(['rev-parse', '--verify', '--quiet', `${base}^{commit}`], { cwd: gitDir })).ok) return undefined;
  const out = await runGit(['diff', '--name-only', '-z', '--no-renames', `${base}...${head}`], { cwd: gitDir });
  return out.split('\0').filter((name) => name !== '');
}
