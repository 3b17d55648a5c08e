/**
 * Both OTLP encodings of one request decode to the same spans: a protobuf message written here
 * byte by byte from trace.proto's field numbers (with an unknown field and the resource after
 * the spans, both legal), and its OTLP/JSON twin. Malformed input gets OTLP_MALFORMED.
 */
import { describe, expect, it } from 'vitest';
import { GantryError } from '../../src/core/errors.ts';
import { decodeOtlpJson, decodeOtlpProtobuf } from '../../src/traces/index.ts';

// ---- a minimal protobuf writer, for building test messages only
const varint = (n: number): number[] => {
  const out: number[] = [];
  let v = n;
  while (v >= 128) {
    out.push((v % 128) | 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
};
const tag = (field: number, wire: number) => varint(field * 8 + wire);
const bytesField = (field: number, content: number[]) => [...tag(field, 2), ...varint(content.length), ...content];
const text = (s: string) => [...Buffer.from(s)];
const fixed64 = (field: number, n: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(n);
  return [...tag(field, 1), ...b];
};
const hexBytes = (h: string) => [...Buffer.from(h, 'hex')];
const keyValue = (key: string, value: number[]) => bytesField(1, text(key)).concat(bytesField(2, value));

const TRACE = '5b8efff798038103d269b633813fc60c';
const SPAN = 'eee19b7ec3c1b174';
const PARENT = 'eee19b7ec3c1b173';
const START = 1_544_712_660_000_000_000n;
const END = 1_544_712_660_150_000_000n;

const span = [
  ...bytesField(1, hexBytes(TRACE)),
  ...bytesField(2, hexBytes(SPAN)),
  ...bytesField(4, hexBytes(PARENT)),
  ...bytesField(5, text('GET /items/:id')),
  ...tag(6, 0),
  2,
  ...fixed64(7, START),
  ...fixed64(8, END),
  ...bytesField(9, keyValue('http.route', bytesField(1, text('/items/:id')))),
  ...bytesField(9, keyValue('http.response.status_code', [...tag(3, 0), ...varint(503)])),
  ...bytesField(9, keyValue('retry', [...tag(2, 0), 1])),
  ...bytesField(15, [...bytesField(2, text('boom')), ...tag(3, 0), 2]),
  // An unknown field (a future OTLP version): skipped.
  ...tag(99, 0),
  7,
];
const resource = bytesField(1, keyValue('service.name', bytesField(1, text('shop')))).concat(
  bytesField(1, keyValue('service.version', bytesField(1, text('R7')))),
);
const request = bytesField(1, [...bytesField(2, bytesField(2, span)), ...bytesField(1, resource)]);

const json = {
  resourceSpans: [
    {
      resource: {
        attributes: [
          { key: 'service.name', value: { stringValue: 'shop' } },
          { key: 'service.version', value: { stringValue: 'R7' } },
        ],
      },
      scopeSpans: [
        {
          scope: { name: 'x' },
          spans: [
            {
              traceId: TRACE.toUpperCase(),
              spanId: SPAN,
              parentSpanId: PARENT,
              name: 'GET /items/:id',
              kind: 2,
              startTimeUnixNano: String(START),
              endTimeUnixNano: String(END),
              attributes: [
                { key: 'http.route', value: { stringValue: '/items/:id' } },
                { key: 'http.response.status_code', value: { intValue: '503' } },
                { key: 'retry', value: { boolValue: true } },
              ],
              status: { code: 2, message: 'boom' },
              unknownField: 1,
            },
          ],
        },
      ],
    },
  ],
};

const expected = {
  traceId: TRACE,
  spanId: SPAN,
  parentSpanId: PARENT,
  name: 'GET /items/:id',
  kind: 2,
  status: 2,
  statusMessage: 'boom',
  attributes: { 'http.route': '/items/:id', 'http.response.status_code': 503, retry: true },
  service: 'shop',
  version: 'R7',
};

describe('OTLP decoding', () => {
  it('reads a protobuf ExportTraceServiceRequest', () => {
    const [decoded] = decodeOtlpProtobuf(Uint8Array.from(request));
    expect(decoded).toMatchObject(expected);
    expect(decoded?.durationMs).toBeCloseTo(150, 3);
    expect(decoded?.startMs).toBeCloseTo(1_544_712_660_000, 0);
  });

  it('reads the same request as OTLP/JSON', () => {
    const [decoded] = decodeOtlpJson(json);
    expect(decoded).toMatchObject(expected);
    expect(decoded?.durationMs).toBeCloseTo(150, 3);
  });

  it('refuses truncated protobuf, base64 ids and a wrong shape with OTLP_MALFORMED', () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (error) {
        return error instanceof GantryError ? error.code : String(error);
      }
      return 'no error';
    };
    expect(code(() => decodeOtlpProtobuf(Uint8Array.from(request.slice(0, request.length - 5))))).toBe('OTLP_MALFORMED');
    const base64 = structuredClone(json);
    (base64.resourceSpans[0]?.scopeSpans[0]?.spans[0] as { traceId: string }).traceId = Buffer.from(TRACE, 'hex').toString('base64');
    expect(code(() => decodeOtlpJson(base64))).toBe('OTLP_MALFORMED');
    expect(code(() => decodeOtlpJson({ resourceSpans: {} }))).toBe('OTLP_MALFORMED');
    expect(decodeOtlpJson({})).toEqual([]);
  });
});
