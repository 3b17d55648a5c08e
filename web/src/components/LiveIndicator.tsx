/** Whether the page's live stream is connected — people should know when what they see may be stale. */
import type { Connection } from '../live.ts';

const LABELS: Record<Connection, string> = { connecting: 'connecting…', live: 'live', reconnecting: 'reconnecting…', ended: 'final' };

export function LiveIndicator({ state }: { state: Connection }) {
  return (
    <span className="muted live-indicator" role="status" aria-live="polite">
      <span className={`live-dot ${state}`} aria-hidden="true" />
      {LABELS[state]}
    </span>
  );
}
