/**
 * An environment's `placement:` section: which agents (`gantry agent`) run its service instances
 * and its proxy, by their labels, and over how many of them the instances spread. Absent means
 * the server's own machine, as always (docs/decisions/0043). Kept apart from
 * config-delivery-schema.ts, which imports it.
 */
import { z } from 'zod';
import type { PlacementConfig } from '../core/delivery-config.ts';
import { compact, expected, idString } from './config-common.ts';

export const placementMap = z.strictObject(
  {
    labels: z
      .union(
        [idString('agent label'), z.array(idString('agent label'), expected('a list of agent labels')).min(1)],
        expected('a list of agent labels'),
      )
      .transform((value) => (typeof value === 'string' ? [value] : value))
      .describe('The labels an agent must carry (all of them) to run this environment, e.g. [linux, eu-west].'),
    spread: z
      .int(expected('a whole number of agents'))
      .min(1)
      .max(1000)
      .optional()
      .describe('Spread the instances over up to this many matching agents (default: every matching agent).'),
  },
  expected('a map (labels, spread)'),
);

/** raw `placement:` → the environment's placement. */
export const placementSchema = placementMap
  .transform((value): PlacementConfig => compact({ labels: [...new Set(value.labels)], spread: value.spread }))
  .describe(
    "Run this environment's instances and its proxy on agents carrying these labels instead of the server's machine (docs/decisions/0043).",
  );
