/** The definitions are written once: docs/dora.md carries the code's table word for word; tiers and windows at their edges. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GantryError } from '../../src/core/errors.ts';
import {
  changeFailureTier,
  DORA_2024_CLUSTERS,
  DORA_DEFINITIONS,
  frequencyTier,
  leadTimeTier,
  parseSince,
  recoveryTier,
  TIER_RULES,
} from '../../src/dora/index.ts';

const DOCS = readFileSync(join(import.meta.dirname, '../../docs/dora.md'), 'utf8');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('docs/dora.md', () => {
  it('carries every definition, cluster and tier rule of src/dora/definitions.ts word for word', () => {
    for (const d of DORA_DEFINITIONS) expect(DOCS).toContain(`### ${d.name}\n\n${d.definition}\n`);
    for (const [tier, c] of Object.entries(DORA_2024_CLUSTERS))
      expect(DOCS).toContain(`| ${tier} | ${c.deploymentFrequency} | ${c.leadTime} | ${c.changeFailureRate} | ${c.recoveryTime} |`);
    for (const [key, rule] of Object.entries(TIER_RULES)) expect(DOCS).toContain(`- ${key}: ${rule}`);
    expect(DOCS).toContain('https://dora.dev/guides/dora-metrics/');
  });
});

describe('tiers', () => {
  it('puts each number in the best 2024 cluster it matches or beats', () => {
    expect([0, 1 / 60, 1 / 30, 1 / 7, 1, 1.01].map(frequencyTier)).toEqual([null, 'low', 'medium', 'high', 'high', 'elite']);
    expect([null, DAY - 1, DAY, 7 * DAY, 30 * DAY, 31 * DAY].map(leadTimeTier)).toEqual([null, 'elite', 'high', 'high', 'medium', 'low']);
    expect([null, 0, 0.05, 0.08, 0.2, 0.21].map(changeFailureTier)).toEqual([null, 'elite', 'elite', 'high', 'high', 'low']);
    expect([null, HOUR - 1, HOUR, DAY - 1, DAY].map(recoveryTier)).toEqual([null, 'elite', 'high', 'high', 'low']);
  });
});

describe('windows', () => {
  const now = Date.parse('2026-12-06T12:00:00Z');

  it('reads durations back from now and dates', () => {
    expect(parseSince('7d', now)).toEqual({ from: now - 7 * DAY, to: now });
    expect(parseSince('2w', now).from).toBe(now - 14 * DAY);
    expect(parseSince('12h', now).from).toBe(now - 12 * HOUR);
    expect(parseSince('2026-11-01', now).from).toBe(Date.parse('2026-11-01T00:00:00Z'));
    expect(parseSince('2026-11-01T06:30:00Z', now).from).toBe(Date.parse('2026-11-01T06:30:00Z'));
  });

  it('refuses anything else with DORA_INVALID_WINDOW', () => {
    for (const bad of ['30', 'd30', '1y', 'yesterday', '2027-01-01', '0d', '2026-13-45', '99999d']) {
      const error = (() => {
        try {
          parseSince(bad, now);
        } catch (e) {
          return e;
        }
        return null;
      })();
      expect(error, bad).toBeInstanceOf(GantryError);
      expect((error as GantryError).code).toBe('DORA_INVALID_WINDOW');
    }
  });
});
