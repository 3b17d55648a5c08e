/**
 * Job artifacts (`artifacts: [patterns]`): files a job hands to the jobs that need it and to
 * people downloading them. Stored as plain files under the job's artifact directory at their
 * workspace-relative paths, so a restore is a copy and a listing is a walk.
 */
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { matchFiles } from './globs.ts';
import { copyLeaf, createDirMaker, createLimiter } from './workspace.ts';

const IO_CONCURRENCY = 8;

/**
 * Copies `from/rel` to `to/rel` for each path, creating directories without passing through a
 * symbolic link in `to`. Returns the files copied and their bytes.
 */
async function copyFiles(from: string, to: string, rels: string[]): Promise<{ files: number; bytes: number }> {
  const makeDir = createDirMaker(to);
  const limit = createLimiter(IO_CONCURRENCY);
  let files = 0;
  let bytes = 0;
  await Promise.all(
    rels.map((rel) =>
      limit(async () => {
        await makeDir(path.posix.dirname(rel));
        const copied = await copyLeaf(path.join(from, rel), path.join(to, rel), true);
        if (copied === null) return;
        files++;
        bytes += copied;
      }),
    ),
  );
  return { files, bytes };
}

/**
 * Saves the workspace files matched by `patterns` (globs or directories, `!` excludes) under
 * destDir at the same relative paths. Symbolic links are saved as links, never followed.
 */
export async function saveArtifacts(o: {
  workspaceDir: string;
  patterns: string[];
  destDir: string;
}): Promise<{ files: number; bytes: number }> {
  const matched = await matchFiles(o.workspaceDir, o.patterns);
  if (matched.length === 0) return { files: 0, bytes: 0 };
  return copyFiles(o.workspaceDir, o.destDir, matched);
}

/**
 * Merges the artifact directories of needed jobs into a workspace, in order (a later directory
 * wins on a shared path). A missing directory (a job that saved nothing) is skipped.
 */
export async function restoreArtifacts(fromDirs: string[], workspaceDir: string): Promise<{ files: number }> {
  let files = 0;
  for (const dir of fromDirs) {
    const rels = await matchFiles(dir, ['**']);
    files += (await copyFiles(dir, workspaceDir, rels)).files;
  }
  return { files };
}

/** The artifacts stored in `dir` with their sizes (links count 0 bytes), sorted by path; [] when there are none. */
export async function listArtifacts(dir: string): Promise<{ path: string; bytes: number }[]> {
  const rels = await matchFiles(dir, ['**']);
  const limit = createLimiter(IO_CONCURRENCY);
  return Promise.all(
    rels.map((rel) =>
      limit(async () => {
        const st = await lstat(path.join(dir, rel));
        return { path: rel, bytes: st.isFile() ? st.size : 0 };
      }),
    ),
  );
}
