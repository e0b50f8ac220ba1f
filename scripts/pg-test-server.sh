#!/usr/bin/env bash
# A throwaway PostgreSQL 15 server for the test suites (make test-unit, make test-e2e-postgres).
#   pg-test-server.sh start DIR [PORT]   initdb a cluster in DIR/cluster and start it on
#                                        127.0.0.1:PORT (a free port if none given) and a unix
#                                        socket in DIR/cluster, trust auth, superuser postgres;
#                                        prints the base URL postgres://postgres@127.0.0.1:PORT.
#                                        One already running in DIR is kept (its URL printed);
#                                        the leftovers of a dead one are removed first.
#   pg-test-server.sh stop DIR           stop it (fast shutdown) and remove DIR.
# initdb and postgres refuse to run as root: as root they run as the postgres user, in a cluster
# directory that user owns (under /tmp, DIR/cluster a symlink to it, if it cannot reach DIR).
set -euo pipefail

bin=/usr/lib/postgresql/15/bin
marker=.lambkin-pg-test

usage() {
  echo "usage: $0 start DIR [PORT] | restart DIR | stop DIR" >&2
  exit 2
}

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

# The cluster directory: DIR/cluster, or where that symlink points.
cluster_of() {
  readlink -f "$1/cluster"
}

# The postmaster of DIR's cluster runs. Not pg_ctl status: that counts a killed postmaster whose
# parent has not reaped it yet, and pg_ctl stop then waits for it in vain.
running() {
  local pidfile st comm
  pidfile=$(cluster_of "$1")/data/postmaster.pid
  [ -f "$pidfile" ] || return 1
  read -r st comm < <(ps -o stat=,comm= -p "$(head -1 "$pidfile")") || return 1
  [ "$comm" = postgres ] && [ "${st#Z}" = "$st" ]
}

# It answers on its URL.
answers() {
  PGCONNECT_TIMEOUT=5 "$bin/psql" -X -q -d "$1/postgres" -c 'SELECT 1' >/dev/null
}

stop() {
  local dir=$1 cluster
  [ -e "$dir" ] || return 0
  if [ ! -e "$dir/$marker" ] && [ -n "$(ls -A "$dir")" ]; then
    echo "$dir was not made by $0: not removing it" >&2
    exit 1
  fi
  if running "$dir"; then
    cluster=$(cluster_of "$dir")
    as_pg "$bin/pg_ctl" stop -D "$cluster/data" -m fast -w -t 60 >/dev/null ||
      as_pg "$bin/pg_ctl" stop -D "$cluster/data" -m immediate -w -t 10 >/dev/null ||
      echo "could not stop the PostgreSQL server in $cluster" >&2
  fi
  if [ -L "$dir/cluster" ]; then
    rm -rf "$(cluster_of "$dir")"
  fi
  rm -rf "$dir"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
  local dir=$1 port=${2:-} cluster
  if [ -f "$dir/url" ] && running "$dir" && answers "$(cat "$dir/url")" 2>/dev/null; then
    cat "$dir/url"
    return 0
  fi
  stop "$dir"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  touch "$dir/$marker"
  [ -n "$port" ] || port=$(free_port)

  if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$dir"
    if runuser -u postgres -- test -w "$dir" -a -x "$dir"; then
      cluster=$dir/cluster
      mkdir "$cluster"
    else
      cluster=$(mktemp -d /tmp/lambkin-pg-test.XXXXXX)
      ln -s "$cluster" "$dir/cluster"
    fi
    chown postgres: "$cluster"
  else
    cluster=$dir/cluster
    mkdir "$cluster"
  fi

  # The C locale sorts text byte-wise, as SQLite does.
  as_pg "$bin/initdb" -D "$cluster/data" -U postgres --auth=trust -E UTF8 --locale=C --no-sync \
    >"$cluster/initdb.log" 2>&1 || {
    cat "$cluster/initdb.log" >&2
    echo "initdb failed in $cluster/data (its output above)" >&2
    stop "$dir"
    exit 1
  }
  # A unix socket path is limited to 107 bytes: none if DIR is too deep.
  local socket_dir=$cluster
  [ ${#cluster} -le 90 ] || socket_dir=
  cat >>"$cluster/data/postgresql.conf" <<EOF

# scripts/pg-test-server.sh
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$socket_dir'
max_connections = 300
shared_buffers = 128MB
EOF
  if ! as_pg "$bin/pg_ctl" start -D "$cluster/data" -l "$cluster/server.log" -w -t 60 >/dev/null ||
    ! answers "postgres://postgres@127.0.0.1:$port"; then
    cat "$cluster/server.log" >&2 || true
    echo "PostgreSQL 15 did not come up on 127.0.0.1:$port in $cluster (its log above)" >&2
    stop "$dir"
    exit 1
  fi
  echo "postgres://postgres@127.0.0.1:$port" | tee "$dir/url"
}

# A fast restart of DIR's running server (same port): its clients lose their connections.
restart() {
  local cluster
  cluster=$(cluster_of "$1")
  as_pg "$bin/pg_ctl" restart -D "$cluster/data" -l "$cluster/server.log" -m fast -w -t 60 >/dev/null
}

case "${1:-}" in
  start) { [ $# -ge 2 ] && [ $# -le 3 ]; } || usage; start "$2" "${3:-}" ;;
  restart) [ $# -eq 2 ] || usage; restart "$2" ;;
  stop) [ $# -eq 2 ] || usage; stop "$2" ;;
  *) usage ;;
esac
