/**
 * The log explorer of an environment: its services' stored lines (every instance and release,
 * newest last) filtered on the server (`grep`, `where` on JSON fields, instance, release, time),
 * then followed live over SSE from the moment the search began, so nothing falls between the
 * two. Only the rows in view are in the DOM. A line's link (`?instance=…&at=…&line=…`, what the
 * API and the global search hand out) opens the minutes around that line with it highlighted and
 * in view: `line` is a key of its text (core/line-key.ts), since a batch of a service's output is
 * read in one millisecond.
 */
import { type FormEvent, useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { Link, useLocation, useParams, useSearch } from 'wouter';
import type { ServiceLogAnswer, ServiceLogLine } from '../../../src/server/logs/index.ts';
import { lineKey as textKey } from '../../../src/core/line-key.ts';
import { getJson, p } from '../api.ts';
import { LiveIndicator } from '../components/LiveIndicator.tsx';
import { useEventStream } from '../live.ts';
import './ServiceLogsPage.css';

/** Keep in step with `.service-log-row` in ServiceLogsPage.css. */
const ROW_HEIGHT = 22;
const OVERSCAN = 20;
/** Lines kept while following; older ones leave the view (a search brings them back). */
const MAX_LINES = 20_000;
const AROUND_MS = 5 * 60_000;

export default function ServiceLogsPage() {
  const { project = '', env = '' } = useParams<{ project: string; env: string }>();
  const search = useSearch();
  const [, navigate] = useLocation();
  const params = useMemo(() => new URLSearchParams(search), [search]);
  const at = params.get('at');
  const [lines, setLines] = useState<ServiceLogLine[]>([]);
  const [matched, setMatched] = useState(0);
  const [searchedAt, setSearchedAt] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);

  const query = useMemo(() => {
    const q = new URLSearchParams({ limit: '2000' });
    for (const key of ['grep', 'instance', 'release', 'stream']) {
      const value = params.get(key);
      if (value) q.set(key, value);
    }
    for (const where of (params.get('where') ?? '').split(/\s+/).filter(Boolean)) q.append('where', where);
    if (at) {
      const ms = Date.parse(at);
      q.set('since', new Date(ms - AROUND_MS).toISOString());
      q.set('until', new Date(ms + AROUND_MS).toISOString());
    } else q.set('since', params.get('since') || '1h');
    return q;
  }, [params, at]);
  const base = p`/api/projects/${project}/environments/${env}/logs`;

  useEffect(() => {
    const controller = new AbortController();
    setLoading(true);
    setError(null);
    getJson<ServiceLogAnswer>(`${base}?${query}`, controller.signal)
      .then((answer) => {
        setLines(answer.lines);
        setMatched(answer.matched);
        setSearchedAt(answer.searchedAt ?? null);
        setLoading(false);
      })
      .catch((e: unknown) => {
        if (controller.signal.aborted) return;
        setError(e instanceof Error ? e.message : String(e));
        setLoading(false);
      });
    return () => controller.abort();
  }, [base, query]);

  // Live from the search's start; a link to one line shows a fixed window instead.
  const followUrl = useMemo(() => {
    if (at || !searchedAt) return null;
    const q = new URLSearchParams(query);
    q.set('since', searchedAt);
    q.set('follow', 'true');
    return `${base}?${q}`;
  }, [at, searchedAt, query, base]);
  const seen = useMemo(() => new Set(lines.map(lineKey)), [lines]);
  const connection = useEventStream(followUrl, {
    line: (line: ServiceLogLine) => {
      if (seen.has(lineKey(line))) return;
      setLines((old) => (old.length >= MAX_LINES ? [...old.slice(old.length - MAX_LINES + 1), line] : [...old, line]));
    },
  });

  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const next = new URLSearchParams();
    for (const key of ['grep', 'where', 'instance', 'release', 'since', 'stream']) {
      const value = String(form.get(key) ?? '').trim();
      if (value) next.set(key, value);
    }
    navigate(`${p`/projects/${project}/environments/${env}/logs`}?${next}`);
  };

  return (
    <main className="service-logs">
      <h1>
        Logs of <Link href={p`/projects/${project}/environments/${env}`}>{env}</Link> <span className="muted">({project})</span>{' '}
        {followUrl && <LiveIndicator state={connection} />}
      </h1>
      <form className="service-log-filters" onSubmit={onSubmit} key={search}>
        <input
          name="grep"
          aria-label="regular expression"
          placeholder="regex, e.g. timeout|refused"
          defaultValue={params.get('grep') ?? ''}
        />
        <input name="where" aria-label="fields" placeholder="level=error req.method!=GET" defaultValue={params.get('where') ?? ''} />
        <input name="instance" aria-label="instance" placeholder="instance" defaultValue={params.get('instance') ?? ''} />
        <input name="release" aria-label="release" placeholder="release #" size={6} defaultValue={params.get('release') ?? ''} />
        <input name="since" aria-label="since" placeholder="since (1h)" size={8} defaultValue={params.get('since') ?? ''} />
        <select name="stream" aria-label="stream" defaultValue={params.get('stream') ?? ''}>
          <option value="">all streams</option>
          <option value="stdout">stdout</option>
          <option value="stderr">stderr</option>
          <option value="system">system</option>
        </select>
        <button type="submit">Search</button>
      </form>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <p className="muted" aria-live="polite">
        {loading
          ? 'searching…'
          : `${lines.length} lines${matched > lines.length ? ` (the newest of ${matched} matches)` : ''}${at ? ` around ${at}` : ''}`}
      </p>
      <LogRows lines={lines} at={at} instance={params.get('instance')} line={params.get('line')} />
    </main>
  );
}

