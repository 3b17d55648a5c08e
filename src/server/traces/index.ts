/** Traces as the server takes them: the OTLP/HTTP receiver, ingest tokens, the sample per environment and its routes. */
export { IngestTokens, type IngestScope, otlpEnvironment } from './ingest-tokens.ts';
export { registerTraceRoutes, type TraceRouteDeps } from './trace-routes.ts';
export { TraceService } from './trace-service.ts';
