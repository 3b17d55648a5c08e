/** Real temp directories, files and git repositories for the executor's file-plumbing tests. */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GIT_VARS } from '../support/repo.ts';

/** A temp dir registry: `make()` creates one, `cleanup()` removes them all (call it in afterEach). */
export function tempDirs(): { make: (label?: string) => string; cleanup: () => void } {
  const dirs: string[] = [];
  return {
    make: (label = 'gantry-test') => {
      const dir = mkdtempSync(path.join(tmpdir(), `${label}-`));
      dirs.push(dir);
      return dir;
    },
    cleanup: () => {
      for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Tree spec: a string is a file's contents; `{ link }` a symbolic link; `{ text, mode }` a file with a mode. */
export type TreeSpec = Record<string, string | { link: string } | { text: string; mode: number }>;

export function writeTree(root: string, spec: TreeSpec): void {
  for (const [rel, value] of Object.entries(spec)) {
    const abs = path.join(root, rel);
    mkdirSync(path.dirname(abs), { recursive: true });
    if (typeof value === 'string') {
      writeFileSync(abs, value);
    } else if ('link' in value) {
      symlinkSync(value.link, abs);
    } else {
      writeFileSync(abs, value.text);
      chmodSync(abs, value.mode);
    }
  }
}

const GIT_ENV = { ...process.env, ...GIT_VARS };

/** Runs git in `cwd` and returns its trimmed stdout. */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: GIT_ENV, encoding: 'utf8' }).trim();
}

/** A new repository on branch `main`. */
export function initRepo(dir: string): string {
  git(dir, 'init', '-q', '-b', 'main');
  return dir;
}

/** Stages everything and commits; returns the new sha. */
export function commitAll(dir: string, message = 'commit'): string {
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', message);
  return git(dir, 'rev-parse', 'HEAD');
}
