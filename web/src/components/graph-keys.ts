/** The job graph's keyboard and label, the same for both renderers. */
import type { FocusMove } from '../graph/layout.ts';

const ARROWS: Record<string, FocusMove> = {
  ArrowUp: 'up',
  ArrowDown: 'down',
  ArrowLeft: 'left',
  ArrowRight: 'right',
  Home: 'home',
  End: 'end',
};

/** The focus move a key asks for, if any. */
export function arrowDirection(key: string): FocusMove | undefined {
  return Object.hasOwn(ARROWS, key) ? ARROWS[key] : undefined;
}

/** The graph's accessible name: its size and how to move through it. */
export function graphLabel(jobs: number): string {
  return `Job graph, ${jobs} job${jobs === 1 ? '' : 's'}: arrow keys move between jobs, Enter opens one`;
}

/**
 * The item a key event comes from: the focused element's own, not the recorded tab stop, which
 * is updated in a background render and may still name the previous item when keys come fast.
 */
export function focusedItem(target: EventTarget): string | undefined {
  return target instanceof HTMLElement ? target.dataset.item : undefined;
}
