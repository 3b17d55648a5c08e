/**
 * OTLP/HTTP trace requests (`ExportTraceServiceRequest`, opentelemetry-proto
 * collector/trace/v1) in both encodings the specification allows, decoded into Gantry's span
 * model (span.ts): binary protobuf (`application/x-protobuf`) and OTLP/JSON
 * (`application/json`: lowerCamelCase fields, trace and span ids as hex strings — not base64 —,
 * enums as integers, 64-bit integers as decimal strings or numbers, unknown fields ignored).
 * Field numbers are those of trace.proto, common.proto and resource.proto.
 */
import { GantryError } from '../core/errors.ts';
import { ProtobufReader, WIRE } from './protobuf-reader.ts';
import { type AttributeValue, SPAN_LIMITS, type Span } from './span.ts';

/** Decodes a binary `ExportTraceServiceRequest`. OTLP_MALFORMED when it does not decode. */
export function decodeOtlpProtobuf(body: Uint8Array): Span[] {
  const spans: Span[] = [];
  try {
    const request = new ProtobufReader(body);
    while (!request.done) {
      const { field, wire } = request.tag();
      if (field === 1 && wire === WIRE.bytes) readResourceSpans(request.message(), spans);
      else request.skip(wire);
    }
  } catch (error) {
    if (error instanceof GantryError && error.code === 'OTLP_MALFORMED') throw error;
    throw malformed(error instanceof Error ? error.message : String(error));
  }
  return spans;
}

/** Decodes an OTLP/JSON `ExportTraceServiceRequest` (already parsed). OTLP_MALFORMED when its shape is wrong. */
export function decodeOtlpJson(body: unknown): Span[] {
  const spans: Span[] = [];
  for (const rs of list(record(body, 'the request').resourceSpans, 'resourceSpans')) {
    const resourceSpans = record(rs, 'a resourceSpans item');
    const resource = resourceSpans.resource === undefined ? {} : record(resourceSpans.resource, 'resource');
    const identity = serviceOf(jsonAttributes(resource.attributes));
    for (const ss of list(resourceSpans.scopeSpans, 'scopeSpans')) {
      for (const s of list(record(ss, 'a scopeSpans item').spans, 'spans')) {
        const span = record(s, 'a span');
        const status = span.status === undefined ? {} : record(span.status, 'status');
        push(spans, {
          traceId: hexId(span.traceId, 32, 'traceId'),
          spanId: hexId(span.spanId, 16, 'spanId'),
          parentSpanId: span.parentSpanId === undefined || span.parentSpanId === '' ? null : hexId(span.parentSpanId, 16, 'parentSpanId'),
          name: text(span.name),
          kind: int(span.kind),
          startNs: int(span.startTimeUnixNano),
          endNs: int(span.endTimeUnixNano),
          status: int(status.code),
          statusMessage: text(status.message),
          attributes: jsonAttributes(span.attributes),
          ...identity,
        });
      }
    }
  }
  return spans;
}

// ---------------------------------------------------------------- protobuf

interface Identity {
  service: string;
  version: string;
}

function readResourceSpans(r: ProtobufReader, out: Span[]): void {
  let identity: Identity = { service: '', version: '' };
  const scopes: ProtobufReader[] = [];
  while (!r.done) {
    const { field, wire } = r.tag();
    if (field === 1 && wire === WIRE.bytes) identity = serviceOf(readResource(r.message()));
    else if (field === 2 && wire === WIRE.bytes) scopes.push(r.message());
    else r.skip(wire);
  }
  // The resource may come after its spans on the wire: spans are read once it is known.
  for (const scope of scopes) {
    while (!scope.done) {
      const { field, wire } = scope.tag();
      if (field === 2 && wire === WIRE.bytes) readSpan(scope.message(), identity, out);
      else scope.skip(wire);
    }
  }
}

function readResource(r: ProtobufReader): Record<string, AttributeValue> {
  const attributes: Record<string, AttributeValue> = {};
  while (!r.done) {
    const { field, wire } = r.tag();
    if (field === 1 && wire === WIRE.bytes) readKeyValue(r.message(), attributes);
    else r.skip(wire);
  }
  return attributes;
}

function readSpan(r: ProtobufReader, identity: Identity, out: Span[]): void {
  let traceId = '';
  let spanId = '';
  let parentSpanId: string | null = null;
  let name = '';
  let kind = 0;
  let startNs = 0;
  let endNs = 0;
  let status = 0;
  let statusMessage = '';
  const attributes: Record<string, AttributeValue> = {};
  while (!r.done) {
    const { field, wire } = r.tag();
    if (field === 1 && wire === WIRE.bytes) traceId = hex(r.bytes());
    else if (field === 2 && wire === WIRE.bytes) spanId = hex(r.bytes());
    else if (field === 4 && wire === WIRE.bytes) {
      const parent = r.bytes();
      parentSpanId = parent.length === 0 ? null : hex(parent);
    } else if (field === 5 && wire === WIRE.bytes) name = clip(r.string());
    else if (field === 6 && wire === WIRE.varint) kind = r.varint();
    else if (field === 7 && wire === WIRE.fixed64) startNs = r.fixed64();
    else if (field === 8 && wire === WIRE.fixed64) endNs = r.fixed64();
    else if (field === 9 && wire === WIRE.bytes) readKeyValue(r.message(), attributes);
    else if (field === 15 && wire === WIRE.bytes) {
      const s = r.message();
      while (!s.done) {
        const t = s.tag();
        if (t.field === 2 && t.wire === WIRE.bytes) statusMessage = clip(s.string());
        else if (t.field === 3 && t.wire === WIRE.varint) status = s.varint();
        else s.skip(t.wire);
      }
    } else r.skip(wire);
  }
  if (traceId.length !== 32) throw malformed('a span has no 16-byte trace_id');
  if (spanId.length !== 16) throw malformed('a span has no 8-byte span_id');
  push(out, { traceId, spanId, parentSpanId, name, kind, startNs, endNs, status, statusMessage, attributes, ...identity });
}

