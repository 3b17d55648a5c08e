/** A control request's body, read whole: the proxies' control and metrics ports take small JSON bodies only. */
import type { IncomingMessage } from 'node:http';
import { InputError } from '../core/errors.ts';

/** Reads the body as text; InputError (and the connection cut) past `maxBytes`, so a runaway client cannot fill memory. */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > maxBytes) {
        reject(new InputError(`the body is larger than ${maxBytes} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
