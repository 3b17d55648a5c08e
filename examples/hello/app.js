// The service's behaviour, apart from the listening socket so the tests can call it directly.
// `errorRate` is the share of requests answered 500: the demo ships a release with it raised
// to show Gantry's canary analysis rolling it back. `random` is injectable for the tests.

/** Milliseconds to wait before answering: mostly 5–35 ms, now and then up to ~120 ms, like a real backend. */
export function latencyMs(random = Math.random) {
  const slow = random() < 0.02;
  return Math.round(slow ? 60 + random() * 60 : 5 + random() * 30);
}

export function createHandler({ version, errorRate = 0, environment = 'local', commit = null, random = Math.random, delay = latencyMs }) {
  const started = new Date().toISOString();
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/healthz') return send(res, 200, 'text/plain', 'ok\n');
    if (url.pathname === '/version') return send(res, 200, 'text/plain', `${version}\n`);
    if (url.pathname !== '/') return send(res, 404, 'application/json', JSON.stringify({ error: 'not found' }));
    const fail = errorRate > 0 && random() < errorRate;
    setTimeout(() => {
      if (fail) return send(res, 500, 'application/json', JSON.stringify({ error: 'injected fault', version }));
      const body = { service: 'hello', version, environment, commit, started };
      if (String(req.headers.accept ?? '').includes('text/html')) return send(res, 200, 'text/html; charset=utf-8', page(body));
      return send(res, 200, 'application/json', JSON.stringify(body));
    }, delay(random));
  };
}

function send(res, status, type, body) {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

function page({ version, environment, commit }) {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>hello ${version}</title>
<style>body{font:16px system-ui,sans-serif;margin:4rem auto;max-width:32rem;color:#222}code{background:#eee;padding:0 .3em}</style></head>
<body><h1>Hello from Gantry's example</h1>
<p>Version <code>${version}</code> in <code>${environment}</code>${commit ? `, built from <code>${String(commit).slice(0, 12)}</code>` : ''}.</p>
<p>Edit <code>version.json</code>, commit, and watch the pipeline and the rollout in the dashboard.</p></body></html>
`;
}
