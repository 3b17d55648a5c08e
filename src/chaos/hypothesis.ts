/**
 * The steady-state hypothesis as the canary analysis judges it (src/delivery/analysis.ts), so an
 * experiment and a canary agree on what "worse" means and share the care about noise and repeated
 * looks. Absolute bounds (`max`, the SLO's burn rate) are judged on all of the environment's
 * traffic — what its users see; `maxIncrease` bounds compare the requests inside the blast radius
 * with the control, the traffic outside it (docs/decisions/0030). Pure.
 */
import { HYPOTHESIS_MAX_BURN_RATE, type HypothesisConfig } from '../core/chaos-config.ts';
import { ANALYSIS_DEFAULTS, type AnalysisConfig } from '../core/delivery-config.ts';
import type { SliConfig } from '../core/slo-config.ts';
import { evaluateAnalysis, type AnalysisCheck, type CheckOutcome, type Sample } from '../delivery/index.ts';

/** The SLO a hypothesis names, as the environment defines it (absent: the check is inconclusive). */
export interface HypothesisSlo {
  objective: number;
  sli: SliConfig;
}

/** One look at the traffic: inside the blast radius (faulted), outside it (the control), and both together. */
export interface HypothesisWindow {
  all: Sample;
  inside: Sample;
  outside: Sample;
}

/** `broken` = some check failed; `inconclusive` = too little traffic to say; `held` otherwise. */
export type HypothesisOutcome = 'held' | 'broken' | 'inconclusive';

export interface HypothesisResult {
  outcome: HypothesisOutcome;
  checks: AnalysisCheck[];
  /** The numbers behind it, for the record. */
  requests: number;
  errors: number;
}

/** The least traffic a verdict needs: fewer requests and every traffic check is inconclusive. */
export const HYPOTHESIS_MIN_REQUESTS = 20;

/** Evaluates the hypothesis on one window; `slo` is the named SLO's definition, if the environment has it. */
export function evaluateHypothesis(h: HypothesisConfig, window: HypothesisWindow, slo?: HypothesisSlo): HypothesisResult {
  const base = {
    latency: [],
    prometheus: [],
    minRequests: HYPOTHESIS_MIN_REQUESTS,
    minErrors: ANALYSIS_DEFAULTS.minErrors,
    windowMs: ANALYSIS_DEFAULTS.windowMs,
    confidence: ANALYSIS_DEFAULTS.confidence,
    onInconclusive: 'continue',
  } satisfies AnalysisConfig;
  const absolute: AnalysisConfig = {
    ...base,
    latency: h.latency.filter((l) => l.maxMs !== undefined).map((l) => ({ quantile: l.quantile, maxMs: l.maxMs as number })),
  };
  if (h.errorRate?.max !== undefined) absolute.errorRate = { max: h.errorRate.max };
  if (h.slo !== undefined) {
    absolute.slo = { name: h.slo, maxBurnRate: HYPOTHESIS_MAX_BURN_RATE };
    if (slo !== undefined) {
      absolute.slo.objective = slo.objective;
      if (slo.sli.kind === 'availability' || slo.sli.kind === 'latency') absolute.slo.sli = slo.sli;
    }
  }
  const relative: AnalysisConfig = {
    ...base,
    latency: h.latency
      .filter((l) => l.maxIncreaseMs !== undefined)
      .map((l) => ({ quantile: l.quantile, maxIncreaseMs: l.maxIncreaseMs as number })),
  };
  if (h.errorRate?.maxIncrease !== undefined) relative.errorRate = { maxIncrease: h.errorRate.maxIncrease };
  const checks = [
    ...evaluateAnalysis(absolute, { canary: window.all, baseline: window.outside }).checks,
    ...(hasChecks(relative) ? evaluateAnalysis(relative, { canary: window.inside, baseline: window.outside }).checks : []),
  ];
  return { outcome: outcomeOf(checks), checks, requests: window.all.requests, errors: window.all.errors };
}

function hasChecks(c: AnalysisConfig): boolean {
  return c.errorRate !== undefined || c.latency.length > 0;
}

function outcomeOf(checks: AnalysisCheck[]): HypothesisOutcome {
  const outcomes = new Set<CheckOutcome>(checks.map((c) => c.outcome));
  if (outcomes.has('fail')) return 'broken';
  if (outcomes.has('inconclusive')) return 'inconclusive';
  return 'held';
}

/** The two samples added together (histogram buckets concatenated: the analysis merges equal values). */
export function addSamples(a: Sample, b: Sample): Sample {
  return { requests: a.requests + b.requests, errors: a.errors + b.errors, latency: [...a.latency, ...b.latency] };
}
