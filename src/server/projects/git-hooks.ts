/**
 * Instant triggers for local repositories: a git `reference-transaction` hook that tells the
 * server about every branch update (commit, merge, rebase, reset, push into the repository)
 * as it happens, so nothing has to poll a directory on disk.
 */
import { chmod, mkdir, readFile, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ConflictError, GantryError, InputError } from '../../core/errors.ts';
import { runGit } from '../../platform/git.ts';

const HOOK_NAME = 'reference-transaction';
const CHAINED_NAME = 'reference-transaction.pre-gantry';
/** The line that marks a hook file as Gantry's; a file without it is the user's and is never overwritten. */
const MARKER = '# gantry-managed-hook v1';
/** Written when installing had to create the hooks folder (N levels of it), so uninstalling takes them out again. */
const CREATED_DIRS = /^# gantry-created-dirs: (\d+)$/m;

function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

async function hooksDir(repoDir: string): Promise<string> {
  // `--git-path hooks` already applies core.hooksPath (relative to the cwd we give git) and worktrees.
  const out = (await runGit(['rev-parse', '--git-path', 'hooks'], { cwd: repoDir })).trim();
  return path.resolve(repoDir, out);
}

async function assertGitSupportsHook(): Promise<void> {
  const version = /git version (\d+)\.(\d+)/.exec(await runGit(['version']));
  const major = Number(version?.[1] ?? 0);
  const minor = Number(version?.[2] ?? 0);
  if (major < 2 || (major === 2 && minor < 28)) {
    throw new GantryError('GIT_TOO_OLD', `git ${major}.${minor} has no reference-transaction hook; git 2.28 or newer is required`);
  }
}

