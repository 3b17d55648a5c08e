/**
 * The Kubernetes API server's pod proxy, scripted: a loopback front to the scripted Kubernetes
 * API (test/support/scripted-kubernetes-api.ts, a FAKE: no API server runs here) that forwards
 * `GET /api/v1/namespaces/NS/pods/NAME:PORT/proxy/<path>` to a real process standing in for that
 * pod (a `gantry proxy` on loopback), as the API server relays to a pod's port. Every other
 * request goes to the scripted API unchanged. A pod without a stand-in answers 503, as the API
 * server does for a pod it cannot reach.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

const POD_PROXY = /^\/api\/v1\/namespaces\/[^/]+\/pods\/([^/:]+):(\d+)\/proxy(\/.*)?$/;

export class PodProxyFront {
  /** The loopback port standing in for each pod's port, by `name:port`. */
  readonly pods = new Map<string, number>();
  /** Every pod-proxy request forwarded, as `pod path`, in order. */
  readonly forwarded: string[] = [];
  readonly #server: Server;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(apiUrl: string): Promise<PodProxyFront> {
    const api = new URL(apiUrl);
    const server = createServer();
    const front = new PodProxyFront(server);
    server.on('request', (req, res) => {
      const url = new URL(req.url ?? '/', 'http://front');
      const pod = POD_PROXY.exec(url.pathname);
      const target = pod ? { port: front.pods.get(`${pod[1]}:${pod[2]}`), path: `${pod[3] ?? '/'}${url.search}` } : null;
      if (target && target.port === undefined) {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ kind: 'Status', status: 'Failure', code: 503, message: `no endpoint for pod ${pod?.[1]}` }));
        return;
      }
      if (target) front.forwarded.push(`${pod?.[1]} ${target.path}`);
      const upstream = request(
        target
          ? { host: '127.0.0.1', port: target.port, path: target.path, method: req.method, headers: { accept: 'application/json' } }
          : { host: api.hostname, port: api.port, path: req.url, method: req.method, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      res.on('close', () => upstream.destroy());
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return front;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** Points a kubeconfig written by the scripted API at this front instead. */
  redirectKubeconfig(file: string, apiUrl: string): void {
    writeFileSync(file, readFileSync(file, 'utf8').replaceAll(apiUrl, this.url));
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
