import { describe, expect, it } from 'vitest';
import { instancesTaken, planInstanceFaults, resolveInstanceReleases, seededRandom } from '../../src/chaos/index.ts';
import type { InstanceFault } from '../../src/core/chaos-config.ts';

const instances = [
  { id: 'a1', release: 'r1' },
  { id: 'a2', release: 'r1' },
  { id: 'a3', release: 'r1' },
  { id: 'b1', release: 'r2' },
];

describe('which instances an instance fault takes', () => {
  it('takes a count, or a share rounded up to at least one, never more than there are', () => {
    expect(instancesTaken({ count: 1 }, 4)).toBe(1);
    expect(instancesTaken({ count: 9 }, 4)).toBe(4);
    expect(instancesTaken({ share: 0.5 }, 3)).toBe(2);
    expect(instancesTaken({ share: 0.5 }, 4)).toBe(2);
    expect(instancesTaken({ share: 0.01 }, 4)).toBe(1);
  });

  it("picks only the named release's instances, without repeats", () => {
    const [plan] = planInstanceFaults([{ kind: 'kill', target: { share: 1, release: 'r1' } }], instances, seededRandom(1));
    expect([...(plan?.instanceIds ?? [])].sort()).toEqual(['a1', 'a2', 'a3']);
    const [canary] = planInstanceFaults([{ kind: 'pause', target: { count: 1, release: 'r2' } }], instances, seededRandom(1));
    expect(canary?.instanceIds).toEqual(['b1']);
  });

  it('picks uniformly: each of four instances about a quarter of the time', () => {
    const random = seededRandom(7);
    const seen = new Map<string, number>();
    for (let i = 0; i < 4000; i++) {
      const [plan] = planInstanceFaults([{ kind: 'kill', target: { count: 1 } }], instances, random);
      const id = plan?.instanceIds[0] as string;
      seen.set(id, (seen.get(id) ?? 0) + 1);
    }
    for (const id of ['a1', 'a2', 'a3', 'b1']) expect(seen.get(id)).toBeGreaterThan(850); // 1000 ± 4.7σ
  });

  it('refuses a fault that finds no instance to take', () => {
    expect(() => planInstanceFaults([{ kind: 'kill', target: { count: 1, release: 'r9' } }], instances, Math.random)).toThrow(
      /no ready instance of release r9/,
    );
  });

  it('puts the running releases where a fault names canary or stable', () => {
    const faults: InstanceFault[] = [
      { kind: 'kill', target: { count: 1, release: 'canary' } },
      { kind: 'cpu', target: { count: 1, release: 'stable' }, workers: 1 },
    ];
    expect(resolveInstanceReleases(faults, { stable: 'r1', canary: 'r2' }).map((f) => f.target.release)).toEqual(['r2', 'r1']);
    expect(() => resolveInstanceReleases(faults, { stable: 'r1', canary: null })).toThrow(/no rollout is under way/);
  });
});
