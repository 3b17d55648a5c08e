/**
 * The one structured logger of the server, the proxy processes and the runtime (pino underneath).
 *
 * - A logger per component (`server`, `runs`, `projects`, `delivery`, `proxy`, `supervisor`…):
 *   `createLogger({ component })` for a process, `logger.child({ component, runId })` below it.
 *   Context fields (`runId`, `jobId`, `rolloutId`, `environment`…) ride on every line of a child.
 * - Messages are static strings; the data goes beside them (`log.warn(MSG, { runId })`), so a
 *   message can be searched for and counted. WARN and ERROR messages are named constants at their
 *   call site; `error` means a bug of ours, a user's mistake is `info`.
 * - Secrets are redacted at the sink, whatever the call site did: pino's `redact` paths blank the
 *   usual credential fields (`authorization`, `token`, `password`…), then every key and string
 *   value of the line, the message included, goes through the `mask` hook (the server plugs in the
 *   job-log masker with every secret value it knows). The hook keeps this module free of the
 *   executor (platform imports only core) and lets a process without secrets (the proxy) skip it.
 * - Output: JSON lines (`{"level":"info","time":"…","component":"runs","runId":"…","msg":"…"}`)
 *   or, on a terminal, one compact line per entry: `HH:MM:SS level component message key=value`.
 *   `format` forces one (`GANTRY_LOG_FORMAT=json|pretty`); by default a TTY gets pretty.
 *
 * Writes are synchronous (each line is handed to the destination's `write` at the call): a log
 * line is never lost to a crash right after it, and the order of lines is the order of calls.
 * The server logs little (lifecycle and problems), so parsing each line once at the sink to mask
 * it costs nothing that matters; job output never goes through here (it has its own log writer).
 */
import pino from 'pino';

import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from './log-options.ts';

export { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel };

/** Fields beside a message. `err` (an Error) is serialised with its type, message and stack. */
export type LogData = Record<string, unknown>;

/** Context a child carries on every line: its component and the ids it works for. */
export interface LogContext {
  component?: string;
  runId?: string;
  jobId?: string;
  rolloutId?: string;
  environment?: string;
  [key: string]: unknown;
}

/** A component's logger. Messages are static; whatever varies goes into `data`. */
export interface Logger {
  debug(message: string, data?: LogData): void;
  info(message: string, data?: LogData): void;
  warn(message: string, data?: LogData): void;
  error(message: string, data?: LogData): void;
  /** A logger whose lines also carry `context` (a `component` given here replaces the parent's). */
  child(context: LogContext): Logger;
}

/** Where lines go: a stream (stderr, a file) or anything with a synchronous-enough `write`. */
export interface LogDestination {
  write(line: string): unknown;
  /** Set by Node on a terminal stream: picks the pretty format unless one is forced. */
  isTTY?: boolean;
}

export interface LoggerOptions {
  /** The process's main component (`server`, `proxy`…). */
  component: string;
  /** Default: process.stderr. */
  destination?: LogDestination;
  /** Forced format; default: pretty on a TTY, JSON otherwise. */
  format?: LogFormat;
  /** Shorthand of `format: 'pretty'` (true) or `'json'` (false). */
  pretty?: boolean;
  /** Default: info. */
  level?: LogLevel;
  /** Redacts secret values in a piece of text; applied to every key and string of every line. */
  mask?: (text: string) => string;
  /** Colours in the pretty format; default: when the destination is a TTY. */
  color?: boolean;
  /** Fields on every line of this process (e.g. `pid`). */
  base?: LogData;
}

/** Credential fields blanked wherever they appear (top level, one level down, request headers). */
export const REDACTED_PATHS = [
  'authorization',
  'cookie',
  'token',
  'password',
  'secret',
  'apiKey',
  '*.authorization',
  '*.cookie',
  '*.token',
  '*.password',
  '*.secret',
  '*.apiKey',
  '*.headers.authorization',
  '*.headers.cookie',
  '*.headers["x-gantry-csrf"]',
  'headers.authorization',
  'headers.cookie',
  'headers["x-gantry-csrf"]',
];

export const REDACTED = '***';

