"""{{name}}: {{description}}. Gantry starts it with $PORT and stops it with SIGTERM."""
import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def answer(path, environment):
    """The service's behaviour, apart from the socket so the tests call it directly."""
    if path == "/healthz":
        return 200, "text/plain", "ok\n"
    if path != "/":
        return 404, "application/json", json.dumps({"error": "not found"})
    return 200, "application/json", json.dumps({"service": "{{name}}", "environment": environment})


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        status, kind, body = answer(self.path, os.environ.get("GANTRY_ENVIRONMENT", "local"))
        self.send_response(status)
        self.send_header("content-type", kind)
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    server = ThreadingHTTPServer((os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "3000"))), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"{{name}} listening on {server.server_address}", flush=True)
    server.serve_forever()
