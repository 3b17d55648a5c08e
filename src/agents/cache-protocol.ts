/**
 * The agent protocol's messages for what does not fit one request and for the shared job cache
 * (docs/decisions/0036). A job on one agent restores what a job on another (or on the server)
 * saved: the server's job cache is the shared one, and entries and blobs move by sha256, checked
 * on arrival at either end and sent only when the other side lacks them.
 *
 *   PUT  /api/agents/blobs/:sha256/parts?offset=N&total=T  a part of a blob too large for one request
 *   POST /api/agents/cache/find       the entry a restore of `key` (else `restoreKeys`) would pick
 *   GET  /api/agents/cache/blobs/:sha256                   a blob of the shared cache
 *   POST /api/agents/cache/missing    which of these blobs the shared cache lacks
 *   POST /api/agents/cache/entries    an entry an agent saved (its missing blobs sent first)
 */
import { z } from 'zod';
import { SHA256_PATTERN } from './protocol.ts';

/** Bytes per part when a blob is sent in parts (the server takes 8 MiB per request at most). */
export const BLOB_PART_BYTES = 4 * 1024 * 1024;

const sha256 = z.string().regex(SHA256_PATTERN, 'a sha256 in lowercase hex');

export const blobPartQuerySchema = z.object({
  offset: z.coerce.number().int().min(0),
  total: z.coerce.number().int().min(1),
});
export const blobPartResponseSchema = z.strictObject({ received: z.int().min(0), complete: z.boolean() });

/** One file of a cache entry, as the executor's cache stores it (`blob` is '' for a link). */
export const cacheEntrySchema = z.strictObject({
  key: z.string().min(1).max(512),
  createdAt: z.string(),
  files: z.array(
    z.strictObject({
      path: z.string().min(1),
      blob: z.union([sha256, z.literal('')]),
      mode: z.int().min(0).max(0o777),
      symlink: z.string().optional(),
    }),
  ),
});
export type CacheEntryMessage = z.infer<typeof cacheEntrySchema>;

export const cacheFindRequestSchema = z.strictObject({
  key: z.string().min(1).max(512),
  restoreKeys: z.array(z.string().max(512)).max(32).default([]),
});
export const cacheFindResponseSchema = z.strictObject({ entry: cacheEntrySchema.nullable() });

export const cacheMissingRequestSchema = z.strictObject({ blobs: z.array(sha256).max(100_000) });
export const cacheMissingResponseSchema = z.strictObject({ missing: z.array(sha256) });

export const cacheEntryRequestSchema = z.strictObject({ entry: cacheEntrySchema });
export const cacheEntryResponseSchema = z.strictObject({ added: z.boolean() });
