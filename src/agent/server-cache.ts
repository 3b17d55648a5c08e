/**
 * The executor's shared cache port as an agent has it: the server's job cache (docs/decisions/0036).
 * Before a restore the agent brings in the entry the server would restore, unless it holds that
 * key itself; after a save it sends the entry and only the blobs the server lacks. Blobs are
 * checked against their sha256 on arrival at either end.
 */
import { cacheEntrySchema, cacheFindResponseSchema, cacheMissingResponseSchema } from '../agents/index.ts';
import { cacheBlobPath, findCacheEntry, importCacheEntry, readCacheEntry } from '../executor/cache.ts';
import type { SharedCache } from '../executor/index.ts';
import { type AgentTransport, uploadBlob } from './blob-transfer.ts';

export class ServerCache implements SharedCache {
  readonly #transport: AgentTransport;
  readonly #cacheDir: string;

  constructor(transport: AgentTransport, cacheDir: string) {
    this.#transport = transport;
    this.#cacheDir = cacheDir;
  }

  async pull(key: string, restoreKeys: readonly string[]): Promise<void> {
    if ((await findCacheEntry(this.#cacheDir, key, []))?.key === key) return;
    const { entry } = cacheFindResponseSchema.parse(
      await this.#transport.call('POST', '/api/agents/cache/find', { key, restoreKeys }, { timeoutMs: 30_000 }),
    );
    if (entry === null || (await readCacheEntry(this.#cacheDir, entry.key)) !== null) return;
    await importCacheEntry(this.#cacheDir, entry, (blob, into) => this.#transport.download(`/api/agents/cache/blobs/${blob}`, into));
  }

  async push(key: string): Promise<void> {
    const local = await readCacheEntry(this.#cacheDir, key);
    if (local === null) return;
    const entry = cacheEntrySchema.parse(local);
    const blobs = [...new Set(entry.files.filter((f) => f.symlink === undefined).map((f) => f.blob))];
    const { missing } = cacheMissingResponseSchema.parse(
      await this.#transport.call('POST', '/api/agents/cache/missing', { blobs }, { timeoutMs: 30_000 }),
    );
    for (const blob of missing) await uploadBlob(this.#transport, blob, cacheBlobPath(this.#cacheDir, blob));
    await this.#transport.call('POST', '/api/agents/cache/entries', { entry }, { timeoutMs: 60_000 });
  }
}
