/**
 * Creating a service from a template, the same for `gantry new` and the dashboard's "New service":
 * its files rendered, its gantry.yaml checked, a git repository, then the first commit. Whoever
 * registers the project does it before that commit (`register`), so the repository's git hook sees
 * the commit and runs the first pipeline.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidConfigError } from '../core/errors.ts';
import { validateConfig } from '../pipeline/load-config.ts';
import { runGit } from '../platform/git.ts';
import { type ServiceTemplate, writeTemplate } from './service-template.ts';

export interface CreateServiceRequest {
  template: ServiceTemplate;
  name: string;
  /** An empty or absent folder. */
  dest: string;
  /** `templateValues` of the template and name. */
  values: Record<string, string>;
  /** Registers the new repository with the server, between `git init` and the first commit. */
  register?: () => Promise<void>;
}

export async function createService(req: CreateServiceRequest): Promise<void> {
  await writeTemplate(req.template, req.dest, req.values);
  const configPath = join(req.dest, 'gantry.yaml');
  const { diagnostics } = validateConfig(await readFile(configPath, 'utf8'), configPath);
  if (diagnostics.length > 0) throw new InvalidConfigError(diagnostics);
  await runGit(['init', '-q', '-b', 'main', req.dest]);
  await req.register?.();
  await runGit(['-C', req.dest, 'add', '-A']);
  await runGit([
    '-C',
    req.dest,
    ...(await identity(req.dest)),
    'commit',
    '-q',
    '-m',
    `New service ${req.name} from the ${req.template.name} template`,
  ]);
}

/** The user's git identity, or Gantry's when git has none (a fresh machine, a CI container, the server). */
async function identity(dir: string): Promise<string[]> {
  const email = await runGit(['-C', dir, 'config', 'user.email']).catch(() => '');
  return email.trim() ? [] : ['-c', 'user.name=Gantry', '-c', 'user.email=gantry@localhost'];
}
