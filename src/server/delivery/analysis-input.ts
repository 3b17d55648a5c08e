/**
 * Gathers what one analysis tick decides on: the proxy's request metrics of the canary release
 * and of the baseline (the previous release) over the analysis window, plus the Prometheus checks
 * where configured, and hands them to the pure `evaluateAnalysis` (src/delivery/analysis.ts).
 */
import { evaluateAnalysis, type AnalysisResult, type RolloutState } from '../../delivery/index.ts';
import type { MetricsSource, RequestWindows } from './ports.ts';

export interface AnalysisInput {
  state: RolloutState;
  /** The environment's proxy, or the target's own measurements (a Kubernetes namespace's proxy pods). */
  proxy: RequestWindows;
  environment: string;
  releaseId: string;
  previousReleaseId: string | null;
  prometheus: MetricsSource | null;
}

/** The analysis at `at`, or null when the strategy has none. Rejects when the proxy cannot be read. */
export async function analyse(input: AnalysisInput, at: number): Promise<AnalysisResult | null> {
  const strategy = input.state.strategy;
  const config = strategy.kind === 'canary' || strategy.kind === 'blue-green' ? strategy.analysis : undefined;
  if (!config) return null;
  // Never before this rollout began: the same release may have served (and failed) in an earlier
  // rollout, and its requests then must not decide this one.
  const since = Math.max(at - config.windowMs, input.state.startedAt ?? at);
  const [canary, baseline] = await Promise.all([
    input.proxy.window(since, at, { version: input.releaseId }),
    input.previousReleaseId ? input.proxy.window(since, at, { version: input.previousReleaseId }) : { requests: 0, errors: 0, latency: [] },
  ]);
  const prometheus =
    config.prometheus.length > 0 && input.prometheus
      ? (await input.prometheus.evaluate(config.prometheus, { version: input.releaseId, environment: input.environment }, new Date(at)))
          .values
      : undefined;
  return evaluateAnalysis(config, {
    canary: { requests: canary.requests, errors: canary.errors, latency: canary.latency },
    baseline: { requests: baseline.requests, errors: baseline.errors, latency: baseline.latency },
    ...(prometheus ? { prometheus } : {}),
  });
}
