/**
 * Blobs larger than one request body (the server takes at most 8 MiB per request) arrive in
 * parts: each part is written at its offset into a file of its own per agent and blob (two agents
 * sending the same blob never mix), a part sent again after a lost answer overwrites itself, and
 * the last part completes the blob: it is hashed as a stream, refused (HASH_MISMATCH) unless it is
 * the sha256 it was sent under, then renamed into the uploads folder where whole blobs go.
 */
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { GantryError, InputError } from '../../core/errors.ts';
import { type BlobFolder, hashFile } from '../../executor/content-addressed.ts';

export interface PartAnswer {
  /** Bytes of the blob the server holds so far (the next part's offset). */
  received: number;
  complete: boolean;
}

export class BlobParts {
  readonly #dir: string;
  readonly #uploads: BlobFolder;

  constructor(dir: string, uploads: BlobFolder) {
    this.#dir = dir;
    this.#uploads = uploads;
  }

  async put(o: { agentId: string; sha256: string; offset: number; total: number; data: Uint8Array }): Promise<PartAnswer> {
    const whole = this.#uploads.pathOf(o.sha256);
    if (await this.#uploads.has(o.sha256)) return { received: o.total, complete: true };
    const end = o.offset + o.data.length;
    if (end > o.total) throw new InputError(`the part ends at byte ${end}, past the blob's size ${o.total}`);
    const part = path.join(this.#dir, `${o.sha256}.${o.agentId}.part`);
    await mkdir(this.#dir, { recursive: true });
    const held = await stat(part).then(
      (s) => s.size,
      () => 0,
    );
    if (o.offset > held) throw new InputError(`the part starts at byte ${o.offset}, but the server holds ${held} bytes of the blob`);
    const handle = await open(part, held === 0 ? 'w' : 'r+');
    try {
      await handle.write(o.data, 0, o.data.length, o.offset);
      await handle.truncate(end);
    } finally {
      await handle.close();
    }
    if (end < o.total) return { received: end, complete: false };
    const actual = await hashFile(part);
    if (actual !== o.sha256) {
      await rm(part, { force: true });
      throw new GantryError('HASH_MISMATCH', `the blob's parts hash to ${actual}, not ${o.sha256}`);
    }
    await mkdir(path.dirname(whole), { recursive: true });
    await rename(part, whole);
    return { received: end, complete: true };
  }
}
