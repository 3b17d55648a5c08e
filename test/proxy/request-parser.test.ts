import { describe, expect, it } from 'vitest';
import {
  BODY_CHUNKED,
  BODY_LENGTH,
  ChunkedDecoder,
  NO_BODY,
  parseRequestHead,
  RequestParseError,
  trimOws,
} from '../../src/proxy/request-parser.ts';

function head(lines: string[]): string {
  return lines.join('\r\n');
}

function refused(text: string): string {
  try {
    parseRequestHead(text);
  } catch (e) {
    expect(e).toBeInstanceOf(RequestParseError);
    expect((e as RequestParseError).status).toBe(400);
    return (e as Error).message;
  }
  throw new Error(`accepted: ${JSON.stringify(text)}`);
}

describe('parseRequestHead', () => {
  it('parses method, target, version, headers in order and body framing', () => {
    const h = parseRequestHead(
      head(['POST /a?b=1 HTTP/1.1', 'Host: x', 'X-A:  1 ', 'Content-Length: 12', 'Connection: keep-alive, Upgrade', 'Upgrade: websocket']),
    );
    expect([h.method, h.target, h.minor]).toEqual(['POST', '/a?b=1', 1]);
    expect(h.headers).toEqual([
      'Host',
      'x',
      'X-A',
      '1',
      'Content-Length',
      '12',
      'Connection',
      'keep-alive, Upgrade',
      'Upgrade',
      'websocket',
    ]);
    expect([h.bodyMode, h.contentLength, h.keepAlive, h.upgrade]).toEqual([BODY_LENGTH, 12, true, true]);
    const c = parseRequestHead(head(['PUT / HTTP/1.1', 'host: x', 'transfer-encoding: gzip, chunked', 'expect: 100-continue']));
    expect([c.bodyMode, c.transferEncoding, c.expectContinue]).toEqual([BODY_CHUNKED, 'gzip, chunked', true]);
    const old = parseRequestHead(head(['GET / HTTP/1.0']));
    expect([old.minor, old.keepAlive, old.bodyMode]).toEqual([0, false, NO_BODY]);
    expect(parseRequestHead(head(['GET / HTTP/1.0', 'Connection: keep-alive'])).keepAlive).toBe(true);
    expect(parseRequestHead(head(['GET / HTTP/1.1', 'Host: x', 'Connection: close'])).keepAlive).toBe(false);
  });

  it('refuses requests a front-end and a back-end could frame differently (smuggling)', () => {
    expect(refused(head(['POST / HTTP/1.1', 'Host: x', 'Content-Length: 5', 'Transfer-Encoding: chunked']))).toMatch(/both/);
    expect(refused(head(['POST / HTTP/1.1', 'Host: x', 'Content-Length: 5', 'Content-Length: 5']))).toMatch(/more than one Content-Length/);
    refused(head(['POST / HTTP/1.1', 'Host: x', 'Content-Length: 5, 5']));
    refused(head(['POST / HTTP/1.1', 'Host: x', 'Content-Length: +5']));
    refused(head(['POST / HTTP/1.1', 'Host: x', 'Content-Length: 0x5']));
    refused(head(['POST / HTTP/1.1', 'Host: x', 'Transfer-Encoding: chunked, identity']));
    refused(head(['POST / HTTP/1.1', 'Host: x', 'Transfer-Encoding: chunked', 'Transfer-Encoding: chunked']));
    refused(head(['POST / HTTP/1.0', 'Transfer-Encoding: chunked']));
    expect(refused(head(['GET / HTTP/1.1', 'Host: x', 'X-A: 1', ' folded']))).toMatch(/folding/);
    refused('GET / HTTP/1.1\r\nHost: x\nX-Smuggled: 1');
    refused('GET / HTTP/1.1\r\nHost: x\rX: 1');
    refused(head(['GET / HTTP/1.1', 'Host: x', 'Transfer-Encoding : chunked']));
    refused(head(['GET / HTTP/1.1', 'Host: x', 'X-A: a\x00b']));
    refused(head(['GET / HTTP/1.1', 'Host: x', ': empty-name']));
  });

  it('refuses malformed request lines, Host problems and unknown versions', () => {
    refused(head(['GET  / HTTP/1.1', 'Host: x']));
    refused(head(['GET / HTTP/1.1 ', 'Host: x']));
    refused(head(['GET /a b HTTP/1.1', 'Host: x']));
    refused(head(['G(T / HTTP/1.1', 'Host: x']));
    refused(head(['GET / HTTP/2.0', 'Host: x']));
    refused(head(['GET / HTTP/1.2', 'Host: x']));
    refused(head(['GET / HTTP/1.1']));
    refused(head(['GET / HTTP/1.1', 'Host: a', 'Host: b']));
  });

  it('takes the authority from an absolute-form target (RFC 9112 §3.2.2) and forwards origin-form', () => {
    const abs = parseRequestHead(head(['GET http://other.test:81/x?y HTTP/1.1', 'Host: a.test']));
    expect([abs.target, abs.authority, abs.absoluteForm]).toEqual(['/x?y', 'other.test:81', true]);
    expect(parseRequestHead(head(['GET https://o.test?q HTTP/1.1', 'Host: a.test'])).target).toBe('/?q');
    const plain = parseRequestHead(head(['GET /x HTTP/1.1', 'Host: [::1]:8080']));
    expect([plain.target, plain.authority, plain.absoluteForm]).toEqual(['/x', '[::1]:8080', false]);
    expect(parseRequestHead(head(['GET / HTTP/1.0'])).authority).toBe('');
    expect(parseRequestHead(head(['GET / HTTP/1.1', 'Host:'])).authority).toBe('');
    expect(parseRequestHead(head(['OPTIONS * HTTP/1.1', 'Host: a'])).target).toBe('*');
    for (const bad of ['a.test, b.test', 'user@a.test', 'a.test/p', 'a.test:8x', '[zz]', ':80', 'a%zz'])
      expect(refused(head(['GET / HTTP/1.1', `Host: ${bad}`])), bad).toMatch(/Host/);
    refused(head(['GET http://u@o.test/ HTTP/1.1', 'Host: a']));
    refused(head(['GET mailto:x HTTP/1.1', 'Host: a']));
    refused(head(['GET * HTTP/1.1', 'Host: a']));
    refused(head(['GET /a#b HTTP/1.1', 'Host: a']));
  });

  it('combines Transfer-Encoding lines (RFC 9110 §5.3) and still refuses chunked not last, twice, or unknown codings', () => {
    const two = parseRequestHead(head(['POST / HTTP/1.1', 'Host: x', 'Transfer-Encoding: deflate', 'Transfer-Encoding: chunked']));
    expect([two.bodyMode, two.transferEncoding]).toEqual([BODY_CHUNKED, 'deflate, chunked']);
    expect(parseRequestHead(head(['POST / HTTP/1.1', 'Host: x', 'Transfer-Encoding: gzip,,chunked'])).transferEncoding).toBe(
      'gzip, chunked',
    );
    refused(head(['POST / HTTP/1.1', 'Host: x', 'Transfer-Encoding: chunked', 'Transfer-Encoding: gzip']));
    refused(head(['POST / HTTP/1.1', 'Host: x', 'Transfer-Encoding: chunked;x=1']));
    refused(head(['POST / HTTP/1.1', 'Host: x', 'Transfer-Encoding: \xa0chunked']));
    refused(head(['POST / HTTP/1.1', 'Host: x', 'Transfer_Encoding: chunked']));
    try {
      parseRequestHead(head(['POST / HTTP/1.1', 'Host: x', 'Transfer-Encoding: identity, chunked']));
      throw new Error('accepted');
    } catch (e) {
      expect([(e as RequestParseError).status, (e as RequestParseError).code]).toEqual([501, 'PROXY_TRANSFER_CODING_UNSUPPORTED']);
    }
    expect(trimOws(' \t\xa0x\xa0 ')).toBe('\xa0x\xa0');
  });
});

