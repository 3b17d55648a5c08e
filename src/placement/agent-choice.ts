/**
 * Which agent runs what of a placed environment (docs/decisions/0043): the agents that may run it
 * are the live ones carrying every label of its `placement`, the first `spread` of them by name
 * (all when no spread is given); a new instance or the proxy goes to the least loaded of those,
 * ties to the first by name. Deterministic, so a rescheduling is the same on every server and in
 * every test. No I/O.
 */
import type { PlacementConfig } from '../core/delivery-config.ts';

/** An agent as placement sees it: its name, its labels and whether it is heard from. */
export interface PlacementAgent {
  name: string;
  labels: readonly string[];
  live: boolean;
}

/** The agents that may run an environment with this placement, in name order. */
export function candidatesFor(agents: readonly PlacementAgent[], placement: PlacementConfig): string[] {
  const matching = agents
    .filter((a) => a.live && placement.labels.every((label) => a.labels.includes(label)))
    .map((a) => a.name)
    .sort();
  return placement.spread === undefined ? matching : matching.slice(0, placement.spread);
}

/**
 * The candidate with the least load (what it already runs of the environment), ties to the first
 * by name; undefined when there is none.
 */
export function leastLoaded(candidates: readonly string[], load: ReadonlyMap<string, number>): string | undefined {
  let best: string | undefined;
  let bestLoad = Number.POSITIVE_INFINITY;
  for (const name of [...candidates].sort()) {
    const l = load.get(name) ?? 0;
    if (l < bestLoad) {
      best = name;
      bestLoad = l;
    }
  }
  return best;
}
