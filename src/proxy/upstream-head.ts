/**
 * The request head the proxy sends upstream, made from the client's head as received: the request
 * line and every header line that passes through unchanged are copied from `RequestHead.raw` in
 * runs (string slices, no string per header), and only what the proxy changes is written —
 * hop-by-hop headers and those named in `Connection` removed, `Host` replaced when it differs from
 * the request's authority, `X-Forwarded-For/-Proto/-Host` and the framing added. A header line
 * copied keeps its spelling and its optional whitespace, which the parser already accepted.
 */
import { BODY_CHUNKED, nameIs, trimOws, type RequestHead } from './request-parser.ts';
import { cookieMatches, ruleMatches, type CompiledRule } from './route-table.ts';

/** What `buildUpstreamHead` found besides the head itself (one reused object: the proxy is single-threaded). */
export interface HeadScan {
  head: string;
  toCanary: boolean;
}

/**
 * The `X-Forwarded-*` lines of the last request without a client X-Forwarded-For: every request of
 * a connection (and usually of every connection) has the same client address and authority.
 */
let lastRemote = '';
let lastAuthority = '';
let lastForwarded = '';
/** The same lines between the last header line as received and the blank line: the whole rest of a head copied as sent. */
let lastTail = '';

function forwardedLines(remote: string, authority: string): string {
  if (remote !== lastRemote || authority !== lastAuthority) {
    lastRemote = remote;
    lastAuthority = authority;
    lastForwarded = `X-Forwarded-For: ${remote}\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: ${authority}\r\n`;
    lastTail = `\r\n${lastForwarded}\r\n`;
  }
  return lastForwarded;
}

function forwardedTail(remote: string, authority: string): string {
  forwardedLines(remote, authority);
  return lastTail;
}

/**
 * Builds the upstream request head into `out`. `authority` is what Host and X-Forwarded-Host carry
 * (the absolute-form target's, the client's Host, or the proxy's address for a request that names
 * none: RFC 9112 §3.2.2, §3.3). Match rules are evaluated on the client's headers on the way, with
 * Host read as `authority`. An upgrade request keeps `Connection: Upgrade` + `Upgrade`.
 */
export function buildUpstreamHead(req: RequestHead, remote: string, authority: string, rules: CompiledRule[], out: HeadScan): void {
  const raw = req.raw;
  const f = req.fields;
  const drop = req.connectionOptions ? connectionOptions(req) : null;
  const nRules = rules.length;
  // An HTTP/1.1 origin-form (or `*`) request line is already what would be written.
  let head = req.minor === 1 && !req.absoluteForm ? '' : `${req.method} ${req.target} HTTP/1.1\r\n`;
  let runStart = head === '' ? 0 : f.length > 0 ? (f[0] as number) : raw.length;
  let xff = '';
  let hostSent = false;
  let toCanary = false;
  let upgradeValue = '';
  for (let i = 0; i < f.length; i += 4) {
    const ls = f[i] as number;
    const colon = f[i + 1] as number;
    const vs = f[i + 2] as number;
    const ve = f[i + 3] as number;
    const n = colon - ls;
    const isHost = n === 4 && nameIs(raw, ls, 'host');
    if (nRules > 0 && !toCanary) toCanary = matchHeader(rules, raw.slice(ls, colon), isHost ? authority : raw.slice(vs, ve));
    let keep = true;
    let added = '';
    if (drop?.has(raw.slice(ls, colon).toLowerCase())) keep = false;
    else
      switch (n) {
        case 2:
          keep = !nameIs(raw, ls, 'te');
          break;
        case 4:
          if (isHost) {
            hostSent = true;
            // Replaced when the request's authority is not what it says (absolute-form, empty Host).
            if (ve - vs !== authority.length || !raw.startsWith(authority, vs)) {
              keep = false;
              added = `${raw.slice(ls, colon)}: ${authority}\r\n`;
            }
          }
          break;
        case 7:
          if (nameIs(raw, ls, 'upgrade')) {
            upgradeValue = raw.slice(vs, ve);
            keep = false;
          } else keep = !nameIs(raw, ls, 'trailer');
          break;
        case 10:
          keep = !nameIs(raw, ls, 'keep-alive') && !nameIs(raw, ls, 'connection');
          break;
        case 15:
          if (nameIs(raw, ls, 'x-forwarded-for')) {
            const v = raw.slice(vs, ve);
            xff = xff === '' ? v : `${xff}, ${v}`;
            keep = false;
          }
          break;
        case 16:
          keep = !nameIs(raw, ls, 'proxy-connection') && !nameIs(raw, ls, 'x-forwarded-host');
          break;
        case 17:
          // Transfer-Encoding is re-added below: the proxy re-chunks the decoded body.
          keep = !nameIs(raw, ls, 'transfer-encoding') && !nameIs(raw, ls, 'x-forwarded-proto');
          break;
        case 19:
          keep = !nameIs(raw, ls, 'proxy-authorization');
          break;
      }
    if (keep) continue;
    // This line is not copied: the run of copied lines ends before it.
    if (ls > runStart) head += raw.slice(runStart, ls);
    if (added !== '') head += added;
    runStart = i + 4 < f.length ? (f[i + 4] as number) : raw.length;
  }
  if (runStart === 0 && hostSent && xff === '' && req.bodyMode !== BODY_CHUNKED && !req.upgrade) {
    // Nothing dropped or replaced (most requests): the head as sent, then the forwarded lines.
    out.head = raw + forwardedTail(remote, authority);
    out.toCanary = toCanary;
    return;
  }
  if (runStart < raw.length) head = `${head}${raw.slice(runStart)}\r\n`;
  // HTTP/1.0 without Host (or a Host named in Connection): HTTP/1.1 requires one (RFC 9112 §3.2).
  if (!hostSent) head += `Host: ${authority}\r\n`;
  head +=
    xff === ''
      ? forwardedLines(remote, authority)
      : `X-Forwarded-For: ${xff}, ${remote}\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: ${authority}\r\n`;
  if (req.bodyMode === BODY_CHUNKED) head += `Transfer-Encoding: ${req.transferEncoding}\r\n`;
  if (req.upgrade) head += `Connection: Upgrade\r\nUpgrade: ${upgradeValue}\r\n`;
  out.head = `${head}\r\n`;
  out.toCanary = toCanary;
}

/** The header names (lowercase) listed in the request's Connection headers besides close, keep-alive and upgrade. */
function connectionOptions(req: RequestHead): Set<string> {
  const raw = req.raw;
  const f = req.fields;
  const names = new Set<string>();
  for (let i = 0; i < f.length; i += 4) {
    const ls = f[i] as number;
    if ((f[i + 1] as number) - ls !== 10 || !nameIs(raw, ls, 'connection')) continue;
    for (const t of raw.slice(f[i + 2] as number, f[i + 3] as number).split(',')) {
      const tok = trimOws(t).toLowerCase();
      if (tok !== '' && tok !== 'close' && tok !== 'keep-alive' && tok !== 'upgrade') names.add(tok);
    }
  }
  return names;
}

function matchHeader(rules: CompiledRule[], name: string, value: string): boolean {
  for (let r = 0; r < rules.length; r++) {
    const rule = rules[r] as CompiledRule;
    if (rule.kind === 'header') {
      if (name.length === rule.name.length && name.toLowerCase() === rule.name && ruleMatches(rule, value)) return true;
    } else if (name.length === 6 && name.toLowerCase() === 'cookie' && cookieMatches(rule, value)) {
      return true;
    }
  }
  return false;
}
