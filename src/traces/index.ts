/** Traces' pure core: OTLP decoding, the bounded sample per environment, latency by route, the waterfall. */
export { decodeOtlpJson, decodeOtlpProtobuf } from './otlp-decode.ts';
export { ProtobufReader, WIRE } from './protobuf-reader.ts';
export { OTHER_ROUTE, RouteLatency, type RouteLatencyRow } from './route-latency.ts';
export { type AttributeValue, isErrorSpan, routeOf, type Span, SPAN_LIMITS } from './span.ts';
export {
  latencyRowRange,
  TRACE_SAMPLE_DEFAULTS,
  type TraceFilter,
  TraceSample,
  type TraceSampleOptions,
  type TraceSummary,
} from './trace-sample.ts';
export { type Waterfall, type WaterfallRow, waterfall } from './waterfall.ts';
