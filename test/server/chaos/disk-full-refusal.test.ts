/**
 * The check before a disk-full experiment starts, behind the EnvironmentInstances port: refused
 * (with the instance named) when any instance it could take has no size-limited /tmp in a
 * sandbox; allowed when every one has; instances of another release than the fault's do not count.
 */
import { describe, expect, it } from 'vitest';
import type { InstanceFault } from '../../../src/core/chaos-config.ts';
import { diskFullRefusal } from '../../../src/server/chaos/instance-fault-driver.ts';
import type { EnvironmentInstances } from '../../../src/server/delivery/index.ts';

function instances(list: { id: string; release: string; tmpSizeBytes: number | null }[]): EnvironmentInstances {
  return {
    ready: () => list.map(({ id, release }) => ({ id, release })),
    faultable: (id) => {
      const i = list.find((x) => x.id === id);
      if (i === undefined) return undefined;
      return {
        ref: { pid: 1, startTime: '1', envKey: id, sandboxed: i.tmpSizeBytes !== null },
        tmpSizeBytes: i.tmpSizeBytes,
        restart: () => {},
      };
    },
  };
}

const fill = (release?: string): InstanceFault => ({
  kind: 'disk-full',
  target: release === undefined ? { count: 1 } : { count: 1, release },
});

describe('disk-full refusal', () => {
  it('refuses when an instance it could take has its /tmp on disk, and names it', () => {
    const env = instances([
      { id: 'a', release: 'r1', tmpSizeBytes: 1 << 20 },
      { id: 'b', release: 'r2', tmpSizeBytes: null },
    ]);
    expect(diskFullRefusal(env, [fill()])).toMatch(/^instance b has no size-limited \/tmp in a sandbox/);
    expect(diskFullRefusal(env, [fill('r1')])).toBeNull();
    expect(diskFullRefusal(env, [{ kind: 'kill', target: { count: 1 } }])).toBeNull();
  });
});
