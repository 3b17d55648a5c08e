/** Notification channels in the platform folder: read with their secret references, planned, adopted back (pure). */
import { describe, expect, it } from 'vitest';
import { InvalidConfigError } from '../../src/core/errors.ts';
import { adoptChanges, type Estate, type EstateChannel, planEstate, readPlatformFolder } from '../../src/estate/index.ts';

const FILE = `projects:
  shop:
    secrets: [DATABASE_URL]
    channels:
      oncall:   # pages the on-call person
        type: slack
        url: { secret: ONCALL_WEBHOOK }
`;

function problems(text: string): string[] {
  try {
    readPlatformFolder([{ path: 'p.yaml', text }]);
    return [];
  } catch (error) {
    if (!(error instanceof InvalidConfigError)) throw error;
    return error.diagnostics.map((d) => `${d.file}:${d.line}:${d.col}: ${d.message}`);
  }
}

const oncall: EstateChannel = {
  type: 'slack',
  url: { secret: 'ONCALL_WEBHOOK' },
  signingKey: null,
  events: null,
  environments: null,
  severities: null,
};
const project = (channels?: Record<string, EstateChannel>) => ({
  members: {},
  environments: {},
  secrets: [],
  securityPolicy: null,
  ...(channels === undefined ? {} : { channels }),
});
const estate = (channels?: Record<string, EstateChannel>): Estate => ({ projects: { shop: project(channels) }, groups: {} });

describe('channels in the platform folder', () => {
  it('reads a channel with its secret reference, which the project then needs', () => {
    const { estate: read } = readPlatformFolder([{ path: 'shop.yaml', text: FILE }]);
    expect(read.projects.shop?.channels).toEqual({ oncall });
    expect(read.projects.shop?.secrets).toEqual(['DATABASE_URL', 'ONCALL_WEBHOOK']);
    expect(readPlatformFolder([{ path: 'shop.yaml', text: 'projects:\n  shop: {}\n' }]).estate.projects.shop?.channels).toBeUndefined();
  });

  it('refuses a value where a secret is expected, a webhook without its signing key, and a name used twice', () => {
    expect(
      problems(`projects:
  shop:
    channels:
      oncall: { type: slack, url: "https://hooks.example.test/T0" }
      audit: { type: webhook, url: { secret: AUDIT_URL } }
      page: { type: slack, url: { secret: A }, signing-key: { secret: K } }
  web:
    channels:
      oncall: { type: slack, url: { secret: ONCALL } }
`),
    ).toEqual([
      "p.yaml:4:35: expected { secret: NAME }: a credential is never written here, the project's secret NAME holds it (`gantry secret set`)",
      'p.yaml:5:22: a webhook channel is signed: give signing-key: { secret: NAME } (the receiver checks the HMAC with it)',
      'p.yaml:6:61: a slack channel is not signed: leave out signing-key',
    ]);
    expect(
      problems(`projects:
  shop:
    channels:
      oncall: { type: slack, url: { secret: A } }
  web:
    channels:
      oncall: { type: slack, url: { secret: B } }
`),
    ).toEqual(['p.yaml:7:7: channel oncall is declared twice (first at p.yaml:4:7)']);
  });

  it('plans channels only for a project that declares them, by secret name', () => {
    const server = estate({ old: { ...oncall, url: { secret: null } } });
    expect(planEstate(estate(), server).changes).toEqual([]);
    const plan = planEstate(estate({ oncall }), server);
    expect(plan.changes.map((c) => `${c.action} ${c.address}`)).toEqual(['delete shop channel:old', 'create shop channel:oncall']);
  });

  it('adopts a channel made by hand into the file by secret name, and not one whose value is no secret', () => {
    const files = [{ path: 'shop.yaml', text: FILE }];
    const { origins } = readPlatformFolder(files);
    const extra: EstateChannel = { ...oncall, url: { secret: 'DEPLOYS_HOOK' }, events: ['deploy.*'] };
    const { changes } = planEstate(estate({ oncall }), estate({ oncall: { ...oncall, url: { secret: null } }, deploys: extra }));
    const result = adoptChanges(files, origins, changes);
    expect(result.adopted.map((c) => c.address)).toEqual(['shop channel:deploys']);
    expect(result.skipped.map((s) => s.change.address)).toEqual(['shop channel:oncall']);
    expect(result.skipped[0]?.reason).toContain('not the value of any secret of shop');
    expect(result.files[0]?.text).toContain('# pages the on-call person');
    expect(result.files[0]?.text).toContain(
      'deploys:\n        type: slack\n        url:\n          secret: DEPLOYS_HOOK\n        events:\n          - deploy.*\n',
    );
  });
});
