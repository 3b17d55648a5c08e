/**
 * Moving blobs between an agent and its server whatever their size: a blob up to one part goes
 * in one request as before, a larger one in parts of BLOB_PART_BYTES (the server takes 8 MiB per
 * request at most), read from disk a part at a time; a download is streamed to a file. The other
 * end checks every blob against its sha256.
 */
import { createWriteStream } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { BLOB_PART_BYTES, blobPartResponseSchema } from '../agents/index.ts';

/** How the agent talks to its server (its token, its timeouts, its stop). */
export interface AgentTransport {
  /** A JSON or octet-stream request; the answer parsed, or an AgentCallError. */
  call(method: string, url: string, body: unknown, o: { timeoutMs: number }): Promise<unknown>;
  /** A GET whose answer is streamed into `file`. */
  download(url: string, file: string): Promise<void>;
}

/** Sends the file as the blob `sha256`: whole when it fits one part, in parts otherwise. */
export async function uploadBlob(transport: AgentTransport, sha256: string, file: string, partBytes = BLOB_PART_BYTES): Promise<void> {
  const size = (await stat(file)).size;
  if (size <= partBytes) {
    await transport.call('PUT', `/api/agents/blobs/${sha256}`, new Uint8Array(await readFile(file)), { timeoutMs: 60_000 });
    return;
  }
  const handle = await open(file, 'r');
  try {
    let offset = 0;
    while (offset < size) {
      const part = Buffer.alloc(Math.min(partBytes, size - offset));
      const { bytesRead } = await handle.read(part, 0, part.length, offset);
      const answer = blobPartResponseSchema.parse(
        await transport.call(
          'PUT',
          `/api/agents/blobs/${sha256}/parts?offset=${offset}&total=${size}`,
          new Uint8Array(part.subarray(0, bytesRead)),
          {
            timeoutMs: 60_000,
          },
        ),
      );
      if (answer.complete) return;
      offset = answer.received;
    }
  } finally {
    await handle.close();
  }
}

/** A fetch answer's body into a file. */
export async function bodyToFile(body: ReadableStream<Uint8Array> | null, file: string): Promise<void> {
  if (body === null) throw new Error('the answer has no body');
  await pipeline(Readable.fromWeb(body as WebReadableStream<Uint8Array>), createWriteStream(file));
}
