/**
 * An incident's timeline drawn as a picture: a vertical line with a mark per entry, coloured and
 * shaped by family (alert, resolution, deploy, rollback, note, incident step), spaced by the time
 * between entries (layoutTimeline), with a break where a long wait was shortened. It is still an
 * ordered list: readable as text, in order, by assistive technology.
 */
import { useState } from 'react';
import { duration } from '../format.ts';
import { layoutTimeline, timelineKind } from '../slo/timeline-layout.ts';
import type { TimelineEntry } from '../slo/types.ts';

const ICONS = { alert: '▲', resolved: '▽', deploy: '◆', rollback: '↺', note: '✎', incident: '●', other: '·' } as const;
const MIN_GAP = 40;

export function IncidentTimeline({ entries, openedAt }: { entries: TimelineEntry[]; openedAt: number }) {
  const [everything, setEverything] = useState(false);
  const shown = everything ? entries : entries.filter((e) => timelineKind(e.kind, e.text) !== 'other');
  const hidden = entries.length - shown.length;
  const toggle = (hidden > 0 || everything) && (
    <button type="button" aria-pressed={everything} onClick={() => setEverything((e) => !e)}>
      {everything ? 'Only alerts, deploys, notes and steps' : `Show every event (${hidden} more)`}
    </button>
  );
  if (shown.length === 0)
    return (
      <>
        <p className="muted">No alerts, deploys or notes around it yet.</p>
        {toggle}
      </>
    );
  const { slots } = layoutTimeline(shown, { targetHeight: Math.max(320, shown.length * 48), minGap: MIN_GAP, maxGap: 160 });
  let previousY = 0;
  return (
    <>
      {toggle}
      <ol className="incident-timeline" aria-label="Timeline, oldest first">
        {slots.map((slot, i) => {
          const kind = timelineKind(slot.entry.kind, slot.entry.text);
          const extra = i === 0 ? 0 : Math.max(0, slot.y - previousY - MIN_GAP);
          previousY = slot.y;
          const before = slot.entry.at < openedAt;
          return (
            <li
              key={`${slot.entry.at} ${slot.entry.kind} ${slot.entry.text}`}
              className={`tl-entry tl-${kind}${before ? ' tl-before' : ''}${slot.breakBefore ? ' tl-after-break' : ''}`}
              data-kind={kind}
              style={extra > 0 ? { marginTop: extra } : undefined}
            >
              {slot.breakBefore && <span className="tl-break muted small">⋯ {duration(slot.gapMs)} later</span>}
              <span className="tl-mark" aria-hidden="true">
                {ICONS[kind]}
              </span>
              <time dateTime={new Date(slot.entry.at).toISOString()} title={new Date(slot.entry.at).toISOString()}>
                {new Date(slot.entry.at).toLocaleTimeString([], { hour12: false })}
              </time>
              <span className="tl-text">{slot.entry.text}</span>
              {slot.entry.by && <span className="tl-by muted small">{slot.entry.by}</span>}
            </li>
          );
        })}
      </ol>
    </>
  );
}
