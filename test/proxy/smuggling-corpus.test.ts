/**
 * Request smuggling and RFC 9112 probes, end to end: each probe's raw bytes go on a fresh
 * connection to a real proxy process (`ProxyClient.start`, as the server runs it) in front of real
 * node:http upstreams that record every byte they receive and every request their parser saw.
 * Each probe names its source; its expectation is what the client gets (statuses in order) and
 * what reached an upstream — nothing at all when the proxy refuses.
 *
 * "Nothing reached" is checked without sleeping: after each probe a sentinel request goes through
 * the same proxy and upstream; once it is answered, anything the probe had sent upstream would
 * have arrived before it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProxyClient, processStartTime } from '../../src/proxy/index.ts';
import { waitFor } from '../support/wait.ts';
import { rawClient } from './helpers.ts';

// ------------------------------------------------------------------ recording upstreams

interface Seen {
  upstream: string;
  method: string;
  url: string;
  httpVersion: string;
  /** Lowercased names; repeated headers joined with ", " (node:http's rule for most). */
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Every byte (with the number of the upstream connection it came on) and every parsed request, of both upstreams, in arrival order. */
const raw: { conn: number; data: string }[] = [];
const seen: Seen[] = [];
/** Upstream connections that are closed. */
const closedConns = new Set<number>();
let connCount = 0;

/** A node:http upstream with default limits; `upgrades` answers Upgrade requests with 101 and echoes. */
async function recordingUpstream(name: string, upgrades: boolean): Promise<{ port: number; server: Server; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({
        upstream: name,
        method: req.method ?? '',
        url: req.url ?? '',
        httpVersion: req.httpVersion,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('latin1'),
      });
      res.end(`${name} ${req.method} ${req.url}`);
    });
  });
  server.on('connection', (s: Socket) => {
    const conn = ++connCount;
    sockets.add(s);
    s.on('close', () => {
      sockets.delete(s);
      closedConns.add(conn);
    });
    // A 'data' listener next to node:http's parser sees the same bytes.
    s.on('data', (d: Buffer) => raw.push({ conn, data: d.toString('latin1') }));
  });
  if (upgrades)
    server.on('upgrade', (req: IncomingMessage, socket: Socket, first: Buffer) => {
      seen.push({
        upstream: name,
        method: req.method ?? '',
        url: req.url ?? '',
        httpVersion: req.httpVersion,
        headers: req.headers,
        body: '',
      });
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${req.headers.upgrade}\r\nConnection: Upgrade\r\n\r\n`);
      if (first.length > 0) socket.write(first);
      socket.on('data', (d: Buffer) => socket.write(d));
      socket.on('error', () => {});
    });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, server, sockets };
}

// ------------------------------------------------------------------ a raw client

interface Response {
  status: number;
  head: string;
  body: string;
}

/** Complete responses at the start of `text` (Content-Length or chunked bodies; a 101 ends the list). */
function responses(text: string): { list: Response[]; rest: string } {
  const list: Response[] = [];
  let p = 0;
  for (;;) {
    const end = text.indexOf('\r\n\r\n', p);
    if (end < 0) break;
    const head = text.slice(p, end);
    const status = Number(head.slice(9, 12));
    let q = end + 4;
    let body = '';
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (status === 101) {
      list.push({ status, head, body });
      p = q;
      break;
    }
    if (length !== null) {
      const n = Number(length[1]);
      if (text.length < q + n) break;
      body = text.slice(q, q + n);
      q += n;
    } else if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
      let complete = false;
      for (;;) {
        const nl = text.indexOf('\r\n', q);
        if (nl < 0) break;
        const size = Number.parseInt(text.slice(q, nl), 16);
        if (size === 0) {
          if (text.startsWith('\r\n', nl + 2)) {
            q = nl + 4;
            complete = true;
          }
          break;
        }
        if (text.length < nl + 2 + size + 2) break;
        body += text.slice(nl + 2, nl + 2 + size);
        q = nl + 2 + size + 2;
      }
      if (!complete) break;
    }
    list.push({ status, head, body });
    p = q;
  }
  return { list, rest: text.slice(p) };
}

const sockets = new Set<Socket>();

/** Opens a connection, destroyed at the end if still open. */
function open(port: number): ReturnType<typeof rawClient> {
  const c = rawClient(port);
  sockets.add(c.s);
  c.s.on('close', () => sockets.delete(c.s));
  return c;
}

/**
 * Sends `bytes` and waits for `count` responses or the connection's end (and for the end too when
 * `untilClosed`); returns the statuses and answers.
 */
async function send(
  port: number,
  bytes: string,
  count: number,
  untilClosed = false,
): Promise<{ statuses: number[]; list: Response[]; closed: boolean }> {
  const c = open(port);
  c.s.write(Buffer.from(bytes, 'latin1'));
  await waitFor(() => c.closed() || (!untilClosed && responses(c.got()).list.length >= count), {
    what: `${count} answer(s) or the connection's end`,
    intervalMs: 5,
  });
  const { list } = responses(c.got());
  c.s.destroy();
  return { statuses: list.map((r) => r.status), list, closed: c.closed() };
}

