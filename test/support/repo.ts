/**
 * Real git repositories in temp dirs, the one way tests make them: `makeRepo(files)` commits the
 * files on `main` with a fixed identity and none of the machine's git config, so the host's git
 * setup cannot change results.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A fixed git identity and no machine config (for git run by tests and by the CLI children they start). */
export const GIT_VARS: Readonly<Record<string, string>> = {
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_AUTHOR_NAME: 'Test',
  GIT_AUTHOR_EMAIL: 'test@example.com',
  GIT_COMMITTER_NAME: 'Test',
  GIT_COMMITTER_EMAIL: 'test@example.com',
};

/** Runs git in `cwd` with GIT_VARS and returns its trimmed stdout (throws on a non-zero exit). */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    env: { ...process.env, ...GIT_VARS },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
}

/** A git repository in a temp dir, with helpers to change it and to read what `gantry run` left in it. */
export interface TestRepo {
  dir: string;
  /** Runs git in the repository; returns its trimmed stdout. */
  git(...args: string[]): string;
  /** Writes files (creating folders) without committing them. */
  write(files: Record<string, string>): Promise<void>;
  /** Writes files (a null content deletes the file), commits everything, returns the new sha. */
  commit(files: Record<string, string | null>, message?: string): Promise<string>;
  /** The ids of the runs whose directory exists under `.gantry/local/runs/`. */
  runIds(): Promise<string[]>;
  /** Every file under `.gantry/local/runs/<runId>/`, relative path → content. */
  runFiles(runId: string): Promise<Map<string, string>>;
  cleanup(): Promise<void>;
}

/**
 * Creates a git repository on branch `main` (or `options.branch`) with `files` committed as
 * "initial"; pass {} for an empty repository with no commit.
 */
export async function makeRepo(files: Record<string, string>, options: { branch?: string } = {}): Promise<TestRepo> {
  const dir = await mkdtemp(path.join(tmpdir(), 'gantry-repo-'));
  git(dir, 'init', '-q', '-b', options.branch ?? 'main');
  const write = async (more: Record<string, string>) => {
    const entries = Object.entries(more).map(([name, content]) => [path.join(dir, name), content] as const);
    for (const folder of new Set(entries.map(([full]) => path.dirname(full)))) await mkdir(folder, { recursive: true });
    // In batches: fast for the tests that need many files, without running out of descriptors.
    for (let i = 0; i < entries.length; i += 64) {
      await Promise.all(entries.slice(i, i + 64).map(([full, content]) => writeFile(full, content)));
    }
  };
  const repo: TestRepo = {
    dir,
    git: (...args) => git(dir, ...args),
    write,
    async commit(more, message = 'change') {
      const deleted = Object.entries(more).filter(([, content]) => content === null);
      for (const [name] of deleted) await rm(path.join(dir, name), { force: true });
      await write(Object.fromEntries(Object.entries(more).filter((entry): entry is [string, string] => entry[1] !== null)));
      git(dir, 'add', '-A');
      git(dir, 'commit', '-q', '--allow-empty', '-m', message);
      return git(dir, 'rev-parse', 'HEAD');
    },
    async runIds() {
      return readdir(path.join(dir, '.gantry', 'local', 'runs')).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return [];
        throw error;
      });
    },
    async runFiles(runId) {
      const root = path.join(dir, '.gantry', 'local', 'runs', runId);
      const out = new Map<string, string>();
      for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
        if (!entry.isFile()) continue;
        const full = path.join(entry.parentPath, entry.name);
        out.set(path.relative(root, full), await readFile(full, 'utf8'));
      }
      return out;
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
  if (Object.keys(files).length > 0) await repo.commit(files, 'initial');
  return repo;
}

/** The log of one job of a run, by the layout users are told about: `.gantry/local/runs/<id>/jobs/<job>/log`. */
export function jobLog(repo: TestRepo, runId: string, jobDirName: string): Promise<string> {
  return readFile(path.join(repo.dir, '.gantry', 'local', 'runs', runId, 'jobs', jobDirName, 'log'), 'utf8');
}
