/**
 * Service templates: plain folders whose text files (and file names) hold `{{variables}}`, with an
 * optional `template.yaml` that describes the template and its fields (each with a description
 * and a default). The built-in ones ship in the package's `templates/`; a platform team's own are
 * added to the server's data directory (`gantry template add`). Only the variables a template
 * declares (and `name`) are replaced, so `${{ expressions }}` and PromQL's `{{window}}` in a
 * gantry.yaml pass through untouched.
 */
import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { z } from 'zod';
import { InputError, NotFoundError } from '../core/errors.ts';

/** The package's built-in templates (the same relative place from src/cli and dist/cli). */
export const BUILTIN_TEMPLATES = fileURLToPath(new URL('../../templates/', import.meta.url));
export const TEMPLATE_MANIFEST = 'template.yaml';
export const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

const manifestSchema = z.strictObject({
  description: z.string().default(''),
  fields: z
    .record(z.string().regex(/^[a-z][a-z0-9_-]*$/), z.strictObject({ description: z.string(), default: z.string().optional() }))
    .default({}),
});

export interface TemplateField {
  name: string;
  description: string;
  default?: string;
}

export interface ServiceTemplate {
  name: string;
  dir: string;
  builtin: boolean;
  description: string;
  /** Besides `name`, always there. */
  fields: TemplateField[];
}

/** Where a platform team's own templates live: beside the server's data. */
export function customTemplatesDir(dataDir: string): string {
  return join(dataDir, 'templates');
}

export async function listTemplates(dataDir: string | null): Promise<ServiceTemplate[]> {
  const out: ServiceTemplate[] = [];
  for (const [root, builtin] of [[BUILTIN_TEMPLATES, true], ...(dataDir ? [[customTemplatesDir(dataDir), false] as const] : [])] as const) {
    const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
    for (const e of entries.filter((x) => x.isDirectory()).sort((a, b) => a.name.localeCompare(b.name)))
      out.push(await loadTemplate(join(root, e.name), builtin));
  }
  return out;
}

export async function findTemplate(name: string, dataDir: string | null): Promise<ServiceTemplate> {
  const all = await listTemplates(dataDir);
  const found = all.find((t) => t.name === name);
  if (!found)
    throw new NotFoundError(`no template '${name}': choose one of ${all.map((t) => t.name).join(', ')} (\`gantry template list\`)`);
  return found;
}

export async function loadTemplate(dir: string, builtin: boolean): Promise<ServiceTemplate> {
  const manifestPath = join(dir, TEMPLATE_MANIFEST);
  const raw = existsSync(manifestPath) ? (parse(await readFile(manifestPath, 'utf8')) ?? {}) : {};
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success)
    throw new InputError(`${manifestPath}: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'file'}: ${i.message}`).join('; ')}`);
  return {
    name: basename(dir),
    dir,
    builtin,
    description: parsed.data.description,
    fields: Object.entries(parsed.data.fields).map(([name, f]) => ({ name, ...f })),
  };
}

/** The variables of a new service: `name`, each field's value or default; a field without either is an error. */
export function templateValues(template: ServiceTemplate, name: string, given: Record<string, string>): Record<string, string> {
  const known = new Set(['name', ...template.fields.map((f) => f.name)]);
  const unknown = Object.keys(given).filter((k) => !known.has(k));
  if (unknown.length > 0)
    throw new InputError(`template ${template.name} has no field ${unknown.join(', ')}; its fields: ${[...known].join(', ')}`);
  const values: Record<string, string> = { name };
  for (const f of template.fields) {
    const value = given[f.name] ?? f.default;
    if (value === undefined) throw new InputError(`template ${template.name} needs --set ${f.name}=… (${f.description})`);
    values[f.name] = value;
  }
  return values;
}

/** `{{ name }}` → its value, for the given variables only; `${{ … }}` (a gantry.yaml expression) never. */
export function renderText(text: string, values: Record<string, string>): string {
  return text.replace(/(?<!\$)\{\{\s*([a-z][a-z0-9_-]*)\s*\}\}/gi, (whole, key: string) => values[key] ?? whole);
}

/** Writes the template's files into `dest` (which must not exist or be empty), rendered. */
export async function writeTemplate(template: ServiceTemplate, dest: string, values: Record<string, string>): Promise<string[]> {
  if (existsSync(dest) && (await readdir(dest)).length > 0)
    throw new InputError(`${dest} already exists and is not empty: choose another --dir`);
  const written: string[] = [];
  for (const entry of await readdir(template.dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const from = join(entry.parentPath, entry.name);
    const path = relative(template.dir, from);
    if (path === TEMPLATE_MANIFEST) continue;
    const target = join(dest, renderText(path, values));
    await mkdir(dirname(target), { recursive: true });
    const bytes = await readFile(from);
    // Binary files (images) are copied as they are.
    await writeFile(target, bytes.includes(0) ? bytes : renderText(bytes.toString('utf8'), values));
    written.push(relative(dest, target));
  }
  return written.sort();
}

/** `gantry template add`: copies a folder into the custom templates, replacing one of that name. */
export async function addTemplate(dir: string, name: string, dataDir: string): Promise<ServiceTemplate> {
  if (!SERVICE_NAME.test(name)) throw new InputError(`template name '${name}' may only hold letters, digits, '.', '_' and '-'`);
  if (!existsSync(join(dir, 'gantry.yaml')))
    throw new InputError(`${dir} has no gantry.yaml: a template is a service's folder with {{variables}}`);
  if (existsSync(join(BUILTIN_TEMPLATES, name))) throw new InputError(`'${name}' is a built-in template: choose another --name`);
  await loadTemplate(dir, false);
  const target = join(customTemplatesDir(dataDir), name);
  await rm(target, { recursive: true, force: true });
  await mkdir(dirname(target), { recursive: true });
  await cp(dir, target, { recursive: true, filter: (src) => !/(^|\/)\.git(\/|$)/.test(relative(dir, src)) });
  return loadTemplate(target, false);
}
