/**
 * `POST /api/services` refusing what it cannot make, on a real server on loopback: each refusal
 * with its code, and nothing left behind under `<data>/services/` (a taken name is checked before
 * any file is written; a folder the request made is removed when a later step fails).
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../support/server.ts';

describe('POST /api/services', () => {
  let server: TestServer;
  const services = () => join(server.dataDir, 'services');

  beforeAll(async () => {
    server = await startTestServer();
    // A team's template whose gantry.yaml is broken: creation fails after its files are written.
    const broken = join(server.dataDir, 'templates', 'broken');
    await mkdir(broken, { recursive: true });
    await writeFile(join(broken, 'gantry.yaml'), 'name: {{name}}\npipeline:\n  jobz: {}\n');
    await server.store.projects.create({ name: 'shop', source: { kind: 'local', path: '/nowhere' }, webhookSecret: 'w' });
  });
  afterAll(async () => server?.cleanup());

  it('lists the built-in templates and the added one with their fields', async () => {
    const { body } = await server.api<{ templates: { name: string; builtin: boolean; fields: { name: string }[] }[] }>(
      'GET',
      '/api/templates',
    );
    expect(body.templates.map((t) => t.name)).toEqual(['node-service', 'python-service', 'static-site', 'worker', 'broken']);
    expect(body.templates.find((t) => t.name === 'worker')?.fields.map((f) => f.name)).toEqual(['description']);
    expect(body.templates.find((t) => t.name === 'broken')?.builtin).toBe(false);
  });

  it('refuses a taken name, an unknown template, a relative path and an unknown field, writing nothing', async () => {
    const taken = await server.api<{ error: { code: string; message: string } }>('POST', '/api/services', {
      template: 'worker',
      name: 'shop',
    });
    expect(taken.status).toBe(409);
    expect(taken.body.error.message).toContain("a project named 'shop' already exists");
    expect((await server.api('POST', '/api/services', { template: 'nope', name: 'a1' })).status).toBe(404);
    const relative = await server.api<{ error: { code: string } }>('POST', '/api/services', {
      template: 'worker',
      name: 'a2',
      path: 'here',
    });
    expect(relative.body.error.code).toBe('INVALID_INPUT');
    const field = await server.api<{ error: { message: string } }>('POST', '/api/services', {
      template: 'worker',
      name: 'a3',
      fields: { colour: 'red' },
    });
    expect(field.body.error.message).toContain('template worker has no field colour');
    expect(existsSync(services())).toBe(false);
  });

  it("removes the folder it made when the template's gantry.yaml does not validate", async () => {
    const broken = await server.api<{ error: { code: string } }>('POST', '/api/services', { template: 'broken', name: 'b1' });
    expect(broken.status).toBe(422);
    expect(existsSync(join(services(), 'b1'))).toBe(false);
    expect((await server.api('GET', '/api/projects/b1')).status).toBe(404);
  });
});
