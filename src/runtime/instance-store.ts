/**
 * Instance records on disk: `<dataDir>/instances/<id>.json`, one per instance, written
 * atomically (temp file + rename, mode 0600) at every change that adoption needs — before a
 * process is spawned (so a crash right after spawning still leaves a record whose
 * GANTRY_INSTANCE_KEY finds the orphan) and after (pid, start time).
 *
 * The record holds the spec, env and secrets included, because a dead instance must be
 * restartable by the next server. With a `SecretCodec` they are stored encrypted.
 *
 * `<dataDir>/instances/.lock` names the one supervisor that owns the directory: two supervisors
 * adopting the same instances would both restart a dead one (duplicates). A lock whose holder
 * process is gone (pid + start time) is taken over, and so is a live holder's with a lower lease
 * token (several servers); `holdsLock` tells the old holder, which then acts no more.
 */
import { randomUUID } from 'node:crypto';
import { linkSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { GantryError } from '../core/errors.ts';
import { isSameProcess, startTimeOf } from '../platform/proc.ts';
import type { SpoolOffsets } from './spool-pump.ts';
import type { InstanceExit, InstanceSpec, InstanceState, SecretCodec } from './types.ts';

export interface InstanceRecord {
  id: string;
  spec: InstanceSpec;
  /** What the owner asked for: `stopped` instances are never restarted. */
  desired: 'running' | 'stopped';
  state: InstanceState;
  pid: number | null;
  startTime: string | null;
  sandboxed: boolean;
  port: number;
  restarts: number;
  startedAt: string | null;
  lastExit: InstanceExit | null;
  logOffsets: SpoolOffsets;
  envKey: string;
}

const RECORD_VERSION = 1;

const exitSchema = z.object({ code: z.number().nullable(), signal: z.string().nullable() });
const storedSchema = z.object({
  version: z.literal(RECORD_VERSION),
  id: z.string(),
  spec: z.looseObject({
    id: z.string(),
    environment: z.string(),
    releaseId: z.string(),
    pool: z.string(),
    service: z.looseObject({ run: z.string() }),
    workDir: z.string(),
    sandbox: z.enum(['auto', 'off']),
  }),
  env: z.record(z.string(), z.string()).optional(),
  secrets: z.array(z.string()).optional(),
  sealed: z.string().optional(),
  desired: z.enum(['running', 'stopped']),
  state: z.enum(['starting', 'ready', 'unready', 'restarting', 'stopping', 'stopped', 'failed']),
  pid: z.number().int().nullable(),
  startTime: z.string().nullable(),
  sandboxed: z.boolean(),
  port: z.number().int(),
  restarts: z.number().int(),
  startedAt: z.string().nullable(),
  lastExit: exitSchema.nullable(),
  logOffsets: z.object({ o: z.number(), e: z.number() }),
  envKey: z.string(),
});

const sealedSchema = z.object({ env: z.record(z.string(), z.string()), secrets: z.array(z.string()) });

/** A record file that could not be read; reported by adoption, never deleted. */
export interface UnreadableRecord {
  file: string;
  reason: string;
}

export class InstanceStore {
  readonly dir: string;
  readonly #codec: SecretCodec | undefined;
  readonly #fence: () => number | null;
  #lockToken: string | null = null;

  constructor(dataDir: string, codec?: SecretCodec, fence: () => number | null = () => null) {
    this.dir = join(dataDir, 'instances');
    this.#codec = codec;
    this.#fence = fence;
  }

  save(r: InstanceRecord): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const { env, secrets, ...spec } = r.spec;
    const secretPart = this.#codec ? { sealed: this.#codec.encrypt(JSON.stringify({ env, secrets })) } : { env, secrets };
    const stored = { version: RECORD_VERSION, ...r, spec, ...secretPart };
    const file = join(this.dir, `${r.id}.json`);
    const temp = `${file}.${process.pid}.tmp`;
    writeFileSync(temp, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600 });
    renameSync(temp, file);
  }

  loadAll(): { records: InstanceRecord[]; unreadable: UnreadableRecord[] } {
    const records: InstanceRecord[] = [];
    const unreadable: UnreadableRecord[] = [];
    let names: string[] = [];
    try {
      names = readdirSync(this.dir);
    } catch {
      return { records, unreadable };
    }
    for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
      const file = join(this.dir, name);
      try {
        records.push(this.#parse(readFileSync(file, 'utf8')));
      } catch (error) {
        unreadable.push({ file, reason: error instanceof Error ? error.message : String(error) });
      }
    }
    return { records, unreadable };
  }

  /** Deletes the record and the instance's files (logs, spools, its own dir). */
  remove(id: string): void {
    rmSync(join(this.dir, `${id}.json`), { force: true });
    rmSync(join(this.dir, id), { recursive: true, force: true });
  }

  /** Takes the data dir's supervisor lock (idempotent). Throws SUPERVISOR_LOCKED (409) when a live supervisor holds it. */
  lock(): void {
    if (this.#lockToken !== null) return;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const file = join(this.dir, '.lock');
    const token = randomUUID();
    const fence = this.#fence();
    const mine = JSON.stringify({ pid: process.pid, startTime: startTimeOf(process.pid), token, ...(fence === null ? {} : { fence }) });
    for (let attempt = 0; attempt < 3; attempt++) {
      // Written aside then linked: the lock appears with its content or not at all.
      const temp = `${file}.${token}`;
      writeFileSync(temp, mine, { mode: 0o600 });
      try {
        linkSync(temp, file);
        this.#lockToken = token;
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      } finally {
        rmSync(temp, { force: true });
      }
      const holder = readLock(file);
      // A live holder with an older lease token paused past its lease: the new owner takes over.
      const outranked = fence !== null && holder?.fence !== undefined && holder.fence < fence;
      if (holder && !outranked && isSameProcess(holder.pid, holder.startTime)) {
        throw new GantryError('SUPERVISOR_LOCKED', `another supervisor (pid ${holder.pid}) owns ${this.dir}`, { pid: holder.pid });
      }
      // A stale lock (its holder died, e.g. kill -9 of the server): take it over.
      rmSync(file, { force: true });
    }
    throw new GantryError('SUPERVISOR_LOCKED', `could not take the supervisor lock of ${this.dir}`);
  }

  /**
   * Whether the lock this store took is still its own (true when it took none). False once a
   * supervisor of a newer lease holder took it over: this one was paused past its lease, and
   * whatever it still had under way must not start, stop or record an instance.
   */
  holdsLock(): boolean {
    if (this.#lockToken === null) return true;
    return readLock(join(this.dir, '.lock'))?.token === this.#lockToken;
  }

  unlock(): void {
    if (this.#lockToken === null) return;
    const file = join(this.dir, '.lock');
    const holder = readLock(file);
    if (holder?.token === this.#lockToken) rmSync(file, { force: true });
    this.#lockToken = null;
  }

  #parse(text: string): InstanceRecord {
    const s = storedSchema.parse(JSON.parse(text));
    let secretPart: { env: Record<string, string>; secrets: string[] };
    if (s.sealed !== undefined) {
      if (!this.#codec) throw new Error('the record is encrypted and no secret codec was given');
      secretPart = sealedSchema.parse(JSON.parse(this.#codec.decrypt(s.sealed)));
    } else {
      secretPart = { env: s.env ?? {}, secrets: s.secrets ?? [] };
    }
    const { version: _version, sealed: _sealed, env: _env, secrets: _secrets, ...rest } = s;
    return { ...rest, spec: { ...(s.spec as unknown as Omit<InstanceSpec, 'env' | 'secrets'>), ...secretPart } };
  }
}

function readLock(file: string): { pid: number; startTime: string; token: string; fence?: number } | null {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { pid?: unknown; startTime?: unknown; token?: unknown; fence?: unknown };
    if (typeof parsed.pid !== 'number' || typeof parsed.startTime !== 'string' || typeof parsed.token !== 'string') return null;
    const lock = { pid: parsed.pid, startTime: parsed.startTime, token: parsed.token };
    return typeof parsed.fence === 'number' ? { ...lock, fence: parsed.fence } : lock;
  } catch {
    return null;
  }
}
