/** The planner (desired vs current → ordered changes, drift), the plan's text, and adopting drift into the files. */
import { describe, expect, it } from 'vitest';
import { adoptChanges, type Estate, planEstate, planText, readPlatformFolder } from '../../src/estate/index.ts';

const empty = (): Estate['projects'][string] => ({ members: {}, environments: {}, secrets: [], securityPolicy: null });

const desired: Estate = {
  projects: {
    shop: {
      members: { 'user:alice': 'maintainer', 'group:developers': 'developer' },
      environments: {
        production: { members: {}, approvals: { count: 2, group: 'release-managers' } },
        staging: { members: { 'user:dave': 'developer' } },
      },
      secrets: ['DATABASE_URL', 'STRIPE_KEY'],
      securityPolicy: { block: ['critical'] },
    },
    billing: empty(),
  },
  groups: { 'release-managers': ['alice', 'bob'] },
};

describe('planEstate', () => {
  it('lists what makes the server match, ordered by kind then address, and nothing once it does', () => {
    const current: Estate = {
      projects: {
        shop: {
          ...empty(),
          members: { 'user:alice': 'developer', 'user:mallory': 'admin' },
          environments: { production: { members: {}, approvals: { count: 1 } } },
          secrets: ['DATABASE_URL', 'OLD_TOKEN'],
        },
      },
      groups: { 'release-managers': ['alice'] },
    };
    const plan = planEstate(desired, current);
    expect(plan.changes.map((c) => `${c.action} ${c.kind} ${c.address}`)).toEqual([
      'create project billing',
      'update group group:release-managers',
      'create member shop group:developers',
      'update member shop user:alice',
      'delete member shop user:mallory',
      'create member shop/staging user:dave',
      'update protection shop/production',
      'create security-policy shop',
    ]);
    expect(plan.secrets).toEqual([{ project: 'shop', missing: ['STRIPE_KEY'], undeclared: ['OLD_TOKEN'] }]);
    expect(planText(plan)).toContain('~ shop/production: protection\n      approvals: 1 → 2 from release-managers\n');
    expect(planText(plan)).toContain('Plan: 4 to create, 3 to update, 1 to delete.');
    expect(planEstate(desired, structuredClone(desired)).changes).toEqual([]);
    expect(planText(planEstate(desired, structuredClone(desired)))).toContain('No changes');
  });

  it('marks as drift what changed on the server since the last apply, and not what the folder changed', () => {
    const lastApplied = structuredClone(desired);
    const current = structuredClone(desired);
    (current.projects.shop as Estate['projects'][string]).environments.production = { members: {} };
    const changedFolder = structuredClone(desired);
    (changedFolder.projects.shop as Estate['projects'][string]).members['user:erin'] = 'viewer';
    const plan = planEstate(changedFolder, current, lastApplied);
    expect(plan.changes.map((c) => [c.address, c.drift])).toEqual([
      ['shop user:erin', false],
      ['shop/production', true],
    ]);
    expect(planText(plan)).toContain('+ shop/production: protection   (drift: changed on the server since the last apply)');
  });
});

describe('adoptChanges', () => {
  it("writes the server's values back into the file that declares them, keeping its comments", () => {
    const text = `# the shop's platform
projects:
  shop:
    members:
      user:alice: maintainer # the lead
    environments:
      production:
        approvals: { count: 2 }
      staging:
`;
    const files = [{ path: 'shop.yaml', text }];
    const read = readPlatformFolder(files);
    const current: Estate = {
      projects: {
        shop: {
          ...empty(),
          members: { 'user:alice': 'maintainer', 'user:bob': 'developer' },
          environments: {
            staging: { members: {}, windows: { timezone: 'UTC', deny: [{ days: ['sat', 'sun'], from: '00:00', to: '24:00' }] } },
          },
        },
      },
      groups: {},
    };
    const result = adoptChanges(files, read.origins, planEstate(read.estate, current).changes);
    expect(result.adopted.map((c) => c.address)).toEqual(['shop user:bob', 'shop/production', 'shop/staging']);
    const written = result.files[0]?.text ?? '';
    expect(written).toContain('# the shop');
    expect(written).toContain('user:alice: maintainer # the lead');
    const again = readPlatformFolder([{ path: 'shop.yaml', text: written }]);
    expect(planEstate(again.estate, current).changes).toEqual([]);
  });
});
