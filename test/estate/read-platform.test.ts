/** The platform folder read into an estate, and every problem at its FILE:LINE:COL with did-you-mean. */
import { describe, expect, it } from 'vitest';
import { InvalidConfigError } from '../../src/core/errors.ts';
import { readPlatformFolder } from '../../src/estate/index.ts';

const SHOP = `projects:
  shop:
    members:
      group:developers: developer
      user:alice: maintainer
    secrets: [STRIPE_KEY, DATABASE_URL]
    security-policy: { block: [critical, high] }
    environments:
      staging:
      production:
        members: { group:release-managers: maintainer }
        approvals: { count: 2, group: release-managers }
        windows:
          timezone: Europe/Paris
          allow: [{ days: [mon, tue, wed, thu, fri], from: "09:00", to: "17:00" }]
          deny: [{ days: [fri], from: "16:00", to: "24:00" }]
`;
const GROUPS = `groups:
  release-managers: [bob, alice, bob]
  developers: [carol]
`;

function problems(files: { path: string; text: string }[]): string[] {
  try {
    readPlatformFolder(files);
  } catch (error) {
    if (error instanceof InvalidConfigError) return error.diagnostics.map((d) => `${d.file}:${d.line}:${d.col}: ${d.message}`);
    throw error;
  }
  return [];
}

describe('readPlatformFolder', () => {
  it('reads projects, environments, protection, members, secrets and groups from several files', () => {
    const { estate, origins } = readPlatformFolder([
      { path: 'groups.yaml', text: GROUPS },
      { path: 'shop.yaml', text: SHOP },
    ]);
    expect(estate.groups).toEqual({ 'release-managers': ['alice', 'bob'], developers: ['carol'] });
    expect(estate.projects.shop).toEqual({
      members: { 'group:developers': 'developer', 'user:alice': 'maintainer' },
      secrets: ['DATABASE_URL', 'STRIPE_KEY'],
      securityPolicy: { block: ['critical', 'high'] },
      environments: {
        staging: { members: {} },
        production: {
          members: { 'group:release-managers': 'maintainer' },
          approvals: { count: 2, group: 'release-managers' },
          windows: {
            timezone: 'Europe/Paris',
            allow: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '09:00', to: '17:00' }],
            deny: [{ days: ['fri'], from: '16:00', to: '24:00' }],
          },
        },
      },
    });
    expect(origins).toEqual({ projects: { shop: 'shop.yaml' }, groups: { 'release-managers': 'groups.yaml', developers: 'groups.yaml' } });
  });

  it('reports every problem at its place, with did-you-mean for misspelt keys and groups', () => {
    const text = `projects:
  shop:
    environments:
      production:
        aprovals: { count: 2 }
        approvals: { count: 0, group: release-manager }
        windows: { timezone: Mars/Olympus, allow: [{ days: [fry], from: "9am", to: "17:00" }] }
    members:
      alice: admin
      user:bob: owner
`;
    expect(problems([{ path: 'shop.yaml', text }])).toEqual([
      "shop.yaml:5:9: unknown key 'aprovals' (did you mean 'approvals'?)",
      'shop.yaml:6:29: Too small: expected number to be >=1',
      'shop.yaml:7:30: expected an IANA time zone such as Europe/Paris or UTC',
      'shop.yaml:7:61: expected a weekday: mon, tue, wed, thu, fri, sat, sun',
      'shop.yaml:7:73: expected a time of day as HH:MM (00:00 to 24:00)',
      "shop.yaml:9:7: expected user:NAME or group:NAME (in the key 'alice')",
      'shop.yaml:10:17: expected a role: viewer, developer, maintainer, admin',
    ]);
  });

  it('refuses a project declared twice and a group one typo from a declared one', () => {
    const again = 'projects:\n  shop:\n    members: {}\n';
    expect(
      problems([
        { path: 'a.yaml', text: SHOP },
        { path: 'b.yaml', text: again },
        { path: 'groups.yaml', text: GROUPS },
      ]),
    ).toEqual(['b.yaml:2:3: project shop is declared twice (first at a.yaml:2:3)']);
    const typo = SHOP.replace('group: release-managers', 'group: release-manager');
    expect(
      problems([
        { path: 'shop.yaml', text: typo },
        { path: 'groups.yaml', text: GROUPS },
      ]),
    ).toEqual(["shop.yaml:12:39: unknown group 'release-manager' (did you mean 'release-managers'?)"]);
    expect(problems([{ path: 'bad.yaml', text: 'projects: [\n' }])[0]).toMatch(/^bad\.yaml:\d+:\d+: invalid YAML/);
  });
});