/** Builds the logger of one process (or of a test). */
export function createLogger(options: LoggerOptions): Logger {
  const destination = options.destination ?? process.stderr;
  const format =
    options.format ?? (options.pretty === undefined ? (destination.isTTY ? 'pretty' : 'json') : options.pretty ? 'pretty' : 'json');
  const color = options.color ?? destination.isTTY === true;
  const mask = options.mask;
  const sink = {
    write(line: string): void {
      destination.write(renderLine(line, { format, color, mask }));
    },
  };
  const root = pino(
    {
      level: options.level ?? 'info',
      base: null,
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: pino.stdSerializers.err },
      redact: { paths: REDACTED_PATHS, censor: REDACTED },
    },
    sink,
  );
  return wrap(root, { ...options.base, component: options.component });
}

/** Reads `GANTRY_LOG_FORMAT` / `GANTRY_LOG_LEVEL` for processes without an options table (the proxy). */
export function logSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): { format?: LogFormat; level?: LogLevel } {
  const format = LOG_FORMATS.find((f) => f === env.GANTRY_LOG_FORMAT);
  const level = LOG_LEVELS.find((l) => l === env.GANTRY_LOG_LEVEL);
  return { ...(format ? { format } : {}), ...(level ? { level } : {}) };
}

/** A logger that drops everything (tests, tools). */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
};

function wrap(root: pino.Logger, context: LogContext): Logger {
  // Children are made from the root with the merged context, so a child's `component` replaces
  // its parent's instead of appearing twice on the line.
  const log = root.child(context);
  return {
    debug: (message, data) => (data ? log.debug(data, message) : log.debug(message)),
    info: (message, data) => (data ? log.info(data, message) : log.info(message)),
    warn: (message, data) => (data ? log.warn(data, message) : log.warn(message)),
    error: (message, data) => (data ? log.error(data, message) : log.error(message)),
    child: (more) => wrap(root, { ...context, ...more }),
  };
}

interface RenderOptions {
  format: LogFormat;
  color: boolean;
  mask: ((text: string) => string) | undefined;
}

/** One serialised pino line → what the destination receives (masked; JSON or pretty). */
function renderLine(line: string, o: RenderOptions): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    // Not expected from pino; still never let it through unmasked.
    return o.mask ? o.mask(line) : line;
  }
  const masked = o.mask ? (maskDeep(entry, o.mask) as Record<string, unknown>) : entry;
  return o.format === 'pretty' ? formatPretty(masked, o.color) : `${JSON.stringify(masked)}\n`;
}

/** Every key and string of a parsed line through `mask` (the JSON escapes are gone by now). */
function maskDeep(value: unknown, mask: (text: string) => string): unknown {
  if (typeof value === 'string') return mask(value);
  if (Array.isArray(value)) return value.map((v) => maskDeep(v, mask));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) out[mask(key)] = maskDeep(v, mask);
    return out;
  }
  return value;
}

const LEVEL_COLOR: Record<string, string> = { debug: '\x1b[2m', info: '\x1b[36m', warn: '\x1b[33m', error: '\x1b[31m' };
const DIM = '\x1b[2m';
const RESET = '\x1b[0m';

/**
 * `HH:MM:SS level component message key=value …` (local time), an error's stack indented below;
 * `pid` is left out (a terminal shows one process).
 * Written here rather than taken from pino-pretty: it is forty lines, where pino-pretty brings a
 * dozen packages and a worker thread for the one line shape we want.
 */
export function formatPretty(entry: Record<string, unknown>, color: boolean): string {
  const { level, time, component, msg, err, pid: _pid, ...rest } = entry;
  const paint = (code: string | undefined, text: string) => (color && code ? `${code}${text}${RESET}` : text);
  const when = typeof time === 'string' || typeof time === 'number' ? new Date(time) : new Date();
  const hhmmss = [when.getHours(), when.getMinutes(), when.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
  const label = String(level ?? 'info');
  const fields = Object.entries(rest).map(([key, value]) => `${key}=${prettyValue(value)}`);
  let stack = '';
  if (err && typeof err === 'object') {
    const e = err as { message?: unknown; stack?: unknown };
    fields.push(`err=${prettyValue(e.message)}`);
    if (typeof e.stack === 'string') stack = `\n${paint(DIM, e.stack.replace(/^/gm, '    '))}`;
  } else if (err !== undefined) {
    fields.push(`err=${prettyValue(err)}`);
  }
  const parts = [paint(DIM, hhmmss), paint(LEVEL_COLOR[label], label.padEnd(5)), paint(DIM, String(component ?? '-')), String(msg ?? '')];
  if (fields.length > 0) parts.push(paint(DIM, fields.join(' ')));
  return `${parts.join(' ')}${stack}\n`;
}

function prettyValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (value === undefined) return 'undefined';
  return JSON.stringify(value);
}
