/**
 * The agent protocol's routes for blobs sent in parts and for the shared job cache
 * (src/agents/cache-protocol.ts; docs/decisions/0036). The server's own job cache is the shared
 * one, so jobs on agents and jobs on the server restore each other's saves. Like every protocol
 * route they need an agent's own token.
 */
import { createReadStream } from 'node:fs';
import { copyFile, lstat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import {
  blobPartQuerySchema,
  cacheEntryRequestSchema,
  cacheFindRequestSchema,
  cacheMissingRequestSchema,
  SHA256_PATTERN,
} from '../../agents/index.ts';
import { GantryError, InputError, NotFoundError } from '../../core/errors.ts';
import { cacheDir as cacheDirOf } from '../../engine/run-paths.ts';
import { cacheBlobPath, findCacheEntry, importCacheEntry } from '../../executor/cache.ts';
import { BlobFolder } from '../../executor/content-addressed.ts';
import type { RouteTable } from '../http/index.ts';
import { agentOf } from './agent-routes.ts';
import { BlobParts } from './blob-parts.ts';

export interface AgentCacheRouteDeps {
  dataDir: string;
}

const SHA256 = z.object({ sha256: z.string().regex(SHA256_PATTERN, 'a sha256 in lowercase hex') });

async function exists(file: string): Promise<boolean> {
  return lstat(file).then(
    () => true,
    () => false,
  );
}

export function registerAgentCacheRoutes(routes: RouteTable, deps: AgentCacheRouteDeps): void {
  const cacheDir = cacheDirOf(deps.dataDir);
  // The same folder the dispatcher takes a job's files from (agent-dispatcher.ts).
  const uploads = new BlobFolder(path.join(deps.dataDir, 'agents', 'blobs'));
  const parts = new BlobParts(path.join(deps.dataDir, 'agents', 'blob-parts'), uploads);

  routes.add({
    method: 'PUT',
    url: '/api/agents/blobs/:sha256/parts',
    summary: 'Agent protocol: a part of a blob too large for one request (checked by hash once whole)',
    auth: 'admin',
    permission: 'agent.work',
    params: SHA256,
    query: blobPartQuerySchema,
    handler: async ({ params, query, request }) => {
      const agentId = agentOf(request);
      if (!Buffer.isBuffer(request.body)) throw new InputError('send the part as application/octet-stream');
      return parts.put({ agentId, sha256: params.sha256, offset: query.offset, total: query.total, data: request.body });
    },
  });
  routes.add({
    method: 'POST',
    url: '/api/agents/cache/find',
    summary: 'Agent protocol: the shared cache entry a restore of this key (else of the restore keys) would pick',
    auth: 'admin',
    permission: 'agent.work',
    body: cacheFindRequestSchema,
    handler: async ({ body, request }) => {
      agentOf(request);
      return { entry: await findCacheEntry(cacheDir, body.key, body.restoreKeys) };
    },
  });
  routes.add({
    method: 'GET',
    url: '/api/agents/cache/blobs/:sha256',
    summary: 'Agent protocol: a blob of the shared cache, by content hash (the agent checks it)',
    auth: 'admin',
    permission: 'agent.work',
    params: SHA256,
    produces: 'application/octet-stream',
    handler: async ({ params, request, reply }) => {
      agentOf(request);
      const file = cacheBlobPath(cacheDir, params.sha256);
      if (!(await exists(file))) throw new NotFoundError(`the shared cache has no blob ${params.sha256}`);
      reply.header('content-type', 'application/octet-stream');
      return createReadStream(file);
    },
  });
  routes.add({
    method: 'POST',
    url: '/api/agents/cache/missing',
    summary: 'Agent protocol: which of these blobs the shared cache lacks (those an agent sends before its entry)',
    auth: 'admin',
    permission: 'agent.work',
    body: cacheMissingRequestSchema,
    handler: async ({ body, request }) => {
      agentOf(request);
      const missing: string[] = [];
      for (const blob of new Set(body.blobs)) {
        if (!(await exists(cacheBlobPath(cacheDir, blob))) && !(await uploads.has(blob))) missing.push(blob);
      }
      return { missing };
    },
  });
  routes.add({
    method: 'POST',
    url: '/api/agents/cache/entries',
    summary: 'Agent protocol: add a cache entry an agent saved (the first of a key wins, as for a local save)',
    auth: 'admin',
    permission: 'agent.work',
    body: cacheEntryRequestSchema,
    handler: async ({ body, request }) => {
      agentOf(request);
      const added = await importCacheEntry(cacheDir, body.entry, async (blob, into) => {
        if (!(await uploads.has(blob)))
          throw new GantryError('NOT_FOUND', `the agent did not send the blob ${blob} (PUT /api/agents/blobs/${blob} first)`);
        await copyFile(uploads.pathOf(blob), into);
      });
      return { added };
    },
  });
}
