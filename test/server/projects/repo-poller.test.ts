import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RepoPoller, type RepoPollerOptions } from '../../../src/server/projects/repo-poller.ts';
import { TempDirs, commit, git, initRepo } from '../repos/git-fixture.ts';

type Update = { ref: string; before: string | null; after: string };

const temp = new TempDirs();
const pollers: RepoPoller[] = [];
let bareUrl: string;
let work: string;
let first: string;

/** A bare "remote" reached by file:// URL and a working clone that pushes into it. */
beforeEach(async () => {
  const bare = await initRepo(await temp.make(), true);
  bareUrl = pathToFileURL(bare).href;
  work = await initRepo(await temp.make());
  first = await commit(work, { 'README.md': 'one\n' });
  await git(work, ['remote', 'add', 'origin', bare]);
  await git(work, ['push', '-q', 'origin', 'main']);
});

afterEach(async () => {
  await Promise.all(pollers.splice(0).map((p) => p.stop()));
  await temp.cleanup();
});

function poller(o: Partial<RepoPollerOptions> = {}) {
  const changes: Update[] = [];
  const states: Record<string, string>[] = [];
  const errors: Error[] = [];
  const p = new RepoPoller({
    url: bareUrl,
    intervalMs: 60_000,
    initialState: null,
    onChange: async (u) => {
      changes.push(u);
    },
    onState: async (s) => {
      states.push(s);
    },
    onError: (e) => errors.push(e),
    ...o,
  });
  pollers.push(p);
  return { p, changes, states, errors };
}

describe('RepoPoller', () => {
  it('records the state on the first poll, then reports what a push moved', async () => {
    const { p, changes, states, errors } = poller();
    await p.pollNow();
    expect(changes).toEqual([]);
    expect(states).toEqual([{ 'refs/heads/main': first }]);

    const second = await commit(work, { 'a.txt': 'a\n' });
    await git(work, ['push', '-q', 'origin', 'main']);
    await git(work, ['push', '-q', 'origin', `${first}:refs/heads/feature`]);
    await p.pollNow();
    expect(changes).toEqual([
      { ref: 'refs/heads/feature', before: null, after: first },
      { ref: 'refs/heads/main', before: first, after: second },
    ]);
    expect(states.at(-1)).toEqual({ 'refs/heads/main': second, 'refs/heads/feature': first });

    await p.pollNow();
    expect(changes).toHaveLength(2);
    expect(errors).toEqual([]);
  });

  it('reports changes made since a persisted state', async () => {
    const old = 'a'.repeat(40);
    const { p, changes } = poller({ initialState: { 'refs/heads/main': old, 'refs/heads/gone': old } });
    await p.pollNow();
    expect(changes).toEqual([{ ref: 'refs/heads/main', before: old, after: first }]);
  });

  it('reports new tags, and takes the tags of a branches-only state (an earlier Gantry) as seen', async () => {
    await git(work, ['tag', 'old-1']);
    await git(work, ['tag', '-a', 'old-2', '-m', 'annotated']);
    await git(work, ['push', '-q', 'origin', '--tags']);
    const { p, changes, states } = poller({ initialState: { 'refs/heads/main': first }, initialStateWithoutTags: true });
    await p.pollNow();
    expect(changes).toEqual([]);
    const old2 = await git(work, ['rev-parse', 'refs/tags/old-2']);
    expect(states).toEqual([{ 'refs/heads/main': first, 'refs/tags/old-1': first, 'refs/tags/old-2': old2 }]);

    await git(work, ['tag', 'v1']);
    await git(work, ['push', '-q', 'origin', 'v1']);
    await p.pollNow();
    expect(changes).toEqual([{ ref: 'refs/tags/v1', before: null, after: first }]);
  });

  it('records more than three tags moved at once as seen and hands them to onTagBurst, not onChange', async () => {
    const bursts: { ref: string; after: string }[][] = [];
    const { p, changes, states } = poller({ onTagBurst: async (tags) => void bursts.push(tags) });
    await p.pollNow();
    const second = await commit(work, { 'a.txt': 'a\n' });
    for (const tag of ['a', 'b', 'c', 'd']) await git(work, ['tag', tag]);
    await git(work, ['push', '-q', 'origin', 'main', '--tags']);
    await p.pollNow();
    expect(changes).toEqual([{ ref: 'refs/heads/main', before: first, after: second }]);
    expect(bursts).toEqual([['a', 'b', 'c', 'd'].map((tag) => ({ ref: `refs/tags/${tag}`, before: null, after: second }))]);
    expect(Object.keys(states.at(-1) ?? {})).toHaveLength(5);
    await p.pollNow();
    expect(bursts).toHaveLength(1);
  });

  it('forgets a deleted branch without a trigger', async () => {
    await git(work, ['push', '-q', 'origin', `${first}:refs/heads/tmp`]);
    const { p, changes, states } = poller();
    await p.pollNow();
    await git(work, ['push', '-q', 'origin', ':refs/heads/tmp']);
    await p.pollNow();
    expect(changes).toEqual([]);
    expect(states.at(-1)).toEqual({ 'refs/heads/main': first });
  });

  it('never overlaps polls: concurrent pollNow calls report a push once', async () => {
    const { p, changes } = poller();
    await p.pollNow();
    await commit(work, { 'b.txt': 'b\n' });
    await git(work, ['push', '-q', 'origin', 'main']);
    await Promise.all([p.pollNow(), p.pollNow(), p.pollNow()]);
    expect(changes).toHaveLength(1);
  });

  it('offers a change again when onChange failed', async () => {
    let fail = true;
    const seen: Update[] = [];
    const { p, errors } = poller({
      onChange: async (u) => {
        seen.push(u);
        if (fail) throw new Error('database down');
      },
    });
    await p.pollNow();
    const second = await commit(work, { 'c.txt': 'c\n' });
    await git(work, ['push', '-q', 'origin', 'main']);
    await p.pollNow();
    expect(errors.map((e) => e.message)).toEqual(['database down']);
    fail = false;
    await p.pollNow();
    expect(seen).toEqual([
      { ref: 'refs/heads/main', before: first, after: second },
      { ref: 'refs/heads/main', before: first, after: second },
    ]);
  });

  it('reports errors through onError and never rejects', async () => {
    const { p, errors } = poller({ url: pathToFileURL(path.join(work, 'missing.git')).href });
    await expect(p.pollNow()).resolves.toBeUndefined();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'GIT_FAILED' });
  });

  it('polls on its timer once started, and stop() ends it', async () => {
    const { p, changes, states } = poller({ intervalMs: 50 });
    p.start();
    await vi.waitFor(() => expect(states.length).toBeGreaterThan(0), { timeout: 5000, interval: 20 });
    const second = await commit(work, { 'd.txt': 'd\n' });
    await git(work, ['push', '-q', 'origin', 'main']);
    await vi.waitFor(() => expect(changes).toEqual([{ ref: 'refs/heads/main', before: first, after: second }]), {
      timeout: 5000,
      interval: 20,
    });
    await p.stop();
    await expect(p.pollNow()).resolves.toBeUndefined();
  });
});