// ------------------------------------------------------------------ the proxy process

let port = 0;
let client: ProxyClient;
let dataDir = '';
const upstreams: { server: Server; sockets: Set<Socket> }[] = [];

beforeAll(async () => {
  const a = await recordingUpstream('A', true);
  const b = await recordingUpstream('B', false);
  upstreams.push(a, b);
  dataDir = mkdtempSync(join(tmpdir(), 'gantry-smuggling-'));
  client = await ProxyClient.start({
    dataDir,
    environmentKey: 'p1:corpus',
    label: 'corpus/test',
    host: '127.0.0.1',
    port: 0,
    watch: false,
  });
  port = client.port;
  // A answers Upgrade requests with 101; requests carrying `X-Upstream: b` go to B, which has no
  // upgrade handler and answers them 200 like any request.
  await client.setRoutes({
    upstreams: [
      { id: 'a', host: '127.0.0.1', port: a.port, pool: 'stable', version: 'v1' },
      { id: 'b', host: '127.0.0.1', port: b.port, pool: 'canary', version: 'v1' },
    ],
    weights: { stable: 100, canary: 0 },
    match: [{ header: 'x-upstream', value: 'b' }],
  });
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  if (client !== undefined) {
    const pid = client.pid;
    await client.close();
    await waitFor(() => processStartTime(pid) === null, { what: 'the proxy process to exit' });
  }
  for (const u of upstreams) {
    for (const s of u.sockets) s.destroy();
    await new Promise<void>((r) => u.server.close(() => r()));
  }
  if (dataDir !== '') rmSync(dataDir, { recursive: true, force: true });
});

/**
 * What reached the upstreams while `probe` ran: requests, raw bytes and the upstream connections
 * they came on, the sentinel's left out.
 */
async function upstreamEffects<T>(probe: () => Promise<T>): Promise<{ result: T; requests: Seen[]; bytes: string; conns: Set<number> }> {
  const rawFrom = raw.length;
  const seenFrom = seen.length;
  const result = await probe();
  const sentinel = await send(port, 'GET /sentinel HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n', 1);
  expect(sentinel.statuses).toEqual([200]);
  await waitFor(() => seen.slice(seenFrom).some((r) => r.url === '/sentinel'), { what: 'the sentinel upstream', intervalMs: 5 });
  const chunks = raw.slice(rawFrom).filter((c) => !c.data.startsWith('GET /sentinel '));
  return {
    result,
    requests: seen.slice(seenFrom).filter((r) => r.url !== '/sentinel'),
    bytes: chunks.map((c) => c.data).join(''),
    conns: new Set(chunks.map((c) => c.conn)),
  };
}

// ------------------------------------------------------------------ the corpus

/** What reached an upstream, as its parser saw it. */
interface Forwarded {
  upstream?: 'A' | 'B';
  method: string;
  url: string;
  body?: string;
  /** Headers as the upstream saw them; `undefined` asserts the header is absent. */
  headers?: Record<string, string | undefined>;
}

interface Probe {
  name: string;
  /** Where the probe comes from: a published tool or test corpus, or the RFC rule it checks. */
  source: string;
  request: string;
  /** Statuses the client gets, in order; a refusal (4xx/5xx from the proxy) closes the connection. */
  statuses: number[];
  /**
   * What the upstreams got, in order; [] for nothing at all. `cut`: the framing error was in the
   * body, after the head had gone upstream (the proxy streams bodies): the upstream got no
   * complete request, and the connection it came on was closed, never reused.
   */
  upstream: Forwarded[] | 'cut';
  /** Strings that must never appear in the bytes any upstream received. */
  never?: string[];
}

