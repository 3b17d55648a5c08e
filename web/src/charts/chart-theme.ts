/**
 * Chart colours from the page's CSS variables (web/src/styles.css), so charts follow light and
 * dark mode like everything else and nobody keeps a second palette. Canvas charts cannot use
 * `var(--x)` themselves: the values are read once per colour scheme and again when it changes.
 */
import { useEffect, useState } from 'react';

export interface ChartTheme {
  fg: string;
  fgSoft: string;
  border: string;
  bg: string;
  bgSoft: string;
  bgRaised: string;
  stable: string;
  canary: string;
  bad: string;
  ok: string;
  warn: string;
  accent: string;
  mono: string;
  font: string;
}

const VARIABLES: Record<keyof ChartTheme, string> = {
  fg: '--fg',
  fgSoft: '--fg-soft',
  border: '--border',
  bg: '--bg',
  bgSoft: '--bg-soft',
  bgRaised: '--bg-raised',
  stable: '--stable',
  canary: '--canary',
  bad: '--bad',
  ok: '--ok',
  warn: '--warn',
  accent: '--accent',
  mono: '--mono',
  font: '--font',
};

/** Used where a variable is missing (a test page without the stylesheet). */
const FALLBACK: ChartTheme = {
  fg: '#1b2430',
  fgSoft: '#5b6675',
  border: '#d9dee5',
  bg: '#ffffff',
  bgSoft: '#f5f7fa',
  bgRaised: '#ffffff',
  stable: '#2563eb',
  canary: '#d97706',
  bad: '#c62828',
  ok: '#15803d',
  warn: '#b45309',
  accent: '#2563eb',
  mono: 'monospace',
  font: 'system-ui, sans-serif',
};

/** The current values of the theme variables on the document root. */
export function readChartTheme(): ChartTheme {
  const style = getComputedStyle(document.documentElement);
  const theme = { ...FALLBACK };
  for (const key of Object.keys(VARIABLES) as (keyof ChartTheme)[]) {
    const value = style.getPropertyValue(VARIABLES[key]).trim();
    if (value) theme[key] = value;
  }
  if (!style.getPropertyValue('--font').trim()) theme.font = style.fontFamily || FALLBACK.font;
  return theme;
}

/** The theme, read again whenever the system switches between light and dark. */
export function useChartTheme(): ChartTheme {
  const [theme, setTheme] = useState(readChartTheme);
  useEffect(() => {
    const query = window.matchMedia('(prefers-color-scheme: dark)');
    const update = () => setTheme(readChartTheme());
    query.addEventListener('change', update);
    return () => query.removeEventListener('change', update);
  }, []);
  return theme;
}
