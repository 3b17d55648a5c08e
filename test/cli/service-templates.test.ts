/**
 * Service templates: every built-in one renders into a service whose gantry.yaml passes
 * `gantry validate` with everything the issue asks wired (JUnit tests, security policy, staging
 * that deploys itself, production by canary with analysis, SLOs, an experiment); only declared
 * variables are replaced; a platform team's template is added and listed beside them.
 */
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addTemplate,
  findTemplate,
  listTemplates,
  renderText,
  templateValues,
  writeTemplate,
} from '../../src/templates/service-template.ts';
import { InputError } from '../../src/core/errors.ts';
import { validateConfig } from '../../src/pipeline/load-config.ts';
import { runCli } from '../support/cli.ts';

const BUILTIN = ['node-service', 'python-service', 'static-site', 'worker'];

describe('service templates', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'gantry-templates-'));
  });
  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it.each(BUILTIN)('%s renders a service whose gantry.yaml is valid and fully wired', async (name) => {
    const template = await findTemplate(name, null);
    const dest = join(root, name);
    const files = await writeTemplate(template, dest, templateValues(template, 'hello2', {}));
    expect(files).toContain('gantry.yaml');
    expect(files).not.toContain('template.yaml');
    const text = await readFile(join(dest, 'gantry.yaml'), 'utf8');
    const { config, diagnostics } = validateConfig(text, 'gantry.yaml');
    expect(diagnostics).toEqual([]);
    expect(config?.name).toBe('hello2');
    expect(config?.pipeline.jobs.test?.reports?.junit).toBe('reports/junit.xml');
    expect(text).toContain('\nsecurity:\n');
    expect(config?.environments?.staging?.auto).toBe(true);
    expect(config?.environments?.production?.strategy).toMatchObject({ kind: 'canary', analysis: expect.anything() });
    expect((config?.slos ?? []).map((s) => s.name)).toEqual(['availability', 'latency']);
    expect(Object.keys(config?.experiments ?? {})).toHaveLength(1);
    expect(text).not.toMatch(/\{\{\s*(name|description)\s*\}\}/);
  });

  it('passes `gantry validate` as the CLI runs it', async () => {
    const result = await runCli(join(root, 'node-service'), ['validate']);
    expect(result.stdout).toBe('gantry.yaml is valid\n');
    expect(result.code).toBe(0);
  });

  it('replaces only declared variables, never a ${{ expression }} or PromQL {{window}}', () => {
    const text = 'name: {{ name }}\nrun: echo ${{ inputs.name }}\nquery: rate(x[{{window}}])\nby: {{owner}}\n';
    expect(renderText(text, { name: 'hello2', owner: 'sre' })).toBe(
      'name: hello2\nrun: echo ${{ inputs.name }}\nquery: rate(x[{{window}}])\nby: sre\n',
    );
  });

  it("adds a platform team's template with its fields, refusing unknown fields and missing values", async () => {
    const own = join(root, 'own-src');
    await mkdir(own, { recursive: true });
    await writeFile(join(own, 'gantry.yaml'), 'name: {{name}}\npipeline:\n  jobs:\n    build: { steps: ["echo {{team}}"] }\n');
    await writeFile(join(own, 'template.yaml'), 'description: our Go service\nfields:\n  team: { description: the owning team }\n');
    const dataDir = join(root, 'data');
    await addTemplate(own, 'go-service', dataDir);
    const listed = await listTemplates(dataDir);
    expect(listed.map((t) => t.name)).toEqual([...BUILTIN, 'go-service']);
    const template = await findTemplate('go-service', dataDir);
    expect(template.fields).toEqual([{ name: 'team', description: 'the owning team' }]);
    expect(() => templateValues(template, 'x', {})).toThrow(/needs --set team=/);
    expect(() => templateValues(template, 'x', { tem: 'sre' })).toThrow(InputError);
    await writeTemplate(template, join(root, 'svc'), templateValues(template, 'svc', { team: 'sre' }));
    expect(await readFile(join(root, 'svc', 'gantry.yaml'), 'utf8')).toContain('echo sre');
    await expect(addTemplate(own, 'node-service', dataDir)).rejects.toThrow(/built-in/);
  });
});
