/**
 * The in-cluster proxy's route file: what `src/kubernetes/manifests.ts` writes into the routes
 * ConfigMap (each running release's Service URL and weight, stable first, then the canary's match
 * rules), read back as the `RouteTable` the proxy routes by. The two sides are kept in agreement
 * by a test that feeds a rendered ConfigMap to this parser (test/proxy/cluster-proxy.test.ts).
 */
import type { MatchRule } from '../core/delivery-config.ts';
import { InputError } from '../core/errors.ts';
import { validateRouteTable, type RouteTable, type Upstream } from './route-table.ts';

/** One release as the route file names it. */
export interface ClusterRoute {
  version: string;
  /** Percent of traffic, 0–100. */
  weight: number;
  /** `http://host:port` of the release's Service. */
  upstream: string;
}

/** The route file's shape. */
export interface ClusterRoutesFile {
  routes: ClusterRoute[];
  match: MatchRule[];
}

/**
 * Parses and validates the route file's text; InputError naming each problem. At most two
 * releases (stable, then canary): a rollout never runs more, and a third would have no pool.
 * Upstream ids follow the version, so a release that moves from canary to stable keeps its
 * keep-alive connections across the change.
 */
export function parseClusterRoutes(text: string): RouteTable {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new InputError(`the route file is not JSON: ${(error as Error).message}`);
  }
  const file = body as Partial<ClusterRoutesFile> | null;
  if (typeof file !== 'object' || file === null || !Array.isArray(file.routes) || !(file.match === undefined || Array.isArray(file.match)))
    throw new InputError('invalid route file: expected { routes: [{ version, weight, upstream }], match: [...] }');
  if (file.routes.length === 0) throw new InputError('invalid route file: routes is empty');
  if (file.routes.length > 2) throw new InputError(`invalid route file: at most two releases (stable, canary), got ${file.routes.length}`);
  const upstreams: Upstream[] = file.routes.map((route, i) => {
    const pool = i === 0 ? 'stable' : 'canary';
    if (typeof route !== 'object' || route === null) throw new InputError(`invalid route file: routes[${i}] must be an object`);
    const address = upstreamAddress(route.upstream, i);
    return { id: `version-${String(route.version)}`, host: address.host, port: address.port, pool, version: String(route.version) };
  });
  const [stable, canary] = file.routes;
  const table: RouteTable = {
    upstreams,
    weights: { stable: stable?.weight ?? Number.NaN, canary: canary === undefined ? 0 : canary.weight },
    match: file.match ?? [],
  };
  validateRouteTable(table);
  return table;
}

function upstreamAddress(value: unknown, index: number): { host: string; port: number } {
  let url: URL;
  try {
    url = new URL(String(value));
  } catch {
    throw new InputError(`invalid route file: routes[${index}].upstream must be an http:// URL (got ${JSON.stringify(value)})`);
  }
  if (url.protocol !== 'http:')
    throw new InputError(`invalid route file: routes[${index}].upstream must be an http:// URL (got ${url.href})`);
  // URL keeps IPv6 literals in brackets; net.connect wants them bare.
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: url.port === '' ? 80 : Number(url.port) };
}
