/**
 * node:http and node:https, loaded with `require`. An ES module import of either builds a
 * namespace of every export, which runs node:http's lazy getters (`WebSocket`, `CloseEvent`,
 * `MessageEvent`) and so loads undici's WebSocket: 67–106 ms of CPU at the start of every process
 * that imports it, against 6–8 ms for `require` (Node 24.21). The proxy process, the server and
 * the health checks import it; types still come from `import type`, which costs nothing.
 */
import { createRequire } from 'node:module';

const load = createRequire(import.meta.url);
const http = load('node:http') as typeof import('node:http');
const https = load('node:https') as typeof import('node:https');

export const { Agent: HttpAgent, createServer: createHttpServer, request: httpRequest, STATUS_CODES } = http;
export const httpsRequest = https.request;