/** KeyValue { key = 1; AnyValue value = 2 }; AnyValue's oneof: string 1, bool 2, int 3, double 4, array 5, kvlist 6, bytes 7. */
function readKeyValue(r: ProtobufReader, into: Record<string, AttributeValue>): void {
  let key = '';
  let value: AttributeValue | undefined;
  while (!r.done) {
    const { field, wire } = r.tag();
    if (field === 1 && wire === WIRE.bytes) key = r.string();
    else if (field === 2 && wire === WIRE.bytes) value = readAnyValue(r.message());
    else r.skip(wire);
  }
  if (key !== '' && value !== undefined && Object.keys(into).length < SPAN_LIMITS.attributes) into[clip(key)] = value;
}

function readAnyValue(r: ProtobufReader): AttributeValue | undefined {
  let value: AttributeValue | undefined;
  while (!r.done) {
    const { field, wire } = r.tag();
    if (field === 1 && wire === WIRE.bytes) value = clip(r.string());
    else if (field === 2 && wire === WIRE.varint) value = r.varint() !== 0;
    else if (field === 3 && wire === WIRE.varint) value = signed64(r.varint());
    else if (field === 4 && wire === WIRE.fixed64) value = r.double();
    else if (field === 7 && wire === WIRE.bytes) value = clip(hex(r.bytes()));
    else if ((field === 5 || field === 6) && wire === WIRE.bytes) {
      // Arrays and maps are shown, not queried: kept as a marker of their size.
      r.skip(wire);
      value = field === 5 ? '[array]' : '{map}';
    } else r.skip(wire);
  }
  return value;
}

/** int64 travels as a 64-bit two's complement varint: values ≥ 2^63 are negative. */
function signed64(value: number): number {
  return value >= 2 ** 63 ? value - 2 ** 64 : value;
}

// ---------------------------------------------------------------- JSON

function jsonAttributes(value: unknown): Record<string, AttributeValue> {
  const attributes: Record<string, AttributeValue> = {};
  if (value === undefined) return attributes;
  for (const kv of list(value, 'attributes')) {
    const { key, value: any } = record(kv, 'an attribute');
    if (typeof key !== 'string' || key === '' || Object.keys(attributes).length >= SPAN_LIMITS.attributes) continue;
    const v = any === undefined ? undefined : jsonAnyValue(record(any, `attribute ${key}`));
    if (v !== undefined) attributes[clip(key)] = v;
  }
  return attributes;
}

function jsonAnyValue(v: Record<string, unknown>): AttributeValue | undefined {
  if (typeof v.stringValue === 'string') return clip(v.stringValue);
  if (typeof v.boolValue === 'boolean') return v.boolValue;
  if (v.intValue !== undefined) return int(v.intValue);
  if (typeof v.doubleValue === 'number') return v.doubleValue;
  if (typeof v.bytesValue === 'string') return clip(v.bytesValue);
  if (v.arrayValue !== undefined) return '[array]';
  if (v.kvlistValue !== undefined) return '{map}';
  return undefined;
}

function record(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformed(`${what} must be an object`);
  return value as Record<string, unknown>;
}

function list(value: unknown, what: string): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw malformed(`${what} must be an array`);
  return value;
}

function hexId(value: unknown, length: number, what: string): string {
  if (typeof value !== 'string' || value.length !== length || !/^[0-9a-fA-F]+$/.test(value))
    throw malformed(`${what} must be ${length} hex digits (OTLP/JSON encodes ids as hex, not base64)`);
  return value.toLowerCase();
}

function int(value: unknown): number {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return Number(value);
  return 0;
}

function text(value: unknown): string {
  return typeof value === 'string' ? clip(value) : '';
}

// ---------------------------------------------------------------- shared

interface RawSpan extends Identity {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  name: string;
  kind: number;
  startNs: number;
  endNs: number;
  status: number;
  statusMessage: string;
  attributes: Record<string, AttributeValue>;
}

function push(out: Span[], raw: RawSpan): void {
  if (out.length >= SPAN_LIMITS.spansPerRequest)
    throw new GantryError('OTLP_MALFORMED', `a request may carry at most ${SPAN_LIMITS.spansPerRequest} spans; export smaller batches`);
  const { startNs, endNs, ...rest } = raw;
  out.push({ ...rest, startMs: startNs / 1e6, durationMs: Math.max(0, (endNs - startNs) / 1e6) });
}

function serviceOf(attributes: Record<string, AttributeValue>): Identity {
  const service = attributes['service.name'];
  const version = attributes['service.version'];
  return { service: typeof service === 'string' ? service : '', version: typeof version === 'string' ? version : '' };
}

function clip(value: string): string {
  return value.length > SPAN_LIMITS.text ? value.slice(0, SPAN_LIMITS.text) : value;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function hex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += HEX[b];
  return out;
}

function malformed(message: string): GantryError {
  return new GantryError('OTLP_MALFORMED', `malformed OTLP trace request: ${message}`);
}