const DESYNC = 'PortSwigger http-request-smuggler, src/burp/DesyncBox.java';
const LLHTTP = 'nodejs/llhttp test/request';
const ACADEMY = 'PortSwigger Web Security Academy, HTTP request smuggling';

/** A chunked POST whose Transfer-Encoding line is `te` (one of DesyncBox's permutations). */
function teProbe(name: string, te: string, forwarded: boolean, statuses: number[] = [forwarded ? 200 : 400]): Probe {
  return {
    name: `DesyncBox ${name}`,
    source: `${DESYNC} (${name})`,
    request: `POST /te HTTP/1.1\r\nHost: a.test\r\n${te}\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
    statuses,
    // The upstream decoding `abc` shows it read the chunked framing the proxy did.
    upstream: forwarded ? [{ method: 'POST', url: '/te', body: 'abc' }] : [],
    never: forwarded ? [] : ['abc'],
  };
}

const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: a.test\r\n\r\n';

const CORPUS: Probe[] = [
  // -- CL/TE desync, the classic pair (Kettle, "HTTP Desync Attacks", 2019)
  {
    name: 'CL.TE',
    source: `${ACADEMY} (CL.TE)`,
    request: `POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 49\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    statuses: [400],
    upstream: [],
    never: ['smuggled'],
  },
  {
    name: 'TE.CL',
    source: `${ACADEMY} (TE.CL)`,
    request: `POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n2b\r\n${SMUGGLED}\r\n0\r\n\r\n`,
    statuses: [400],
    upstream: [],
    never: ['smuggled'],
  },
  {
    name: 'two different Content-Length',
    source: 'RFC 9112 §6.3 (5)',
    request: 'POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\nContent-Length: 45\r\n\r\nabc',
    statuses: [400],
    upstream: [],
  },
  {
    name: 'Content-Length list',
    source: 'RFC 9112 §6.3 (5); the proxy refuses lists even of equal values',
    request: 'POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3, 3\r\n\r\nabc',
    statuses: [400],
    upstream: [],
  },
  {
    name: 'Content-Length with a space inside',
    source: `${LLHTTP}/content-length.md (Spaces in Content-Length #2)`,
    request: 'POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 4 2\r\n\r\nabcd',
    statuses: [400],
    upstream: [],
  },
  {
    name: 'Content-Length with a CR for its dash',
    source: `${LLHTTP}/content-length.md (Content-Length with CR instead of dash)`,
    request: 'POST / HTTP/1.1\r\nHost: a.test\r\nContent\rLength: 3\r\n\r\nabc',
    statuses: [400],
    upstream: [],
  },
  {
    name: 'Content_Length (underscore)',
    source: `${DESYNC} (underjoin1, on Content-Length)`,
    request: 'POST / HTTP/1.1\r\nHost: a.test\r\nContent_Length: 40\r\n\r\n',
    statuses: [400],
    upstream: [],
  },
  {
    name: 'CL.0: a body on GET stays a body',
    source: 'Kettle, "Browser-Powered Desync Attacks" (2022), CL.0',
    request: `GET / HTTP/1.1\r\nHost: a.test\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`,
    statuses: [200],
    upstream: [{ method: 'GET', url: '/', body: SMUGGLED }],
  },
  {
    name: 'mixed-case Content-Length header on HTTP/1.0',
    source: `${LLHTTP}/content-length.md (Funky Content-Length with body)`,
    request: 'GET /funky HTTP/1.0\r\nHost: a.test\r\nconTENT-Length: 5\r\n\r\nHELLO',
    statuses: [200],
    upstream: [{ method: 'GET', url: '/funky', body: 'HELLO' }],
  },

  // -- Transfer-Encoding obfuscations (DesyncBox's permutations of "Transfer-Encoding: chunked")
  teProbe('vanilla', 'Transfer-Encoding: chunked', true),
  teProbe('underjoin1', 'Transfer_Encoding: chunked', false),
  teProbe('spacejoin1', 'Transfer Encoding: chunked', false),
  teProbe('space1', 'Transfer-Encoding : chunked', false),
  teProbe('nameprefix1', 'Foo: bar\r\n Transfer-Encoding: chunked', false),
  teProbe('nameprefix2', 'Foo: bar\r\n\tTransfer-Encoding: chunked', false),
  teProbe('valueprefix1', 'Transfer-Encoding:  chunked', true),
  teProbe('nospace1', 'Transfer-Encoding:chunked', true),
  teProbe('linewrapped1', 'Transfer-Encoding:\n chunked', false),
  teProbe('gareth1', 'Transfer-Encoding\n : chunked', false),
  teProbe('badsetupCR', 'Foo: bar\rTransfer-Encoding: chunked', false),
  teProbe('badsetupLF', 'Foo: bar\nTransfer-Encoding: chunked', false),
  teProbe('vertwrap', 'Transfer-Encoding: \n\x0bchunked', false),
  teProbe('tabwrap', 'Transfer-Encoding: \r\n\tchunked', false),
  teProbe('multiCase', 'tRANSFER-ENCODING: chunked', true),
  teProbe('UPPERCASE', 'TRANSFER-ENCODING: CHUNKED', true),
  teProbe('0dwrap', 'Foo: bar\r\n\rTransfer-Encoding: chunked', false),
  teProbe('0dspam', 'Tra\rnsfer-Encoding: chunked', false),
  // The proxy frames the body itself: a Transfer-Encoding named in Connection cannot drop the framing.
  teProbe('connection', 'Connection: Transfer-Encoding\r\nTransfer-Encoding: chunked', true),
  teProbe('spjunk', 'Transfer-Encoding x: chunked', false),
  teProbe('backslash', 'Transfer\\Encoding: chunked', false),
  teProbe('spaceFF', 'Transfer-Encoding:\xffchunked', false),
  teProbe('unispace', 'Transfer-Encoding:\xa0chunked', false),
  teProbe('commaCow', 'Transfer-Encoding: chunked, identity', false),
  teProbe('cowComma', 'Transfer-Encoding: identity, chunked', false, [501]),
  teProbe('quoted', 'Transfer-Encoding: "chunked"', false),
  teProbe('aposed', "Transfer-Encoding: 'chunked'", false),
  teProbe('dualchunk', 'Transfer-Encoding: chunked\r\nTransfer-encoding: identity', false),
  teProbe('lazygrep', 'Transfer-Encoding: chunk', false),
  teProbe('0dsuffix', 'Transfer-Encoding: chunked\r', false),
  teProbe('tabsuffix', 'Transfer-Encoding: chunked\t', true),
  teProbe('revdualchunk', 'Transfer-Encoding: identity\r\nTransfer-Encoding: chunked', false, [501]),
  teProbe('nested', 'Transfer-Encoding: identity, chunked, identity', false),
  teProbe('accentTE', 'Transf\x82r-Encoding: chunked', false),
  teProbe('accentCH', 'Transfer-Encoding: ch\x96nked', false),
  teProbe('bodysplit', 'Foo: barn\n\nTransfer-Encoding: chunked', false),
  teProbe('suffix1:0', 'Transfer-Encoding: chunked\x00', false),
  teProbe('suffix1:11', 'Transfer-Encoding: chunked\x0b', false),
  teProbe('suffix1:12', 'Transfer-Encoding: chunked\x0c', false),
  teProbe('suffix1:127', 'Transfer-Encoding: chunked\x7f', false),
  teProbe('prefix1:0', 'Transfer-Encoding: \x00chunked', false),
  teProbe('spacefix1:9', 'Transfer-Encoding:\tchunked', true),
  teProbe('spacefix1:11', 'Transfer-Encoding:\x0bchunked', false),
  {
    // Not a Transfer-Encoding: the request has no body, so its "body" is parsed as the next request.
    name: 'DesyncBox contentEnc',
    source: `${DESYNC} (contentEnc)`,
    request: 'POST /te HTTP/1.1\r\nHost: a.test\r\nContent-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
    statuses: [200, 400],
    upstream: [{ method: 'POST', url: '/te', body: '' }],
    never: ['abc'],
  },

  // -- Transfer-Encoding lists across lines (RFC 9110 §5.3, RFC 9112 §6.1, §6.3)
  {
    name: 'Transfer-Encoding on two lines, chunked last: combined',
    source: `${LLHTTP}/transfer-encoding.md (POST with chunked as last transfer-encoding (multiple headers)); RFC 9110 §5.3`,
    request: 'POST /two HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: deflate\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
    statuses: [200],
    upstream: [{ method: 'POST', url: '/two', body: 'abc', headers: { 'transfer-encoding': 'deflate, chunked' } }],
  },
  {
    name: 'chunked then another coding on a second line',
    source: `${LLHTTP}/transfer-encoding.md (POST with chunked and duplicate transfer-encoding); RFC 9112 §6.3 (4)`,
    request: 'POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: deflate\r\n\r\nWorld',
    statuses: [400],
    upstream: [],
  },
  {
    name: 'chunked twice',
    source: 'RFC 9112 §6.1 (chunked is applied once)',
    request: 'POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    statuses: [400],
    upstream: [],
  },
  {
    name: 'chunkedchunked',
    source: `${LLHTTP}/transfer-encoding.md (POST with chunkedchunked as transfer-encoding)`,
    request: 'POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunkedchunked\r\n\r\n0\r\n\r\n',
    statuses: [400],
    upstream: [],
  },
  {
    name: 'obs-fold after chunked',
    source: `${LLHTTP}/transfer-encoding.md (Invalid OBS fold after chunked value)`,
    request: 'POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n  abc\r\n\r\n0\r\n\r\n',
    statuses: [400],
    upstream: [],
  },
  {
    name: 'Transfer-Encoding in HTTP/1.0',
    source: 'RFC 9112 §6.1',
    request: 'POST / HTTP/1.0\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    statuses: [400],
    upstream: [],
  },

  // -- Chunk framing and extensions (RFC 9112 §7.1, §7.1.1)
  {
    name: 'chunk extensions, token and quoted values',
    source: `${LLHTTP}/transfer-encoding.md (Chunk extensions quoting)`,
    request:
      'POST /ext HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n' +
      '5;ilovew3="I \\"love\\"; \\\\extensions\\\\";somuchlove="aretheseparametersfor";blah;foo=bar\r\nhello\r\n6;blahblah;blah\r\n world\r\n0\r\n\r\n',
    statuses: [200],
    upstream: [{ method: 'POST', url: '/ext', body: 'hello world' }],
    never: ['ilovew3', 'blahblah'],
  },
  {
    name: 'nothing after the semicolon',
    source: `${LLHTTP}/transfer-encoding.md (No extension after semicolon)`,
    request: 'POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n2;\r\naa\r\n0\r\n\r\n',
    statuses: [400],
    upstream: 'cut',
    never: ['aa'],
  },
  {
    name: 'unbalanced quote in an extension',
    source: `${LLHTTP}/transfer-encoding.md (Unbalanced chunk extensions quoting)`,
    request:
      'POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n5;ilovew3="abc";somuchlove="def; ghi\r\nhello\r\n0\r\n\r\n',
    statuses: [400],
    upstream: 'cut',
    never: ['hello'],
  },
  {
    name: 'extension without its semicolon',
    source: `${LLHTTP}/transfer-encoding.md (No semicolon before chunk extensions)`,
    request: 'POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n2 erfrferferf\r\naa\r\n0 rrrr\r\n\r\n',
    statuses: [400],
    upstream: 'cut',
    never: ['aa'],
  },
  {
    name: 'whitespace around an extension',
    source: 'RFC 9112 §7.1.1 (BWS, which Node refuses: the proxy refuses it too)',
    request: 'POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n2 ; a=b\r\naa\r\n0\r\n\r\n',
    statuses: [400],
    upstream: 'cut',
    never: ['aa'],
  },
  {
    name: 'bare CR in a chunk line',
    source: `${LLHTTP}/transfer-encoding.md (Chunk header not terminated by CRLF)`,
    request: 'POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\r;ABCD\r\n34\r\nE\r\n0\r\n\r\n',
    statuses: [400],
    upstream: 'cut',
    never: ['ABCD'],
  },
  {
    name: 'chunk data longer than its size',
    source: `${LLHTTP}/transfer-encoding.md (Chunk data not terminated by CRLF)`,
    request: 'POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX\r\n0\r\n\r\n',
    statuses: [400],
    upstream: 'cut',
    never: ['XX'],
  },
  {
    name: 'chunk size overflow',
    source: 'RFC 9112 §7.1 (chunk-size overflow, as llhttp "Chunk size overflow")',
    request: 'POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000003\r\nabc\r\n0\r\n\r\n',
    statuses: [400],
    upstream: 'cut',
    never: ['abc'],
  },
  {
    name: 'bad trailer line',
    source: 'RFC 9112 §7.1.2 (trailer fields are field lines)',
    request: 'POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nBad Name: x\r\n\r\n',
    statuses: [400],
    upstream: 'cut',
    never: ['Bad Name'],
  },

  // -- Request line and target (RFC 9112 §3, §3.2)
  {
    name: 'absolute-form: the target authority replaces Host',
    source: 'RFC 9112 §3.2.2',
    request: 'GET http://other.test/x?y=1 HTTP/1.1\r\nHost: a.test\r\n\r\n',
    statuses: [200],
    upstream: [{ method: 'GET', url: '/x?y=1', headers: { host: 'other.test', 'x-forwarded-host': 'other.test' } }],
  },
  {
    name: 'absolute-form without a path, scheme in capitals, a port and a query',
    source: 'RFC 9112 §3.2.2; RFC 3986 §3 (scheme is case-insensitive, empty path is /)',
    request: 'GET HTTP://Other.test:8080?q HTTP/1.1\r\nHost: a.test\r\n\r\n',
    statuses: [200],
    upstream: [{ method: 'GET', url: '/?q', headers: { host: 'Other.test:8080', 'x-forwarded-host': 'Other.test:8080' } }],
  },
  {
    name: 'absolute-form with userinfo',
    source: 'RFC 9110 §4.2.4 (userinfo is refused in http URIs)',
    request: 'GET http://user@other.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n',
    statuses: [400],
    upstream: [],
  },
  {
    name: 'absolute-form without a host',
    source: 'RFC 9110 §4.2.1 (an http URI with an empty host is invalid)',
    request: 'GET http:///x HTTP/1.1\r\nHost: a.test\r\n\r\n',
    statuses: [400],
    upstream: [],
  },
  {
    name: 'absolute-form of another scheme',
    source: 'RFC 9112 §3.2.2 (the gateway serves http and https URIs only)',
    request: 'GET ftp://other.test/x HTTP/1.1\r\nHost: a.test\r\n\r\n',
    statuses: [400],
    upstream: [],
  },
  {
    name: 'a relative target',
    source: 'RFC 9112 §3.2 (origin-form starts with /)',
    request: 'GET x/y HTTP/1.1\r\nHost: a.test\r\n\r\n',
    statuses: [400],
    upstream: [],
  },
  {
    name: 'a fragment in the target',
    source: `RFC 9112 §3.2 (no fragment in a request-target); ${LLHTTP}/uri.md (Fragment in URI)`,
    request: 'GET /a#b HTTP/1.1\r\nHost: a.test\r\n\r\n',
    statuses: [400],
    upstream: [],
  },
  {
    name: 'asterisk-form on OPTIONS',
    source: 'RFC 9112 §3.2.4',
    request: 'OPTIONS * HTTP/1.1\r\nHost: a.test\r\n\r\n',
    statuses: [200],
    upstream: [{ method: 'OPTIONS', url: '*' }],
  },
  {
    name: 'asterisk-form on GET',
    source: 'RFC 9112 §3.2.4 (OPTIONS only)',
    request: 'GET * HTTP/1.1\r\nHost: a.test\r\n\r\n',
    statuses: [400],
    upstream: [],
  },

  // -- Host (RFC 9112 §3.2, RFC 9110 §7.2)
  ...['a.test, b.test', 'a.test,b.test', 'user@a.test', 'a.test/path', 'a.test:80x', 'a test', ':80'].map(
    (host): Probe => ({
      name: `invalid Host ${JSON.stringify(host)}`,
      source:
        'RFC 9112 §3.2 (400 for an invalid Host); RFC 9110 §7.2 (uri-host [":" port]; a comma would read as a list in X-Forwarded-Host)',
      request: `GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
      statuses: [400],
      upstream: [],
    }),
  ),
  {
    name: 'two Host lines',
    source: 'RFC 9112 §3.2',
    request: 'GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n',
    statuses: [400],
    upstream: [],
  },
  {
    name: 'HTTP/1.1 without Host',
    source: 'RFC 9112 §3.2',
    request: 'GET / HTTP/1.1\r\n\r\n',
    statuses: [400],
    upstream: [],
  },
  {
    name: 'an invalid Host beside an absolute-form target',
    source: 'RFC 9112 §3.2 (the Host is still checked) and §3.2.2',
    request: 'GET http://other.test/ HTTP/1.1\r\nHost: a.test/x\r\n\r\n',
    statuses: [400],
    upstream: [],
  },
  {
    name: 'an IPv6 literal with a port',
    source: 'RFC 3986 §3.2.2 (IP-literal)',
    request: 'GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n',
    statuses: [200],
    upstream: [{ method: 'GET', url: '/', headers: { host: '[::1]:8080', 'x-forwarded-host': '[::1]:8080' } }],
  },
  {
    name: 'an HTTP/1.0 Upgrade is not one',
    source: 'RFC 9110 §7.8 (a server ignores Upgrade in HTTP/1.0)',
    request: 'GET /old HTTP/1.0\r\nHost: a.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
    statuses: [200],
    upstream: [{ method: 'GET', url: '/old', headers: { upgrade: undefined, connection: undefined } }],
  },
  {
    name: 'Connection naming Host cannot drop it',
    source: 'hop-by-hop header abuse (Davison, 2019); RFC 9112 §3.2',
    request: 'GET /hbh HTTP/1.1\r\nHost: a.test\r\nConnection: host\r\n\r\n',
    statuses: [200],
    upstream: [{ method: 'GET', url: '/hbh', headers: { host: 'a.test', 'x-forwarded-host': 'a.test' } }],
  },
];

describe('request smuggling and RFC 9112 corpus, through a proxy process to recording upstreams', () => {
  it.each(CORPUS.map((p) => [p.name, p] as const))('%s', async (_name, probe) => {
    const refused = (probe.statuses.at(-1) as number) >= 400;
    const { result, requests, bytes, conns } = await upstreamEffects(() => send(port, probe.request, probe.statuses.length, refused));
    expect(result.statuses, probe.source).toEqual(probe.statuses);
    if (refused) {
      expect(result.closed, 'a refusal closes the connection').toBe(true);
      expect(result.list.at(-1)?.head).toMatch(/\r\nX-Gantry-Proxy-Error: PROXY_[A-Z_]+\r\n/);
    }
    for (const s of probe.never ?? []) expect(bytes).not.toContain(s);
    if (probe.upstream === 'cut') {
      expect(requests).toEqual([]);
      await waitFor(() => [...conns].every((c) => closedConns.has(c)), { what: 'the upstream connection of the cut request to close' });
      return;
    }
    expect(
      requests.map((r) => ({ upstream: r.upstream, method: r.method, url: r.url })),
      probe.source,
    ).toEqual(probe.upstream.map((f) => ({ upstream: f.upstream ?? 'A', method: f.method, url: f.url })));
    probe.upstream.forEach((f, i) => {
      const r = requests[i] as Seen;
      if (f.body !== undefined) expect(r.body).toBe(f.body);
      for (const [name, value] of Object.entries(f.headers ?? {})) expect(r.headers[name], name).toBe(value);
      // Every forwarded request went through the proxy's own head builder.
      expect(r.httpVersion).toBe('1.1');
      expect(r.headers['x-forwarded-for']).toBe('127.0.0.1');
    });
    if (probe.upstream.length === 0) expect(bytes).toBe('');
  });

  it('an HTTP/1.0 request without Host goes upstream as HTTP/1.1 with the address it reached as Host', async () => {
    const { result, requests } = await upstreamEffects(() => send(port, 'GET /nohost HTTP/1.0\r\n\r\n', 1));
    expect(result.statuses).toEqual([200]);
    const authority = `127.0.0.1:${port}`;
    expect(requests.map((r) => [r.url, r.httpVersion, r.headers.host, r.headers['x-forwarded-host']])).toEqual([
      ['/nohost', '1.1', authority, authority],
    ]);
  });
});

describe('Upgrade requests through the proxy process', () => {
  const UPGRADE_TO_B = 'Host: a.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nX-Upstream: b\r\n';

  it('an upgrade answered 200 keeps the connection parsed: the next request with two Host lines is refused', async () => {
    const { result, requests, bytes } = await upstreamEffects(() =>
      send(port, `GET /ws HTTP/1.1\r\n${UPGRADE_TO_B}\r\nGET /smuggled HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n`, 2),
    );
    expect(result.statuses).toEqual([200, 400]);
    expect(result.list[0]?.body).toBe('B GET /ws');
    expect(requests.map((r) => `${r.upstream} ${r.method} ${r.url}`)).toEqual(['B GET /ws']);
    expect(requests[0]?.headers.upgrade).toBe('websocket');
    expect(bytes).not.toContain('smuggled');
  });

  it('an upgrade with a body answered 200: the pipelined request after the body is parsed, routed and forwarded on its own', async () => {
    const { result, requests } = await upstreamEffects(() =>
      send(port, `POST /ws HTTP/1.1\r\n${UPGRADE_TO_B}Content-Length: 5\r\n\r\nhelloGET /next HTTP/1.1\r\nHost: a.test\r\n\r\n`, 2),
    );
    expect(result.statuses).toEqual([200, 200]);
    expect(result.list.map((r) => r.body)).toEqual(['B POST /ws', 'A GET /next']);
    // The second request went to A (routed by its own headers), with the proxy's X-Forwarded-*.
    expect(requests.map((r) => [r.upstream, r.method, r.url, r.body, r.headers['x-forwarded-for']])).toEqual([
      ['B', 'POST', '/ws', 'hello', '127.0.0.1'],
      ['A', 'GET', '/next', '', '127.0.0.1'],
    ]);
  });

  it('an upgrade answered 101 becomes a tunnel: what follows is the new protocol, relayed raw both ways', async () => {
    const c = open(port);
    c.s.write('GET /chat HTTP/1.1\r\nHost: a.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nfirst|');
    await waitFor(() => c.got().endsWith('first|'), { what: 'the 101 and the first bytes echoed' });
    expect(c.got()).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n/);
    // After a 101 the bytes are not HTTP any more: not parsed, not refused, just relayed.
    const notHttp = 'GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n';
    c.s.write(notHttp);
    await waitFor(() => c.got().endsWith(`first|${notHttp}`), { what: 'the later bytes echoed' });
    expect(seen.filter((r) => r.url === '/x')).toEqual([]);
    c.s.end();
    await waitFor(c.closed, { what: 'the tunnel to close after the client ended it' });
  });
});

describe('the head size limit through the proxy process', () => {
  it("counts the X-Forwarded-* headers it adds: the largest head it forwards fits a Node upstream's default, one byte more is 431", async () => {
    const request = (pad: number): string => `GET /big HTTP/1.1\r\nHost: a.test\r\nX-Pad: ${'p'.repeat(pad)}\r\n\r\n`;
    // How much the proxy adds, measured on what the upstream received.
    const probe = await upstreamEffects(() => send(port, request(1000), 1));
    const upstreamHead = probe.bytes.slice(0, probe.bytes.indexOf('\r\n\r\n') + 4);
    expect(upstreamHead).toMatch(/^GET \/big HTTP\/1\.1\r\n/);
    const limit = 16 * 1024;
    const fits = 1000 + (limit - upstreamHead.length);
    expect(request(fits).length).toBeLessThan(limit); // under the limit as the client sends it

    const atLimit = await upstreamEffects(() => send(port, request(fits), 1));
    expect(atLimit.result.statuses).toEqual([200]);
    expect(atLimit.bytes.indexOf('\r\n\r\n') + 4).toBe(limit);
    expect(atLimit.requests.map((r) => r.url)).toEqual(['/big']);

    for (const pad of [fits + 1, fits + 16384 - request(fits).length + 4]) {
      // The second is the largest head the client may send: 16 KiB without the blank line.
      const over = await upstreamEffects(() => send(port, request(pad), 1));
      expect(over.result.statuses, `pad ${pad}`).toEqual([431]);
      expect(over.result.list[0]?.head).toContain('X-Gantry-Proxy-Error: PROXY_HEAD_TOO_LARGE');
      expect(over.bytes).toBe('');
    }
    expect(request(fits + 16384 - request(fits).length + 4).length - 4).toBe(limit);
  });
});
