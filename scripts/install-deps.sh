#!/usr/bin/env bash
# Installs the Debian packages Lambkin builds and runs with (only those missing); with
# --with-npm also what the end-to-end suite needs: Debian's Chromium and the npm packages of
# tests/package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  g++ make cmake pkg-config autoconf automake libtool
  libboost1.81-dev nlohmann-json3-dev libsqlite3-dev libssl-dev libarchive-dev
  libcli11-dev libfmt-dev libgtest-dev libcairo2-dev libre2-dev python3-boto3
  bubblewrap slirp4netns nftables libseccomp-dev e2fsprogs ccache python3 nodejs sqlite3 clang-format clang-tidy clang libclang-rt-14-dev
  docker-registry skopeo umoci openssl zstd
  postgresql-15 postgresql-client-15 libpq-dev
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v npm >/dev/null || { echo "npm is required for the console and the end-to-end suite" >&2; exit 1; }
if [ "${1:-}" = "--with-npm" ]; then
  # The console's end-to-end tests drive Debian's Chromium with playwright-core.
  if ! dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q "install ok installed"; then
    echo "installing: chromium"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
  fi
  # npm ci only when the lock file changed since the last install.
  stamp=tests/node_modules/.lambkin-lock.sha256
  want=$(sha256sum tests/package-lock.json | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    (cd tests && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" > "$stamp"
  fi
fi
