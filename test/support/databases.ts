/**
 * Real databases for store tests. PostgreSQL tests each get a fresh database on the server named
 * by GANTRY_TEST_PG_URL — or, when that is unset, on the throwaway cluster global-setup.ts starts
 * wherever PostgreSQL is installed — created here and dropped by the returned cleanup, so runs
 * never see each other's rows; with neither they are skipped with a notice (a failure under
 * GANTRY_REQUIRE_ALL=1).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { PG_URL, requirement } from './requirements.ts';

/** A database for one test file, and how to get rid of it. */
export interface TestDatabase {
  url: string;
  cleanup(): Promise<void>;
}

/** True when PostgreSQL tests should run; decided synchronously so `describe.skipIf` can use it. */
export function pgAvailable(): boolean {
  return requirement('PostgreSQL (GANTRY_TEST_PG_URL, or an installed PostgreSQL)', PG_URL !== '');
}

const created = new Map<string, string>();

/**
 * Creates `gantry_test_<random>` on the GANTRY_TEST_PG_URL server and returns its URL, or null
 * when the variable is unset (after the skip notice). Drop it with `dropPgTestDatabase(url)`.
 */
export async function pgTestUrl(): Promise<string | null> {
  if (!pgAvailable()) return null;
  const name = `gantry_test_${randomBytes(6).toString('hex')}`;
  await withAdmin((client) => client.query(`create database ${name}`));
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  created.set(url.toString(), name);
  return url.toString();
}

/** Drops a database made by `pgTestUrl`, closing any connection a test left open. */
export async function dropPgTestDatabase(url: string): Promise<void> {
  const name = created.get(url);
  if (name === undefined) return;
  created.delete(url);
  await withAdmin((client) => client.query(`drop database if exists ${name} with (force)`));
}

/** A fresh PostgreSQL database with its cleanup, or null when PostgreSQL is not available. */
export async function pgTestDatabase(): Promise<TestDatabase | null> {
  const url = await pgTestUrl();
  return url === null ? null : { url, cleanup: () => dropPgTestDatabase(url) };
}

/** A SQLite file in a fresh temp dir; cleanup removes the dir. */
export async function sqliteTestDatabase(): Promise<TestDatabase & { dir: string; path: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'gantry-store-'));
  const path = join(dir, 'gantry.db');
  return { url: `sqlite:${path}`, dir, path, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
