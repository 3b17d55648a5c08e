/**
 * Good and total events of an SLI from the proxy's request counts (a stored roll-up or a live
 * window): availability counts every request not answered with a 5xx (the app's or the proxy's
 * own 502/503) as good; latency every request whose histogram bucket lies wholly within the
 * threshold (a bucket is a few percent wide, so a request just under the threshold may count as
 * slow, never the other way round).
 */
import type { SliConfig } from '../core/slo-config.ts';
import type { EventCounts } from './budget.ts';

/** What the proxy reports for a span (structurally its Rollup and WindowStats). */
export interface RequestCounts {
  requests: number;
  /** 5xx answers. */
  errors: number;
  /** `valueMs` is each bucket's highest latency. */
  latency: readonly { valueMs: number; count: number }[];
}

/** undefined for SLIs the proxy does not measure (Prometheus ones). */
export function sliCounts(sli: SliConfig, counts: RequestCounts): EventCounts | undefined {
  switch (sli.kind) {
    case 'availability':
      return { good: Math.max(0, counts.requests - counts.errors), total: counts.requests };
    case 'latency': {
      let good = 0;
      for (const bucket of counts.latency) if (bucket.valueMs <= sli.thresholdMs) good += bucket.count;
      return { good: Math.min(good, counts.requests), total: counts.requests };
    }
    case 'prometheus':
      return undefined;
  }
}
