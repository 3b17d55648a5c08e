/**
 * Cold start and idle footprint of the server: `gantry up` on a fresh data dir (SQLite created,
 * migrations, admin token), timed from spawn to the first 200 of GET /api/health (polled every
 * 10 ms), then its RSS after 5 s idle. Repeated on a new data dir each time; median (min–max).
 *
 * Env: REPS (default 5), IDLE_MS (default 5000). Peer (published, not run here): Buildbot 3.7
 * master start ≈ 3.0 s and 95 MiB RSS after its runs (/work/shared/bench/peers/README.md §2).
 */
import { setTimeout as delay } from 'node:timers/promises';
import { benchMain, progress, round, rssMiB, spread, startServer, tempDir } from './lib.ts';

const REPS = Number(process.env.REPS ?? 5);
const IDLE_MS = Number(process.env.IDLE_MS ?? 5000);
const BUILDBOT_START_MS = 3000;
const BUILDBOT_RSS_MIB = 95;

await benchMain('idle-server', 100_000, async () => {
  const ready: number[] = [];
  const rss: number[] = [];
  for (let rep = 0; rep < REPS; rep++) {
    const dataDir = await tempDir('idle-data');
    const server = await startServer({ dataDir, pollMs: 10 });
    // A fixed wait is the measurement here: the footprint after IDLE_MS of doing nothing.
    await delay(IDLE_MS);
    const mib = rssMiB(server.pid);
    await server.stop();
    if (mib === null) throw new Error('the server exited while idle');
    ready.push(server.readyMs);
    rss.push(mib);
    progress(`rep ${rep + 1}: ready in ${round(server.readyMs)} ms, RSS after ${IDLE_MS} ms idle ${round(mib, 1)} MiB`);
  }
  const readyMs = spread(ready, 0);
  const rssMib = spread(rss, 1);
  return {
    reps: REPS,
    idle_ms: IDLE_MS,
    spawn_to_health_200_ms: readyMs,
    rss_after_idle_mib: rssMib,
    peer: {
      name: 'Buildbot 3.7 master, published figures (/work/shared/bench/peers/README.md §2: create-master → "BuildMaster is running", RSS after its runs); not run here: not installed',
      start_ms: BUILDBOT_START_MS,
      rss_mib: BUILDBOT_RSS_MIB,
      ratio_start_gantry_to_peer: round(readyMs.median / BUILDBOT_START_MS, 2),
      ratio_rss_gantry_to_peer: round(rssMib.median / BUILDBOT_RSS_MIB, 2),
    },
  };
});
