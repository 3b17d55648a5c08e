/** Service templates over HTTP: the list with each template's fields, and a new service made from one. */
import { z } from 'zod';
import type { RouteTable } from '../http/index.ts';
import { listTemplates } from '../../templates/service-template.ts';
import { type NewServiceDeps, newService } from './new-service.ts';

export function registerTemplateRoutes(routes: RouteTable, deps: NewServiceDeps): void {
  routes.add({
    method: 'GET',
    url: '/api/templates',
    summary: "Service templates (built-in and a platform team's own) with their fields",
    auth: 'admin',
    permission: 'signed-in',
    handler: async () => ({
      templates: (await listTemplates(deps.dataDir)).map(({ dir: _dir, ...template }) => template),
    }),
  });
  routes.add({
    method: 'POST',
    url: '/api/services',
    summary:
      'Create a service from a template: a repository (under <data>/services/ unless a path is given), registered, its first pipeline running',
    auth: 'admin',
    permission: 'server.admin',
    body: z.object({
      template: z.string().min(1),
      name: z.string().min(1),
      fields: z.record(z.string(), z.string()).default({}),
      path: z.string().min(1).optional(),
    }),
    handler: async ({ body, request, reply }) => {
      const created = await newService(deps, body, request.actor ?? 'api');
      reply.code(201);
      return created;
    },
  });
}
