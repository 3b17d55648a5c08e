/**
 * The native log pump's C source (see log-pump.ts): a string, not a .c file, because the package
 * ships the compiled TypeScript only (like the Perl helper in spawner.ts). Its output must stay
 * byte for byte the helper's Perl log mode and log-writer.ts (test/executor/helper-log.test.ts
 * runs against both). Edit it as C: String.raw keeps every backslash as written.
 */
export const LOG_PUMP_SOURCE = String.raw`/*
 * gantry log pump: writes job logs for the Perl step helper (spawner.ts), which keeps process
 * control. It reads the steps' stdout/stderr pipes and stores their lines exactly as the helper's
 * Perl log mode and log-writer.ts do: '<stamp> <o|e> ' per line, CRLF to LF, every secret form
 * masked per whole line (leftmost, longest first), lines past 64 KiB split at a UTF-8 boundary,
 * the head in the log file and the rest in a tail ring file, marker and tail assembled at the end.
 *
 * One pump serves its helper for the helper's life, one log after the other (a start per log
 * would cost each job ~2 ms of CPU). argv: <command fd> <reply fd>; EOF on the command fd: exit.
 * Commands: 'N<length>\n' + NUL-separated fields starts a log: log fd, ring fd (-1: open the ring
 * path when the head is full), stdout pipe fd, stderr pipe fd (all the helper's: opened here
 * through /proc/<helper>/fd, so the helper can give every log fresh pipes without passing
 * descriptors), head budget (-1: no cap), ring size, bytes and lines in the file, largest read,
 * tail budget, marker format (hex), kernel copy 0|1, ring path (hex), then each form to mask
 * (hex); answer 'G\n' or 'X <errno> <message>\n'. Then 'D\n' reads what is in the pipes (a step
 * ended) and answers 'd\n'; 'W<length>\n<text>' stores a system line and answers 'w\n'; 'g\n'/'t\n' (t: the last,
 * assemble the tail) answers 'C ...\n' as the helper's 'g'/'t' do and ends the log.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_LINE 65536
#define READ_ROUNDS (1048576 / 65536)

typedef long long i64;

static int cmdfd, repfd, lfd, rfd = -1;
static int pfd[2];
static const char codes[2] = {'o', 'e'};
static i64 headBudget, ringSize, headBytes, headLines, totalBytes, totalLines, ringWritten, ringLines, tailBudget;
static int truncated, kernelCopy;
static size_t readSize;
static char *markerFmt, *ringPath;
static char logErr[256];
static char **forms;
static size_t *formLen, nforms;

/* Per stream: the partial line read so far (raw bytes). */
static char *pend[2];
static size_t plen[2], pcap[2];
/* The formatted lines of one read. */
static char *ob;
static size_t olen, ocap;
/* Checkpoints [ring position, ring lines before it], at least 64 KiB apart, oldest first. */
static i64 (*ck)[2];
static size_t ckHead, ckLen, ckCap;

static char stamp[40];
static size_t stampLen;
static long stampS = -1, stampMs = -1;

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n);
  if (!q) _exit(70);
  return q;
}

static void fail(void) {
  if (!logErr[0]) snprintf(logErr, sizeof logErr, "%d %s", errno, strerror(errno));
}

static void reply(const char *s, size_t n) {
  while (n > 0) {
    ssize_t w = write(repfd, s, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      _exit(1);
    }
    s += w;
    n -= (size_t)w;
  }
}

static void setStamp(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  long s = ts.tv_sec, ms = ts.tv_nsec / 1000000;
  if (s == stampS && ms == stampMs) return;
  stampS = s;
  stampMs = ms;
  struct tm t;
  time_t tt = s;
  gmtime_r(&tt, &t);
  stampLen = (size_t)snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", t.tm_year + 1900, t.tm_mon + 1,
                              t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, ms);
}

/* Writes n bytes to fd (at off when off >= 0); stops at the first error (kept in logErr). */
static void out(int fd, const char *s, size_t n, i64 off) {
  if (logErr[0]) return;
  while (n > 0) {
    ssize_t w = off >= 0 ? pwrite(fd, s, n, off) : write(fd, s, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      fail();
      return;
    }
    s += w;
    n -= (size_t)w;
    if (off >= 0) off += w;
  }
}

static i64 countNl(const char *s, size_t n) {
  i64 c = 0;
  for (const char *e = s + n; (s = memchr(s, '\n', (size_t)(e - s))); s++) c++;
  return c;
}

static void ckPush(i64 at, i64 lines) {
  if (ckLen == ckCap) {
    memmove(ck, ck + ckHead, ckLen * sizeof *ck);
    ckHead = 0;
    if (ckLen == ckCap) {
      ckCap = ckCap ? ckCap * 2 : 64;
      ck = xrealloc(ck, ckCap * sizeof *ck);
    }
  } else if (ckHead + ckLen == ckCap) {
    memmove(ck, ck + ckHead, ckLen * sizeof *ck);
    ckHead = 0;
  }
  ck[ckHead + ckLen][0] = at;
  ck[ckHead + ckLen][1] = lines;
  ckLen++;
}

/* Bytes [0, n) of s, holding 'lines' newlines (-1: count them), to the ring, wherever it wraps. */
static void ring(const char *s, i64 n, i64 lines) {
  if (rfd < 0) {
    if (logErr[0]) return;
    if (!ringPath || (rfd = open(ringPath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0666)) < 0) {
      if (!ringPath) errno = ENOENT;
      fail();
      rfd = -1;
      return;
    }
  }
  if (n > ringSize) {
    i64 drop = n - ringSize;
    ringLines += countNl(s, (size_t)drop);
    lines = -1;
    ringWritten += drop;
    s += drop;
    n = ringSize;
  }
  if (ckLen == 0 || ringWritten - ck[ckHead + ckLen - 1][0] >= 65536) ckPush(ringWritten, ringLines);
  /* A checkpoint whose bytes the ring no longer holds cannot start a count. */
  while (ckLen > 0 && ck[ckHead][0] < ringWritten + n - ringSize) {
    ckHead++;
    ckLen--;
  }
  ringLines += lines >= 0 ? lines : countNl(s, (size_t)n);
  for (i64 off = 0; off < n;) {
    i64 pos = ringWritten % ringSize, len = ringSize - pos;
    if (n - off < len) len = n - off;
    out(rfd, s + off, (size_t)len, pos);
    off += len;
    ringWritten += len;
  }
}

/* Stores [0, n) of s (formatted whole lines, 'lines' of them). */
static void store(const char *s, i64 n, i64 lines) {
  if (!truncated) {
    if (headBudget < 0 || headBytes + n <= headBudget) {
      out(lfd, s, (size_t)n, -1);
      headBytes += n;
      headLines += lines;
      return;
    }
    i64 cut = 0;
    i64 room = headBudget - headBytes;
    if (room > 0) {
      const char *nl = memrchr(s, '\n', (size_t)(room < n ? room : n));
      if (nl) cut = nl - s + 1;
    }
    i64 hl = 0;
    if (cut > 0) {
      out(lfd, s, (size_t)cut, -1);
      headBytes += cut;
      hl = countNl(s, (size_t)cut);
      headLines += hl;
    }
    truncated = 1;
    if (cut == n) return;
    s += cut;
    n -= cut;
    lines -= hl;
  }
  ring(s, n, lines);
}

static void obReserve(size_t more) {
  if (olen + more <= ocap) return;
  while (olen + more > ocap) ocap = ocap ? ocap * 2 : 1 << 20;
  ob = xrealloc(ob, ocap);
}

/* One line's text (no newline) into ob: prefix, CR before the newline dropped, secrets masked (unless done). */
static void line(char code, const char *s, size_t n, int masked) {
  if (n > 0 && s[n - 1] == '\r') n--;
  obReserve(stampLen + 3 + n + n / 3 * 3 + 4);
  char *o = ob + olen;
  memcpy(o, stamp, stampLen);
  o += stampLen;
  *o++ = ' ';
  *o++ = code;
  *o++ = ' ';
  if (nforms == 0 || masked) {
    memcpy(o, s, n);
    o += n;
  } else {
    /* Leftmost match; at one position the first form in order (longest first) wins, as Perl's alternation. */
    size_t at = 0;
    while (at < n) {
      const char *best = NULL;
      size_t bestLen = 0;
      for (size_t f = 0; f < nforms; f++) {
        if (formLen[f] > n - at) continue;
        const char *m = memmem(s + at, n - at, forms[f], formLen[f]);
        if (m && (!best || m < best)) {
          best = m;
          bestLen = formLen[f];
        }
      }
      if (!best) break;
      size_t k = (size_t)(best - (s + at));
      memcpy(o, s + at, k);
      o += k;
      memcpy(o, "***", 3);
      o += 3;
      at += k + bestLen;
    }
    memcpy(o, s + at, n - at);
    o += n - at;
  }
  *o++ = '\n';
  olen = (size_t)(o - ob);
}

/* The longest cut <= max that does not split a UTF-8 sequence (s holds more than max bytes). */
static size_t utf8cut(const char *s, size_t max) {
  for (size_t cut = max; cut + 3 >= max && cut > 0; cut--)
    if (((unsigned char)s[cut] & 0xc0) != 0x80) return cut;
  return max;
}

/* The region's secrets masked into mb (forms hold no line break: a match stays within its line). */
static char *mb;
static size_t mbCap;
static size_t *occ;

static size_t maskRegion(const char *s, size_t n) {
  if (mbCap < n) {
    mbCap = n;
    mb = xrealloc(mb, mbCap);
  }
  for (size_t f = 0; f < nforms; f++) {
    const char *m = memmem(s, n, forms[f], formLen[f]);
    occ[f] = m ? (size_t)(m - s) : n;
  }
  size_t at = 0, o = 0;
  for (;;) {
    /* Leftmost match; at one position the first form in order (longest first) wins, as Perl's alternation. */
    size_t best = n, bestF = 0;
    for (size_t f = 0; f < nforms; f++)
      if (occ[f] < best) {
        best = occ[f];
        bestF = f;
      }
    if (best == n) break;
    memcpy(mb + o, s + at, best - at);
    o += best - at;
    memcpy(mb + o, "***", 3);
    o += 3;
    at = best + formLen[bestF];
    for (size_t f = 0; f < nforms; f++)
      if (occ[f] < at) {
        const char *m = at < n ? memmem(s + at, n - at, forms[f], formLen[f]) : NULL;
        occ[f] = m ? (size_t)(m - s) : n;
      }
  }
  memcpy(mb + o, s + at, n - at);
  return o + n - at;
}

/* Whether a line of [s, s + n) is longer than 64 KiB. */
static int hasLong(const char *s, size_t n) {
  if (n <= MAX_LINE) return 0;
  for (const char *e = s + n; s < e;) {
    const char *nl = memchr(s, '\n', (size_t)(e - s));
    if (!nl) nl = e;
    if (nl - s > MAX_LINE) return 1;
    s = nl + 1;
  }
  return 0;
}

/* Whole lines [s, s + n) (n > 0, ending with a newline); split: lines past 64 KiB become several. */
static void emit(char code, const char *s, size_t n, int split) {
  olen = 0;
  i64 lines = 0;
  /* Masking before any split would mask a secret the split cuts, which the Perl code does not: such
     regions (rare) are masked line by line, after the split. */
  int masked = 0;
  if (nforms > 0 && !(split && hasLong(s, n))) {
    n = maskRegion(s, n);
    s = mb;
    masked = 1;
  }
  for (const char *e = s + n; s < e;) {
    const char *nl = memchr(s, '\n', (size_t)(e - s));
    size_t len = (size_t)(nl - s);
    while (split && len > MAX_LINE) {
      size_t cut = utf8cut(s, MAX_LINE);
      line(code, s, cut, masked);
      lines++;
      s += cut;
      len -= cut;
    }
    line(code, s, len, masked);
    lines++;
    s = nl + 1;
  }
  totalBytes += (i64)olen;
  totalLines += lines;
  store(ob, (i64)olen, lines);
}

/* A partial line past 64 KiB (no newline yet) is stored in 64 KiB lines, as the Node writer does. */
static void flushlong(int c) {
  char *s = pend[c];
  size_t n = plen[c];
  olen = 0;
  i64 lines = 0;
  while (n > MAX_LINE) {
    size_t cut = utf8cut(s, MAX_LINE);
    line(codes[c], s, cut, 0);
    lines++;
    s += cut;
    n -= cut;
  }
  totalBytes += (i64)olen;
  totalLines += lines;
  store(ob, (i64)olen, lines);
  memmove(pend[c], s, n);
  plen[c] = n;
}

/* After a read was appended to the stream's partial line: its whole lines are stored. */
static void chunk(int c) {
  setStamp();
  char *last = memrchr(pend[c], '\n', plen[c]);
  if (!last) {
    if (plen[c] > MAX_LINE) flushlong(c);
    return;
  }
  size_t whole = (size_t)(last - pend[c]) + 1;
  emit(codes[c], pend[c], whole, 1);
  plen[c] -= whole;
  memmove(pend[c], pend[c] + whole, plen[c]);
}

static void flushpartial(void) {
  for (int c = 0; c < 2; c++) {
    if (plen[c] == 0) continue;
    pend[c][plen[c]] = '\n';
    emit(codes[c], pend[c], plen[c] + 1, 0);
    plen[c] = 0;
  }
}

/* One read of a stream: > 0 bytes read, 0 at its end, -1 when it is empty now. */
static ssize_t readpipe(int c) {
  if (pfd[c] < 0) return 0;
  if (pcap[c] < plen[c] + readSize + 1) {
    pcap[c] = plen[c] + readSize + 1;
    pend[c] = xrealloc(pend[c], pcap[c]);
  }
  ssize_t r;
  do r = read(pfd[c], pend[c] + plen[c], readSize);
  while (r < 0 && errno == EINTR);
  if (r > 0) {
    plen[c] += (size_t)r;
    chunk(c);
  } else if (r == 0) {
    close(pfd[c]);
    pfd[c] = -1;
  }
  return r;
}

/* What a step wrote before it ended is in the pipes (at most their size): read that much, no more. */
static void drain(void) {
  for (int c = 0; c < 2; c++)
    for (size_t i = 0; i < 1048576 / readSize + 2; i++)
      if (readpipe(c) <= 0) break;
}

static int ringread(i64 a, i64 len, char *buf) {
  while (len > 0) {
    i64 pos = a % ringSize, n = ringSize - pos;
    if (len < n) n = len;
    ssize_t got = pread(rfd, buf, (size_t)n, pos);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return 0;
    a += got;
    len -= got;
    buf += got;
  }
  return 1;
}

/* Appends bytes [a, b) of the ring to the log: by the kernel, else read and written in 1 MiB pieces. */
static int ringcopy(i64 a, i64 b, char *buf) {
  if (kernelCopy) {
    off_t end = lseek(lfd, 0, SEEK_END);
    int flags = fcntl(lfd, F_GETFL);
    /* copy_file_range refuses a file opened to append; the offset is given instead. */
    if (end >= 0 && flags >= 0 && fcntl(lfd, F_SETFL, flags & ~O_APPEND) == 0) {
      loff_t oout = end;
      while (a < b) {
        i64 pos = a % ringSize, n = ringSize - pos;
        if (b - a < n) n = b - a;
        loff_t oin = pos;
        ssize_t r = copy_file_range(rfd, &oin, lfd, &oout, (size_t)n, 0);
        if (r <= 0) {
          if (r < 0 && errno == EINTR) continue;
          break;
        }
        a += r;
      }
      fcntl(lfd, F_SETFL, flags);
    }
  }
  while (a < b) {
    i64 n = b - a;
    if (n > 1048576) n = 1048576;
    if (!ringread(a, n, buf)) return 0;
    out(lfd, buf, (size_t)n, -1);
    a += n;
  }
  return 1;
}

/* The marker's sprintf format: '%1$d' bytes, '%2$d' lines, '%%' a percent sign. */
static size_t marker(char *o, i64 bytes, i64 lines) {
  char *start = o;
  for (const char *f = markerFmt; *f; f++) {
    if (f[0] == '%' && f[1] == '%') {
      *o++ = '%';
      f++;
    } else if (f[0] == '%' && (f[1] == '1' || f[1] == '2') && f[2] == '$' && f[3] == 'd') {
      o += sprintf(o, "%lld", f[1] == '1' ? bytes : lines);
      f += 3;
    } else {
      *o++ = *f;
    }
  }
  return (size_t)(o - start);
}

/* The last hand-back of a truncated log: marker and kept tail after the head, as log-writer.ts would. */
static int assemble(i64 whole[3]) {
  if (!truncated || logErr[0] || tailBudget < 0 || !markerFmt || rfd < 0) return 0;
  char *buf = malloc(1048576);
  if (!buf) return 0;
  int ok = 0;
  i64 kept = ringWritten < ringSize ? ringWritten : ringSize;
  i64 s = ringWritten - kept;
  if (kept > tailBudget) {
    i64 from = s + kept - tailBudget - 1;
    s = ringWritten;
    while (from < ringWritten) {
      i64 n = ringWritten - from;
      if (n > 65536) n = 65536;
      if (!ringread(from, n, buf)) goto done;
      char *nl = memchr(buf, '\n', (size_t)n);
      if (nl) {
        s = from + (nl - buf) + 1;
        break;
      }
      from += n;
    }
  }
  i64 p = ringWritten, before = ringLines;
  for (size_t i = 0; i < ckLen; i++)
    if (ck[ckHead + i][0] >= s) {
      p = ck[ckHead + i][0];
      before = ck[ckHead + i][1];
      break;
    }
  i64 tailLines = ringLines - before;
  for (i64 a = s; a < p;) {
    i64 n = p - a;
    if (n > 1048576) n = 1048576;
    if (!ringread(a, n, buf)) goto done;
    tailLines += countNl(buf, (size_t)n);
    a += n;
  }
  i64 tailBytes = ringWritten - s;
  i64 cutBytes = totalBytes - headBytes - tailBytes, cutLines = totalLines - headLines - tailLines;
  setStamp();
  char *m = malloc(stampLen + 4 + strlen(markerFmt) * 2 + 64);
  if (!m) goto done;
  size_t ml = (size_t)sprintf(m, "%s s ", stamp);
  ml += marker(m + ml, cutBytes, cutLines);
  m[ml++] = '\n';
  out(lfd, m, ml, -1);
  free(m);
  if (!ringcopy(s, ringWritten, buf) || logErr[0]) goto done;
  whole[0] = headBytes + (i64)ml + tailBytes;
  whole[1] = headLines + 1 + tailLines;
  whole[2] = cutBytes;
  ok = 1;
done:
  free(buf);
  return ok;
}

static int logging;

/* Closes the log's files and pipes and forgets its state: the next log starts afresh. */
static void endSession(void) {
  for (int c = 0; c < 2; c++) {
    if (pfd[c] >= 0) close(pfd[c]);
    pfd[c] = -1;
    plen[c] = 0;
  }
  if (lfd >= 0) close(lfd);
  if (rfd >= 0) close(rfd);
  lfd = rfd = -1;
  for (size_t i = 0; i < nforms; i++) free(forms[i]);
  free(forms);
  free(formLen);
  free(occ);
  free(markerFmt);
  free(ringPath);
  forms = NULL;
  formLen = occ = NULL;
  markerFmt = ringPath = NULL;
  nforms = 0;
  ckHead = ckLen = 0;
  logErr[0] = 0;
  logging = 0;
}

static void endlog(int last) {
  drain();
  setStamp();
  flushpartial();
  i64 whole[3] = {0, 0, 0};
  if (last && !assemble(whole)) whole[0] = whole[1] = whole[2] = 0;
  char r[512];
  int n = snprintf(r, sizeof r, "C %lld %lld %lld %lld %lld %d %lld %lld %lld%s%s\n", headBytes, headLines, totalBytes, totalLines,
                   ringWritten, truncated, whole[0], whole[1], whole[2], logErr[0] ? " " : "", logErr);
  reply(r, (size_t)n);
  endSession();
}

static char *unhex(const char *h, size_t *len) {
  size_t n = strlen(h) / 2;
  char *o = xrealloc(NULL, n + 1);
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    sscanf(h + 2 * i, "%2x", &v);
    o[i] = (char)v;
  }
  o[n] = 0;
  if (len) *len = n;
  return o;
}

/* Commands read so far. */
static char *cb;
static size_t cbLen, cbCap;

static int fillCommands(int block) {
  if (cbCap < cbLen + 65536) {
    cbCap = cbLen + 65536;
    cb = xrealloc(cb, cbCap);
  }
  ssize_t r;
  for (;;) {
    r = read(cmdfd, cb + cbLen, cbCap - cbLen);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && errno == EAGAIN && block) {
      struct pollfd p = {cmdfd, POLLIN, 0};
      poll(&p, 1, -1);
      continue;
    }
    break;
  }
  if (r == 0) _exit(0);
  if (r > 0) cbLen += (size_t)r;
  return r > 0;
}

static void startSession(char *s, char *e);

/* Runs every whole command read so far. */
static void commands(void) {
  size_t at = 0;
  for (;;) {
    char *nl = memchr(cb + at, '\n', cbLen - at);
    if (!nl) break;
    char k = cb[at];
    if (k == 'N' || k == 'W') {
      size_t len = strtoul(cb + at + 1, NULL, 10), body = (size_t)(nl - cb) + 1;
      if (cbLen < body + len + 1) {
        if (cbCap < body + len + 1) {
          cbCap = body + len + 1;
          cb = xrealloc(cb, cbCap);
        }
        if (cbLen < body + len) break;
      }
      if (k == 'N') {
        if (logging) _exit(2);
        char keep = cb[body + len];
        startSession(cb + body, cb + body + len);
        cb[body + len] = keep;
      } else if (logging) {
        setStamp();
        flushpartial();
        /* The text and its newline: the byte after it is this buffer's (the room was made above). */
        char keep = cb[body + len];
        cb[body + len] = '\n';
        emit('s', cb + body, len + 1, 0);
        cb[body + len] = keep;
      }
      /* Answered once stored: the helper starts the step a header heads only then, so none of the
         step's output can be read (and stored) before it, however late this pump runs. */
      if (k == 'W') reply("w\n", 2);
      at = body + len;
    } else if (!logging) {
      _exit(2);
    } else if (k == 'D') {
      drain();
      reply("d\n", 2);
      at = (size_t)(nl - cb) + 1;
    } else if (k == 'g' || k == 't') {
      endlog(k == 't');
      at = (size_t)(nl - cb) + 1;
    } else {
      _exit(2);
    }
  }
  memmove(cb, cb + at, cbLen - at);
  cbLen -= at;
}

/* The helper's descriptor n, opened anew here. */
static int theirs(const char *n, int flags) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/fd/%s", (int)getppid(), n);
  return open(path, flags | O_CLOEXEC);
}

/* 'N': a new log, from its NUL-separated fields [s, e). */
static void startSession(char *s, char *e) {
  char *f[64];
  size_t nf = 0;
  *e = 0;
  for (; nf < 64;) {
    f[nf++] = s;
    char *z = memchr(s, 0, (size_t)(e - s) + 1);
    if (z >= e) break;
    s = z + 1;
  }
  if (nf < 13) {
    reply("X 22 bad log fields\n", 20);
    return;
  }
  lfd = theirs(f[0], O_WRONLY | O_APPEND);
  rfd = atoi(f[1]) >= 0 ? theirs(f[1], O_RDWR) : -1;
  pfd[0] = theirs(f[2], O_RDONLY | O_NONBLOCK);
  pfd[1] = theirs(f[3], O_RDONLY | O_NONBLOCK);
  if (lfd < 0 || pfd[0] < 0 || pfd[1] < 0 || (atoi(f[1]) >= 0 && rfd < 0)) {
    char r[300];
    int n = snprintf(r, sizeof r, "X %d %s\n", errno, strerror(errno));
    endSession();
    reply(r, (size_t)n);
    return;
  }
  headBudget = atoll(f[4]);
  ringSize = atoll(f[5]);
  headBytes = totalBytes = atoll(f[6]);
  headLines = totalLines = atoll(f[7]);
  ringWritten = ringLines = 0;
  truncated = 0;
  readSize = strtoul(f[8], NULL, 10);
  if (readSize < 1 || readSize > 65536) readSize = 65536;
  tailBudget = atoll(f[9]);
  markerFmt = f[10][0] ? unhex(f[10], NULL) : NULL;
  kernelCopy = atoi(f[11]);
  ringPath = f[12][0] ? unhex(f[12], NULL) : NULL;
  nforms = nf - 13;
  forms = xrealloc(NULL, (nforms + 1) * sizeof *forms);
  formLen = xrealloc(NULL, (nforms + 1) * sizeof *formLen);
  for (size_t i = 0; i < nforms; i++) forms[i] = unhex(f[13 + i], &formLen[i]);
  occ = xrealloc(NULL, (nforms + 1) * sizeof *occ);
  logging = 1;
  reply("G\n", 2);
}

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  cmdfd = atoi(argv[1]);
  repfd = atoi(argv[2]);
  lfd = rfd = pfd[0] = pfd[1] = -1;
  fcntl(cmdfd, F_SETFL, fcntl(cmdfd, F_GETFL) | O_NONBLOCK);
  for (;;) {
    /* Negative descriptors (no log now) are ignored by poll. */
    struct pollfd p[3] = {{cmdfd, POLLIN, 0}, {pfd[0], POLLIN, 0}, {pfd[1], POLLIN, 0}};
    if (poll(p, 3, -1) < 0) continue;
    int pumped = 0, drained = 0;
    /* Commands first: the pipes' data may be what a command (a drain, a log's end) is about. */
    if (p[0].revents) {
      fillCommands(0);
      commands();
    }
    /* A ready pipe is read until it is empty (at most 1 MiB) before the next poll. A command above
       may have ended the log or started another: descriptors are non-blocking, a stale readiness
       costs one empty read. */
    for (int c = 0; c < 2; c++) {
      if (!p[c + 1].revents || pfd[c] < 0) continue;
      for (size_t i = 0; i <= 1048576 / readSize; i++) {
        ssize_t r = readpipe(c);
        if (r > 0) pumped = 1;
        if (r < (ssize_t)readSize) {
          drained = 1;
          break;
        }
      }
    }
    /* A writer slower than this reader would make every read a few KiB (and as many wake-ups and
       writes): a millisecond lets the pipes fill, unless a command comes first. */
    if (pumped && drained) {
      struct pollfd q = {cmdfd, POLLIN, 0};
      poll(&q, 1, 1);
    }
  }
}
`;
