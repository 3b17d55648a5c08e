/**
 * The agent protocol's routes (src/agents/protocol.ts; docs/decisions/0036) and the agents'
 * registration. Protocol routes need `agent.work` and an agent's own token: an administrator's
 * token holds the permission by role but is still refused (AGENT_TOKEN_REQUIRED), so nothing but
 * an agent can take a job or report into one.
 */
import { readFile } from 'node:fs/promises';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { finishRequestSchema, logRequestSchema, pollRequestSchema, renewRequestSchema, SHA256_PATTERN } from '../../agents/index.ts';
import { GantryError, InputError, NotFoundError } from '../../core/errors.ts';
import type { Value } from '../../core/types.ts';
import type { EventEnvironment, Store } from '../../store/ports.ts';
import { AGENT_PRINCIPAL_PREFIX, hashToken, newAgentToken } from '../auth/index.ts';
import type { RouteTable } from '../http/index.ts';
import type { AgentDispatcher } from './agent-dispatcher.ts';

export interface AgentRouteDeps {
  store: Store;
  dispatcher: AgentDispatcher;
  eventEnv(): EventEnvironment;
  /** Told of a revocation, so what else the agent runs (placed instances, its proxy) moves at once. */
  onRevoked?: (name: string) => void;
}

const AGENT_NAME = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'lowercase letters, digits, ".", "_" and "-", up to 63');
const LABEL = z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]*$/, 'letters, digits, - and _, starting with a letter or _');
const SHA256 = z.object({ sha256: z.string().regex(SHA256_PATTERN, 'a sha256 in lowercase hex') });

/** The calling agent's name, or AGENT_TOKEN_REQUIRED. */
export function agentOf(request: FastifyRequest): string {
  const id = request.principal?.id ?? '';
  if (!id.startsWith(AGENT_PRINCIPAL_PREFIX)) throw new GantryError('AGENT_TOKEN_REQUIRED', `${id || 'the caller'} is not an agent`);
  return id.slice(AGENT_PRINCIPAL_PREFIX.length);
}

