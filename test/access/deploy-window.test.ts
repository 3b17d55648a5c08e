import { describe, expect, it } from 'vitest';
import { type DeployWindows, deployWindowVerdict, isTimeZone, minutesOf } from '../../src/access/index.ts';

const freeze: DeployWindows = {
  timezone: 'Europe/Berlin',
  deny: [
    { days: ['fri'], from: '16:00', to: '24:00' },
    { days: ['sat', 'sun'], from: '00:00', to: '24:00' },
  ],
};
const t = (iso: string) => Date.parse(iso);

describe('deploy windows', () => {
  it('is open without windows', () => {
    expect(deployWindowVerdict(undefined, t('2026-12-04T17:00:00Z'))).toEqual({ open: true });
    expect(deployWindowVerdict({ timezone: 'UTC' }, t('2026-12-04T17:00:00Z'))).toEqual({ open: true });
  });

  it('closes on Friday evening in the window’s zone, not in UTC', () => {
    // 2026-12-04 is a Friday; Berlin is UTC+1 in December.
    expect(deployWindowVerdict(freeze, t('2026-12-04T14:59:00Z'))).toEqual({ open: true }); // 15:59 Berlin
    expect(deployWindowVerdict(freeze, t('2026-12-04T15:00:00Z'))).toEqual({
      open: false,
      reason: 'inside the deny window fri 16:00–24:00 (Europe/Berlin)',
    });
    expect(deployWindowVerdict(freeze, t('2026-12-06T12:00:00Z')).open).toBe(false); // Sunday
    expect(deployWindowVerdict(freeze, t('2026-12-06T23:00:00Z')).open).toBe(true); // Monday 00:00 Berlin
  });

  it('keeps wall-clock times across daylight saving', () => {
    // Summer: Berlin is UTC+2, so Friday 16:00 there is 14:00 UTC.
    expect(deployWindowVerdict(freeze, t('2026-07-03T13:59:00Z')).open).toBe(true);
    expect(deployWindowVerdict(freeze, t('2026-07-03T14:00:00Z')).open).toBe(false);
    // 2026-10-25 03:00 CEST → 02:00 CET (a Sunday): still inside the weekend freeze on both sides.
    expect(deployWindowVerdict(freeze, t('2026-10-25T00:30:00Z')).open).toBe(false);
    expect(deployWindowVerdict(freeze, t('2026-10-25T01:30:00Z')).open).toBe(false);
  });

  it('allows only inside allow windows, and a deny window wins', () => {
    const w: DeployWindows = {
      timezone: 'America/New_York',
      allow: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '09:00', to: '17:00' }],
      deny: [{ days: ['wed'], from: '12:00', to: '13:00' }],
    };
    expect(deployWindowVerdict(w, t('2026-12-02T14:00:00Z')).open).toBe(true); // Wed 09:00 EST
    expect(deployWindowVerdict(w, t('2026-12-02T17:30:00Z')).open).toBe(false); // Wed 12:30: lunch freeze
    expect(deployWindowVerdict(w, t('2026-12-02T22:00:00Z'))).toEqual({
      open: false,
      reason: 'outside the allowed windows mon,tue,wed,thu,fri 09:00–17:00 (America/New_York)',
    });
  });

  it('runs a window past midnight into the next day', () => {
    const night: DeployWindows = { timezone: 'UTC', allow: [{ days: ['sat'], from: '22:00', to: '02:00' }] };
    expect(deployWindowVerdict(night, t('2026-12-05T22:30:00Z')).open).toBe(true); // Saturday night
    expect(deployWindowVerdict(night, t('2026-12-06T01:59:00Z')).open).toBe(true); // Sunday morning
    expect(deployWindowVerdict(night, t('2026-12-06T02:00:00Z')).open).toBe(false);
    expect(deployWindowVerdict(night, t('2026-12-05T01:00:00Z')).open).toBe(false); // Saturday morning belongs to Friday
  });

  it('validates times and zones', () => {
    expect(minutesOf('24:00')).toBe(1440);
    expect(minutesOf('24:01')).toBeNull();
    expect(minutesOf('9:00')).toBeNull();
    expect(isTimeZone('Europe/Berlin')).toBe(true);
    expect(isTimeZone('Mars/Olympus')).toBe(false);
  });
});
