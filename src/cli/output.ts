/** Terminal output: colours only on a TTY and never under NO_COLOR; durations in human units. */
const useColor = (stream: NodeJS.WriteStream) => Boolean(stream.isTTY) && !process.env.NO_COLOR && process.env.TERM !== 'dumb';

function paint(code: number) {
  return (text: string, stream: NodeJS.WriteStream = process.stdout) => (useColor(stream) ? `\x1b[${code}m${text}\x1b[0m` : text);
}

export const green = paint(32);
export const red = paint(31);
export const yellow = paint(33);
export const dim = paint(2);
export const bold = paint(1);

export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes}m${Math.round((ms % 60_000) / 1000)}s`;
}

const SYMBOL: Record<string, string> = {
  success: '✔',
  failure: '✘',
  skipped: '○',
  cancelled: '⊘',
  running: '●',
  queued: '…',
  waiting: '·',
};

export function statusSymbol(status: string, stream: NodeJS.WriteStream = process.stdout): string {
  const symbol = SYMBOL[status] ?? '?';
  if (status === 'success') return green(symbol, stream);
  if (status === 'failure') return red(symbol, stream);
  if (status === 'running') return yellow(symbol, stream);
  return dim(symbol, stream);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
