#!/bin/sh
# Installs the locked dependencies (Node 24 among them) when they are missing or older than the
# lockfile, so `npm start` and `npm test` work on a fresh clone as the first command.
set -e
cd "$(dirname "$0")/.."
if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "gantry: installing dependencies (npm ci)…" >&2
  npm ci --no-audit --no-fund >&2
fi
