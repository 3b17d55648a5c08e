/**
 * The HTTP shell every route shares, built without listening: body parsers that keep the raw
 * bytes (webhook signatures are computed over them), 503 while closing, authentication by the
 * route table's `auth` field, and typed errors mapped to `{ error: { code, message } }` once.
 */
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { GantryError } from '../../core/errors.ts';
import type { RouteTable } from './route-table.ts';

declare module 'fastify' {
  interface FastifyRequest {
    rawBody?: Buffer;
    actor?: string;
  }
}

export interface HttpAppOptions {
  routes: RouteTable;
  /** Sets `request.actor` or throws UNAUTHORIZED/CSRF; called for routes whose auth is `admin`. */
  authenticate(request: FastifyRequest): Promise<void>;
  /** True once shutdown began: every request gets 503. */
  isClosing(): boolean;
  /** Where an unexpected error (a bug of ours) is reported; the client sees only INTERNAL. */
  onInternalError(error: Error): void;
}

export function createHttpApp(o: HttpAppOptions): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 8 * 1024 * 1024 });

  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body: Buffer, done) => {
    request.rawBody = body;
    if (body.length === 0) {
      done(null, {});
      return;
    }
    try {
      done(null, JSON.parse(body.toString('utf8')));
    } catch {
      done(new GantryError('INVALID_JSON', 'the request body is not valid JSON', 400), undefined);
    }
  });
  app.addContentTypeParser(['text/plain', 'application/x-www-form-urlencoded'], { parseAs: 'buffer' }, (request, body: Buffer, done) => {
    request.rawBody = body;
    done(null, body.toString('utf8'));
  });

  app.addHook('onRequest', async (request, reply) => {
    if (o.isClosing()) {
      reply
        .code(503)
        .header('connection', 'close')
        .send({ error: { code: 'SHUTTING_DOWN', message: 'the server is shutting down' } });
      return reply;
    }
    if (o.routes.authOf(request.method, request.routeOptions.url) === 'admin') await o.authenticate(request);
    return undefined;
  });

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, _request, reply) => {
    if (error instanceof GantryError) {
      void reply
        .code(error.httpStatus)
        .send({ error: { code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) } });
      return;
    }
    if (error.statusCode && error.statusCode < 500) {
      void reply.code(error.statusCode).send({ error: { code: error.code ?? 'BAD_REQUEST', message: error.message } });
      return;
    }
    o.onInternalError(error);
    void reply.code(500).send({ error: { code: 'INTERNAL', message: 'internal error (see the server log)' } });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({ error: { code: 'NOT_FOUND', message: `no route ${request.method} ${request.url}` } });
  });
  return app;
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
