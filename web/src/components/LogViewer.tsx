/**
 * A job's log, any size: only the lines in view (plus overscan) are in the DOM, fetched in
 * pages from /log/lines into an LRU cache; scroll positions map to lines through scroll-map.ts
 * (proportionally past the browser's height limit). Search runs on the server. While the job
 * runs, new lines arrive over SSE from the line the first page said was the end, and the view
 * sticks to the bottom until the user scrolls up.
 */
import {
  memo,
  useCallback,
  useEffect,
  useLayoutEffect,
  useMemo,
  useRef,
  useState,
  type CSSProperties,
  type FormEvent,
  type KeyboardEvent,
  type MouseEvent,
} from 'react';
import { ApiError, getJson, p } from '../api.ts';
import { useEventStream } from '../live.ts';
import { lookOf } from '../log/ansi.ts';
import { formatStoredLine, isTruncationMarker, lineGroups, parseStoredLine, TRUNCATION_MARKER, type StoredLine } from '../log/log-line.ts';
import { PAGE_SIZE, PageCache } from '../log/page-cache.ts';
import { isAtBottom, maxScrollTop, scrollTopToReveal, visibleRange, contentHeight, type ScrollGeometry } from '../log/scroll-map.ts';
import './LogViewer.css';

/** Keep in step with `.log-line` height in LogViewer.css. */
const LINE_HEIGHT = 20;
const OVERSCAN = 30;
/**
 * Pages are fetched once scrolling pauses this long (or at the latest after FETCH_MAX_WAIT_MS):
 * dragging the thumb across 1M lines must not fire (and abort) a request per frame.
 */
const FETCH_DELAY_MS = 50;
const FETCH_MAX_WAIT_MS = 150;
const SEARCH_LIMIT = 1000;

interface LinesResponse {
  from: number;
  lines: string[];
  total: number;
  complete: boolean;
  truncated: boolean;
}
interface SearchResponse {
  matches: number[];
  more: boolean;
  searchedTo: number;
}
interface LiveLine {
  at: string;
  stream: 'o' | 'e' | 's';
  text: string;
  line: number;
}

interface SearchState {
  query: string;
  caseSensitive: boolean;
  matches: number[];
  more: boolean;
  searchedTo: number;
  /** Index into matches of the current one; -1 before the first jump. */
  current: number;
  busy: boolean;
  error: string | null;
}

const NO_SEARCH: SearchState = {
  query: '',
  caseSensitive: false,
  matches: [],
  more: false,
  searchedTo: 0,
  current: -1,
  busy: false,
  error: null,
};

