/**
 * Vitest globalSetup: runs once per `vitest run`, before any test file, in the main process.
 *
 * The bundled CLI that the tests start (test/support/cli.ts), built from the sources now.
 *
 * PostgreSQL without configuration: when GANTRY_TEST_PG_URL is unset but PostgreSQL is installed
 * (`/usr/lib/postgresql/<version>/bin/initdb`), a throwaway cluster is started here — initdb in a
 * temp dir (as the `postgres` user when run as root: PostgreSQL refuses to run as root), a free
 * port on 127.0.0.1, the unix socket in the temp dir, fsync off — and its URL is handed to the
 * test workers with `provide` (read back by `PG_URL` in requirements.ts). The teardown stops it
 * and removes the dir (a run killed before its teardown leaves its cluster behind: the next run
 * stops it). When neither is there, the PostgreSQL tests skip (or fail under
 * GANTRY_REQUIRE_ALL=1) exactly as before.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { bundle } from '../../scripts/bundle.ts';
import { CLI_FROM_SOURCES, TEST_BUNDLE_DIR } from './cli.ts';
import { freePort } from './net.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The URL of the throwaway PostgreSQL cluster, or '' when none was started. */
    gantryTestPgUrl: string;
  }
}

const PG_USER = 'gantry';
const PG_PASSWORD = 'gantry';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (!CLI_FROM_SOURCES) await bundle(TEST_BUNDLE_DIR);
  const cluster = process.env.GANTRY_TEST_PG_URL ? null : await startThrowawayPostgres();
  project.provide('gantryTestPgUrl', cluster?.url ?? '');
  return async () => cluster?.stop();
}

/** The newest installed PostgreSQL's bin dir, or null. */
function postgresBinDir(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')) && existsSync(join(root, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a));
  return versions.length > 0 ? join(root, versions[0] as string, 'bin') : null;
}

/** Runs a PostgreSQL tool as `postgres` when we are root (initdb and postgres refuse root). */
function asClusterOwner(command: string, args: string[]): void {
  const root = userInfo().uid === 0;
  const [file, argv] = root ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
  execFileSync(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
}

const PREFIX = 'gantry-test-pg-';

/** Stops and removes the clusters of earlier runs that were killed before their teardown. */
function removeStaleClusters(bin: string): void {
  for (const name of readdirSync(tmpdir()).filter((n) => n.startsWith(PREFIX))) {
    const dir = join(tmpdir(), name);
    let owner = Number.NaN;
    try {
      owner = Number(readFileSync(join(dir, 'owner.pid'), 'utf8'));
    } catch {
      /* no owner file: not ours to judge */
      continue;
    }
    try {
      process.kill(owner, 0);
      continue; // its run is still going
    } catch {
      /* the run that started it is gone */
    }
    try {
      asClusterOwner(join(bin, 'pg_ctl'), ['-D', join(dir, 'data'), '-m', 'immediate', '-w', 'stop']);
    } catch {
      /* not running */
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Also used by benchmarks that need a PostgreSQL (bench/failover.ts); null when none can start here. */
export async function startThrowawayPostgres(): Promise<{ url: string; stop(): Promise<void> } | null> {
  const bin = postgresBinDir();
  if (bin === null) return null;
  removeStaleClusters(bin);
  const root = userInfo().uid === 0;
  let owner: { uid: number; gid: number } | null = null;
  if (root) {
    try {
      const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
      owner = { uid, gid };
    } catch {
      process.stderr.write('NOTICE: running as root without a postgres user: no throwaway PostgreSQL cluster\n');
      return null;
    }
  }
  const dir = mkdtempSync(join(tmpdir(), PREFIX));
  writeFileSync(join(dir, 'owner.pid'), String(process.pid));
  const data = join(dir, 'data');
  const pwfile = join(dir, 'pwfile');
  writeFileSync(pwfile, `${PG_PASSWORD}\n`);
  if (owner) {
    chownSync(dir, owner.uid, owner.gid);
    chownSync(pwfile, owner.uid, owner.gid);
  }
  const stop = async () => {
    try {
      asClusterOwner(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
    } catch {
      /* never started, or already gone */
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // Password auth over TCP so the "wrong credentials" test sees a real refusal.
    asClusterOwner(join(bin, 'initdb'), [
      '-D',
      data,
      '-U',
      PG_USER,
      `--pwfile=${pwfile}`,
      '--auth-host=scram-sha-256',
      '--auth-local=trust',
      '--no-sync',
      '-E',
      'UTF8',
    ]);
    const port = await freePort();
    const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
    asClusterOwner(join(bin, 'pg_ctl'), ['-D', data, '-l', join(dir, 'log'), '-o', options, '-w', '-t', '60', 'start']);
    return { url: `postgres://${PG_USER}:${PG_PASSWORD}@127.0.0.1:${port}/postgres`, stop };
  } catch (error) {
    const detail = error instanceof Error && 'stderr' in error ? String((error as { stderr: unknown }).stderr) : String(error);
    process.stderr.write(`NOTICE: could not start a throwaway PostgreSQL cluster: ${detail}\n`);
    await stop();
    return null;
  }
}
