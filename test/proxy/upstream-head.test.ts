import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/chaos/fault-selection.ts';
import { BODY_CHUNKED, parseRequestHead, trimOws, type RequestHead } from '../../src/proxy/request-parser.ts';
import { compileRules, cookieMatches, ruleMatches, type CompiledRule } from '../../src/proxy/route-table.ts';
import { buildUpstreamHead, type HeadScan } from '../../src/proxy/upstream-head.ts';

/** Hop-by-hop headers and those the proxy writes itself (Upgrade, Connection and X-Forwarded-For are read first). */
const DROPPED = new Set([
  'te',
  'trailer',
  'keep-alive',
  'proxy-connection',
  'x-forwarded-host',
  'transfer-encoding',
  'x-forwarded-proto',
  'proxy-authorization',
]);

/**
 * The builder the proxy used before heads were copied from the raw request (traffic-proxy.ts up to
 * h-proxy5): every header rebuilt as `name: value` from the parsed list. The reference the raw
 * builder must agree with.
 */
function referenceHead(
  req: RequestHead,
  remote: string,
  authority: string,
  rules: CompiledRule[],
  drop: Set<string> | null = null,
): HeadScan {
  const raw = req.headers;
  let head = `${req.method} ${req.target} HTTP/1.1\r\n`;
  let xff = '';
  let hostSent = false;
  let toCanary = false;
  let upgradeValue = '';
  let connTokens: string[] | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    let value = raw[i + 1] as string;
    const l = name.toLowerCase();
    if (l === 'host') value = authority;
    if (rules.length > 0 && !toCanary) toCanary = referenceMatch(rules, name, value);
    if (drop?.has(l)) continue;
    if (l === 'host') hostSent = true;
    if (DROPPED.has(l)) continue;
    if (l === 'upgrade') {
      upgradeValue = value;
      continue;
    }
    if (l === 'connection') {
      for (const t of value.split(',')) {
        const tok = trimOws(t).toLowerCase();
        if (tok !== '' && tok !== 'close' && tok !== 'keep-alive' && tok !== 'upgrade') (connTokens ??= []).push(tok);
      }
      continue;
    }
    if (l === 'x-forwarded-for') {
      xff = xff === '' ? value : `${xff}, ${value}`;
      continue;
    }
    head += `${name}: ${value}\r\n`;
  }
  if (connTokens !== null && drop === null) return referenceHead(req, remote, authority, rules, new Set(connTokens));
  if (!hostSent) head += `Host: ${authority}\r\n`;
  head += `X-Forwarded-For: ${xff === '' ? remote : `${xff}, ${remote}`}\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: ${authority}\r\n`;
  if (req.bodyMode === BODY_CHUNKED) head += `Transfer-Encoding: ${req.transferEncoding}\r\n`;
  if (req.upgrade) head += `Connection: Upgrade\r\nUpgrade: ${upgradeValue}\r\n`;
  return { head: `${head}\r\n`, toCanary };
}

function referenceMatch(rules: CompiledRule[], name: string, value: string): boolean {
  for (const rule of rules) {
    if (
      rule.kind === 'header'
        ? name.toLowerCase() === rule.name && ruleMatches(rule, value)
        : name.toLowerCase() === 'cookie' && cookieMatches(rule, value)
    )
      return true;
  }
  return false;
}

const TARGETS = ['/', '/a?b=1', '/p/q', 'http://abs.test:8080/p?q', 'HTTP://abs.test', 'https://abs.test?z=1', 'http://[::1]:9/x', '*'];
const METHODS = ['GET', 'POST', 'HEAD', 'OPTIONS', 'DELETE', 'PUT'];
/** Header lines the corpus draws from: hop-by-hop, forwarded, framing, obs-text, rules' inputs, plain. */
const LINES = [
  'Host: a.test',
  'Host: a.test:8080',
  'Host: 127.0.0.1:8080',
  'Host:',
  'X-A: 1',
  'X-A: two',
  'X-Forwarded-For: 203.0.113.9',
  'X-Forwarded-For: 198.51.100.1, 198.51.100.2',
  'X-Forwarded-Host: spoofed.test',
  'X-Forwarded-Proto: https',
  'Connection: keep-alive',
  'Connection: close',
  'Connection: Upgrade',
  'Connection: x-a, keep-alive',
  'Connection: X-Secret',
  'Connection: host',
  'Connection: x-forwarded-for',
  'Upgrade: websocket',
  'Keep-Alive: timeout=5',
  'TE: trailers',
  'Trailer: X-T',
  'Proxy-Connection: keep-alive',
  'Proxy-Authorization: Basic eA==',
  'Transfer-Encoding: chunked',
  'Transfer-Encoding: gzip, chunked',
  'Content-Length: 5',
  'Cookie: a=1; canary=yes',
  'Cookie: canary=no',
  'X-Canary: 1',
  'X-Secret: s',
  'X-Obs: caf\xe9 \xa0na\xefve',
  'Accept: */*',
  'User-Agent: corpus/1.0',
];

/** Mixed case and optional whitespace: what the raw builder copies and the old one normalised. */
function vary(line: string, rnd: () => number, canonical: boolean): string {
  const colon = line.indexOf(':');
  let name = line.slice(0, colon);
  const value = line.slice(colon + 1).trimStart();
  const r = rnd();
  if (r < 0.2) name = name.toLowerCase();
  else if (r < 0.3) name = name.toUpperCase();
  if (canonical) return value === '' ? `${name}: ` : `${name}: ${value}`;
  const ows = ['', ' ', '  ', '\t', ' \t'];
  const pick = (): string => ows[Math.floor(rnd() * ows.length)] as string;
  return `${name}:${pick()}${value}${pick()}`;
}