async function readIfExists(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/**
 * The hook script. It reads stdin with shell builtins only (no fork on the hot path: the hook
 * runs for every ref transaction, twice per commit), calls a chained hook first with the same
 * stdin and arguments and keeps its exit status (which can veto a "prepared" transaction), and
 * only in the "committed" state hands the branch and tag lines to curl in a detached background job so
 * a slow or dead server never slows or fails git. The token goes to curl on stdin (`-H @-`),
 * not on its command line, where any local user could read it in the process list.
 */
function hookScript(url: string, token: string, createdDirs: number): string {
  return `#!/bin/sh
${MARKER}
${createdDirs > 0 ? `# gantry-created-dirs: ${createdDirs}\n` : ''}# Installed by Gantry: notifies the Gantry server of branch and tag updates so pipelines start at once.
# Re-installing replaces this file; uninstalling restores any hook kept as ${CHAINED_NAME}.
input=
pushed=
while IFS= read -r line || [ -n "$line" ]; do
  input="$input$line
"
  case "$line" in
    *" refs/heads/"* | *" refs/tags/"*) pushed="$pushed$line
" ;;
  esac
done
status=0
chained="\${0%/*}/${CHAINED_NAME}"
if [ -x "$chained" ]; then
  printf '%s' "$input" | "$chained" "$@"
  status=$?
fi
if [ "$1" = committed ] && [ -n "$pushed" ] && command -v curl >/dev/null 2>&1; then
  (
    body=$(mktemp) || exit 0
    printf '%s' "$pushed" >"$body"
    printf '%s\\r\\n' ${shellQuote(`Authorization: Bearer ${token}`)} |
      curl -s --max-time 2 -o /dev/null -H @- -H 'Content-Type: text/plain' --data-binary @"$body" ${shellQuote(url)}
    rm -f "$body"
  ) </dev/null >/dev/null 2>&1 &
fi
exit $status
`;
}

/**
 * Installs Gantry's hook into a local repository so every ref update (commit, merge, rebase,
 * reset, push into it) notifies the server at once: a `reference-transaction` hook (git ≥ 2.28)
 * that, in the "committed" state, POSTs the `<old> <new> <ref>` lines of refs/heads/* and refs/tags/* (text/plain)
 * with curl (`--max-time 2`, `Authorization: Bearer <token>`) to
 * `<serverUrl>/api/projects/<projectId>/git-hook` in the background, so a commit is never slowed
 * or failed by Gantry; without curl it does nothing. Respects `core.hooksPath`. An existing
 * reference-transaction hook is kept and chained (renamed to reference-transaction.pre-gantry,
 * called first with the same stdin and args; its exit code preserved). The token is written into
 * the hook file, which gets mode 0700. Idempotent: re-installing replaces Gantry's part only.
 * Throws GIT_TOO_OLD, GIT_FAILED (not a repository), INVALID_INPUT (bad URL or token) and
 * CONFLICT (a foreign hook AND a chained one both exist, so one would be lost). Hooks folders it
 * has to create are noted in the hook, so uninstallGitHook can take them out again.
 */
export async function installGitHook(
  repoDir: string,
  o: { serverUrl: string; token: string; projectId: string },
): Promise<{ hookPath: string }> {
  let base: URL;
  try {
    base = new URL(o.serverUrl);
  } catch {
    throw new InputError(`serverUrl is not a URL: ${JSON.stringify(o.serverUrl)}`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new InputError('serverUrl must be http:// or https://');
  // A header line must not be split or smuggled: visible ASCII only.
  if (!/^[\x21-\x7e]+$/.test(o.token)) throw new InputError('token must be non-empty printable ASCII without spaces');
  if (o.projectId === '') throw new InputError('projectId must not be empty');
  await assertGitSupportsHook();

  const url = `${base.href.replace(/\/+$/, '')}/api/projects/${encodeURIComponent(o.projectId)}/git-hook`;
  const dir = await hooksDir(repoDir);
  const hookPath = path.join(dir, HOOK_NAME);
  const chainedPath = path.join(dir, CHAINED_NAME);
  const created = await mkdir(dir, { recursive: true });
  const current = await readIfExists(hookPath);
  // Folders this install (or the one it replaces) had to create: uninstalling removes them again.
  const createdDirs = created
    ? path.relative(created, dir).split(path.sep).filter(Boolean).length + 1
    : Number(current?.includes(MARKER) ? (CREATED_DIRS.exec(current)?.[1] ?? 0) : 0);
  if (current !== null && !current.includes(MARKER)) {
    if ((await readIfExists(chainedPath)) !== null) {
      throw new ConflictError(`${hookPath} and ${chainedPath} both exist; merge them by hand, then install again`);
    }
    await rename(hookPath, chainedPath);
  }
  // Written aside then renamed: a commit running right now sees the old hook or the new one, never half a file.
  const tmp = `${hookPath}.gantry-${process.pid}-${Date.now()}`;
  await writeFile(tmp, hookScript(url, o.token, createdDirs), { mode: 0o700 });
  await chmod(tmp, 0o700);
  await rename(tmp, hookPath);
  return { hookPath };
}

/** What uninstalling found: Gantry's hook taken out, and the hook it had chained put back or not. */
export type UninstallOutcome =
  /** Gantry's hook was removed; there was no hook before it. */
  | 'removed'
  /** Gantry's hook was removed (or already gone) and the hook it had chained is back in place. */
  | 'restored'
  /** No hook of Gantry's was there (never installed, or deleted by the user): nothing changed. */
  | 'absent'
  /** The hook in place is not Gantry's (the user replaced it): left alone. */
  | 'foreign';

/**
 * Undoes installGitHook, leaving the hooks folder as it was before: removes Gantry's hook, puts
 * back the hook it chained (a rename, so its bytes and mode are the original's) and removes the
 * hooks folders the install had to create, if they are empty. Respects `core.hooksPath` as
 * installing did. Idempotent: a second call, or one after the user deleted the hook, finds
 * nothing to do (a chained hook left behind is still put back). A hook that is not Gantry's is
 * never touched. Throws GIT_FAILED when `repoDir` is not a git repository.
 */
export async function uninstallGitHook(repoDir: string): Promise<{ hookPath: string; outcome: UninstallOutcome }> {
  const dir = await hooksDir(repoDir);
  const hookPath = path.join(dir, HOOK_NAME);
  const chainedPath = path.join(dir, CHAINED_NAME);
  const current = await readIfExists(hookPath);
  const chained = (await readIfExists(chainedPath)) !== null;
  if (current !== null && !current.includes(MARKER)) return { hookPath, outcome: 'foreign' };
  if (current === null && !chained) return { hookPath, outcome: 'absent' };
  if (chained) {
    // One rename replaces Gantry's hook with the original: a commit running now sees one or the other.
    await rename(chainedPath, hookPath);
    return { hookPath, outcome: 'restored' };
  }
  await rm(hookPath, { force: true });
  await removeEmptyFolders(dir, Number(CREATED_DIRS.exec(current ?? '')?.[1] ?? 0));
  return { hookPath, outcome: 'removed' };
}

/** Removes `dir` and its parents, `levels` folders in all, stopping at the first that is not empty (the user's files stay). */
async function removeEmptyFolders(dir: string, levels: number): Promise<void> {
  let folder = dir;
  for (let n = 0; n < levels; n++, folder = path.dirname(folder)) {
    try {
      await rmdir(folder);
    } catch {
      return;
    }
  }
}

const HOOK_LINE = /^([0-9a-f]{40}|[0-9a-f]{64}) ([0-9a-f]{40}|[0-9a-f]{64}) (refs\/(?:heads|tags)\/\S+)$/;

/** Parses the hook's body into ref updates of branches and tags (other refs, symref lines and deletions are dropped). */
export function parseHookBody(body: string): { before: string | null; after: string; ref: string }[] {
  const updates: { before: string | null; after: string; ref: string }[] = [];
  for (const raw of body.split('\n')) {
    const match = HOOK_LINE.exec(raw.trim());
    if (!match?.[1] || !match[2] || !match[3]) continue;
    const [, before, after, ref] = match;
    if (/^0+$/.test(after)) continue;
    updates.push({ before: /^0+$/.test(before) ? null : before, after, ref });
  }
  return updates;
}
