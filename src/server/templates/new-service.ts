/**
 * The dashboard's "New service": what `gantry new` does, done by the server. Without a path the
 * repository goes under the server's data directory (`<data>/services/NAME`), since a browser has
 * no working directory; an admin may name another folder on the server's machine.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { ConflictError, InputError } from '../../core/errors.ts';
import { createService } from '../../templates/create-service.ts';
import { findTemplate, SERVICE_NAME, templateValues } from '../../templates/service-template.ts';
import type { ProjectService } from '../projects/index.ts';

export interface NewServiceRequest {
  template: string;
  name: string;
  fields: Record<string, string>;
  /** An absolute folder on the server's machine; default `<data>/services/NAME`. */
  path?: string;
}

export interface NewServiceDeps {
  dataDir: string;
  projects: ProjectService;
}

/** Where the dashboard's new services live when no path is given. */
export function servicesDir(dataDir: string): string {
  return join(dataDir, 'services');
}

export async function newService(deps: NewServiceDeps, req: NewServiceRequest, actor: string): Promise<{ project: string; path: string }> {
  if (!SERVICE_NAME.test(req.name)) throw new InputError(`service name '${req.name}' may only hold letters, digits, '.', '_' and '-'`);
  if (req.path !== undefined && !isAbsolute(req.path))
    throw new InputError(`path '${req.path}' must be absolute: a folder on the server's machine`);
  // Checked before any file is written, so a taken name leaves nothing behind.
  const taken = await deps.projects.require(req.name).then(
    () => true,
    () => false,
  );
  if (taken) throw new ConflictError(`a project named '${req.name}' already exists: choose another name`);
  const template = await findTemplate(req.template, deps.dataDir);
  const values = templateValues(template, req.name, req.fields);
  const dest = req.path ?? join(servicesDir(deps.dataDir), req.name);
  const existed = existsSync(dest);
  try {
    await createService({
      template,
      name: req.name,
      dest,
      values,
      register: async () => {
        await deps.projects.add({ path: dest, name: req.name }, actor);
      },
    });
  } catch (error) {
    // Only a folder this request made is removed; an admin's existing (empty) folder stays.
    if (!existed) await rm(dest, { recursive: true, force: true });
    throw error;
  }
  return { project: req.name, path: dest };
}
