/**
 * The bubblewrap command line of a service instance. Like a job's sandbox (executor/sandbox.ts):
 * the host read-only, Gantry's data dir hidden; unlike it, the release's artifacts are bound back
 * READ-ONLY (they are shared by every instance of the release and must stay what was released),
 * the instance's own dir is writable and its private tmp dir is mounted on /tmp (on disk, so a
 * service's temp files do not eat RAM, and they survive its restarts like they would on a host),
 * or, when the service asks for a `tmp-size`, a tmpfs of that size: a disk a chaos experiment
 * can fill without touching a real one.
 *
 * No `--die-with-parent`: instances outlive the server by design (adoption). `--unshare-pid`
 * makes everything the service starts end when it ends (bwrap's init takes the namespace down).
 * The network is shared: the proxy and the probes reach the instance on 127.0.0.1.
 */
import { statSync } from 'node:fs';

export interface InstanceSandboxOptions {
  /** Read-only inside. */
  workDir: string;
  /** Writable inside, at the same path. */
  instanceDir: string;
  /** Writable inside, mounted on /tmp … */
  tmpDir: string;
  /** … unless this is set: then /tmp is a tmpfs of this many bytes (a disk that can be filled safely). */
  tmpSizeBytes?: number;
  /** Covered by an empty tmpfs (directories) or /dev/null (files); paths that do not exist are skipped. */
  hiddenPaths: string[];
  /** More mounts after the hidden paths: the CA files the instance's host settings name (platform/ca-binds.ts). */
  binds?: readonly string[];
  cwd: string;
}

export function instanceSandboxArgv(argv: string[], o: InstanceSandboxOptions): string[] {
  // The private tmp first: mounted later, it would cover a data dir that lives under /tmp (tests).
  const tmp = o.tmpSizeBytes === undefined ? ['--bind', o.tmpDir, '/tmp'] : ['--size', String(o.tmpSizeBytes), '--tmpfs', '/tmp'];
  const out = ['bwrap', '--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', ...tmp];
  for (const hidden of o.hiddenPaths) {
    const kind = pathKind(hidden);
    if (kind === 'dir') out.push('--tmpfs', hidden);
    else if (kind === 'file') out.push('--ro-bind', '/dev/null', hidden);
  }
  if (o.binds) out.push(...o.binds);
  // After the hidden paths: these usually live inside the data dir and are bound back on top.
  out.push('--ro-bind', o.workDir, o.workDir);
  out.push('--bind', o.instanceDir, o.instanceDir);
  out.push('--unshare-pid', '--unshare-ipc', '--unshare-uts', '--new-session');
  out.push('--chdir', o.cwd, '--', ...argv);
  return out;
}

function pathKind(p: string): 'dir' | 'file' | null {
  try {
    return statSync(p).isDirectory() ? 'dir' : 'file';
  } catch {
    return null;
  }
}
