#!/usr/bin/env bash
# Builds the web console (console/, Vite) into OUT, the directory `lambkin serve` serves at
# /console/: npm packages from console/package-lock.json (npm ci, only when the lock file
# changed), then `npm run build` — skipped when none of its inputs changed since the last build
# into OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:?usage: build-console.sh OUT}")
inputs=$(cat console/package-lock.json console/vite.config.js console/index.html \
  $(find console/src console/scripts -type f | sort) | sha256sum | cut -d' ' -f1)
if [ -f "$out/.inputs.sha256" ] && [ "$(cat "$out/.inputs.sha256")" = "$inputs" ]; then
  exit 0
fi
stamp=console/node_modules/.lambkin-lock.sha256
want=$(sha256sum console/package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  (cd console && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" > "$stamp"
fi
(cd console && LAMBKIN_CONSOLE_OUT="$out" npm run --silent build)
echo "$inputs" > "$out/.inputs.sha256"