export function LogViewer(props: { runId: string; jobKey: string; live: boolean }) {
  const { runId, jobKey, live } = props;
  const base = p`/api/runs/${runId}/jobs/${jobKey}/log`;
  const scrollRef = useRef<HTMLDivElement>(null);
  const cache = useMemo(() => new PageCache(), []);
  const inflight = useRef(new Map<number, AbortController>());

  const [_version, setVersion] = useState(0);
  const bump = useCallback(() => setVersion((v) => v + 1), []);
  const [total, setTotal] = useState<number | null>(null);
  const [complete, setComplete] = useState(false);
  const [truncated, setTruncated] = useState(false);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewportHeight, setViewportHeight] = useState(480);
  const [showTime, setShowTime] = useState(false);
  const [follow, setFollow] = useState(live && !lineFromHash());
  const [selected, setSelected] = useState<number | null>(lineFromHash());
  const [followFrom, setFollowFrom] = useState<number | null>(null);
  const [search, setSearch] = useState<SearchState>(NO_SEARCH);
  const [searchInput, setSearchInput] = useState('');
  const [caseInput, setCaseInput] = useState(false);
  const searchAbort = useRef<AbortController | null>(null);
  /** A scrollTop we set ourselves: its scroll event is not the user scrolling up. */
  const programmatic = useRef<number | null>(null);
  const frame = useRef(0);
  /** When the pages now wanted were first wanted (for the fetch's maximum wait). */
  const wantedSince = useRef<number | null>(null);

  const lineCount = total ?? 0;
  const geometry: ScrollGeometry = useMemo(() => ({ lineCount, lineHeight: LINE_HEIGHT, viewportHeight }), [lineCount, viewportHeight]);
  const range = visibleRange(geometry, scrollTop, OVERSCAN);

  const growTotal = useCallback((n: number) => setTotal((t) => (t === null || n > t ? n : t)), []);

  // First page: the total (and so the scroll height), whether the job is over, the truncation flag.
  useEffect(() => {
    const controller = new AbortController();
    setTotal(null);
    setLoadError(null);
    getJson<LinesResponse>(`${base}/lines?from=0&count=${PAGE_SIZE}`, controller.signal).then(
      (page) => {
        cache.put(0, page.lines);
        setTotal(page.total);
        setComplete(page.complete);
        setTruncated(page.truncated);
        setFollowFrom(page.total);
        bump();
      },
      (error: unknown) => {
        if (!controller.signal.aborted) setLoadError(error instanceof ApiError ? error.message : String(error));
      },
    );
    return () => controller.abort();
  }, [base, cache, bump]);

  // Fetch the pages in view, after scrolling settles; drop fetches for pages no longer in view.
  useEffect(() => {
    if (total === null) return undefined;
    const wanted = new Map<number, number>();
    for (let page = cache.pageOf(range.first); page <= cache.pageOf(Math.max(range.first, range.end - 1)); page++) {
      const from = cache.missingFrom(page, total);
      if (from !== null) wanted.set(page, from);
    }
    for (const [page, controller] of inflight.current) {
      if (!wanted.has(page)) {
        controller.abort();
        inflight.current.delete(page);
      }
    }
    if (wanted.size === 0) {
      wantedSince.current = null;
      return undefined;
    }
    const now = performance.now();
    wantedSince.current ??= now;
    const delay = Math.max(0, Math.min(FETCH_DELAY_MS, FETCH_MAX_WAIT_MS - (now - wantedSince.current)));
    const timer = setTimeout(() => {
      wantedSince.current = null;
      for (const [page, from] of wanted) {
        if (inflight.current.has(page)) continue;
        const controller = new AbortController();
        inflight.current.set(page, controller);
        const count = (page + 1) * PAGE_SIZE - from;
        getJson<LinesResponse>(`${base}/lines?from=${from}&count=${count}`, controller.signal)
          .then(
            (response) => {
              cache.put(from, response.lines);
              growTotal(response.total);
              if (response.complete) setComplete(true);
              setTruncated(response.truncated);
              bump();
            },
            () => undefined,
          )
          .finally(() => {
            if (inflight.current.get(page) === controller) inflight.current.delete(page);
          });
      }
    }, delay);
    return () => clearTimeout(timer);
  }, [base, cache, total, range.first, range.end, bump, growTotal]);

  useEffect(
    () => () => {
      for (const controller of inflight.current.values()) controller.abort();
      inflight.current.clear();
      searchAbort.current?.abort();
    },
    [],
  );

  // Live lines, batched per animation frame so a chatty job does not re-render per line.
  const pendingLive = useRef<LiveLine[]>([]);
  const liveFrame = useRef(0);
  const flushLive = useCallback(() => {
    liveFrame.current = 0;
    const batch = pendingLive.current.splice(0);
    let last = -1;
    for (const line of batch) {
      cache.append(line.line, formatStoredLine(line));
      last = Math.max(last, line.line);
    }
    if (last >= 0) growTotal(last + 1);
    bump();
  }, [cache, growTotal, bump]);
  const catchUp = useCallback(() => {
    // On every (re)connect: the server resumes after the last line id we got; refresh the total and state anyway.
    getJson<LinesResponse>(`${base}/lines?from=0&count=0`).then(
      (page) => {
        growTotal(page.total);
        setComplete(page.complete);
        setTruncated(page.truncated);
      },
      () => undefined,
    );
  }, [base, growTotal]);
  // Once following, keep the stream until the server ends it: the job's status reaches the page
  // (live → false) before its last lines do, and closing then would lose them. Leaving live
  // without a stream still re-reads the total, so nothing stays hidden.
  const [streaming, setStreaming] = useState(live);
  useEffect(() => {
    if (live) setStreaming(true);
    else catchUp();
  }, [live, catchUp]);
  const connection = useEventStream(
    streaming && !complete && followFrom !== null ? `${base}?follow=true&fromLine=${followFrom}` : null,
    {
      line: (data: LiveLine) => {
        pendingLive.current.push(data);
        if (!liveFrame.current) liveFrame.current = requestAnimationFrame(flushLive);
      },
      end: (data: { logTruncated?: boolean; lines?: number }) => {
        setComplete(true);
        if (data.logTruncated) setTruncated(true);
        if (typeof data.lines === 'number') growTotal(data.lines);
      },
    },
    catchUp,
  );
  useEffect(() => () => cancelAnimationFrame(liveFrame.current), []);

  // Measure the viewport.
  useLayoutEffect(() => {
    const el = scrollRef.current;
    if (!el) return undefined;
    const observer = new ResizeObserver(() => setViewportHeight(el.clientHeight || 480));
    observer.observe(el);
    setViewportHeight(el.clientHeight || 480);
    return () => observer.disconnect();
  }, []);

  const scrollTo = useCallback((top: number) => {
    const el = scrollRef.current;
    if (!el) return;
    programmatic.current = Math.round(top);
    el.scrollTop = top;
    setScrollTop(el.scrollTop);
  }, []);

  const onScroll = useCallback(() => {
    const el = scrollRef.current;
    if (!el) return;
    const top = el.scrollTop;
    const ours = programmatic.current !== null && Math.abs(top - programmatic.current) <= 2;
    programmatic.current = null;
    if (!ours && !isAtBottom(geometry, top)) setFollow(false);
    if (!frame.current) {
      frame.current = requestAnimationFrame(() => {
        frame.current = 0;
        setScrollTop(scrollRef.current?.scrollTop ?? 0);
      });
    }
  }, [geometry]);
  useEffect(() => () => cancelAnimationFrame(frame.current), []);

  // Stick to the bottom while following.
  useLayoutEffect(() => {
    if (follow && total !== null) scrollTo(maxScrollTop(geometry));
  }, [follow, total, geometry, scrollTo]);

  const reveal = useCallback(
    (line: number) => {
      setFollow(false);
      scrollTo(scrollTopToReveal(geometry, line));
    },
    [geometry, scrollTo],
  );

  // #L<n>: once the total is known, and whenever the hash changes.
  const hashDone = useRef(false);
  useEffect(() => {
    if (total === null || hashDone.current) return;
    hashDone.current = true;
    const line = lineFromHash();
    if (line !== null) reveal(Math.min(line, Math.max(0, total - 1)));
  }, [total, reveal]);
  useEffect(() => {
    const onHash = () => {
      const line = lineFromHash();
      if (line === null) return;
      setSelected(line);
      reveal(line);
    };
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, [reveal]);

  const onNumber = useCallback((event: MouseEvent<HTMLAnchorElement>, line: number) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    history.replaceState(history.state, '', `#L${line + 1}`);
    setSelected(line);
  }, []);

  // Search.
  const goTo = useCallback(
    (state: SearchState, index: number) => {
      const line = state.matches[index];
      setSearch({ ...state, current: index });
      if (line !== undefined) reveal(line);
    },
    [reveal],
  );

  const runSearch = useCallback(
    (query: string, caseSensitive: boolean, fromLine = 0, previous?: SearchState) => {
      searchAbort.current?.abort();
      if (!query) {
        setSearch(NO_SEARCH);
        return;
      }
      const controller = new AbortController();
      searchAbort.current = controller;
      const start = previous ?? { ...NO_SEARCH, query, caseSensitive };
      setSearch({ ...start, busy: true, error: null });
      const url = `${base}/search?q=${encodeURIComponent(query)}&case=${caseSensitive}&limit=${SEARCH_LIMIT}&fromLine=${fromLine}`;
      getJson<SearchResponse>(url, controller.signal).then(
        (result) => {
          const next: SearchState = {
            ...start,
            matches: [...start.matches, ...result.matches],
            more: result.more,
            searchedTo: result.searchedTo,
            busy: false,
            error: null,
          };
          if (next.matches.length > start.matches.length) goTo(next, start.matches.length);
          else setSearch({ ...next, current: start.current });
        },
        (error: unknown) => {
          if (!controller.signal.aborted)
            setSearch({ ...start, busy: false, error: error instanceof Error ? error.message : String(error) });
        },
      );
    },
    [base, goTo],
  );

  const step = useCallback(
    (direction: 1 | -1) => {
      const s = search;
      if (s.matches.length === 0) return;
      const next = s.current < 0 ? (direction === 1 ? 0 : s.matches.length - 1) : s.current + direction;
      if (next >= s.matches.length && s.more) {
        runSearch(s.query, s.caseSensitive, s.searchedTo, s);
        return;
      }
      goTo(s, (next + s.matches.length) % s.matches.length);
    },
    [search, goTo, runSearch],
  );

  const onSearch = (event: FormEvent) => {
    event.preventDefault();
    if (searchInput === search.query && caseInput === search.caseSensitive && search.matches.length > 0) step(1);
    else runSearch(searchInput, caseInput);
  };
  const onSearchKey = (event: KeyboardEvent<HTMLInputElement>) => {
    if (event.key === 'Enter' && event.shiftKey) {
      event.preventDefault();
      if (searchInput === search.query && caseInput === search.caseSensitive) step(-1);
      else runSearch(searchInput, caseInput);
    } else if (event.key === 'Escape') {
      setSearchInput('');
      runSearch('', false);
    }
  };

  const jumpToCut = () => {
    getJson<SearchResponse>(`${base}/search?q=${encodeURIComponent(TRUNCATION_MARKER)}&case=true&limit=1`).then(
      (result) => {
        const line = result.matches[0];
        if (line !== undefined) {
          setSelected(line);
          reveal(line);
        }
      },
      () => undefined,
    );
  };

  const currentMatch = search.current >= 0 ? (search.matches[search.current] ?? null) : null;
  const rows = [];
  for (let n = range.first; n < range.end; n++) {
    const raw = cache.line(n);
    if (raw === undefined) {
      rows.push(
        <div key={n} className="log-line log-pending" data-pending-line={n + 1} aria-hidden="true">
          <span className="log-num">{n + 1}</span>
        </div>,
      );
    } else {
      rows.push(
        <LogRow
          key={n}
          n={n}
          raw={raw}
          showTime={showTime}
          query={search.query}
          caseSensitive={search.caseSensitive}
          current={n === currentMatch}
          selected={n === selected}
          onNumber={onNumber}
        />,
      );
    }
  }
  // Touch the pages in view so the cache keeps them.
  for (let page = cache.pageOf(range.first); page <= cache.pageOf(Math.max(range.first, range.end - 1)); page++) cache.get(page);

  const digits = String(Math.max(lineCount, 1)).length;
  const matchLabel =
    search.busy && search.matches.length === 0
      ? 'Searching…'
      : search.query
        ? `${search.current >= 0 ? search.current + 1 : 0} of ${search.matches.length}${search.more ? '+' : ''} matches`
        : '';

  if (loadError) {
    return (
      <div className="log-viewer">
        <p className="error" role="alert">
          Could not load the log: {loadError}
        </p>
      </div>
    );
  }

  return (
    <div className="log-viewer" style={{ '--log-digits': `${digits}ch` } as CSSProperties}>
      <div className="log-toolbar">
        <form className="log-search" role="search" onSubmit={onSearch}>
          <label htmlFor={`log-q-${jobKey}`} className="log-sr">
            Search the log
          </label>
          <input
            id={`log-q-${jobKey}`}
            type="search"
            placeholder="Search the log"
            value={searchInput}
            autoComplete="off"
            onChange={(e) => setSearchInput(e.target.value)}
            onKeyDown={onSearchKey}
          />
          <label className="log-case">
            <input type="checkbox" checked={caseInput} onChange={(e) => setCaseInput(e.target.checked)} /> Match case
          </label>
          <button
            type="button"
            onClick={() => step(-1)}
            disabled={search.matches.length === 0}
            aria-label="Previous match"
            title="Previous match (Shift+Enter)"
          >
            ↑
          </button>
          <button type="submit" disabled={!searchInput} aria-label="Next match" title="Next match (Enter)">
            ↓
          </button>
          <span className="log-matches muted" data-testid="log-matches" role="status" aria-live="polite">
            {search.error ? <span className="error">{search.error}</span> : matchLabel}
          </span>
        </form>
        <div className="log-actions">
          <button type="button" aria-pressed={showTime} onClick={() => setShowTime((v) => !v)}>
            Timestamps
          </button>
          {live && !complete && (
            <button type="button" aria-pressed={follow} onClick={() => setFollow((v) => !v)} title="Keep the newest lines in view">
              <span
                className={`live-dot ${connection === 'live' ? 'live' : connection === 'reconnecting' ? 'reconnecting' : ''}`}
                aria-hidden="true"
              />
              Follow
            </button>
          )}
          <a className="button" href={base} download={`${jobKey}.log`}>
            Raw
          </a>
          <span className="muted log-count">
            {total === null ? 'Loading…' : `${total.toLocaleString()} lines${complete ? '' : live ? ' so far' : ''}`}
          </span>
        </div>
      </div>
      {truncated && (
        <p className="log-truncated" role="note">
          This log was longer than the server keeps: its middle was cut.{' '}
          <button type="button" onClick={jumpToCut}>
            Go to the cut
          </button>
        </p>
      )}
      <div
        ref={scrollRef}
        className="log-scroll"
        data-testid="log-scroll"
        role="log"
        aria-live="off"
        aria-label={`Log of job ${jobKey}`}
        tabIndex={0}
        onScroll={onScroll}
        aria-busy={total === null}
      >
        <div className="log-content" style={{ height: Math.max(contentHeight(geometry), 1) }}>
          <div className="log-lines" style={{ transform: `translateY(${range.offset}px)` }}>
            {rows}
          </div>
        </div>
        {total === 0 && <p className="log-empty muted">{complete ? 'This job printed nothing.' : 'Waiting for output…'}</p>}
      </div>
    </div>
  );
}

