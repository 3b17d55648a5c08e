/**
 * The CVSS v3.x base score of a vector string (FIRST, CVSS v3.1 Specification §7.1 and the
 * Roundup of Appendix A), and the qualitative rating of §5. Advisories give vectors, not scores;
 * a finding's level comes from here when the database gives no rating of its own.
 */

const WEIGHTS = {
  AV: { N: 0.85, A: 0.62, L: 0.55, P: 0.2 },
  AC: { L: 0.77, H: 0.44 },
  UI: { N: 0.85, R: 0.62 },
  CIA: { H: 0.56, L: 0.22, N: 0 },
} as const;

/** Privileges Required weighs more when the scope changes. */
const PR = { U: { N: 0.85, L: 0.62, H: 0.27 }, C: { N: 0.85, L: 0.68, H: 0.5 } } as const;

/** Appendix A: the smallest number with one decimal ≥ the input, free of floating-point noise. */
export function roundUp(value: number): number {
  const scaled = Math.round(value * 100_000);
  return scaled % 10_000 === 0 ? scaled / 100_000 : (Math.floor(scaled / 10_000) + 1) / 10;
}

/** The base score of `CVSS:3.0/...` or `CVSS:3.1/...`; null when the vector is not a v3 base vector. */
export function cvss3BaseScore(vector: string): number | null {
  const [prefix, ...parts] = vector.split('/');
  if (prefix !== 'CVSS:3.0' && prefix !== 'CVSS:3.1') return null;
  const m = new Map<string, string>();
  for (const part of parts) {
    const [key, value] = part.split(':');
    if (key === undefined || value === undefined || m.has(key)) return null;
    m.set(key, value);
  }
  const get = <T extends Record<string, number>>(table: T, key: string): number | null => {
    const value = m.get(key);
    return value !== undefined && value in table ? (table[value] as number) : null;
  };
  const scope = m.get('S');
  if (scope !== 'U' && scope !== 'C') return null;
  const av = get(WEIGHTS.AV, 'AV');
  const ac = get(WEIGHTS.AC, 'AC');
  const pr = get(PR[scope], 'PR');
  const ui = get(WEIGHTS.UI, 'UI');
  const c = get(WEIGHTS.CIA, 'C');
  const i = get(WEIGHTS.CIA, 'I');
  const a = get(WEIGHTS.CIA, 'A');
  if (av === null || ac === null || pr === null || ui === null || c === null || i === null || a === null) return null;
  const iss = 1 - (1 - c) * (1 - i) * (1 - a);
  const impact = scope === 'U' ? 6.42 * iss : 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15;
  const exploitability = 8.22 * av * ac * pr * ui;
  if (impact <= 0) return 0;
  return scope === 'U' ? roundUp(Math.min(impact + exploitability, 10)) : roundUp(Math.min(1.08 * (impact + exploitability), 10));
}

export type SeverityLevel = 'critical' | 'high' | 'medium' | 'low' | 'none';

/** §5 Qualitative Severity Rating Scale. */
export function ratingOf(score: number): SeverityLevel {
  if (score === 0) return 'none';
  if (score < 4) return 'low';
  if (score < 7) return 'medium';
  if (score < 9) return 'high';
  return 'critical';
}
