/**
 * Where the environment's traffic goes right now: one bar, stable against canary, with the
 * percentages written out (colour is never the only cue) and a transition as the weights move.
 * `data-stable` / `data-canary` carry the numbers for browser tests.
 */
export function TrafficSplit({
  stable,
  canary,
  stableLabel,
  canaryLabel,
}: {
  stable: number;
  canary: number;
  stableLabel?: string;
  canaryLabel?: string;
}) {
  const label = `stable ${stable} %, canary ${canary} %`;
  return (
    <div className="traffic-split-wrap">
      <div className="traffic-split" data-testid="traffic-split" data-stable={stable} data-canary={canary} role="img" aria-label={label}>
        <div className="traffic-stable" style={{ width: `${stable}%` }}>
          {stable >= 15 && <span aria-hidden="true">{stable} %</span>}
        </div>
        <div className="traffic-canary" style={{ width: `${canary}%` }}>
          {canary >= 15 && <span aria-hidden="true">{canary} %</span>}
        </div>
      </div>
      <p className="traffic-legend" aria-hidden="true">
        <span>
          <span className="swatch stable" />
          stable{stableLabel ? ` ${stableLabel}` : ''} <b>{stable} %</b>
        </span>
        <span>
          <span className="swatch canary" />
          canary{canaryLabel ? ` ${canaryLabel}` : ''} <b>{canary} %</b>
        </span>
      </p>
    </div>
  );
}