function lineKey(line: ServiceLogLine): string {
  return `${line.instance}\u0000${line.time}\u0000${line.stream}\u0000${line.text}`;
}

/** The rows in view only; sticks to the bottom while the user has not scrolled up. */
function LogRows({
  lines,
  at,
  instance,
  line,
}: {
  lines: ServiceLogLine[];
  at: string | null;
  instance: string | null;
  line: string | null;
}) {
  const box = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(600);
  const stick = useRef(true);
  // The linked line: its time, instance and text's key (a link without a key marks every line read in that millisecond).
  const isTarget = useCallback(
    (l: ServiceLogLine) => at !== null && l.time === at && (!instance || l.instance === instance) && (!line || textKey(l.text) === line),
    [at, instance, line],
  );
  const target = useMemo(() => lines.findIndex(isTarget), [lines, isTarget]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: new lines must keep a view that sits at the bottom there
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    setHeight(el.clientHeight);
    if (target >= 0) el.scrollTop = Math.max(0, target * ROW_HEIGHT - el.clientHeight / 2);
    else if (stick.current) el.scrollTop = el.scrollHeight;
    setScrollTop(el.scrollTop);
  }, [target, lines.length]);

  const onScroll = useCallback(() => {
    const el = box.current;
    if (!el) return;
    stick.current = el.scrollTop + el.clientHeight >= el.scrollHeight - ROW_HEIGHT;
    setScrollTop(el.scrollTop);
  }, []);

  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(lines.length, Math.ceil((scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
  return (
    <div className="service-log-rows" ref={box} onScroll={onScroll} role="log" aria-label="service log lines">
      <div style={{ height: lines.length * ROW_HEIGHT, position: 'relative' }}>
        {lines.slice(first, last).map((line, i) => {
          const index = first + i;
          const fields = line.fields ? Object.entries(line.fields).filter(([k]) => k !== 'msg' && k !== 'message') : [];
          return (
            <div
              key={`${index}:${line.time}`}
              className={`service-log-row stream-${line.stream}${isTarget(line) ? ' target' : ''}`}
              style={{ top: index * ROW_HEIGHT }}
              data-line={index}
            >
              <a className="time" href={line.link} title="link to this line">
                {line.time.slice(11, 23)}
              </a>
              <span className="instance" title={`release ${line.release ?? '—'}`}>
                {line.instance}
              </span>
              <span className="text">
                {line.fields && typeof (line.fields.msg ?? line.fields.message) === 'string'
                  ? String(line.fields.msg ?? line.fields.message)
                  : line.text}
              </span>
              {fields.slice(0, 6).map(([k, v]) => (
                <span key={k} className={`field field-${k}`}>
                  {k}={typeof v === 'object' ? JSON.stringify(v) : String(v)}
                </span>
              ))}
            </div>
          );
        })}
      </div>
    </div>
  );
}
