/**
 * The store's part of an OIDC sign-in's callback, on the server's own store (a SQLite file as
 * `gantry up` opens it): the state taken, the session made and its `session.started` event. The
 * figure: one `TokenStore.trade` (one transaction, one commit); the baseline, interleaved in the
 * same run: what the callback did before the seventh session, a delete, a create and an append
 * (three commits). A first sign-in's `user.added` would add a fourth commit to the baseline and
 * nothing to the figure; not counted. Env: ROUNDS (default 300).
 */
import { join } from 'node:path';
import { openStore } from '../src/store/index.ts';
import type { EventEnvironment, NewEvent } from '../src/store/ports.ts';
import { benchMain, percentile, round, tempDir } from './lib.ts';

const ROUNDS = Number(process.env.ROUNDS ?? 300);
const ENV: EventEnvironment = { gantryVersion: 'bench', nodeVersion: process.version, host: 'bench', configHash: 'bench' };

void benchMain('oidc-callback-commits', 60_000 + ROUNDS * 200, async () => {
  const store = await openStore({ url: `sqlite:${join(await tempDir('oidc-commits'), 'gantry.db')}` });
  try {
    const started = (session: string): NewEvent => ({
      type: 'session.started',
      subject: 'server',
      actor: 'user:bench',
      data: { session },
      env: ENV,
    });
    const separate: number[] = [];
    const oneTransaction: number[] = [];
    for (let i = -20; i < ROUNDS; i++) {
      // Each round: two pending sign-ins, finished one way and the other, in alternating order.
      const [a, b] = [`state-a-${i}`, `state-b-${i}`];
      await store.tokens.create({ name: 'oidc-state:bench', hash: a });
      await store.tokens.create({ name: 'oidc-state:bench', hash: b });
      const timeSeparate = async () => {
        const t0 = performance.now();
        if (!(await store.tokens.delete(a))) throw new Error('state not taken');
        const session = await store.tokens.create({ name: 'session:bench', hash: `session-a-${i}`, owner: 'bench' });
        await store.events.append(started(session.id));
        return performance.now() - t0;
      };
      const timeTrade = async () => {
        const t0 = performance.now();
        const session = await store.tokens.trade(b, { name: 'session:bench', hash: `session-b-${i}`, owner: 'bench' }, (t) => [
          started(t.id),
        ]);
        if (session === null) throw new Error('state not taken');
        return performance.now() - t0;
      };
      let s: number;
      let t: number;
      if (i % 2 === 0) {
        s = await timeSeparate();
        t = await timeTrade();
      } else {
        t = await timeTrade();
        s = await timeSeparate();
      }
      if (i < 0) continue;
      separate.push(s);
      oneTransaction.push(t);
    }
    const p = (xs: number[], q: number) => round(percentile(xs, q), 3);
    return {
      rounds: ROUNDS,
      store: 'sqlite (synchronous=FULL, as gantry up opens it)',
      callback_store_ms: { p50: p(oneTransaction, 50), p90: p(oneTransaction, 90) },
      baseline: {
        name: 'the same writes as three commits (delete, create, append): the callback before',
        p50_ms: p(separate, 50),
        p90_ms: p(separate, 90),
      },
      ratio_p50: round(percentile(oneTransaction, 50) / percentile(separate, 50), 2),
    };
  } finally {
    await store.close();
  }
});
