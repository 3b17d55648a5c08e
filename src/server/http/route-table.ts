/**
 * Routes are declared once, with zod schemas for their params, query and body: the same
 * declaration registers the fastify handler, validates the request ("parse at the edges") and
 * produces the OpenAPI document served at /api/openapi.json.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ERROR_CODES, type ErrorCodeInfo } from '../../core/error-codes.ts';
import { InputError } from '../../core/errors.ts';
import { GANTRY_VERSION } from '../../core/version.ts';
import type { Permission } from '../../access/index.ts';

export type Auth = 'admin' | 'none' | 'hook' | 'signature';

/**
 * What a caller must hold for a route with `auth: 'admin'` (src/access/permissions.ts): a
 * permission, checked against the project and environment the request names, or `signed-in`
 * for what every caller may see about itself (its session, the API document).
 */
export type RoutePermission = Permission | 'signed-in';

export interface RouteSpec<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType> {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  summary: string;
  auth: Auth;
  /** Required when `auth` is `admin`: registration refuses a route without it. */
  permission?: RoutePermission;
  params?: P;
  query?: Q;
  body?: B;
  /** Describes a non-JSON or streaming response for the OpenAPI document. */
  produces?: string;
  handler: (input: {
    params: z.output<P>;
    query: z.output<Q>;
    body: z.output<B>;
    request: FastifyRequest;
    reply: FastifyReply;
  }) => Promise<unknown>;
}

type AnyRoute = RouteSpec<z.ZodType, z.ZodType, z.ZodType>;

export class RouteTable {
  readonly #routes: AnyRoute[] = [];
  /** The OpenAPI document, built on first request: converting every schema costs ~15 ms of CPU. */
  #openApi: object | undefined;

  add<P extends z.ZodType = z.ZodObject, Q extends z.ZodType = z.ZodObject, B extends z.ZodType = z.ZodUnknown>(
    spec: RouteSpec<P, Q, B>,
  ): void {
    this.#routes.push(spec as unknown as AnyRoute);
    this.#openApi = undefined;
  }

  /** Every declared route, in declaration order (what tests walk to check each one's auth). */
  list(): { method: RouteSpec<z.ZodType, z.ZodType, z.ZodType>['method']; url: string; auth: Auth; permission?: RoutePermission }[] {
    return this.#routes.map(({ method, url, auth, permission }) => ({ method, url, auth, ...(permission ? { permission } : {}) }));
  }

  authOf(method: string, routeUrl: string | undefined): Auth | undefined {
    return this.#find(method, routeUrl)?.auth;
  }

  permissionOf(method: string, routeUrl: string | undefined): RoutePermission | undefined {
    return this.#find(method, routeUrl)?.permission;
  }

  #find(method: string, routeUrl: string | undefined): AnyRoute | undefined {
    return this.#routes.find((r) => r.method === method && r.url === routeUrl);
  }

  register(app: FastifyInstance): void {
    for (const route of this.#routes) {
      if (route.auth === 'admin' && !route.permission)
        throw new Error(`${route.method} ${route.url} has no permission: declare the one it needs (src/access/permissions.ts)`);
      app.route({
        method: route.method,
        url: route.url,
        handler: async (request, reply) => {
          const params = parse(route.params, request.params, 'path parameters');
          const query = parse(route.query, request.query, 'query');
          const body = parse(route.body, request.body ?? {}, 'body');
          const result = await route.handler({ params, query, body, request, reply });
          if (reply.sent || result === undefined) return reply;
          return result;
        },
      });
    }
  }

  openApi(): object {
    this.#openApi ??= this.#buildOpenApi();
    return this.#openApi;
  }

  #buildOpenApi(): object {
    const paths: Record<string, Record<string, unknown>> = {};
    for (const route of this.#routes) {
      const path = route.url.replace(/:([A-Za-z]+)/g, '{$1}');
      const parameters = [
        ...objectKeys(route.params).map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } })),
        ...objectKeys(route.query).map((name) => ({ name, in: 'query', required: false, schema: { type: 'string' } })),
      ];
      paths[path] ??= {};
      paths[path][route.method.toLowerCase()] = {
        summary: route.summary,
        ...(parameters.length ? { parameters } : {}),
        ...(route.body
          ? {
              requestBody: {
                content: { 'application/json': { schema: z.toJSONSchema(route.body, { io: 'input', unrepresentable: 'any' }) } },
              },
            }
          : {}),
        security: route.auth === 'admin' ? [{ bearer: [] }] : [],
        responses: {
          200: { description: 'OK', content: { [route.produces ?? 'application/json']: {} } },
          default: { description: 'An error (its codes: docs/errors.md)', content: { 'application/json': { schema: ERROR_REF } } },
        },
      };
    }
    return {
      openapi: '3.1.0',
      info: {
        title: 'Gantry API',
        version: GANTRY_VERSION,
        description:
          'Endpoints with a security requirement need `Authorization: Bearer <token>`. Errors are `{ error: { code, message } }`, each code listed in docs/errors.md.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } }, schemas: { Error: errorSchema() } },
      paths,
    };
  }
}

const ERROR_REF = { $ref: '#/components/schemas/Error' };

/** The one error body, its code one of the catalogue's that the server sends (not the CLI's). */
function errorSchema(): object {
  const codes = Object.entries(ERROR_CODES as Record<string, ErrorCodeInfo>).filter(([, info]) => info.from === undefined);
  return {
    type: 'object',
    required: ['error'],
    properties: {
      error: {
        type: 'object',
        required: ['code', 'message'],
        properties: { code: { type: 'string', enum: codes.map(([code]) => code) }, message: { type: 'string' }, details: {} },
      },
    },
  };
}

function parse<T extends z.ZodType>(schema: T | undefined, value: unknown, where: string): z.output<T> {
  if (!schema) return value as z.output<T>;
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`);
  throw new InputError(`invalid ${where}: ${problems.join('; ')}`);
}

function objectKeys(schema: z.ZodType | undefined): string[] {
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
}
