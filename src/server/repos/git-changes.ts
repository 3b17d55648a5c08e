/**
 * What a push changed, read from git itself: the files between two commits of a local
 * repository, and the branches and tags of a local repository or a remote URL. Used by the git hook
 * and the repository poller, which only know shas, to fill `TriggerEvent.changedFiles`.
 */
import { statSync } from 'node:fs';
import { InputError } from '../../core/errors.ts';
import { REMOTE_GIT_TIMEOUT_MS, runGit } from '../../platform/git.ts';

/** A full object id: SHA-1 (40 hex) or SHA-256 (64 hex). Anything else is refused before git sees it. */
const OBJECT_ID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
const ZERO_ID = /^0+$/;

function assertObjectId(sha: string, what: string): void {
  if (!OBJECT_ID.test(sha)) throw new InputError(`${what} is not a full commit sha: ${JSON.stringify(sha.slice(0, 80))}`);
}

function splitNul(out: string): string[] {
  return out.split('\0').filter((name) => name !== '');
}

/**
 * Files changed between two commits of a local repository (`git diff --name-only -z before after`);
 * before null or all-zeros → the files of `after`'s tree (for a new branch: files changed by the
 * commit itself against its first parent, or all files for a root commit).
 * Renames are listed under both names so a path filter matches either side.
 */
export async function changedFiles(repoDir: string, before: string | null, after: string): Promise<string[]> {
  assertObjectId(after, 'after');
  if (before !== null && !ZERO_ID.test(before)) {
    assertObjectId(before, 'before');
    return splitNul(await runGit(['diff', '--name-only', '-z', '--no-renames', before, after], { cwd: repoDir }));
  }
  // `rev-list --parents` prints "<commit> <parent>...": no parent means a root commit.
  const [, firstParent] = (await runGit(['rev-list', '--parents', '-n', '1', after], { cwd: repoDir })).trim().split(' ');
  if (firstParent === undefined) return splitNul(await runGit(['ls-tree', '-r', '--name-only', '-z', after], { cwd: repoDir }));
  return splitNul(await runGit(['diff', '--name-only', '-z', '--no-renames', firstParent, after], { cwd: repoDir }));
}

/** A local directory is read directly; anything else (a URL, scp-like `git@host:path`) is asked over the wire. */
function isLocalDirectory(repo: string): boolean {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(repo)) return false;
  try {
    return statSync(repo).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Parses `<sha> <ref>` (ls-remote uses a tab, for-each-ref our space) lines into a ref → sha map.
 * ls-remote's peeled lines (`refs/tags/v1^{}`, the commit an annotated tag points to) are left
 * out: a tag is known by its own object, as the git hook reports it.
 */
function parseRefLines(out: string): Record<string, string> {
  const refs: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const match = /^([0-9a-f]+)\s+(refs\/(?:heads|tags)\/\S.*)$/.exec(line);
    if (match?.[1] && match[2] && !match[2].endsWith('^{}')) refs[match[2]] = match[1];
  }
  return refs;
}

/**
 * Reads the branches and tags of a local repository or a URL: { 'refs/heads/main': sha,
 * 'refs/tags/v1': sha } (`git ls-remote --heads --tags` / for-each-ref).
 */
export async function listPushRefs(repo: string): Promise<Record<string, string>> {
  // A "repository" starting with '-' would be read by git as an option (e.g. --upload-pack=...).
  if (repo === '' || repo.startsWith('-')) throw new InputError(`not a repository location: ${JSON.stringify(repo)}`);
  if (isLocalDirectory(repo))
    return parseRefLines(await runGit(['for-each-ref', '--format=%(objectname) %(refname)', 'refs/heads/', 'refs/tags/'], { cwd: repo }));
  return parseRefLines(await runGit(['ls-remote', '--heads', '--tags', repo], { timeoutMs: REMOTE_GIT_TIMEOUT_MS }));
}

/** At most this many commits per release: enough for lead times, bounded for huge first imports. */
export const MAX_RELEASE_COMMITS = 1000;

export interface CommitList {
  /** Newest first: sha and committer date (ISO 8601, as git prints it). */
  commits: { sha: string; at: string }[];
  /** More commits were there than `MAX_RELEASE_COMMITS`, or `from` was unknown to the repository. */
  truncated: boolean;
}

/**
 * The commits reachable from `to` but not from `from` (`git log from..to`), or `to`'s history
 * when `from` is null, with their committer dates: the commits a release brings since the
 * previous one, for DORA's lead time. The committer date rather than the author date: a rebase or
 * cherry-pick makes a new commit that only exists from then on.
 */
export async function commitsBetween(gitDir: string, from: string | null, to: string): Promise<CommitList> {
  assertObjectId(to, 'to');
  if (from !== null) assertObjectId(from, 'from');
  const log = async (range: string): Promise<string> =>
    runGit(['log', '--no-color', `--max-count=${MAX_RELEASE_COMMITS + 1}`, '--format=%H %cI', range, '--'], { cwd: gitDir });
  let out: string;
  let truncated = false;
  try {
    out = await log(from === null ? to : `${from}..${to}`);
  } catch (error) {
    if (from === null) throw error;
    // The previous release's commit is gone (a rewritten history): list `to` alone, flagged.
    out = await log(to);
    truncated = true;
  }
  const commits = out
    .split('\n')
    .map((line) => line.split(' '))
    .filter((parts): parts is [string, string] => parts.length === 2 && OBJECT_ID.test(parts[0] as string))
    .map(([sha, at]) => ({ sha, at }));
  if (commits.length > MAX_RELEASE_COMMITS) return { commits: commits.slice(0, MAX_RELEASE_COMMITS), truncated: true };
  return { commits, truncated };
}
