/**
 * Where a job's files come from: the working tree (`gantry run`), a commit of a repository
 * (the server), and the per-job copy of either. Also the copy primitives that cache and
 * artifact restores share, because they must all refuse to write through a symbolic link the
 * job (or the repository) planted in the workspace.
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, readdirSync, readlinkSync, symlinkSync } from 'node:fs';
import { copyFile, lstat, mkdir, mkdtemp, readdir, readlink, rename, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { InputError, NotFoundError } from '../core/errors.ts';
import { REMOTE_GIT_TIMEOUT_MS, runGit, tryGit } from '../platform/git.ts';

// ---------------------------------------------------------------- copy primitives

/** Leaf copies in flight per tree copy: measured fastest on 2 cores (4–16 are within noise, unbounded is slower). */
const COPY_CONCURRENCY = 8;

/** Runs at most `limit` of the given tasks at once; per call, so jobs never share a queue. */
export function createLimiter(limit: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (task) => {
    if (active >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    else active++;
    try {
      return await task();
    } finally {
      // Hand the slot straight to a waiter so a newcomer cannot slip in between.
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
}

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

/**
 * Copies one regular file (mode kept) or symbolic link (target kept verbatim, never followed).
 * With `replace`, whatever is at `dest` is removed first so a link there cannot redirect the
 * write. Returns the bytes copied, or null when `src` is neither a file nor a link (or vanished).
 */
export async function copyLeaf(src: string, dest: string, replace: boolean): Promise<number | null> {
  let st;
  try {
    st = await lstat(src);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return null;
    throw err;
  }
  if (!st.isFile() && !st.isSymbolicLink()) return null;
  if (replace) await rm(dest, { recursive: true, force: true });
  if (st.isSymbolicLink()) {
    await symlink(await readlink(src), dest);
    return 0;
  }
  await copyFile(src, dest);
  return st.size;
}

/**
 * Creates directories under `root` one component at a time and refuses to pass through a
 * symbolic link or a file, so restoring `node_modules/x` can never land outside `root` even if
 * the workspace holds `node_modules -> /`. One instance per restore: it remembers checked dirs.
 */
export function createDirMaker(root: string): (relDir: string) => Promise<void> {
  let rootMade: Promise<unknown> | undefined;
  const made = new Map<string, Promise<void>>();
  const makeOne = async (rel: string): Promise<void> => {
    const abs = path.join(root, rel);
    try {
      await mkdir(abs);
      return;
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
    }
    const st = await lstat(abs);
    if (st.isDirectory()) return;
    const what = st.isSymbolicLink() ? 'a symbolic link' : 'not a directory';
    throw new InputError(`cannot write below "${rel}": it is ${what} in the workspace`);
  };
  const ensure = (rel: string): Promise<void> => {
    let pending = made.get(rel);
    if (!pending) {
      const parent = path.posix.dirname(rel);
      pending = (parent === '.' ? Promise.resolve() : ensure(parent)).then(() => makeOne(rel));
      made.set(rel, pending);
    }
    return pending;
  };
  return async (relDir) => {
    rootMade ??= mkdir(root, { recursive: true });
    await rootMade;
    if (relDir !== '' && relDir !== '.') await ensure(relDir);
  };
}

/**
 * Copies the tree at `src` to `dest` (created; its parent must exist), keeping file modes and
 * symbolic links, skipping entries for which `skip(relPath, isDir)` is true. Returns the number
 * of files and links copied. Directories are walked and files copied in one pass so the copy
 * starts before the walk ends.
 */
export async function copyTree(
  src: string,
  dest: string,
  skip: (relPath: string, isDir: boolean) => boolean = () => false,
): Promise<number> {
  const limit = createLimiter(COPY_CONCURRENCY);
  let files = 0;
  const copyDir = async (rel: string): Promise<void> => {
    const entries = await readdir(path.join(src, rel), { withFileTypes: true });
    await mkdir(path.join(dest, rel), { recursive: rel === '' });
    await Promise.all(
      entries.map(async (entry) => {
        const child = rel === '' ? entry.name : `${rel}/${entry.name}`;
        if (skip(child, entry.isDirectory())) return;
        if (entry.isDirectory()) return copyDir(child);
        // The entry's type is known from readdir: no lstat per file (copyLeaf's) on this hot path.
        const from = path.join(src, child);
        const to = path.join(dest, child);
        if (entry.isFile()) {
          await limit(() => copyFile(from, to));
        } else if (entry.isSymbolicLink()) {
          await limit(async () => symlink(await readlink(from), to));
        } else {
          return; // sockets, FIFOs, devices
        }
        files++;
      }),
    );
  };
  await copyDir('');
  return files;
}

// ---------------------------------------------------------------- git

/** Trees and listings of big repositories are big. */
const GIT_MAX_BUFFER = 512 * 1024 * 1024;
/** A first clone of a big repository takes long; later fetches are incremental. */
const CLONE_TIMEOUT_MS = 10 * 60_000;

function git(args: string[], cwd: string, o: { timeoutMs?: number } = {}) {
  return tryGit(args, { cwd, maxBuffer: GIT_MAX_BUFFER, ...o });
}

async function headOf(repoDir: string): Promise<{ sha: string | null; ref: string | null }> {
  const sha = await git(['rev-parse', '--verify', '-q', 'HEAD'], repoDir);
  if (!sha.ok) return { sha: null, ref: null };
  const ref = await git(['symbolic-ref', '-q', 'HEAD'], repoDir);
  return { sha: sha.stdout.trim(), ref: ref.ok ? ref.stdout.trim() : null };
}

/** Directories that are never part of a snapshot: VCS data, Gantry's own data, dependencies. */
const NON_GIT_SKIPPED = new Set(['.git', '.gantry', 'node_modules']);

/** True when `child` is `parent` or below it. */
function isWithin(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * `gantry run`: copies the working tree as it is (tracked files plus untracked files not
 * ignored — `git ls-files -z --cached --others --exclude-standard`, skipping tracked files
 * deleted in the tree) into destDir, preserving modes and symlinks. Not a git repo → copies
 * everything except .git, .gantry and node_modules. Returns the HEAD sha/ref when there is one.
 * A top-level `.gantry/` (Gantry's local data) and `destDir` itself are never copied.
 */
export async function snapshotWorkingTree(
  repoDir: string,
  destDir: string,
): Promise<{ sha: string | null; ref: string | null; files: number }> {
  const absRepo = path.resolve(repoDir);
  const absDest = path.resolve(destDir);
  const destRel = isWithin(absRepo, absDest) ? path.relative(absRepo, absDest).split(path.sep).join('/') : null;
  const isOwnData = (rel: string): boolean =>
    rel === '.gantry' || rel.startsWith('.gantry/') || (destRel !== null && (rel === destRel || rel.startsWith(`${destRel}/`)));

  const inside = await git(['rev-parse', '--is-inside-work-tree'], absRepo);
  if (!inside.ok || inside.stdout.trim() !== 'true') {
    await mkdir(path.dirname(absDest), { recursive: true });
    const files = await copyTree(
      absRepo,
      absDest,
      (rel, isDir) => isOwnData(rel) || (isDir && NON_GIT_SKIPPED.has(path.posix.basename(rel))),
    );
    return { sha: null, ref: null, files };
  }

  const listing = await runGit(['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: absRepo,
    maxBuffer: GIT_MAX_BUFFER,
  });
  // Unmerged paths appear once per stage: dedupe.
  const paths = [...new Set(listing.split('\0').filter((p) => p !== '' && !isOwnData(p)))];
  const makeDir = createDirMaker(absDest);
  const limit = createLimiter(COPY_CONCURRENCY);
  let files = 0;
  await makeDir('');
  await Promise.all(
    paths.map((rel) =>
      limit(async () => {
        const src = path.join(absRepo, rel);
        let st;
        try {
          st = await lstat(src);
        } catch (err) {
          if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return; // deleted in the tree
          throw err;
        }
        await makeDir(path.posix.dirname(rel));
        const dest = path.join(absDest, rel);
        if (st.isDirectory()) {
          // A submodule (gitlink): copy its checked-out files, not its git data.
          files += await copyTree(src, dest, (child, isDir) => isDir && path.posix.basename(child) === '.git');
          return;
        }
        if ((await copyLeaf(src, dest, false)) !== null) files++;
      }),
    ),
  );
  return { ...(await headOf(absRepo)), files };
}

/** Commit ids as users and webhooks write them; anything else could be read as a git option or revision expression. */
const SHA_PATTERN = /^[0-9a-f]{4,64}$/i;

async function commitIn(gitDir: string, sha: string): Promise<string | null> {
  const result = await git(['--git-dir', gitDir, 'rev-parse', '--verify', '-q', `${sha}^{commit}`], gitDir);
  return result.ok ? result.stdout.trim() : null;
}

/** Creates the bare mirror if absent. Clones beside it then renames, so concurrent callers never see half a mirror. */
async function ensureMirror(repo: string, mirrorDir: string): Promise<void> {
  try {
    await lstat(path.join(mirrorDir, 'HEAD'));
    return;
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
  const parent = path.dirname(path.resolve(mirrorDir));
  await mkdir(parent, { recursive: true });
  const temp = `${path.resolve(mirrorDir)}.tmp-${randomBytes(6).toString('hex')}`;
  const clone = await git(['clone', '--mirror', '--quiet', '--', repo, temp], parent, { timeoutMs: CLONE_TIMEOUT_MS });
  if (!clone.ok) {
    await rm(temp, { recursive: true, force: true });
    throw new NotFoundError(`cannot clone repository ${repo}: ${clone.stderr.trim().split('\n').pop() ?? ''}`);
  }
  try {
    await rename(temp, mirrorDir);
  } catch (err) {
    await rm(temp, { recursive: true, force: true });
    // Another caller won the race: its mirror is as good as ours.
    if (errnoCode(err) !== 'ENOTEMPTY' && errnoCode(err) !== 'EEXIST') throw err;
  }
}

/** Fetches into the mirror; a second try covers a concurrent fetch holding a ref lock. */
async function fetchMirror(mirrorDir: string, extra: string[]): Promise<boolean> {
  for (let attempt = 0; attempt < 2; attempt++) {
    const result = await git(['--git-dir', mirrorDir, 'fetch', '--quiet', '--prune', 'origin', ...extra], mirrorDir, {
      timeoutMs: REMOTE_GIT_TIMEOUT_MS,
    });
    if (result.ok) return true;
  }
  return false;
}

/**
 * Server: the tree of commit `sha` of a repository (a local path or a URL) into destDir,
 * without .git, through a bare mirror kept at mirrorDir (created with `git clone --mirror` or
 * fetched when the sha is missing). Throws NotFoundError when the sha does not exist.
 * Extracts with `read-tree` + `checkout-index` into a private index rather than `git archive`,
 * so `export-ignore`/`export-subst` attributes cannot alter what a job builds; symlinks and
 * executable bits come out as committed. Submodules are not checked out.
 */
export async function checkoutCommit(repo: string, sha: string, destDir: string, mirrorDir: string): Promise<void> {
  if (!SHA_PATTERN.test(sha)) throw new InputError(`"${sha}" is not a commit sha`);
  const absMirror = path.resolve(mirrorDir);
  await ensureMirror(repo, absMirror);
  const absDest = path.resolve(destDir);
  await mkdir(absDest, { recursive: true });
  // Beside the destination, not in the system's temp dir: a server killed mid-checkout leaves it
  // where removing the run (or the release) removes it too, instead of in /tmp for good.
  const indexDir = await mkdtemp(path.join(path.dirname(absDest), `.${path.basename(absDest)}.index-`));
  try {
    const env = { GIT_INDEX_FILE: path.join(indexDir, 'index') };
    // One git process in the usual case (the commit is there): read-tree -u writes the tree out
    // as it reads it. Each git process costs ~12 ms here, on the path from a push to its first step.
    const readTree = ['--git-dir', absMirror, '--work-tree', absDest, 'read-tree', '-u', '--reset'];
    if ((await tryGit([...readTree, `${sha}^{commit}`], { cwd: absDest, env })).ok) return;
    let commit = await commitIn(absMirror, sha);
    if (commit === null) {
      await fetchMirror(absMirror, []);
      commit = await commitIn(absMirror, sha);
    }
    if (commit === null && sha.length >= 40) {
      // Unreachable from any ref (e.g. a force-pushed-over commit): some servers still serve it by id.
      await fetchMirror(absMirror, [sha]);
      commit = await commitIn(absMirror, sha);
    }
    if (commit === null) throw new NotFoundError(`commit ${sha} not found in ${repo}`);
    await runGit([...readTree, commit], { cwd: absDest, env });
  } finally {
    await rm(indexDir, { recursive: true, force: true });
  }
}

/**
 * Resolves a ref (branch name, refs/..., or sha) of a repository to { sha, ref } (full ref
 * name, e.g. `refs/heads/main`). A sha resolves to itself as `ref`, having no name.
 * Throws NotFoundError for an unknown ref, InputError when repoDir is not a repository.
 */
export async function resolveRef(repoDir: string, ref: string): Promise<{ sha: string; ref: string }> {
  if (!(await git(['rev-parse', '--git-dir'], repoDir)).ok) throw new InputError(`${repoDir} is not a git repository`);
  if (ref.trim() === '' || ref.startsWith('-')) throw new InputError(`"${ref}" is not a ref`);
  const sha = await git(['rev-parse', '--verify', '-q', '--end-of-options', `${ref}^{commit}`], repoDir);
  if (!sha.ok) throw new NotFoundError(`ref ${ref} not found`);
  const commit = sha.stdout.trim();
  const full = await git(['rev-parse', '--symbolic-full-name', ref, '--'], repoDir);
  const name = full.ok ? (full.stdout.trim().split('\n')[0] ?? '') : '';
  return { sha: commit, ref: name.startsWith('refs/') ? name : commit };
}

/**
 * A job's fresh workspace: removes workspaceDir if it exists, then copies sourceDir into it.
 * Runs once per job, so it is an asynchronous one-pass copy with bounded parallelism: on the
 * reference machine it beats `fs.cp` by ~4x and matches the native `fs.cpSync` without
 * blocking the event loop that other jobs' logs flow through.
 */
export async function materializeWorkspace(sourceDir: string, workspaceDir: string): Promise<void> {
  await emptyWorkspace(workspaceDir);
  await copySourceInto(sourceDir, workspaceDir);
}

/**
 * The first half of materializeWorkspace: `workspaceDir` made, empty. A sandbox can bind it now
 * and see the files copySourceInto puts there later (the same directory, filled in place).
 */
export async function emptyWorkspace(workspaceDir: string): Promise<void> {
  // Checked first: on a fresh run the path does not exist, and a thrown ENOENT costs more than a stat.
  if (existsSync(workspaceDir)) await rm(workspaceDir, { recursive: true, force: true });
  await mkdir(workspaceDir, { recursive: true });
}

/** The second half of materializeWorkspace: copies sourceDir into the existing, empty `workspaceDir`. */
export async function copySourceInto(sourceDir: string, workspaceDir: string): Promise<void> {
  if (!copySmallFlatTree(sourceDir, workspaceDir)) await copyTree(sourceDir, workspaceDir);
}

/** Up to this many entries, a source without subdirectories is copied synchronously. */
const SMALL_TREE_ENTRIES = 32;

/**
 * A tiny source tree (a few files, no directories) copied with sync calls: a handful of
 * microsecond syscalls beat the thread-pool round trips of the async copy, which dominate a
 * job's setup when jobs are short. Returns false, having written nothing, for any other tree.
 */
function copySmallFlatTree(sourceDir: string, workspaceDir: string): boolean {
  const entries = readdirSync(sourceDir, { withFileTypes: true });
  if (entries.length > SMALL_TREE_ENTRIES || entries.some((e) => !e.isFile() && !e.isSymbolicLink())) return false;
  for (const entry of entries) {
    const from = path.join(sourceDir, entry.name);
    const to = path.join(workspaceDir, entry.name);
    if (entry.isFile()) copyFileSync(from, to);
    else symlinkSync(readlinkSync(from), to);
  }
  return true;
}
