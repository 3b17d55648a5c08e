/** A run's, job's or rollout's state as a word with a colour and a shape (colour is never the only cue). */
const ICONS: Record<string, string> = {
  success: '✓',
  succeeded: '✓',
  failure: '✗',
  failed: '✗',
  cancelled: '⊘',
  aborted: '⊘',
  skipped: '↷',
  running: '●',
  progressing: '●',
  queued: '○',
  waiting: '○',
  paused: '❚❚',
  'rolled-back': '↺',
  'rolling-back': '↺',
};

export function StatusBadge({ status, label }: { status: string; label?: string }) {
  return (
    <span className={`badge status-${status}`} data-status={status}>
      <span aria-hidden="true">{ICONS[status] ?? '•'}</span> {label ?? status}
    </span>
  );
}
