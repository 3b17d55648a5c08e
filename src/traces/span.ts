/**
 * One span as Gantry keeps it, whichever OTLP encoding it came in: ids as lowercase hex (as
 * OTLP/JSON writes them), times in ms since the epoch (a double keeps ~0.2 µs at today's epoch),
 * attributes flattened to scalars. Bounded: names, values and attribute counts are capped when
 * decoded, so one span costs at most a few kilobytes whatever a client sends.
 */
export type AttributeValue = string | number | boolean;

/** OTLP's SpanKind numbers: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
export type SpanKindNumber = 0 | 1 | 2 | 3 | 4 | 5;

export interface Span {
  traceId: string;
  spanId: string;
  /** null for a root span. */
  parentSpanId: string | null;
  name: string;
  kind: number;
  startMs: number;
  durationMs: number;
  /** OTLP's status code: 0 unset, 1 ok, 2 error. */
  status: number;
  statusMessage: string;
  attributes: Record<string, AttributeValue>;
  /** `service.name` of the span's resource ('' when unset). */
  service: string;
  /** `service.version` of the span's resource: the release id the runtime sets ('' when unset). */
  version: string;
}

/** Caps applied while decoding (a client cannot make a span or a request arbitrarily big). */
export const SPAN_LIMITS = {
  /** Attributes kept per span (and per resource); the rest are dropped. */
  attributes: 64,
  /** Characters kept of a name or a string value. */
  text: 1024,
  /** Spans taken from one request; a request with more is refused. */
  spansPerRequest: 20_000,
};

export const STATUS_ERROR = 2;

/** An error span, or an HTTP server span that answered 5xx. */
export function isErrorSpan(span: Span): boolean {
  if (span.status === STATUS_ERROR) return true;
  const code = span.attributes['http.response.status_code'] ?? span.attributes['http.status_code'];
  return typeof code === 'number' && code >= 500;
}

/** The route template of a request span (`http.route`), else null. */
export function routeOf(span: Span): string | null {
  const route = span.attributes['http.route'];
  return typeof route === 'string' && route !== '' ? route : null;
}
