/** Reading files of a commit straight from git, without a checkout. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { InputError } from '../core/errors.ts';

const run = promisify(execFile);
export const CONFIG_FILES = ['gantry.yaml', 'gantry.yml'] as const;

/** The gantry.yaml of a commit. `gitDir` is a work tree or a bare repository. */
export async function readConfigAtCommit(gitDir: string, sha: string): Promise<{ file: string; text: string }> {
  for (const file of CONFIG_FILES) {
    try {
      const { stdout } = await run('git', ['-C', gitDir, 'show', `${sha}:${file}`], { maxBuffer: 16 * 1024 * 1024 });
      return { file, text: stdout };
    } catch {
      // try the next name
    }
  }
  throw new InputError(`commit ${sha.slice(0, 12)} has no gantry.yaml: add one (\`gantry init\` writes a starter) and commit it`);
}

/** Brings the bare mirror of a URL repository up to date (cloning it the first time). */
export async function syncMirror(url: string, mirrorDir: string): Promise<void> {
  const { existsSync } = await import('node:fs');
  if (!existsSync(mirrorDir)) {
    await run('git', ['clone', '--mirror', '--quiet', url, mirrorDir]);
    return;
  }
  await run('git', ['-C', mirrorDir, 'fetch', '--prune', '--quiet', 'origin']);
}
