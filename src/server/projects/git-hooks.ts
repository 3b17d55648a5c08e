/**
 * Instant triggers for local repositories: a git `reference-transaction` hook that tells the
 * server about every branch update (commit, merge, rebase, reset, push into the repository)
 * as it happens, so nothing has to poll a directory on disk.
 */
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ConflictError, GantryError, InputError } from '../../core/errors.ts';
import { runGit } from '../../platform/git.ts';

const HOOK_NAME = 'reference-transaction';
const CHAINED_NAME = 'reference-transaction.pre-gantry';
/** The line that marks a hook file as Gantry's; a file without it is the user's and is never overwritten. */
const MARKER = '# gantry-managed-hook v1';

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
 * only in the "committed" state hands the branch lines to curl in a detached background job so
 * a slow or dead server never slows or fails git. The token goes to curl on stdin (`-H @-`),
 * not on its command line, where any local user could read it in the process list.
 */
function hookScript(url: string, token: string): string {
  return `#!/bin/sh
${MARKER}
# Installed by Gantry: notifies the Gantry server of branch updates so pipelines start at once.
# Re-installing replaces this file; uninstalling restores any hook kept as ${CHAINED_NAME}.
input=
branches=
while IFS= read -r line || [ -n "$line" ]; do
  input="$input$line
"
  case "$line" in
    *" refs/heads/"*) branches="$branches$line
" ;;
  esac
done
status=0
chained="\${0%/*}/${CHAINED_NAME}"
if [ -x "$chained" ]; then
  printf '%s' "$input" | "$chained" "$@"
  status=$?
fi
if [ "$1" = committed ] && [ -n "$branches" ] && command -v curl >/dev/null 2>&1; then
  (
    body=$(mktemp) || exit 0
    printf '%s' "$branches" >"$body"
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
 * that, in the "committed" state, POSTs the `<old> <new> <ref>` lines of refs/heads/* (text/plain)
 * with curl (`--max-time 2`, `Authorization: Bearer <token>`) to
 * `<serverUrl>/api/projects/<projectId>/git-hook` in the background, so a commit is never slowed
 * or failed by Gantry; without curl it does nothing. Respects `core.hooksPath`. An existing
 * reference-transaction hook is kept and chained (renamed to reference-transaction.pre-gantry,
 * called first with the same stdin and args; its exit code preserved). The token is written into
 * the hook file, which gets mode 0700. Idempotent: re-installing replaces Gantry's part only.
 * Throws GIT_TOO_OLD, GIT_FAILED (not a repository), INVALID_INPUT (bad URL or token) and
 * CONFLICT (a foreign hook AND a chained one both exist, so one would be lost).
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
  await mkdir(dir, { recursive: true });
  const current = await readIfExists(hookPath);
  if (current !== null && !current.includes(MARKER)) {
    if ((await readIfExists(chainedPath)) !== null) {
      throw new ConflictError(`${hookPath} and ${chainedPath} both exist; merge them by hand, then install again`);
    }
    await rename(hookPath, chainedPath);
  }
  // Written aside then renamed: a commit running right now sees the old hook or the new one, never half a file.
  const tmp = `${hookPath}.gantry-${process.pid}-${Date.now()}`;
  await writeFile(tmp, hookScript(url, o.token), { mode: 0o700 });
  await chmod(tmp, 0o700);
  await rename(tmp, hookPath);
  return { hookPath };
}

/** Removes Gantry's hook and puts back the hook it chained, if any. A hook that is not Gantry's is left alone. */
export async function uninstallGitHook(repoDir: string): Promise<void> {
  const dir = await hooksDir(repoDir);
  const hookPath = path.join(dir, HOOK_NAME);
  const current = await readIfExists(hookPath);
  if (current === null || !current.includes(MARKER)) return;
  await rm(hookPath, { force: true });
  if ((await readIfExists(path.join(dir, CHAINED_NAME))) !== null) await rename(path.join(dir, CHAINED_NAME), hookPath);
}

const HOOK_LINE = /^([0-9a-f]{40}|[0-9a-f]{64}) ([0-9a-f]{40}|[0-9a-f]{64}) (refs\/heads\/\S+)$/;

/** Parses the hook's body into ref updates (ignoring non-branch refs, symref lines and deletions). */
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