function decode(parts: string[]): { body: string; consumed: number[]; done: boolean } {
  const d = new ChunkedDecoder();
  let body = '';
  const consumed: number[] = [];
  for (const p of parts)
    consumed.push(
      d.push(Buffer.from(p, 'latin1'), 0, (piece) => {
        body += piece.toString('latin1');
      }),
    );
  return { body, consumed, done: d.done };
}

describe('ChunkedDecoder', () => {
  it('accepts chunk extensions of RFC 9112 §7.1.1 (token or quoted values, quoted-pairs)', () => {
    const r = decode(['5;a;b=c;d="x \\"y\\"; z"\r\nhello\r\n0\r\nX-T: 1\r\n\r\n']);
    expect([r.body, r.done]).toEqual(['hello', true]);
  });

  it('decodes chunks split anywhere, drops extensions and trailers, stops at the end of the body', () => {
    const wire = '5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\nGET /next';
    for (let cut = 1; cut < wire.length - 9; cut++) {
      const r = decode([wire.slice(0, cut), wire.slice(cut)]);
      expect(r.body).toBe('hello0123456789');
      expect(r.done).toBe(true);
    }
    const whole = decode([wire]);
    expect(wire.slice(whole.consumed[0])).toBe('GET /next');
  });

  it('refuses invalid chunk sizes, bare LF and missing CRLF after data', () => {
    for (const bad of [
      'x\r\n',
      '\r\n',
      '5 \r\nhello\r\n',
      '-1\r\n',
      '1000000000000\r\n',
      '5\nhello\r\n',
      '5\r\nhelloXX\r\n',
      '0\r\n folded: 1\r\n\r\n',
      '0\r\n\n',
      '+5\r\nhello\r\n',
      '2;\r\naa\r\n',
      '5;a="x; y\r\nhello\r\n',
      '5;a=\r\nhello\r\n',
      '5;=b\r\nhello\r\n',
      '5 ;a\r\nhello\r\n',
      '5;a =b\r\nhello\r\n',
      '5;a="\x01"\r\nhello\r\n',
      '0\r\nBad Name: 1\r\n\r\n',
      '0\r\nX: a\x01b\r\n\r\n',
    ]) {
      expect(() => decode([bad]), JSON.stringify(bad)).toThrow(RequestParseError);
    }
  });
});