const LogRow = memo(function LogRow(props: {
  n: number;
  raw: string;
  showTime: boolean;
  query: string;
  caseSensitive: boolean;
  current: boolean;
  selected: boolean;
  onNumber: (event: MouseEvent<HTMLAnchorElement>, line: number) => void;
}) {
  const { n, raw, showTime, query, caseSensitive, current, selected, onNumber } = props;
  const line: StoredLine = parseStoredLine(raw);
  const groups = lineGroups(line.text, query, caseSensitive);
  const classes = ['log-line', `log-${line.stream}`];
  if (isTruncationMarker(line)) classes.push('log-cut');
  if (current) classes.push('log-current');
  if (selected) classes.push('log-selected');
  return (
    <div className={classes.join(' ')} data-line={n + 1}>
      <a className="log-num" href={`#L${n + 1}`} onClick={(e) => onNumber(e, n)} aria-label={`Line ${n + 1}`}>
        {n + 1}
      </a>
      {showTime && (
        <span className="log-time" title={line.at}>
          {line.at ? line.at.slice(11, 23) : ''}
        </span>
      )}
      <span className="log-text">
        {line.stream === 'e' && <span className="log-sr">stderr: </span>}
        {groups.map((group, g) => {
          const pieces = group.pieces.map((piece, i) => {
            const look = lookOf(piece.style);
            const className = [look.className, piece.mark ? 'log-mark' : ''].filter(Boolean).join(' ');
            return className || Object.keys(look.vars).length ? (
              <span key={i} className={className || undefined} style={look.vars as CSSProperties}>
                {piece.text}
              </span>
            ) : (
              piece.text
            );
          });
          return group.href ? (
            <a key={g} href={group.href} target="_blank" rel="noopener noreferrer">
              {pieces}
            </a>
          ) : (
            <span key={g}>{pieces}</span>
          );
        })}
      </span>
    </div>
  );
});

/** The 0-based line a `#L<n>` hash names, or null. */
function lineFromHash(): number | null {
  const match = /^#L(\d+)$/.exec(typeof location === 'undefined' ? '' : location.hash);
  if (!match) return null;
  const n = Number(match[1]);
  return n >= 1 ? n - 1 : null;
}
