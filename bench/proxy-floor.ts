/**
 * The floor of a proxy in Node, for `proxy-tail.ts`: the least a single-threaded Node process can
 * do to forward the benchmark's traffic with the same 90/10 split. No parsing beyond finding a
 * request's end and a response's Content-Length, no header rewriting, no metrics, no timeouts: one
 * upstream connection per client connection and backend, bytes passed as they come. What Gantry's
 * proxy costs over this is Gantry's; what this costs over HAProxy is Node's.
 *
 * `node bench/proxy-floor.ts <listen port> <backend A port> <backend B port>` (GET without a body only).
 */
import { connect, createServer, type Socket } from 'node:net';

const [port, a, b] = process.argv.slice(2).map(Number) as [number, number, number];
const HOST = '127.0.0.1';
const CRLFCRLF = Buffer.from('\r\n\r\n');
let turn = 0;

createServer({ noDelay: true }, (client) => {
  const upstreams = new Map<number, Socket>();
  let pending: Buffer | null = null;
  let busy = false;
  let need = -1;
  let got: Buffer | null = null;
  const next = (): void => {
    const end = pending === null || busy ? -1 : pending.indexOf(CRLFCRLF);
    if (end < 0 || pending === null) return;
    const request = pending.subarray(0, end + 4);
    pending = end + 4 === pending.length ? null : pending.subarray(end + 4);
    busy = true;
    const to = turn++ % 10 === 9 ? b : a;
    let up = upstreams.get(to);
    if (up === undefined) {
      up = connect({ host: HOST, port: to, noDelay: true });
      up.on('data', (d: Buffer) => {
        client.write(d);
        got = got === null ? d : Buffer.concat([got, d]);
        if (need < 0) {
          const h = got.indexOf(CRLFCRLF);
          if (h < 0) return;
          need = h + 4 + Number(/content-length:\s*(\d+)/i.exec(got.toString('latin1', 0, h))?.[1] ?? 0);
        }
        if (got.length < need) return;
        got = null;
        need = -1;
        busy = false;
        next();
      });
      up.on('error', () => client.destroy());
      upstreams.set(to, up);
    }
    up.write(request);
  };
  client.on('data', (d: Buffer) => {
    pending = pending === null ? d : Buffer.concat([pending, d]);
    next();
  });
  client.on('error', () => undefined);
  client.on('close', () => {
    for (const up of upstreams.values()) up.destroy();
  });
}).listen(port, HOST);
