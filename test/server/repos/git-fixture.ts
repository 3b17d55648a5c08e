/**
 * Bare and non-bare repositories in caller-owned dirs for the trigger tests (remotes, pushes);
 * a plain repository with files is `makeRepo` in test/support/repo.ts.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { GIT_VARS } from '../../support/repo.ts';

const execFileAsync = promisify(execFile);

/** Same identity and no user/system config, so the machine's git setup cannot change the results. */
export const GIT_ENV: NodeJS.ProcessEnv = { ...process.env, ...GIT_VARS };

export async function git(cwd: string, args: string[], env: NodeJS.ProcessEnv = GIT_ENV): Promise<string> {
  const { stdout } = await execFileAsync('git', args, { cwd, env });
  return stdout.trim();
}

export class TempDirs {
  readonly #dirs: string[] = [];
  async make(prefix = 'gantry-test-'): Promise<string> {
    const dir = await mkdtemp(path.join(tmpdir(), prefix));
    this.#dirs.push(dir);
    return dir;
  }
  async cleanup(): Promise<void> {
    await Promise.all(this.#dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  }
}

export async function initRepo(dir: string, bare = false): Promise<string> {
  await git(dir, ['init', '-q', '-b', 'main', ...(bare ? ['--bare'] : [])]);
  return dir;
}

/** Writes (or deletes, with content null) files and commits them; returns the new commit's sha. */
export async function commit(dir: string, files: Record<string, string | null>, message = 'change'): Promise<string> {
  for (const [file, content] of Object.entries(files)) {
    const full = path.join(dir, file);
    if (content === null) {
      await git(dir, ['rm', '-q', file]);
      continue;
    }
    await mkdir(path.dirname(full), { recursive: true });
    await writeFile(full, content);
    await git(dir, ['add', file]);
  }
  await git(dir, ['commit', '-q', '-m', message]);
  return git(dir, ['rev-parse', 'HEAD']);
}
