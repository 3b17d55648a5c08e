/**
 * What an API request costs the server: its CPU per authenticated request, from /proc, for the
 * requests the dashboard and scripts make most (a project, its runs, the run list), made by a
 * user's token (read from the store on every request: the token, the user, its groups, its
 * grants) with CONCURRENCY requests in flight over keep-alive connections.
 *
 * Baseline in the same run, same client, same bodies: the framework Gantry's API is built on
 * (Fastify, in a child process of its own) answering each path with the body Gantry gave for it,
 * after reading the bearer header. The ratio is what Gantry adds per request over that floor:
 * authentication, authorisation, the store, the routes' own work.
 *
 * Env: REQUESTS (per path, default 1000), CONCURRENCY (default 8), ROUNDS (default 3: Gantry and
 * the floor alternate; medians).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CLOCK_TICKS_PER_SECOND, readStat } from '../src/platform/proc.ts';
import { benchMain, freePort, NODE, progress, REPO_ROOT, round, spread, startServer, tempDir, tempRepo, track, waitFor } from './lib.ts';

const REQUESTS = Number(process.env.REQUESTS ?? 1000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 8);
const ROUNDS = Number(process.env.ROUNDS ?? 3);

const PIPELINE = 'pipeline:\n  jobs:\n    build:\n      steps:\n        - run: echo built\n';

/** The floor: Fastify answering each path with a fixed body once it has read the bearer header. */
const FLOOR_SERVER = `
import { readFile } from 'node:fs/promises';
import Fastify from 'fastify';
const [port, bodiesFile] = process.argv.slice(1);
const bodies = JSON.parse(await readFile(bodiesFile, 'utf8'));
const app = Fastify({ logger: false });
app.get('/*', async (request, reply) => {
  const auth = request.headers.authorization ?? '';
  if (!auth.startsWith('Bearer ')) return reply.code(401).send({ error: { code: 'UNAUTHORIZED' } });
  const body = bodies[request.url];
  if (body === undefined) return reply.code(404).send({ error: { code: 'NOT_FOUND' } });
  reply.type('application/json; charset=utf-8');
  return body;
});
await app.listen({ host: '127.0.0.1', port: Number(port) });
process.stdout.write('ready\\n');
`;

function cpuMs(pid: number): number {
  const stat = readStat(pid);
  if (stat === null) throw new Error(`process ${pid} is gone`);
  return (stat.cpuTicks * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** REQUESTS GETs of each path, CONCURRENCY at a time; the server's CPU per request in µs. */
async function load(base: string, pid: number, token: string, paths: string[]): Promise<number> {
  const before = cpuMs(pid);
  let sent = 0;
  const total = REQUESTS * paths.length;
  const worker = async () => {
    while (sent < total) {
      const path = paths[sent++ % paths.length] as string;
      const response = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
      await response.arrayBuffer();
      if (response.status !== 200) throw new Error(`GET ${path}: ${response.status}`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return ((cpuMs(pid) - before) * 1000) / total;
}

await benchMain('api-requests', 120_000, async () => {
  const server = await startServer({ dataDir: await tempDir('api-data') });
  const repo = await tempRepo('api-repo', PIPELINE);
  await server.api('POST', '/api/projects', { name: 'shop', path: repo });
  const { run } = await server.api<{ run: { id: string } }>('POST', '/api/projects/shop/runs', {});
  await server.api('POST', '/api/users', { name: 'dana', groups: ['developers'] });
  await server.api('PUT', '/api/grants', { subject: 'group:developers', role: 'viewer' });
  const { token } = await server.api<{ token: string }>('POST', '/api/tokens', { name: 'bench', owner: 'dana' });
  const paths = ['/api/projects/shop', `/api/runs/${run.id}`, '/api/runs?project=shop&limit=20'];

  // The bodies Gantry answers with (the run settled first, so they do not change), for the floor to send.
  await waitFor(
    'the run to finish',
    async () => {
      const { status } = await server.api<{ status: string }>('GET', `/api/runs/${run.id}`);
      return status === 'success' || status === 'failure' ? status : undefined;
    },
    60_000,
    100,
  );
  const bodies: Record<string, string> = {};
  for (const path of paths) {
    const response = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    if (response.status !== 200) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`);
    bodies[path] = await response.text();
  }
  const dir = await tempDir('api-floor');
  const bodiesFile = join(dir, 'bodies.json');
  await writeFile(bodiesFile, JSON.stringify(bodies));
  const floorPort = await freePort();
  // Evaluated in the repository, so that it imports the project's own Fastify.
  const floor = spawn(NODE, ['--input-type=module', '-e', FLOOR_SERVER, String(floorPort), bodiesFile], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  track(floor, false);
  await once(floor.stdout, 'data');
  const floorPid = floor.pid as number;
  const floorUrl = `http://127.0.0.1:${floorPort}`;

  // Warm both up (JIT, statement caches), then alternate.
  await load(server.url, server.pid, token, paths);
  await load(floorUrl, floorPid, token, paths);
  const gantry: number[] = [];
  const floorUs: number[] = [];
  for (let round_ = 0; round_ < ROUNDS; round_++) {
    gantry.push(await load(server.url, server.pid, token, paths));
    floorUs.push(await load(floorUrl, floorPid, token, paths));
    progress(`round ${round_ + 1}: Gantry ${round(gantry.at(-1) as number, 1)} µs/request, floor ${round(floorUs.at(-1) as number, 1)}`);
  }
  floor.kill('SIGTERM');
  await server.stop();
  const g = spread(gantry, 1);
  const f = spread(floorUs, 1);
  return {
    requests_per_path: REQUESTS,
    paths,
    concurrency: CONCURRENCY,
    rounds: ROUNDS,
    server_cpu_us_per_request: g,
    baseline: { name: 'Fastify alone answering the same bodies (same client, same run)', server_cpu_us_per_request: f },
    ratio_gantry_to_floor: round(g.median / f.median, 2),
  };
});
