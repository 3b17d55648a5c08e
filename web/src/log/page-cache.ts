/**
 * Pages of log lines the viewer has fetched, least recently used dropped first, so scrolling
 * through a 1M-line log keeps a bounded number of lines in memory. A page holds lines
 * [page × size, page × size + size); it may be short (the end of a growing log, or a response
 * cut by the server's byte limit) and is then extended from where it stops.
 */
export const PAGE_SIZE = 500;

export class PageCache {
  readonly #pages = new Map<number, string[]>();
  readonly #max: number;
  readonly size: number;

  constructor(maxPages = 60, size = PAGE_SIZE) {
    this.#max = maxPages;
    this.size = size;
  }

  pageOf(line: number): number {
    return Math.floor(line / this.size);
  }

  /** Lines held for `page` (marks it recently used), or undefined. */
  get(page: number): string[] | undefined {
    const lines = this.#pages.get(page);
    if (lines) {
      this.#pages.delete(page);
      this.#pages.set(page, lines);
    }
    return lines;
  }

  /** The stored line `line`, or undefined when not fetched (does not change the LRU order). */
  line(line: number): string | undefined {
    return this.#pages.get(this.pageOf(line))?.[line % this.size];
  }

  /**
   * Stores `lines` starting at line `from` (inside one page): replaces the page from there on.
   * Lines that would leave a gap in the page are ignored. Evicts the least recently used pages.
   */
  put(from: number, lines: string[]): void {
    const page = this.pageOf(from);
    const offset = from - page * this.size;
    const held = this.#pages.get(page) ?? [];
    if (offset > held.length) return;
    const next = held.slice(0, offset).concat(lines.slice(0, this.size - offset));
    this.#pages.delete(page);
    this.#pages.set(page, next);
    while (this.#pages.size > this.#max) {
      const oldest = this.#pages.keys().next().value;
      if (oldest === undefined) break;
      this.#pages.delete(oldest);
    }
  }

  /** Adds a live line `line` when it directly continues a held page (otherwise it is fetched when needed). */
  append(line: number, raw: string): boolean {
    const page = this.pageOf(line);
    const held = this.#pages.get(page);
    const offset = line - page * this.size;
    if (held && held.length === offset) {
      held.push(raw);
      return true;
    }
    if (!held && offset === 0) {
      this.put(line, [raw]);
      return true;
    }
    return false;
  }

  /**
   * The first line of `page` still missing, given `total` lines exist; null when the page is
   * complete.
   */
  missingFrom(page: number, total: number): number | null {
    const start = page * this.size;
    const want = Math.min(this.size, total - start);
    if (want <= 0) return null;
    const held = this.#pages.get(page)?.length ?? 0;
    return held >= want ? null : start + held;
  }

  clear(): void {
    this.#pages.clear();
  }

  get pageCount(): number {
    return this.#pages.size;
  }
}
