/**
 * `gantry platform plan|apply|adopt DIR`: the platform as code. The folder's YAML files are read
 * and checked here (FILE:LINE:COL), the server plans and applies (so a pipeline with a token
 * allowed `server.admin` can run it: GANTRY_URL and GANTRY_TOKEN), and adopt writes the server's
 * drift back into the files.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { GantryError, InputError } from '../../core/errors.ts';
import { adoptChanges, type EstatePlan, type PlatformFile, type PlatformRead, planText, readPlatformFolder } from '../../estate/index.ts';
import { ApiClient, serverAddress } from '../api-client.ts';
import { green, printJson, red, yellow } from '../output.ts';

/** A plan as the server answers it: with the fingerprint an apply can be held to. */
type ServedPlan = EstatePlan & { fingerprint: { folder: string; server: string } };

/** What `plan --out` writes; `apply --plan` reads it back. */
const PLAN_FILE_FORMAT = 'gantry-platform-plan/1';
const planFileSchema = z.object({
  format: z.literal(PLAN_FILE_FORMAT),
  fingerprint: z.object({ folder: z.string().min(1), server: z.string().min(1) }),
});

const client = (program: Command) => new ApiClient(serverAddress((program.opts() as { data?: string }).data));
const paint = { add: green, change: yellow, remove: red };
/**
 * `plan --detailed-exitcode`: 2 means "applying would change something" (Terraform's convention),
 * so every error, usage and config errors included, exits 1 there (see `main`).
 */
export const EXIT_PLAN_HAS_CHANGES = 2;

export function registerPlatformCommands(program: Command): void {
  const platform = program.command('platform').description('the platform as code: projects, environments, members, protection, policies');
  platform
    .command('plan <dir>')
    .description('what applying the folder would change on the server, drift marked (+ create, ~ update, - delete)')
    .option('--json', 'the plan as JSON')
    .option(
      '--detailed-exitcode',
      "exit 0 when there is nothing to change, 2 when there is, 1 on an error (Terraform's convention, for pipelines)",
    )
    .option(
      '--out <file>',
      'also save the plan, so `apply --plan FILE` applies exactly it (refused if the folder or the server changed since)',
    )
    .action(async (dir: string, opts: { json?: boolean; detailedExitcode?: boolean; out?: string }) => {
      const { read } = await readFolder(dir);
      const { plan } = await client(program).request<{ plan: ServedPlan }>('POST', '/api/platform/plan', { estate: read.estate });
      if (opts.out !== undefined)
        await writeFile(opts.out, `${JSON.stringify({ format: PLAN_FILE_FORMAT, fingerprint: plan.fingerprint, plan }, null, 2)}\n`);
      if (opts.detailedExitcode && plan.changes.length > 0) process.exitCode = EXIT_PLAN_HAS_CHANGES;
      if (opts.json) return printJson(plan);
      process.stdout.write(planText(plan, paint));
      if (opts.out !== undefined)
        process.stdout.write(`Saved the plan to ${opts.out}: \`gantry platform apply ${dir} --plan ${opts.out}\` applies exactly it.\n`);
    });
  platform
    .command('apply <dir>')
    .description('make the server match the folder: every change in one transaction, recorded')
    .option('--json', 'what was applied, as JSON')
    .option(
      '--plan <file>',
      'apply only if the plan is still the one saved by `plan --out FILE` (nothing is applied when the folder or the server changed)',
    )
    .action(async (dir: string, opts: { json?: boolean; plan?: string }) => {
      const expect = opts.plan === undefined ? undefined : await readPlanFile(opts.plan);
      const { read } = await readFolder(dir);
      const { plan } = await client(program).request<{ plan: ServedPlan }>('POST', '/api/platform/apply', {
        estate: read.estate,
        ...(expect === undefined ? {} : { expect }),
      });
      if (opts.json) return printJson(plan);
      process.stdout.write(planText(plan, paint));
      if (plan.changes.length > 0) process.stdout.write(`Applied ${plan.changes.length} change${plan.changes.length === 1 ? '' : 's'}.\n`);
    });
  platform
    .command('adopt <dir>')
    .description("keep the server's state: write what differs from the folder back into its files")
    .action(async (dir: string) => {
      const { read, files } = await readFolder(dir);
      const { plan } = await client(program).request<{ plan: EstatePlan }>('POST', '/api/platform/plan', { estate: read.estate });
      const result = adoptChanges(files, read.origins, plan.changes);
      for (const file of result.files) await writeFile(join(dir, file.path), file.text);
      for (const { change, reason } of result.skipped) process.stderr.write(`not adopted: ${change.kind} ${change.address} (${reason})\n`);
      process.stdout.write(
        result.adopted.length === 0
          ? 'Nothing to adopt: the folder matches the server.\n'
          : `Adopted ${result.adopted.length} change${result.adopted.length === 1 ? '' : 's'} into ${result.files.map((f) => f.path).join(', ')}.\n`,
      );
    });
}

async function readPlanFile(path: string): Promise<{ folder: string; server: string }> {
  const text = await readFile(path, 'utf8').catch(() => {
    throw new GantryError(
      'PLATFORM_PLAN_INVALID',
      `cannot read the plan ${path}: make one with \`gantry platform plan DIR --out ${path}\``,
    );
  });
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const result = planFileSchema.safeParse(parsed);
  if (!result.success)
    throw new GantryError('PLATFORM_PLAN_INVALID', `${path} is not a plan saved by \`gantry platform plan DIR --out FILE\``);
  return result.data.fingerprint;
}

/** Every *.yaml / *.yml under `dir`, in path order, named relative to it (so errors read `shop.yaml:3:5`). */
export async function readFolder(dir: string): Promise<{ read: PlatformRead; files: PlatformFile[] }> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => {
    throw new InputError(`${dir} is not a folder: give the platform folder (its *.yaml files declare projects, environments, members)`);
  });
  const paths = entries
    .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name))
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
  if (paths.length === 0) throw new InputError(`${dir} holds no *.yaml files: declare projects and groups there (docs/platform.md)`);
  const files = await Promise.all(paths.map(async (path) => ({ path, text: await readFile(join(dir, path), 'utf8') })));
  return { read: readPlatformFolder(files), files };
}
