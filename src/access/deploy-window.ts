/**
 * Deploy windows: when an environment may be deployed to. A window is a set of weekdays and a
 * time of day range in one IANA time zone; `deny` windows win over `allow` ones (a freeze inside
 * working hours). No window at all means always open. Times are wall-clock in the zone, so a
 * window keeps its meaning across daylight-saving changes.
 *
 * Pure: the caller passes the instant; the zone's rules come from the runtime's ICU (Intl).
 */
export type Weekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';
export const WEEKDAYS: readonly Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

export interface DeployWindow {
  days: readonly Weekday[];
  /** `HH:MM`, inclusive. */
  from: string;
  /** `HH:MM`, exclusive; `24:00` is the end of the day. A `to` before `from` runs past midnight into the next day. */
  to: string;
}

export interface DeployWindows {
  timezone: string;
  allow?: readonly DeployWindow[];
  deny?: readonly DeployWindow[];
}

export type WindowVerdict = { open: true } | { open: false; reason: string };

export function deployWindowVerdict(windows: DeployWindows | undefined, atMs: number): WindowVerdict {
  if (!windows || (!windows.allow?.length && !windows.deny?.length)) return { open: true };
  const local = wallClock(atMs, windows.timezone);
  const denied = windows.deny?.find((w) => covers(w, local));
  if (denied) return { open: false, reason: `inside the deny window ${describe(denied)} (${windows.timezone})` };
  if (windows.allow?.length && !windows.allow.some((w) => covers(w, local)))
    return { open: false, reason: `outside the allowed windows ${windows.allow.map(describe).join(', ')} (${windows.timezone})` };
  return { open: true };
}

/** `HH:MM` → minutes since midnight, or null when malformed (validation uses it too). */
export function minutesOf(hhmm: string): number | null {
  const m = /^([01]\d|2[0-4]):([0-5]\d)$/.exec(hhmm);
  if (!m) return null;
  const minutes = Number(m[1]) * 60 + Number(m[2]);
  return minutes <= 24 * 60 ? minutes : null;
}

export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

interface WallClock {
  day: number; // index into WEEKDAYS
  minutes: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function wallClock(atMs: number, timezone: string): WallClock {
  let f = formatters.get(timezone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: timezone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formatters.set(timezone, f);
  }
  const parts = Object.fromEntries(f.formatToParts(atMs).map((p) => [p.type, p.value]));
  const day = WEEKDAYS.indexOf(String(parts.weekday).toLowerCase().slice(0, 3) as Weekday);
  return { day, minutes: Number(parts.hour) * 60 + Number(parts.minute) };
}

function covers(w: DeployWindow, at: WallClock): boolean {
  const from = minutesOf(w.from) ?? 0;
  const to = minutesOf(w.to) ?? 24 * 60;
  const today = WEEKDAYS[at.day] as Weekday;
  const yesterday = WEEKDAYS[(at.day + 6) % 7] as Weekday;
  if (from < to) return w.days.includes(today) && at.minutes >= from && at.minutes < to;
  // Past midnight: the evening part belongs to its own day, the morning part to the day before.
  return (w.days.includes(today) && at.minutes >= from) || (w.days.includes(yesterday) && at.minutes < to);
}

function describe(w: DeployWindow): string {
  return `${w.days.join(',')} ${w.from}–${w.to}`;
}
