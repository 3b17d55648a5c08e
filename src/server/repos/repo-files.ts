/** Reading files of a commit straight from git, without a checkout; keeping URL mirrors fresh. */
import { existsSync } from 'node:fs';
import { InputError } from '../../core/errors.ts';
import { REMOTE_GIT_TIMEOUT_MS, runGit } from '../../platform/git.ts';

export const CONFIG_FILES = ['gantry.yaml', 'gantry.yml'] as const;

/** The gantry.yaml of a commit. `gitDir` is a work tree or a bare repository. */
export async function readConfigAtCommit(gitDir: string, sha: string): Promise<{ file: string; text: string }> {
  for (const file of CONFIG_FILES) {
    try {
      return { file, text: await runGit(['-C', gitDir, 'show', `${sha}:${file}`], { maxBuffer: 16 * 1024 * 1024 }) };
    } catch {
      // try the next name
    }
  }
  throw new InputError(`commit ${sha.slice(0, 12)} has no gantry.yaml: add one (\`gantry init\` writes a starter) and commit it`);
}

/**
 * The files of a commit directly in folder `dir` whose names pass `keep` (e.g. the experiment files
 * under `.gantry/experiments/`), in name order; none when the folder does not exist there.
 */
export async function readFilesAtCommit(
  gitDir: string,
  sha: string,
  dir: string,
  keep: (path: string) => boolean,
): Promise<{ file: string; text: string }[]> {
  let listing: string;
  try {
    listing = await runGit(['-C', gitDir, 'ls-tree', '--name-only', `${sha}:${dir}`]);
  } catch {
    return [];
  }
  const files = listing
    .split('\n')
    .filter((name) => name !== '')
    .map((name) => `${dir}/${name}`)
    .filter(keep)
    .sort();
  return Promise.all(
    files.map(async (file) => ({ file, text: await runGit(['-C', gitDir, 'show', `${sha}:${file}`], { maxBuffer: 16 * 1024 * 1024 }) })),
  );
}

/**
 * Brings the bare mirror of a URL repository up to date (cloning it the first time). Bounded by
 * a timeout and never prompting: a dead host or a credential prompt cannot hang a trigger.
 */
export async function syncMirror(url: string, mirrorDir: string): Promise<void> {
  if (!existsSync(mirrorDir)) {
    await runGit(['clone', '--mirror', '--quiet', '--', url, mirrorDir], { timeoutMs: REMOTE_GIT_TIMEOUT_MS * 4 });
    return;
  }
  await runGit(['-C', mirrorDir, 'fetch', '--prune', '--quiet', 'origin'], { timeoutMs: REMOTE_GIT_TIMEOUT_MS * 4 });
}
