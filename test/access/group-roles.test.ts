import { describe, expect, it } from 'vitest';
import { decide, grantsOfGroups, groupName, parseGroupRoles } from '../../src/access/index.ts';

describe('group roles from an identity provider', () => {
  it('reads server-wide, project and environment entries', () => {
    expect(parseGroupRoles('platform=admin, shop-devs=developer@shop ,shop-ops=maintainer@shop/production')).toEqual([
      { group: 'platform', grant: { role: 'admin' } },
      { group: 'shop-devs', grant: { role: 'developer', project: 'shop' } },
      { group: 'shop-ops', grant: { role: 'maintainer', project: 'shop', environment: 'production' } },
    ]);
  });

  it('names every bad entry at once', () => {
    expect(() => parseGroupRoles('a=owner,b,c=viewer@Shop')).toThrow(/'a=owner'.*'b'.*'c=viewer@Shop'/);
  });

  it("gives a user the grants of the groups the provider's claim names, matched as Gantry names groups", () => {
    const map = parseGroupRoles('/Shop Devs=developer@shop,viewers=viewer');
    const grants = grantsOfGroups(map, ['shop-devs', 'other']);
    expect(grants).toEqual([{ role: 'developer', project: 'shop' }]);
    const principal = { id: 'user:alice', grants };
    expect(decide(principal, 'deploy', { project: 'shop', environment: 'staging' }).allowed).toBe(true);
    expect(decide(principal, 'deploy', { project: 'shop', environment: 'production', environmentProtected: true }).allowed).toBe(false);
    expect(decide(principal, 'read', { project: 'other' }).allowed).toBe(false);
  });

  it('names groups in the form grants use', () => {
    expect(groupName('/Platform Team')).toBe('platform-team');
    expect(groupName('ops@example.com')).toBe('ops-example.com');
    expect(groupName('---')).toBe('group');
  });
});
