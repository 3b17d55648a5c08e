/**
 * The security API: findings of a run or a release (new, existing, fixed; suppressed; the
 * policy's verdict; the advisory database's age), trends, suppressions, the policy, the release's
 * SBOM, and the advisory database (import, status, the query scans use).
 */
import { z } from 'zod';
import { InputError, NotFoundError } from '../../core/errors.ts';
import { securityPolicySchema } from '../../security/index.ts';
import type { Project, ReleaseRecord, RunRecord, Store } from '../../store/ports.ts';
import type { RouteTable } from '../http/index.ts';
import { advisoriesFor } from './advisory-query.ts';
import type { FindingView, SecurityService } from './security-service.ts';

export interface SecurityRouteDeps {
  store: Store;
  security: SecurityService;
  requireProject(idOrName: string): Promise<Project>;
  /** By id or by number within the project. */
  requireRelease(project: Project, idOrNumber: string): Promise<ReleaseRecord>;
  now(): number;
}

const projectParams = z.object({ project: z.string().min(1) });
/** How many runs back a lookup by number searches. */
const RUN_LOOKBACK = 5000;

export function registerSecurityRoutes(routes: RouteTable, deps: SecurityRouteDeps): void {
  const { store, security } = deps;

  async function requireRun(project: Project, idOrNumber: string): Promise<RunRecord> {
    const number = /^#?(\d+)$/.exec(idOrNumber)?.[1];
    const run = number
      ? (await store.runs.list({ projectId: project.id, limit: RUN_LOOKBACK })).find((r) => r.number === Number(number))
      : await store.runs.get(idOrNumber);
    if (!run || run.projectId !== project.id) throw new NotFoundError(`run ${idOrNumber} of ${project.name} does not exist`);
    return run;
  }

  const onlyNew = (findings: FindingView[], only: boolean) => (only ? findings.filter((f) => f.status === 'new') : findings);

  routes.add({
    method: 'GET',
    url: '/api/projects/:project/findings',
    summary:
      "Security findings of a run or a release (default: the project's latest scanned run): each new, existing or fixed relative to the default branch, with its suppression, the policy's verdict and the advisory database's age",
    auth: 'admin',
    permission: 'read',
    params: projectParams,
    query: z.object({
      run: z.string().min(1).optional(),
      release: z.string().min(1).optional(),
      new: z.enum(['true', 'false']).optional(),
    }),
    handler: async ({ params, query }) => {
      if (query.run !== undefined && query.release !== undefined) throw new InputError('give run or release, not both');
      const project = await deps.requireProject(params.project);
      const only = query.new === 'true';
      if (query.release !== undefined) {
        const result = await security.releaseSecurity(project, await deps.requireRelease(project, query.release));
        return { ...result, findings: onlyNew(result.findings, only) };
      }
      let runRef = query.run;
      if (runRef === undefined) {
        const latest = await store.findings.trend(project.id, 1);
        if (latest.length === 0)
          return {
            run: null,
            scanned: false,
            findings: [],
            fixed: [],
            advisories: await security.advisoryAge(),
            note: 'no run of this project was scanned yet',
          };
        runRef = (latest[0] as { runId: string }).runId;
      }
      const result = await security.runSecurity(project, await requireRun(project, runRef));
      return { ...result, findings: onlyNew(result.findings, only) };
    },
  });

  routes.add({
    method: 'GET',
    url: '/api/projects/:project/findings/trend',
    summary: 'Findings per scanned run of the project, oldest first, counted by level',
    auth: 'admin',
    permission: 'read',
    params: projectParams,
    query: z.object({ limit: z.coerce.number().int().min(1).max(500).optional() }),
    handler: async ({ params, query }) => {
      const project = await deps.requireProject(params.project);
      return { runs: await security.trend(project, query.limit ?? 50) };
    },
  });

  routes.add({
    method: 'GET',
    url: '/api/projects/:project/suppressions',
    summary: 'Suppressions of the project not lifted, newest first, each saying whether it expired',
    auth: 'admin',
    permission: 'read',
    params: projectParams,
    handler: async ({ params }) => ({ suppressions: await security.suppressions(await deps.requireProject(params.project)) }),
  });

  const suppressionBody = z.object({
    fingerprint: z.string().min(1).optional(),
    ruleId: z.string().min(1).optional(),
    path: z.string().min(1).optional(),
    reason: z.string().trim().min(1).max(2000),
    /** `30d`, `12h`, `2w`, a date, or `never`. */
    expires: z.string().min(1).optional(),
  });

  const suppress = async (project: Project, body: z.output<typeof suppressionBody>, actor: string) => ({
    suppression: await security.suppress(
      project,
      { fingerprint: body.fingerprint, ruleId: body.ruleId, path: body.path },
      body.reason,
      body.expires ?? null,
      actor,
    ),
  });

  routes.add({
    method: 'POST',
    url: '/api/projects/:project/suppressions',
    summary:
      'Suppress a finding (by fingerprint) or a rule (optionally under a path) with a reason and an expiry; recorded as `finding.suppressed`',
    auth: 'admin',
    permission: 'finding.suppress',
    params: projectParams,
    body: suppressionBody,
    handler: async ({ params, body, request, reply }) => {
      reply.code(201);
      return suppress(await deps.requireProject(params.project), body, request.actor ?? 'api');
    },
  });

  routes.add({
    method: 'POST',
    url: '/api/suppressions',
    summary: 'Suppress a finding by its fingerprint alone: the project is the one that has it',
    auth: 'admin',
    permission: 'finding.suppress',
    body: suppressionBody.extend({ fingerprint: z.string().min(1) }),
    handler: async ({ body, request, reply }) => {
      const ids = await store.findings.projectsWithFingerprint(body.fingerprint);
      if (ids.length === 0) throw new NotFoundError(`no finding has the fingerprint ${body.fingerprint}`);
      if (ids.length > 1) throw new InputError(`several projects have a finding ${body.fingerprint}: name the project (--project)`);
      reply.code(201);
      return suppress(await deps.requireProject(ids[0] as string), body, request.actor ?? 'api');
    },
  });

  routes.add({
    method: 'DELETE',
    url: '/api/projects/:project/suppressions/:id',
    summary: 'Lift a suppression before it expires; recorded as `finding.unsuppressed`',
    auth: 'admin',
    permission: 'finding.suppress',
    params: z.object({ project: z.string().min(1), id: z.string().min(1) }),
    handler: async ({ params, request }) => {
      await security.unsuppress(await deps.requireProject(params.project), params.id, request.actor ?? 'api');
      return { ok: true };
    },
  });

  routes.add({
    method: 'GET',
    url: '/api/projects/:project/security-policy',
    summary: "The project's security policy (which levels warn and which block, per environment), over the default",
    auth: 'admin',
    permission: 'read',
    params: projectParams,
    handler: async ({ params }) => ({ policy: await security.policy(await deps.requireProject(params.project)) }),
  });

  routes.add({
    method: 'PUT',
    url: '/api/projects/:project/security-policy',
    summary: "Set the project's security policy: `{ warn: [...], block: [...], environments: { production: { block: [...] } } }`",
    auth: 'admin',
    permission: 'project.manage',
    params: projectParams,
    body: z.object({ policy: securityPolicySchema }),
    handler: async ({ params, body, request }) => ({
      policy: await security.setPolicy(await deps.requireProject(params.project), body.policy, request.actor ?? 'api'),
    }),
  });

  routes.add({
    method: 'POST',
    url: '/api/advisories/import',
    summary: "Import OSV advisories from a folder of OSV JSON or an OSV zip on the server's machine, incrementally (by id and `modified`)",
    auth: 'admin',
    permission: 'server.admin',
    body: z.object({ path: z.string().min(1) }),
    handler: async ({ body, request }) => ({ import: await security.importAdvisories(body.path, request.actor ?? 'api') }),
  });

  routes.add({
    method: 'GET',
    url: '/api/advisories/status',
    summary: 'The advisory database: records, withdrawn, newest `modified`, the last import',
    auth: 'admin',
    permission: 'server.read',
    handler: async () => ({ ...(await store.advisories.status()), age: await security.advisoryAge() }),
  });

  routes.add({
    method: 'POST',
    url: '/api/advisories/query',
    summary: 'The OSV records naming these packages (what a scan on the server matches lockfiles against)',
    auth: 'admin',
    permission: 'server.read',
    body: z.object({ packages: z.array(z.object({ ecosystem: z.string().min(1), name: z.string().min(1) })).max(50_000) }),
    handler: async ({ body }) => ({ records: await advisoriesFor(store.advisories, body.packages), age: await security.advisoryAge() }),
  });
}
