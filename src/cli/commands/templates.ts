/**
 * `gantry new TEMPLATE NAME` and `gantry template add|list`: a new service from a template — a git
 * repository with its gantry.yaml wired — registered on the server, whose first commit runs its
 * first pipeline through the git hook (and so deploys staging by itself when it passes).
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { InputError } from '../../core/errors.ts';
import { createService } from '../../templates/create-service.ts';
import { ApiClient, findDataDir, serverAddress } from '../api-client.ts';
import { bold, dim, printJson } from '../output.ts';
import { addTemplate, findTemplate, listTemplates, SERVICE_NAME, templateValues } from '../../templates/service-template.ts';

const dataOption = (program: Command) => (program.opts() as { data?: string }).data;
const collect = (value: string, previous: string[]) => [...previous, value];

interface EnvironmentView {
  name: string;
  port: number | null;
  currentReleaseId: string | null;
}

export function registerTemplateCommands(program: Command): void {
  program
    .command('new <template> <name>')
    .description('create a service from a template: a git repository with its gantry.yaml, registered, its first pipeline running')
    .option('--dir <dir>', 'where to create it (default: ./NAME)')
    .option('--set <field=value>', "a template field's value (repeatable; `gantry template list` shows the fields)", collect, [])
    .option('--no-register', 'only create the repository')
    .option('--wait', 'wait until staging answers, then print its URL')
    .option('--timeout <seconds>', 'how long --wait waits', '120')
    .action(
      async (
        templateName: string,
        name: string,
        opts: { dir?: string; set: string[]; register: boolean; wait?: boolean; timeout: string },
      ) => {
        if (!SERVICE_NAME.test(name)) throw new InputError(`service name '${name}' may only hold letters, digits, '.', '_' and '-'`);
        const template = await findTemplate(templateName, findDataDir(dataOption(program)));
        const values = templateValues(template, name, pairs(opts.set));
        const dest = resolve(opts.dir ?? name);
        const client = opts.register ? new ApiClient(serverAddress(dataOption(program))) : null;
        await createService({
          template,
          name,
          dest,
          values,
          register: client
            ? async () => {
                await client.request('POST', '/api/projects', { path: dest, name });
              }
            : undefined,
        });
        process.stdout.write(`created ${bold(name)} in ${dest} from ${template.name}\n`);
        if (client) process.stdout.write(`registered ${name}: its commits run its pipeline\n`);
        if (!client) return void process.stdout.write(`not registered: \`gantry project add ${dest}\` when a server runs\n`);
        const run = await firstRun(client, name);
        process.stdout.write(
          `first pipeline: run ${run ?? '(starting)'}; staging deploys itself when it passes (\`gantry env list ${name}\`)\n`,
        );
        if (opts.wait) process.stdout.write(`staging: ${await stagingUrl(client, name, Number(opts.timeout) * 1000)}\n`);
      },
    );

  const template = program
    .command('template')
    .description("service templates for `gantry new`: the built-in ones and a platform team's own");
  template
    .command('list')
    .option('--json', 'JSON output')
    .action(async (opts: { json?: boolean }) => {
      const all = await listTemplates(findDataDir(dataOption(program)));
      if (opts.json) return printJson(all.map(({ dir: _dir, ...t }) => t));
      for (const t of all) {
        const fields = t.fields.map((f) => `${f.name}${f.default === undefined ? '' : `=${f.default}`}`).join(' ');
        process.stdout.write(
          `${bold(t.name.padEnd(16))} ${t.description}${t.builtin ? '' : dim(' (added)')}\n${' '.repeat(17)}${dim(`fields: name ${fields}`)}\n`,
        );
      }
    });
  template
    .command('add <dir>')
    .description("add a platform team's template: a service folder with {{variables}} and a template.yaml naming its fields")
    .option('--name <name>', 'the template name (default: the folder name)')
    .action(async (dir: string, opts: { name?: string }) => {
      const dataDir = findDataDir(dataOption(program));
      if (!dataDir) throw new InputError('no Gantry data directory: run it beside `gantry up`, or pass --data');
      const added = await addTemplate(resolve(dir), opts.name ?? resolve(dir).split('/').pop() ?? dir, dataDir);
      process.stdout.write(`added template ${added.name}: \`gantry new ${added.name} NAME\`\n`);
    });
}

function pairs(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list) {
    const at = item.indexOf('=');
    if (at <= 0) throw new InputError(`--set takes field=value, got '${item}'`);
    out[item.slice(0, at)] = item.slice(at + 1);
  }
  return out;
}

async function firstRun(client: ApiClient, project: string): Promise<string | null> {
  for (let i = 0; i < 50; i++) {
    const { runs } = await client.request<{ runs: { id: string }[] }>('GET', `/api/runs?project=${encodeURIComponent(project)}&limit=1`);
    if (runs[0]) return runs[0].id;
    await new Promise((r) => setTimeout(r, 100));
  }
  return null;
}

/** Waits for staging to run a release and answer on its port; its URL. */
async function stagingUrl(client: ApiClient, project: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  const host = new URL(client.address.url).hostname;
  while (Date.now() < deadline) {
    const { environments } = await client.request<{ environments: EnvironmentView[] }>(
      'GET',
      `/api/projects/${encodeURIComponent(project)}/environments`,
    );
    const staging = environments.find((e) => e.name === 'staging');
    if (staging?.currentReleaseId && staging.port) {
      const url = `http://${host}:${staging.port}/`;
      const ok = await fetch(url, { signal: AbortSignal.timeout(2000) }).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return url;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new InputError(
    `staging of ${project} did not answer within ${timeoutMs / 1000} s: \`gantry runs list --project ${project}\` shows its pipeline`,
  );
}