export function registerAgentRoutes(routes: RouteTable, deps: AgentRouteDeps): void {
  const { store, dispatcher } = deps;
  // An agent's registered labels never change: read once per agent, not on every poll.
  const labelsOf = new Map<string, Promise<string[]>>();
  const registeredLabels = (name: string) => {
    let labels = labelsOf.get(name);
    if (!labels) {
      labels = store.agents.findByName(name).then((a) => a?.labels ?? []);
      labelsOf.set(name, labels);
    }
    return labels;
  };
  const record = (type: string, actor: string | undefined, data: Record<string, Value>) =>
    store.events.append({ type, subject: 'server', actor: actor ?? 'api', data, env: deps.eventEnv() });

  routes.add({
    method: 'POST',
    url: '/api/agents',
    summary: 'Register a build agent; the answer carries its token, shown once',
    auth: 'admin',
    permission: 'server.admin',
    body: z.strictObject({ name: AGENT_NAME, labels: z.array(LABEL).default([]) }),
    handler: async ({ body, request, reply }) => {
      const token = newAgentToken();
      const agent = await store.agents.create({ name: body.name, tokenHash: hashToken(token), labels: body.labels });
      await record('agent.added', request.actor, { name: agent.name, labels: agent.labels });
      reply.code(201);
      return { agent, token };
    },
  });
  routes.add({
    method: 'GET',
    url: '/api/agents',
    summary: 'Build agents, when each was last heard from, and the jobs they hold',
    auth: 'admin',
    permission: 'server.read',
    handler: async () => {
      const leases = dispatcher.leases();
      return {
        leaseMs: dispatcher.leaseMs,
        agents: (await store.agents.list()).map((a) => {
          const presence = dispatcher.presenceOf(a.name);
          const state = a.revokedAt ? 'revoked' : presence.connected ? 'connected' : 'lost';
          const lastSeenAt =
            [a.lastSeenAt, presence.heardAt]
              .filter((t): t is string => t !== null)
              .sort()
              .at(-1) ?? null;
          const announced = presence.labels.filter((l) => !a.labels.includes(l));
          return {
            ...a,
            lastSeenAt,
            state,
            capacity: presence.capacity,
            announcedLabels: announced,
            leases: leases.filter((l) => l.agentId === a.name),
          };
        }),
      };
    },
  });
  routes.add({
    method: 'DELETE',
    url: '/api/agents/:name',
    summary: 'Revoke an agent: its token stops working at once and its jobs go to other agents',
    auth: 'admin',
    permission: 'server.admin',
    params: z.object({ name: z.string() }),
    handler: async ({ params, request }) => {
      if (!(await store.agents.findByName(params.name))) throw new NotFoundError(`no agent named ${params.name}`);
      const revoked = await store.agents.revoke(params.name, new Date().toISOString());
      dispatcher.dropAgent(params.name);
      deps.onRevoked?.(params.name);
      labelsOf.delete(params.name);
      if (revoked) await record('agent.revoked', request.actor, { name: params.name });
      return { revoked };
    },
  });

  routes.add({
    method: 'POST',
    url: '/api/agents/poll',
    summary: 'Agent protocol: wait for jobs (long poll)',
    auth: 'admin',
    permission: 'agent.work',
    body: pollRequestSchema,
    handler: async ({ body, request }) => {
      const name = agentOf(request);
      const labels = [...new Set([...(await registeredLabels(name)), ...body.labels])];
      return { assignments: await dispatcher.poll(name, labels, body.free, body.waitMs) };
    },
  });
  routes.add({
    method: 'POST',
    url: '/api/agents/renew',
    summary: 'Agent protocol: renew the leases of running jobs',
    auth: 'admin',
    permission: 'agent.work',
    body: renewRequestSchema,
    handler: async ({ body, request }) => ({ leases: dispatcher.renew(agentOf(request), body.leases) }),
  });
  routes.add({
    method: 'POST',
    url: '/api/agents/log',
    summary: "Agent protocol: append to a job's log",
    auth: 'admin',
    permission: 'agent.work',
    body: logRequestSchema,
    handler: async ({ body, request }) => {
      await dispatcher.log(agentOf(request), body, body.offset, Buffer.from(body.data, 'base64'));
      return { ok: true };
    },
  });
  routes.add({
    method: 'GET',
    url: '/api/agents/blobs/:sha256',
    summary: "Agent protocol: a file of a job's source or needed artifacts, by content hash",
    auth: 'admin',
    permission: 'agent.work',
    params: z.object({ sha256: z.string() }),
    produces: 'application/octet-stream',
    handler: async ({ params, request, reply }) => {
      agentOf(request);
      const { sha256 } = SHA256.parse(params);
      const data = await readFile(dispatcher.blobFile(sha256));
      reply.header('content-type', 'application/octet-stream');
      return data;
    },
  });
  routes.add({
    method: 'PUT',
    url: '/api/agents/blobs/:sha256',
    summary: "Agent protocol: send a file of a job's results, by content hash (checked)",
    auth: 'admin',
    permission: 'agent.work',
    params: z.object({ sha256: z.string() }),
    handler: async ({ params, request }) => {
      agentOf(request);
      const parsed = SHA256.safeParse(params);
      if (!parsed.success) throw new InputError('the blob name must be a sha256 in lowercase hex');
      if (!Buffer.isBuffer(request.body)) throw new InputError('send the blob as application/octet-stream');
      await dispatcher.putBlob(parsed.data.sha256, request.body);
      return { ok: true };
    },
  });
  routes.add({
    method: 'POST',
    url: '/api/agents/finish',
    summary: "Agent protocol: a job's result and the manifest of its files",
    auth: 'admin',
    permission: 'agent.work',
    body: finishRequestSchema,
    handler: async ({ body, request }) => {
      await dispatcher.finish(agentOf(request), body);
      return { ok: true };
    },
  });
}
