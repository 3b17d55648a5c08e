/**
 * The step sandbox: bubblewrap (`bwrap`), an unprivileged container without images. A job sees
 * the host read-only (its tools), a fresh /tmp, its own workspace and private dirs writable, and
 * nothing of Gantry's data dir (other jobs' workspaces, logs, secrets at rest). It gets its own
 * pid/ipc/uts namespaces and, when the job says `network: false`, no network at all.
 *
 * One sandbox per job, started by the pooled step helper of spawner.ts, so Node forks nothing per
 * job. For a job of several steps a nested helper runs inside it and forks the steps: they share
 * its pid namespace, so a background server started by one step is there for the next one, and
 * everything ends with the job. A one-step job's sandbox runs the step itself as its command
 * (docs/decisions/0032). Without the helper (no perl), each step gets its own sandbox and its
 * background processes end with the step.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { childEnv } from '../platform/child-env.ts';

export interface SandboxOptions {
  workspaceDir: string;
  /** Writable too: the job's temp dir (scripts, HOME, TMPDIR) and the like. */
  privateDirs: string[];
  /** Hidden behind an empty tmpfs (directories) or /dev/null (files). */
  hiddenPaths: string[];
  /** More mounts after the hidden paths: the CA files the job's host settings name (platform/ca-binds.ts). */
  binds?: readonly string[];
  network: boolean;
  cwd: string;
  /** The bubblewrap program; `bwrap` (found on PATH) unless given, e.g. `bubblewrapPath()`. */
  program?: string;
}

let available: boolean | undefined;

/**
 * Whether bubblewrap is installed AND works here (user namespaces may be disabled, e.g. in some
 * containers). Checked once per process: the answer cannot change while we run.
 */
export function sandboxAvailable(): boolean {
  if (available === undefined) {
    const probe = spawnSync('bwrap', ['--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', 'true'], {
      stdio: 'ignore',
      timeout: 10_000,
      env: childEnv(),
    });
    available = probe.status === 0;
  }
  return available;
}

let program: string | undefined;

/**
 * bubblewrap's absolute path, found once on the server's PATH: a step helper starting a step's
 * sandbox execs it with the step's environment, whose PATH is the job's to change, and a search
 * of every PATH directory is one failed exec each.
 */
export function bubblewrapPath(): string {
  if (program === undefined) {
    program = 'bwrap';
    for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
      if (!path.isAbsolute(dir)) continue;
      const candidate = path.join(dir, 'bwrap');
      try {
        accessSync(candidate, constants.X_OK);
        program = candidate;
        break;
      } catch {
        // Not here.
      }
    }
  }
  return program;
}

/**
 * The command line running `argv` inside the sandbox. Mount order matters and is bwrap's
 * argument order: the hidden paths are covered first, then the extra binds and the workspace and
 * private dirs are bound back on top (they live inside the hidden data dir).
 */
export function sandboxArgv(argv: string[], o: SandboxOptions): string[] {
  const out = [o.program ?? 'bwrap', '--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp'];
  for (const hidden of o.hiddenPaths) {
    const kind = pathKind(hidden);
    // A path that does not exist has nothing to hide (and bwrap could not create its mount point on the read-only root).
    if (kind === 'dir') out.push('--tmpfs', hidden);
    else if (kind === 'file') out.push('--ro-bind', '/dev/null', hidden);
  }
  if (o.binds) out.push(...o.binds);
  for (const dir of [o.workspaceDir, ...o.privateDirs]) out.push('--bind', dir, dir);
  out.push('--unshare-pid', '--unshare-ipc', '--unshare-uts', '--die-with-parent', '--new-session');
  if (!o.network) out.push('--unshare-net');
  out.push('--chdir', o.cwd, '--', ...argv);
  return out;
}

/** Where the sandbox mounts something of its own over the host's root (see `sandboxArgv`). */
const SANDBOX_OWN_MOUNTS = ['/dev', '/proc', '/tmp'];

/**
 * Whether the sandbox shows the host's `file` at the same path: under a dir bound back (the
 * workspace, a private dir), or under none of the sandbox's own mounts, hidden paths and extra
 * binds. A program found on the host outside those runs the same inside (docs/decisions/0047).
 */
export function sameInSandbox(file: string, o: Pick<SandboxOptions, 'workspaceDir' | 'privateDirs' | 'hiddenPaths' | 'binds'>): boolean {
  const under = (dir: string) => file === dir || file.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
  if ([o.workspaceDir, ...o.privateDirs].some(under)) return true;
  const covered = [...SANDBOX_OWN_MOUNTS, ...o.hiddenPaths, ...(o.binds ?? []).filter((a) => a.startsWith('/'))];
  return !covered.some(under);
}

function pathKind(p: string): 'dir' | 'file' | null {
  try {
    return statSync(p).isDirectory() ? 'dir' : 'file';
  } catch {
    return null;
  }
}
