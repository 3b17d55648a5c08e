/** The incident API: list, open, show (timeline, impact, suggestions), lifecycle, notes, postmortem, stats. */
import { z } from 'zod';
import { InputError } from '../../core/errors.ts';
import type { Project } from '../../store/ports.ts';
import type { RouteTable } from '../http/index.ts';
import type { IncidentService } from './incident-service.ts';

export interface IncidentRouteDeps {
  incidents: IncidentService;
  requireProject(idOrName: string): Promise<Project>;
}

const one = z.object({ project: z.string().min(1), number: z.coerce.number().int().min(1) });
const STATES = ['open', 'acknowledged', 'mitigated', 'resolved'] as const;

/** Alertmanager's webhook payload, version 4 (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config). */
const alertmanagerPayload = z.object({
  version: z.literal('4'),
  groupKey: z.string().min(1),
  status: z.enum(['firing', 'resolved']),
  receiver: z.string(),
  groupLabels: z.record(z.string(), z.string()),
  commonLabels: z.record(z.string(), z.string()),
  commonAnnotations: z.record(z.string(), z.string()),
  externalURL: z.string().optional(),
  alerts: z.array(
    z.object({
      status: z.enum(['firing', 'resolved']),
      labels: z.record(z.string(), z.string()),
      startsAt: z.string(),
      endsAt: z.string().optional(),
    }),
  ),
});

export function registerIncidentRoutes(routes: RouteTable, deps: IncidentRouteDeps): void {
  const { incidents } = deps;
  routes.add({
    method: 'POST',
    url: '/api/alertmanager/webhook',
    summary:
      "Alertmanager's webhook receiver: a firing group opens an incident (the project from `?project=` or the alerts' `project` label), a resolved one resolves it",
    auth: 'admin',
    permission: 'alert.receive',
    query: z.object({ project: z.string().min(1).optional() }),
    body: alertmanagerPayload,
    handler: async ({ query, body }) => {
      const name = query.project ?? body.commonLabels.project;
      if (name === undefined)
        throw new InputError(
          'say which project the alerts are about: `?project=<name>` in the webhook URL, or a `project` label on the alerts',
        );
      const incident = await incidents.fromAlertmanager(await deps.requireProject(name), body);
      return { incident: incident ?? null };
    },
  });
  routes.add({
    method: 'GET',
    url: '/api/incidents',
    summary: 'Incidents, newest first (of one project, in some states), with time to acknowledge and to restore',
    auth: 'admin',
    permission: 'read',
    query: z.object({
      project: z.string().min(1).optional(),
      state: z.string().optional(),
      limit: z.coerce.number().int().min(1).max(1000).optional(),
    }),
    handler: async ({ query }) => {
      const projectId = query.project === undefined ? undefined : (await deps.requireProject(query.project)).id;
      const states = query.state === undefined ? undefined : z.array(z.enum(STATES)).parse(query.state.split(','));
      return { incidents: await incidents.list({ projectId, states, limit: query.limit }) };
    },
  });
  routes.add({
    method: 'POST',
    url: '/api/projects/:project/incidents',
    summary: 'Open an incident by hand',
    auth: 'admin',
    permission: 'incident.manage',
    params: z.object({ project: z.string().min(1) }),
    body: z.object({
      title: z.string().min(1).max(300),
      environment: z.string().min(1).optional(),
      severity: z.enum(['sev1', 'sev2', 'sev3']).optional(),
    }),
    handler: async ({ params, body, request, reply }) => {
      const project = await deps.requireProject(params.project);
      reply.code(201);
      return { incident: await incidents.open(project, body, request.actor ?? 'api') };
    },
  });
  routes.add({
    method: 'GET',
    url: '/api/projects/:project/incidents/stats',
    summary: "Median time to acknowledge and to restore of the project's incidents",
    auth: 'admin',
    permission: 'read',
    params: z.object({ project: z.string().min(1) }),
    handler: async ({ params }) => incidents.stats((await deps.requireProject(params.project)).id),
  });
  routes.add({
    method: 'GET',
    url: '/api/projects/:project/incidents/:number',
    summary: 'One incident: its notes, the timeline from the event log, the impact, suggested actions',
    auth: 'admin',
    permission: 'read',
    params: one,
    handler: async ({ params }) => incidents.view(await deps.requireProject(params.project), params.number),
  });
  for (const [path, action] of [
    ['ack', 'acknowledge'],
    ['mitigate', 'mitigate'],
    ['resolve', 'resolve'],
  ] as const) {
    routes.add({
      method: 'POST',
      url: `/api/projects/:project/incidents/:number/${path}`,
      summary: `Mark an incident ${action === 'acknowledge' ? 'acknowledged' : `${action}d`} (later steps imply the earlier ones)`,
      auth: 'admin',
      permission: 'incident.manage',
      params: one,
      handler: async ({ params, request }) => ({
        incident: await incidents.act(await deps.requireProject(params.project), params.number, action, request.actor ?? 'api'),
      }),
    });
  }
  routes.add({
    method: 'PUT',
    url: '/api/projects/:project/incidents/:number/owner',
    summary: 'Reassign an incident; recorded on its timeline',
    auth: 'admin',
    permission: 'incident.manage',
    params: one,
    body: z.strictObject({ owner: z.string().trim().min(1).max(200) }),
    handler: async ({ params, body, request }) => ({
      incident: await incidents.update(
        await deps.requireProject(params.project),
        params.number,
        { owner: body.owner },
        request.actor ?? 'api',
      ),
    }),
  });
  routes.add({
    method: 'PUT',
    url: '/api/projects/:project/incidents/:number/severity',
    summary: "Change an incident's severity; recorded on its timeline",
    auth: 'admin',
    permission: 'incident.manage',
    params: one,
    body: z.strictObject({ severity: z.enum(['sev1', 'sev2', 'sev3']) }),
    handler: async ({ params, body, request }) => ({
      incident: await incidents.update(
        await deps.requireProject(params.project),
        params.number,
        { severity: body.severity },
        request.actor ?? 'api',
      ),
    }),
  });
  routes.add({
    method: 'POST',
    url: '/api/projects/:project/incidents/:number/notes',
    summary: "Add a note to an incident's timeline",
    auth: 'admin',
    permission: 'incident.manage',
    params: one,
    body: z.object({ text: z.string().min(1).max(10_000) }),
    handler: async ({ params, body, request, reply }) => {
      await incidents.note(await deps.requireProject(params.project), params.number, body.text, request.actor ?? 'api');
      reply.code(201);
      return { ok: true };
    },
  });
  routes.add({
    method: 'GET',
    url: '/api/projects/:project/incidents/:number/postmortem',
    summary: 'A postmortem draft in Markdown',
    auth: 'admin',
    permission: 'read',
    params: one,
    produces: 'text/markdown',
    handler: async ({ params, reply }) =>
      reply.type('text/markdown; charset=utf-8').send(await incidents.postmortem(await deps.requireProject(params.project), params.number)),
  });
}
