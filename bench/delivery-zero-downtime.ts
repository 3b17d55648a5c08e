/**
 * Zero downtime (issue 3 §5): a constant open-loop load on an environment's proxy port for the
 * whole run while canary deploys and rollbacks run back to back through the API.
 *
 *   target: 0 failed requests — connection errors, timeouts, and 5xx the service did not
 *   produce (the proxy's own 502/503, marked `x-gantry-proxy-error`)
 *
 * Two good releases (same code, VERSION v-a / v-b) alternate: each deploy canaries the one not
 * running (one step, weight 50, 1 s, a lenient error-rate analysis), and after every
 * DEPLOYS/ROLLBACKS deploys `POST …/rollback` goes back to the previous release (blue-green,
 * nothing kept). Each operation is awaited to its final phase before the next starts; one that
 * does not end `succeeded` is reported. Failures are attributed to the operation under way.
 *
 * Env: RATE [300] requests/s, DEPLOYS [20], ROLLBACKS [5], INSTANCES [1] per release,
 *      TAIL_MS [1000] load after the last operation, DEADLINE_MS [300000].
 */
import { benchMain, epochMs, progress, round, spread } from './lib.ts';
import { canaryStrategy, DeliveryBench, isFailure, OpenLoopLoad, summarize, type Release } from './delivery-lib.ts';

const RATE = Number(process.env.RATE ?? 300);
const DEPLOYS = Number(process.env.DEPLOYS ?? 20);
const ROLLBACKS = Number(process.env.ROLLBACKS ?? 5);
const INSTANCES = Number(process.env.INSTANCES ?? 1);
const TAIL_MS = Number(process.env.TAIL_MS ?? 1000);
const DEADLINE_MS = Number(process.env.DEADLINE_MS ?? 300_000);
const ENV = 'production';

interface Operation {
  kind: 'deploy' | 'rollback';
  release: number;
  rolloutId: string;
  phase: string;
  reason: string | null;
  startMs: number;
  endMs: number;
}

await benchMain('delivery-zero-downtime', DEADLINE_MS, async () => {
  const bench = await DeliveryBench.create({
    instances: INSTANCES,
    drainTimeout: '5s',
    environments: {
      [ENV]: {
        strategy: canaryStrategy([{ weight: 50, pause: '1s' }], {
          'error-rate': { max: '50%' },
          'min-requests': 20,
          window: '5s',
          inconclusive: 'continue',
        }),
      },
    },
  });
  const a = await bench.release({ version: 'v-a' });
  const b = await bench.release({ version: 'v-b' });
  const first = await bench.settled(ENV, await bench.deploy(ENV, a));
  if (first.rollout?.phase !== 'succeeded')
    throw new Error(`the first deploy ended ${first.rollout?.phase}: ${first.rollout?.state.reason}`);
  const port = await bench.port(ENV);
  progress(`${ENV} serves v-a on 127.0.0.1:${port}; load ${RATE}/s starts`);

  const load = new OpenLoopLoad({ port, rate: RATE }).start();
  const startedMs = epochMs();
  const operations: Operation[] = [];
  let current = a;
  const rollbackEvery = ROLLBACKS > 0 ? Math.max(1, Math.floor(DEPLOYS / ROLLBACKS)) : Infinity;
  try {
    for (let d = 1; d <= DEPLOYS; d++) {
      const target = current.id === a.id ? b : a;
      operations.push(await operate(bench, 'deploy', target, () => bench.deploy(ENV, target)));
      if (operations.at(-1)?.phase === 'succeeded') current = target;
      if (d % rollbackEvery === 0 && operations.filter((o) => o.kind === 'rollback').length < ROLLBACKS) {
        const back = current.id === a.id ? b : a;
        operations.push(await operate(bench, 'rollback', back, () => bench.rollback(ENV)));
        const after = (await bench.rollout(ENV)).environment?.currentReleaseId;
        current = [a, b].find((r) => r.id === after) ?? current;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, TAIL_MS));
  } finally {
    await load.stop();
  }
  const wallMs = epochMs() - startedMs;

  const failures = load.records.filter(isFailure);
  const during = (t: number) => operations.findIndex((o) => t >= o.startMs && t <= o.endMs);
  const failuresByOperation: Record<string, number> = {};
  for (const f of failures) {
    const i = during(f.sentMs);
    const key = i < 0 ? 'between operations' : `${i + 1}:${operations[i]?.kind} to #${operations[i]?.release}`;
    failuresByOperation[key] = (failuresByOperation[key] ?? 0) + 1;
  }
  const notSucceeded = operations.filter((o) => o.phase !== 'succeeded');
  const summary = summarize(load.records);
  return {
    settings: {
      rate_per_s: RATE,
      deploys: DEPLOYS,
      rollbacks: ROLLBACKS,
      instances_per_release: INSTANCES,
      canary: 'one step 50% for 1s, error-rate max 50%',
      env: ENV,
    },
    ...summary,
    failures_by_operation: failuresByOperation,
    deploys_done: operations.filter((o) => o.kind === 'deploy' && o.phase === 'succeeded').length,
    rollbacks_done: operations.filter((o) => o.kind === 'rollback' && o.phase === 'succeeded').length,
    operations_not_succeeded: notSucceeded.map((o) => ({
      kind: o.kind,
      release: o.release,
      rollout: o.rolloutId,
      phase: o.phase,
      reason: o.reason,
    })),
    operation_ms: spread(
      operations.map((o) => o.endMs - o.startMs),
      0,
    ),
    wall_ms: round(wallMs),
    target: { failed_requests: 0 },
    meets_target: failures.length === 0 && notSucceeded.length === 0,
  };
});

async function operate(bench: DeliveryBench, kind: Operation['kind'], target: Release, start: () => Promise<string>): Promise<Operation> {
  const startMs = epochMs();
  const rolloutId = await start();
  const view = await bench.settled(ENV, rolloutId, 60_000);
  const op: Operation = {
    kind,
    release: target.number,
    rolloutId,
    phase: view.rollout?.phase ?? '?',
    reason: view.rollout?.state.reason ?? null,
    startMs,
    endMs: epochMs(),
  };
  progress(`${kind} to #${target.number}: ${op.phase} in ${round(op.endMs - startMs)} ms${op.reason ? ` (${op.reason})` : ''}`);
  return op;
}
