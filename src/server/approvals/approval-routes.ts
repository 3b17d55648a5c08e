/** Protected environments over HTTP: their protection, deploys waiting for approvals, approving one. */
import { z } from 'zod';
import type { EnvironmentProtection } from '../../core/protection.ts';
import { protectionSchema } from '../../estate/index.ts';
import type { Project, ReleaseRecord } from '../../store/ports.ts';
import type { RouteTable } from '../http/index.ts';
import type { DeployProtection } from './deploy-protection.ts';

export interface ApprovalRouteDeps {
  protection: DeployProtection;
  requireProject(idOrName: string): Promise<Project>;
  requireRelease(project: Project, idOrNumber: string): Promise<ReleaseRecord>;
}

const projectParams = z.object({ project: z.string().min(1) });
const envParams = z.object({ project: z.string().min(1), env: z.string().min(1) });

export function registerApprovalRoutes(routes: RouteTable, deps: ApprovalRouteDeps): void {
  routes.add({
    method: 'GET',
    url: '/api/projects/:project/approvals',
    summary: 'Deploys of the project waiting for approvals: release, environment, who approved, how many are missing',
    auth: 'admin',
    permission: 'read',
    params: projectParams,
    handler: async ({ params }) => ({ approvals: await deps.protection.pending(await deps.requireProject(params.project)) }),
  });
  routes.add({
    method: 'POST',
    url: '/api/projects/:project/environments/:env/approvals',
    summary: 'Approve a release for a protected environment (never one you made or asked to deploy)',
    auth: 'admin',
    permission: 'deploy.approve',
    params: envParams,
    body: z.object({ release: z.string().min(1) }),
    handler: async ({ params, body, request, reply }) => {
      const project = await deps.requireProject(params.project);
      const release = await deps.requireRelease(project, body.release);
      const approval = await deps.protection.approve(project, params.env, release, request.actor ?? 'api');
      reply.code(201);
      return { approval };
    },
  });
  routes.add({
    method: 'GET',
    url: '/api/projects/:project/environments/:env/protection',
    summary: "An environment's protection: required approvals and deploy windows (null: none)",
    auth: 'admin',
    permission: 'read',
    params: envParams,
    handler: async ({ params }) => ({
      protection: (await deps.protection.protection(await deps.requireProject(params.project), params.env)) ?? null,
    }),
  });
  routes.add({
    method: 'PUT',
    url: '/api/projects/:project/environments/:env/protection',
    summary: "Set an environment's protection by hand (null removes it); the platform's plan reports it as drift",
    auth: 'admin',
    permission: 'project.manage',
    params: envParams,
    body: z.object({ protection: protectionSchema.nullable() }),
    handler: async ({ params, body, request }) => {
      const project = await deps.requireProject(params.project);
      const protection = body.protection as EnvironmentProtection | null;
      await deps.protection.setProtection(project, params.env, protection, request.actor ?? 'api');
      return { protection };
    },
  });
}
