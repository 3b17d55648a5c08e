/**
 * The CA files a workload's host settings name, made readable inside its bubblewrap sandbox.
 * Both sandboxes (job steps, service instances) show the host read-only but cover /tmp and
 * Gantry's data dir; a CA bundle the operator keeps in /tmp (or a proxy wrote there) would be
 * missing inside, and every TLS client would fail on the proxy's certificate. Such a path is
 * bound back read-only, mounted after the covering ones.
 *
 * Never bound: a path that is or holds a hidden path (binding it would uncover the data dir), a
 * path inside a hidden path (a CA dir there would show other jobs' files), a path that does not
 * exist (bwrap would fail to start). Each refusal is returned as a sentence for the workload's log.
 */
import { realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { CA_DIR_ENV, CA_FILE_ENV } from './child-env.ts';

export interface CaBinds {
  /** bwrap arguments: `--ro-bind <real> <path>` for each path to show. */
  args: string[];
  /** Why a named path stays unreadable inside, one sentence each. */
  unreadable: string[];
}

interface NamedPath {
  variable: string;
  named: string;
  serverFile?: boolean;
}

/** A directory the sandbox mounts empty or private on top of the host's: /tmp always, and the hidden paths. */
const COVERED_ALWAYS = ['/tmp'];

/**
 * The binds for the CA files and directories `env` names (host values only: a workload's own
 * `env:` cannot reach into the host's /tmp), given the sandbox's hidden paths.
 */
export function caBinds(
  env: Readonly<Record<string, string | undefined>>,
  hiddenPaths: readonly string[],
  /**
   * Other host paths the workload reads, by the variable that names them (the security job's
   * advisories). `serverFile`: a file the server wrote for the workload, bound even inside a hidden
   * path — a regular file only, since a folder there could hold other jobs' files.
   */
  more: readonly NamedPath[] = [],
): CaBinds {
  const hidden = hiddenPaths.map((p) => path.resolve(p));
  const covered = [...COVERED_ALWAYS, ...hidden];
  const args: string[] = [];
  const unreadable: string[] = [];
  const bound = new Set<string>();
  for (const { variable, named, serverFile } of [...namedPaths(env), ...more.filter((m) => path.isAbsolute(m.named))]) {
    const why = (reason: string) => unreadable.push(`${variable} names ${named}, which the sandbox cannot show: ${reason}`);
    let real: string;
    try {
      real = realpathSync(named);
    } catch {
      why('it does not exist');
      continue;
    }
    // Where it is seen from (the path as named) and where a symlink leads (which may be covered too).
    const targets = [...new Set([path.resolve(named), real])];
    if (targets.some((target) => hidden.some((h) => isWithin(h, target)))) {
      why("it holds Gantry's data dir");
      continue;
    }
    if (targets.some((target) => hidden.some((h) => isWithin(target, h))) && !(serverFile && statSync(real).isFile())) {
      why("it is inside Gantry's data dir");
      continue;
    }
    for (const target of targets) {
      if (bound.has(target) || !covered.some((c) => isWithin(target, c))) continue;
      bound.add(target);
      args.push('--ro-bind', real, target);
    }
  }
  return { args, unreadable };
}

function namedPaths(env: Readonly<Record<string, string | undefined>>): NamedPath[] {
  const out: NamedPath[] = [];
  for (const variable of [...CA_FILE_ENV, ...CA_DIR_ENV]) {
    const value = env[variable];
    if (value === undefined || value === '') continue;
    // OpenSSL reads SSL_CERT_DIR as a colon-separated list; a file path holds no colon in practice.
    const paths = CA_DIR_ENV.includes(variable) ? value.split(':') : [value];
    for (const named of paths) if (path.isAbsolute(named)) out.push({ variable, named });
  }
  return out;
}

/** Whether `p` is `dir` or below it. */
function isWithin(p: string, dir: string): boolean {
  return p === dir || p.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
}
