import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  decide,
  effectiveRole,
  PERMISSION_NAMES,
  PERMISSIONS,
  type Principal,
  ROLES,
  type Role,
  renderPermissionTable,
  requiredRole,
} from '../../src/access/index.ts';

const at = (role: Role, project?: string, environment?: string): Principal => ({
  id: 'user:alice',
  grants: [{ role, ...(project ? { project } : {}), ...(environment ? { environment } : {}) }],
});

describe('decide', () => {
  it('gives each role exactly the permissions at or below it, on ordinary and protected environments', () => {
    for (const permission of PERMISSION_NAMES) {
      for (const prot of [false, true]) {
        const needs = requiredRole(permission, prot);
        for (const role of ROLES) {
          const d = decide(at(role), permission, { project: 'shop', environment: 'production', environmentProtected: prot });
          expect(d.allowed, `${role} ${permission} protected=${prot}`).toBe(ROLES.indexOf(role) >= ROLES.indexOf(needs));
        }
      }
    }
  });

  it('lets a developer deploy to staging but not to a protected production', () => {
    const dev = at('developer', 'shop');
    expect(decide(dev, 'deploy', { project: 'shop', environment: 'staging' }).allowed).toBe(true);
    const refused = decide(dev, 'deploy', { project: 'shop', environment: 'production', environmentProtected: true });
    expect(refused).toEqual({
      allowed: false,
      has: 'developer',
      needs: 'maintainer',
      reason: 'user:alice has the developer role on environment production of shop (protected); deploy needs maintainer',
    });
  });

  it('keeps a project grant to its project', () => {
    expect(decide(at('admin', 'shop'), 'read', { project: 'billing' }).allowed).toBe(false);
    expect(decide(at('admin', 'shop'), 'server.admin').allowed).toBe(false);
    expect(decide(at('admin'), 'server.admin').allowed).toBe(true);
  });

  it('holds an environment grant for that environment only, and as a viewer of its project', () => {
    const p = at('maintainer', 'shop', 'production');
    const prod = { project: 'shop', environment: 'production', environmentProtected: true };
    expect(decide(p, 'deploy', prod).allowed).toBe(true);
    expect(decide(p, 'deploy', { project: 'shop', environment: 'staging' }).allowed).toBe(false);
    expect(decide(p, 'read', { project: 'shop' }).allowed).toBe(true);
    expect(decide(p, 'secret.write', { project: 'shop' }).allowed).toBe(false);
    expect(decide(p, 'read', { project: 'billing' }).allowed).toBe(false);
  });

  it('takes the highest role among grants, whatever their order', () => {
    const grants = [
      { role: 'viewer' as const },
      { role: 'maintainer' as const, project: 'shop' },
      { role: 'developer' as const, project: 'shop', environment: 'production' },
    ];
    for (const order of [grants, [...grants].reverse()]) {
      expect(effectiveRole({ id: 'u', grants: order }, 'deploy', { project: 'shop', environment: 'production' })).toBe('maintainer');
      expect(effectiveRole({ id: 'u', grants: order }, 'deploy', { project: 'other', environment: 'production' })).toBe('viewer');
    }
  });

  it("narrows a token to its scopes, never beyond its owner's roles", () => {
    const token: Principal = {
      id: 'token:ci',
      grants: [{ role: 'developer', project: 'shop' }],
      scopes: ['read', 'run.trigger', 'secret.write'],
    };
    expect(decide(token, 'run.trigger', { project: 'shop' }).allowed).toBe(true);
    expect(decide(token, 'deploy', { project: 'shop', environment: 'staging' })).toMatchObject({
      allowed: false,
      reason: "token:ci's token is not scoped for deploy",
    });
    expect(decide(token, 'secret.write', { project: 'shop' }).allowed).toBe(false);
  });

  it('refuses a principal without grants', () => {
    expect(decide({ id: 'user:nobody', grants: [] }, 'read', { project: 'shop' })).toMatchObject({
      allowed: false,
      has: null,
      needs: 'viewer',
    });
  });

  it('names a protected role only for environment permissions', () => {
    for (const [name, rule] of Object.entries(PERMISSIONS)) {
      if ('protectedRole' in rule) expect(rule.scope, name).toBe('environment');
    }
  });
});

describe('docs/access.md', () => {
  it('shows the permission table the server enforces (npm run docs:access)', () => {
    const text = readFileSync(new URL('../../docs/access.md', import.meta.url), 'utf8');
    const table = text.slice(
      text.indexOf('<!-- permissions:start -->') + '<!-- permissions:start -->'.length,
      text.indexOf('<!-- permissions:end -->'),
    );
    expect(table.trim()).toBe(renderPermissionTable());
  });
});
