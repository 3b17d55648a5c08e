/** The notification API: channels (add, list, remove, test) and the delivery log. */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { InputError, NotFoundError } from '../../core/errors.ts';
import { newId } from '../../core/ids.ts';
import type { NotificationChannel, Project, Store } from '../../store/ports.ts';
import type { RouteTable } from '../http/index.ts';
import type { Notifier } from './notifier.ts';

export interface NotificationRouteDeps {
  store: Store;
  notifier: Notifier;
  encrypt(plaintext: string): string;
  decrypt(ciphertext: string): string;
  requireProject(idOrName: string): Promise<Project>;
  clock: { now(): number };
}

/** What a new channel receives unless told otherwise: what someone would act on. */
export const DEFAULT_EVENTS = [
  'rollout.finished',
  'rollout.rolling-back',
  'rollout.awaiting-approval',
  'deploy.*',
  'slo.alert.*',
  'incident.*',
  'run.failure',
];

const channelBody = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'use letters, digits, ., - and _ (up to 63)'),
  kind: z.enum(['slack', 'webhook']),
  url: z.url({ protocol: /^https?$/, error: 'an http or https URL' }),
  /** The webhook's HMAC key (made up and returned once when absent). */
  secret: z.string().min(16).optional(),
  /** Only this project's events; absent = a default channel for every project. */
  project: z.string().min(1).optional(),
  events: z
    .array(z.string().regex(/^[a-z][a-z.-]*(\.\*)?$/, 'an event type such as slo.alert.fired, or a family such as slo.alert.*'))
    .min(1)
    .optional(),
  environments: z.array(z.string().min(1)).min(1).optional(),
  severities: z.array(z.string().min(1)).min(1).optional(),
});

/** A channel as the API shows it: the URL reduced to its origin, which is not a credential. */
function publicChannel(c: NotificationChannel, decrypt: (s: string) => string) {
  let origin = '';
  try {
    origin = new URL(decrypt(c.targetCiphertext)).origin;
  } catch {
    origin = '(unreadable)';
  }
  return {
    id: c.id,
    name: c.name,
    kind: c.kind,
    projectId: c.projectId,
    target: origin,
    signed: c.secretCiphertext !== null,
    routes: c.routes,
    createdAt: c.createdAt,
  };
}

export function registerNotificationRoutes(routes: RouteTable, deps: NotificationRouteDeps): void {
  const { store } = deps;
  const byName = async (name: string): Promise<NotificationChannel> => {
    const channel = (await store.notifications.channels()).find((c) => c.name === name || c.id === name);
    if (channel === undefined) throw new NotFoundError(`no notification channel '${name}' (\`gantry notify channel list\`)`);
    return channel;
  };

  routes.add({
    method: 'POST',
    url: '/api/notify/channels',
    summary: 'Add a channel: a Slack-compatible incoming webhook, or a JSON webhook signed with HMAC-SHA256 (its secret is returned once)',
    auth: 'admin',
    permission: 'server.admin',
    body: channelBody,
    handler: async ({ body, reply }) => {
      const project = body.project === undefined ? null : await deps.requireProject(body.project);
      if (body.kind === 'slack' && body.secret !== undefined) throw new InputError('a slack channel is not signed: leave out secret');
      const secret = body.kind === 'webhook' ? (body.secret ?? randomBytes(32).toString('hex')) : null;
      const channel = await store.notifications.addChannel({
        id: newId(),
        projectId: project?.id ?? null,
        name: body.name,
        kind: body.kind,
        targetCiphertext: deps.encrypt(body.url),
        secretCiphertext: secret === null ? null : deps.encrypt(secret),
        routes: { events: body.events ?? DEFAULT_EVENTS, environments: body.environments, severities: body.severities },
      });
      reply.code(201);
      return { channel: publicChannel(channel, deps.decrypt), ...(secret !== null && body.secret === undefined ? { secret } : {}) };
    },
  });

  routes.add({
    method: 'GET',
    url: '/api/notify/channels',
    summary: 'The channels (URLs shown by origin only)',
    auth: 'admin',
    permission: 'server.read',
    handler: async () => ({ channels: (await store.notifications.channels()).map((c) => publicChannel(c, deps.decrypt)) }),
  });

  routes.add({
    method: 'DELETE',
    url: '/api/notify/channels/:name',
    summary: 'Remove a channel and its delivery log',
    auth: 'admin',
    permission: 'server.admin',
    params: z.object({ name: z.string().min(1) }),
    handler: async ({ params }) => {
      const channel = await byName(params.name);
      await store.notifications.removeChannel(channel.id);
      return { removed: channel.name };
    },
  });

  routes.add({
    method: 'POST',
    url: '/api/notify/channels/:name/test',
    summary: 'Send a test notification to a channel now (not queued); answers whether it was accepted',
    auth: 'admin',
    permission: 'server.admin',
    params: z.object({ name: z.string().min(1) }),
    handler: async ({ params }) => {
      const channel = await byName(params.name);
      const at = new Date(deps.clock.now()).toISOString();
      const payload = { id: 0, type: 'notify.test', actor: 'api', at, data: {}, project: null, environment: null };
      const error = await deps.notifier
        .send(channel, {
          id: 0,
          channelId: channel.id,
          eventId: 0,
          idempotencyKey: `${channel.id}:test:${deps.clock.now()}`,
          status: 'pending',
          attempts: 0,
          nextAttemptMs: 0,
          lastError: null,
          payload,
          createdAt: at,
          deliveredAt: null,
        })
        .then(
          () => null,
          (e: unknown) => (e as Error).message,
        );
      return { delivered: error === null, error };
    },
  });

  routes.add({
    method: 'GET',
    url: '/api/notify/deliveries',
    summary: 'The delivery log, newest first: each notification, its attempts, status and last error',
    auth: 'admin',
    permission: 'server.read',
    query: z.object({
      channel: z.string().min(1).optional(),
      status: z.enum(['pending', 'delivered', 'failed']).optional(),
      limit: z.coerce.number().int().min(1).max(1000).optional(),
    }),
    handler: async ({ query }) => {
      const channelId = query.channel === undefined ? undefined : (await byName(query.channel)).id;
      const channels = new Map((await store.notifications.channels()).map((c) => [c.id, c.name]));
      const rows = await store.notifications.deliveries({ channelId, status: query.status, limit: query.limit ?? 100 });
      return { deliveries: rows.map((d) => ({ ...d, channel: channels.get(d.channelId) ?? d.channelId })) };
    },
  });
}
