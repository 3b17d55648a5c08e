/**
 * The HTTP shell every route shares, built without listening: body parsers that keep the raw
 * bytes (webhook signatures are computed over them), 503 while closing, authentication by the
 * route table's `auth` field, and typed errors mapped to `{ error: { code, message } }` once.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { GantryError } from '../../core/errors.ts';
import type { RoutePermission, RouteTable } from './route-table.ts';

declare module 'fastify' {
  interface FastifyRequest {
    rawBody?: Buffer;
    actor?: string;
  }
  interface FastifyInstance {
    /** The route table the app was built from (tests walk it). */
    routeTable: RouteTable;
  }
}

export interface HttpAppOptions {
  routes: RouteTable;
  /** Sets `request.actor` or throws UNAUTHORIZED/CSRF; called for routes whose auth is `admin`. */
  authenticate(request: FastifyRequest): Promise<void>;
  /** Throws FORBIDDEN unless the authenticated caller holds `permission` where the request points; called after `authenticate`. */
  authorize(request: FastifyRequest, permission: RoutePermission): Promise<void>;
  /** True once shutdown began: every request gets 503. */
  isClosing(): boolean;
  /**
   * Every answer of 5xx is reported here, so the server log has what the client was told: a bug
   * of ours (any error that is not a GantryError; the client sees only INTERNAL) or a coded
   * failure on our side (GIT_FAILED, STORE_UNAVAILABLE, …).
   */
  onInternalError(error: Error): void;
}

function noFastifySchemas(): never {
  throw new Error('fastify schemas are not used: parse the request with zod in the route table (src/server/http/route-table.ts)');
}

/** The largest request body read, in bytes (8 MiB). */
const BODY_LIMIT = 8 * 1024 * 1024;

export function createHttpApp(o: HttpAppOptions): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: BODY_LIMIT,
    // close() runs after the drain, when every request already gets 503: end every connection
    // then. With 'idle' only, a keep-alive connection that Node did not count as idle at that
    // moment kept close() waiting forever (seen with undici's pool in the tests).
    forceCloseConnections: true,
    // A URL that does not decode (or a too-long parameter) is refused before routing, and by
    // default in fastify's own shape: give it ours.
    frameworkErrors: (error, request, reply) => sendError(reply, clientError(error.statusCode ?? 400, error.message, request)),
    // Requests are parsed with zod from the route table (parse at the edge, once). Left to its
    // defaults, fastify loads ajv and fast-json-stringify while it builds, ~0.2 s of CPU on
    // every server start for compilers no route uses; a route given a schema fails at ready().
    schemaController: { compilersFactory: { buildValidator: noFastifySchemas, buildSerializer: noFastifySchemas } },
  });
  app.decorate('routeTable', o.routes);
  // Auth is read from the table: an API route registered around it would have none, so refuse it.
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      if (route.url.startsWith('/api/') && !o.routes.authOf(method === 'HEAD' ? 'GET' : method, route.url))
        throw new Error(`${method} ${route.url} is not in the route table: declare it with routes.add and its auth`);
    }
  });

  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body: Buffer, done) => {
    request.rawBody = body;
    if (body.length === 0) {
      done(null, {});
      return;
    }
    try {
      done(null, JSON.parse(body.toString('utf8')));
    } catch {
      done(new GantryError('INVALID_JSON', 'the request body is not valid JSON'), undefined);
    }
  });
  // OTLP/HTTP's binary encoding (server/traces): the route decodes the bytes itself.
  app.addContentTypeParser('application/x-protobuf', { parseAs: 'buffer' }, (request, body: Buffer, done) => {
    request.rawBody = body;
    done(null, body);
  });
  // Blobs agents send (server/agents): the route checks their hash itself.
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (request, body: Buffer, done) => {
    request.rawBody = body;
    done(null, body);
  });
  app.addContentTypeParser(['text/plain', 'application/x-www-form-urlencoded'], { parseAs: 'buffer' }, (request, body: Buffer, done) => {
    request.rawBody = body;
    done(null, body.toString('utf8'));
  });

  app.addHook('onRequest', async (request, reply) => {
    if (o.isClosing()) {
      sendError(reply.header('connection', 'close'), new GantryError('SHUTTING_DOWN', 'the server is shutting down'));
      return reply;
    }
    // Fastify answers HEAD on every GET route by itself: HEAD needs what GET needs.
    const method = request.method === 'HEAD' ? 'GET' : request.method;
    if (o.routes.authOf(method, request.routeOptions.url) === 'admin') {
      await o.authenticate(request);
      await o.authorize(request, o.routes.permissionOf(method, request.routeOptions.url) ?? 'server.admin');
    }
    return undefined;
  });

  app.setErrorHandler((error: Error & { statusCode?: number }, request, reply) => {
    if (error instanceof GantryError) {
      if (error.httpStatus >= 500) o.onInternalError(error);
      sendError(reply, error);
      return;
    }
    // Fastify's own refusals (body too large, unknown content type, bad framing) get codes of ours.
    if (error.statusCode && error.statusCode < 500) {
      sendError(reply, clientError(error.statusCode, error.message, request));
      return;
    }
    o.onInternalError(error);
    sendError(reply, new GantryError('INTERNAL', 'internal error (see the server log)'));
  });
  app.setNotFoundHandler((request, reply) => {
    sendError(reply, new GantryError('NOT_FOUND', `no route ${request.method} ${request.url}`));
  });
  return app;
}

/** The one place an error becomes an HTTP answer: the catalogue's status and `{ error: { code, message } }`. */
function sendError(reply: FastifyReply, error: GantryError): void {
  void reply
    .code(error.httpStatus)
    .send({ error: { code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) } });
}

/** A request fastify refused before any route saw it, as an error of the catalogue. */
function clientError(status: number, message: string, request: FastifyRequest): GantryError {
  if (status === 413) return new GantryError('BODY_TOO_LARGE', `the request body is larger than ${BODY_LIMIT} bytes`);
  if (status === 415)
    return new GantryError(
      'UNSUPPORTED_MEDIA_TYPE',
      `cannot read a body of type ${request.headers['content-type'] ?? '(none)'}: send application/json`,
    );
  return new GantryError('BAD_REQUEST', message);
}

/** The bearer token of a request, if any. */
export function bearer(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (!header?.startsWith('Bearer ')) return null;
  return header.slice(7).trim() || null;
}

export function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
