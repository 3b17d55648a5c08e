/** The platform as code over HTTP: plan (read) and apply (server.admin) a desired estate. */
import { z } from 'zod';
import { type Estate, estateSchema } from '../../estate/index.ts';
import type { RouteTable } from '../http/index.ts';
import type { EstateService } from './estate-service.ts';

export function registerEstateRoutes(routes: RouteTable, deps: { estate: EstateService }): void {
  const body = z.object({ estate: estateSchema });
  const applyBody = z.object({
    estate: estateSchema,
    /** The fingerprint of the plan that was reviewed (`gantry platform apply --plan FILE`): refused when it is stale. */
    expect: z.object({ folder: z.string().min(1), server: z.string().min(1) }).optional(),
  });
  routes.add({
    method: 'POST',
    url: '/api/platform/plan',
    summary: "What applying this estate would change (the server's state vs the platform folder), drift marked",
    auth: 'admin',
    permission: 'server.read',
    body,
    handler: async ({ body }) => ({ plan: await deps.estate.plan(body.estate as Estate) }),
  });
  routes.add({
    method: 'POST',
    url: '/api/platform/apply',
    summary:
      'Apply an estate: every change in one transaction, recorded as a platform.applied event (nothing when nothing differs); with `expect`, only if the plan is still the one that fingerprint was made of',
    auth: 'admin',
    permission: 'server.admin',
    body: applyBody,
    handler: async ({ body, request }) => ({ plan: await deps.estate.apply(body.estate as Estate, request.actor ?? 'api', body.expect) }),
  });
}
