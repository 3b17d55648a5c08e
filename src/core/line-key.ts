/**
 * A short key of a log line's text (FNV-1a, 32 bits, hex), carried in a link to the line so the
 * log explorer marks that line and not every line read in the same millisecond. Shared by the
 * server, which makes the links, and the dashboard, which follows them.
 */
export function lineKey(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}
