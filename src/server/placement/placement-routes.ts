/**
 * The placement protocol's routes (src/placement/protocol.ts; docs/decisions/0043) and where each
 * placed environment runs. Protocol routes take an agent's own token only (AGENT_TOKEN_REQUIRED
 * otherwise), as the job protocol's do.
 */
import { readFile } from 'node:fs/promises';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { SHA256_PATTERN } from '../../agents/index.ts';
import { GantryError, NotFoundError } from '../../core/errors.ts';
import { reportRequestSchema, syncRequestSchema } from '../../placement/index.ts';
import type { Store } from '../../store/ports.ts';
import { AGENT_PRINCIPAL_PREFIX } from '../auth/index.ts';
import type { RouteTable } from '../http/index.ts';
import type { AgentPlacement } from './agent-placement.ts';
import type { ReleaseTrees } from './release-trees.ts';

export interface PlacementRouteDeps {
  store: Store;
  placement: AgentPlacement;
  trees: ReleaseTrees;
  /**
   * Several servers (docs/decisions/0037, 0043): the URL of the server that drives rollouts when
   * it is not this one, else null. The placement book lives there alone, so the protocol's calls
   * made here are answered 503 NOT_ROLLOUT_DRIVER naming it, and the agent follows.
   */
  rolloutDriver?: () => Promise<string | null>;
}

function agentOf(request: FastifyRequest): string {
  const id = request.principal?.id ?? '';
  if (!id.startsWith(AGENT_PRINCIPAL_PREFIX)) throw new GantryError('AGENT_TOKEN_REQUIRED', `${id || 'the caller'} is not an agent`);
  return id.slice(AGENT_PRINCIPAL_PREFIX.length);
}

export function registerPlacementRoutes(routes: RouteTable, deps: PlacementRouteDeps): void {
  const { placement, trees, store } = deps;
  const mustHoldBook = async () => {
    const driver = (await deps.rolloutDriver?.()) ?? null;
    if (driver !== null)
      throw new GantryError('NOT_ROLLOUT_DRIVER', `this server does not hold the placement book; ${driver} does: poll it there`, {
        driver,
      });
  };
  routes.add({
    method: 'POST',
    url: '/api/agents/placement/sync',
    summary: 'Placement protocol: report what runs here, then wait for this agent’s desired instances, proxies and proxy calls (long poll)',
    auth: 'admin',
    permission: 'agent.work',
    body: syncRequestSchema,
    handler: async ({ body, request }) => {
      const name = agentOf(request);
      await mustHoldBook();
      await placement.report(name, body);
      return { ...(await placement.desired(name, body.version, body.waitMs)), heartbeatMs: placement.heartbeatMs };
    },
  });
  routes.add({
    method: 'POST',
    url: '/api/agents/placement/report',
    summary: "Placement protocol: instances' changes and answers to proxy calls, as they happen",
    auth: 'admin',
    permission: 'agent.work',
    body: reportRequestSchema,
    handler: async ({ body, request }) => {
      const name = agentOf(request);
      await mustHoldBook();
      await placement.report(name, body);
      return { ok: true };
    },
  });
  routes.add({
    method: 'GET',
    url: '/api/agents/placement/blobs/:sha256',
    summary: 'Placement protocol: a file of a release placed on agents, by content hash',
    auth: 'admin',
    permission: 'agent.work',
    params: z.object({ sha256: z.string().regex(SHA256_PATTERN, 'a sha256 in lowercase hex') }),
    produces: 'application/octet-stream',
    handler: async ({ params, request, reply }) => {
      agentOf(request);
      await mustHoldBook();
      const data = await readFile(trees.blobFile(params.sha256));
      reply.header('content-type', 'application/octet-stream');
      return data;
    },
  });
  routes.add({
    method: 'GET',
    url: '/api/projects/:project/environments/:env/placement',
    summary: 'Where a placed environment runs: its proxy’s agent and address, each instance’s agent, and the agents placement knows',
    auth: 'admin',
    permission: 'read',
    params: z.object({ project: z.string(), env: z.string() }),
    handler: async ({ params }) => {
      const project = await store.projects.get(params.project);
      if (!project) throw new NotFoundError(`no project named ${params.project}`);
      const key = `${project.id}:${params.env}`;
      const instances = placement
        .list()
        .filter((s) => placement.labels(s.id)?.environment === key)
        .map((s) => ({
          id: s.id,
          state: s.state,
          port: s.port,
          agent: placement.agentOf(s.id),
          releaseId: placement.labels(s.id)?.releaseId,
        }));
      return { proxy: placement.proxyLocation(key), instances, agents: placement.agents() };
    },
  });
}