function corpus(count: number, canonical: boolean, seed: number): string[] {
  const rnd = seededRandom(seed);
  const heads: string[] = [];
  while (heads.length < count) {
    const method = METHODS[Math.floor(rnd() * METHODS.length)] as string;
    const target = TARGETS[Math.floor(rnd() * TARGETS.length)] as string;
    const version = rnd() < 0.2 ? '1.0' : '1.1';
    const lines = [`${method} ${target} HTTP/${version}`];
    const n = Math.floor(rnd() * 9);
    for (let i = 0; i < n; i++) lines.push(vary(LINES[Math.floor(rnd() * LINES.length)] as string, rnd, canonical));
    // Most requests name exactly one Host (else the parser refuses them).
    if (version === '1.1' && !lines.some((l) => /^host:/i.test(l)) && rnd() < 0.9)
      lines.splice(1 + Math.floor(rnd() * (lines.length - 1)), 0, 'Host: h.test');
    const head = lines.join('\r\n');
    try {
      parseRequestHead(head);
    } catch {
      continue;
    }
    heads.push(head);
  }
  return heads;
}

/** What an upstream reads from a head: the parse of it (OWS is not part of a value, RFC 9110 §5.5). */
function meaning(head: string): object {
  expect(head.endsWith('\r\n\r\n')).toBe(true);
  const h = parseRequestHead(head.slice(0, -4));
  return { method: h.method, target: h.target, minor: h.minor, headers: h.headers, bodyMode: h.bodyMode, upgrade: h.upgrade };
}

const RULES = compileRules([
  { header: 'X-Canary', value: '1' },
  { cookie: 'canary', value: 'yes' },
  { header: 'host', regex: '^abs\\.' },
]);

function built(req: RequestHead, remote: string, authority: string, rules: CompiledRule[]): HeadScan {
  const out: HeadScan = { head: '', toCanary: false };
  buildUpstreamHead(req, remote, authority, rules, out);
  return out;
}

describe('buildUpstreamHead (copies the client head, writes only what changes)', () => {
  it('writes byte for byte what the old header-by-header builder wrote, for canonically spelt heads', () => {
    const heads = corpus(3000, true, 1);
    for (const [i, text] of heads.entries()) {
      const req = parseRequestHead(text);
      const remote = i % 3 === 0 ? '10.0.0.1' : '::1';
      const authority = req.authority === '' ? '127.0.0.1:8080' : req.authority;
      for (const rules of [[], RULES]) {
        const ours = built(req, remote, authority, rules);
        const old = referenceHead(req, remote, authority, rules);
        // Host when it is replaced: the old builder always wrote it anew, in place.
        expect(ours.head, JSON.stringify(text)).toBe(old.head);
        expect(ours.toCanary, JSON.stringify(text)).toBe(old.toCanary);
      }
    }
  });

  it('means to the upstream what the old builder meant, for heads with mixed case, OWS and obs-text', () => {
    const heads = corpus(3000, false, 2);
    let copiedAsSent = 0;
    for (const [i, text] of heads.entries()) {
      const req = parseRequestHead(text);
      const remote = i % 2 === 0 ? '10.0.0.2' : '192.0.2.7';
      const authority = req.authority === '' ? '[::1]:8080' : req.authority;
      const ours = built(req, remote, authority, RULES);
      const old = referenceHead(req, remote, authority, RULES);
      expect(meaning(ours.head), JSON.stringify(text)).toEqual(meaning(old.head));
      expect(ours.toCanary).toBe(old.toCanary);
      // Copied lines keep the client's spelling: the head the 431 limit counts is what is sent.
      if (ours.head !== old.head) copiedAsSent++;
    }
    expect(copiedAsSent).toBeGreaterThan(1000);
  });

  it('copies kept lines as sent, replaces Host in place for an absolute-form target, and adds Host to an HTTP/1.0 request without one', () => {
    const keep = parseRequestHead(
      'GET /x HTTP/1.1\r\nhost:  a.test \r\nX-Obs: caf\xe9\r\nConnection: x-drop\r\nX-Drop: 1\r\nX-Forwarded-For: 1.2.3.4',
    );
    expect(built(keep, '10.0.0.1', 'a.test', []).head).toBe(
      'GET /x HTTP/1.1\r\nhost:  a.test \r\nX-Obs: caf\xe9\r\n' +
        'X-Forwarded-For: 1.2.3.4, 10.0.0.1\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: a.test\r\n\r\n',
    );
    const abs = parseRequestHead('GET http://b.test:81/p HTTP/1.1\r\nX-A: 1\r\nHost: a.test\r\nX-B: 2');
    expect(built(abs, '10.0.0.1', abs.authority, []).head).toBe(
      'GET /p HTTP/1.1\r\nX-A: 1\r\nHost: b.test:81\r\nX-B: 2\r\n' +
        'X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: b.test:81\r\n\r\n',
    );
    // A head handed over with its last CRLF still gets exactly one blank line.
    const trailing = parseRequestHead('GET / HTTP/1.1\r\nHost: a.test\r\n');
    expect(built(trailing, '10.0.0.1', 'a.test', []).head).toBe(
      'GET / HTTP/1.1\r\nHost: a.test\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: a.test\r\n\r\n',
    );
    const old = parseRequestHead('GET / HTTP/1.0\r\nAccept: */*');
    expect(built(old, '10.0.0.1', '127.0.0.1:80', []).head).toBe(
      'GET / HTTP/1.1\r\nAccept: */*\r\nHost: 127.0.0.1:80\r\n' +
        'X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: 127.0.0.1:80\r\n\r\n',
    );
  });
});
