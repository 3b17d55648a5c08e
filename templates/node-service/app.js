// {{name}}'s behaviour, apart from the listening socket so the tests call it directly.
export function createHandler({ environment = 'local' } = {}) {
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/healthz') return send(res, 200, 'text/plain', 'ok\n');
    if (url.pathname !== '/') return send(res, 404, 'application/json', JSON.stringify({ error: 'not found' }));
    return send(res, 200, 'application/json', JSON.stringify({ service: '{{name}}', environment }));
  };
}

function send(res, status, type, body) {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}
