/**
 * Serves the built dashboard (dist/web, made by `vite build web`) at `/`. Hashed files under
 * /assets are cached for a year; every other path that is not the API gets index.html, so the
 * single-page app's own routes survive a reload. Files are small and few: they are read once
 * and kept in memory with their gzip form.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { NotFoundError } from '../../core/errors.ts';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
  '.ico': 'image/x-icon',
};

/** Scripts and style sheets come from this origin only (React and ECharts set styles through the DOM, which CSP allows). */
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/**
 * Where the build is: beside dist/bundle when running the bundled CLI (scripts/bundle.ts), two
 * levels up from dist/server/http when running from dist, under dist/web when running from src.
 * The bundle's own comes first: two levels up from it is the package root, whose web/ holds the
 * dashboard's sources, not its build.
 */
export function webRoot(): string | null {
  for (const candidate of ['../web', '../../web', '../../../dist/web']) {
    const dir = fileURLToPath(new URL(candidate, import.meta.url));
    if (existsSync(join(dir, 'index.html'))) return dir;
  }
  return null;
}

interface Asset {
  body: Buffer;
  gzip: Buffer | null;
  type: string;
}

export interface WebAssetOptions {
  /**
   * A page request answered by sending the browser elsewhere first instead of serving the
   * dashboard (sign-in straight at the provider, in one redirect); null: serve it.
   */
  signInFirst?(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> | null;
}

export function registerWebAssets(app: FastifyInstance, root = webRoot(), options: WebAssetOptions = {}): void {
  const cache = new Map<string, Asset>();

  const load = async (relative: string): Promise<Asset | null> => {
    if (!root) return null;
    const cached = cache.get(relative);
    if (cached) return cached;
    const file = normalize(join(root, relative));
    if (!file.startsWith(root + sep)) return null;
    let body: Buffer;
    try {
      body = await readFile(file);
    } catch {
      return null;
    }
    const type = TYPES[extname(file)] ?? 'application/octet-stream';
    const asset = { body, type, gzip: /text|javascript|json|svg/.test(type) && body.length > 1024 ? gzipSync(body) : null };
    cache.set(relative, asset);
    return asset;
  };

  const send = (request: FastifyRequest, reply: FastifyReply, asset: Asset, immutable: boolean) => {
    void reply
      .header('content-type', asset.type)
      .header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
      .header('x-content-type-options', 'nosniff')
      .header('vary', 'accept-encoding');
    if (asset.gzip && /\bgzip\b/.test(String(request.headers['accept-encoding'] ?? '')))
      return reply.header('content-encoding', 'gzip').send(asset.gzip);
    return reply.send(asset.body);
  };

  app.get('/assets/*', async (request, reply) => {
    const asset = await load(join('assets', (request.params as { '*': string })['*']));
    if (!asset) throw new NotFoundError('no such asset');
    return send(request, reply, asset, true);
  });

  app.get('/*', async (request, reply) => {
    if (request.url.startsWith('/api/')) throw new NotFoundError(`no route GET ${request.url}`);
    const sentElsewhere = options.signInFirst?.(request, reply) ?? null;
    if (sentElsewhere !== null) return sentElsewhere;
    const index = await load('index.html');
    void reply
      .header('content-security-policy', CONTENT_SECURITY_POLICY)
      .header('referrer-policy', 'same-origin')
      .header('x-frame-options', 'DENY');
    if (!index)
      return reply
        .code(503)
        .type('text/plain; charset=utf-8')
        .send('The dashboard is not built. Run `npm run build` (or `npm start`), then reload.\n');
    return send(request, reply, index, false);
  });
}
