#!/usr/bin/env bash
# Builds and runs FerretDB v1.24 (SQLite handler) as a MongoDB-wire server for the store tests.
#
#   scripts/ferretdb.sh build                  build the binary into the cache (once)
#   scripts/ferretdb.sh start <port> <datadir> run it on 127.0.0.1:<port>, data/log/pid in <datadir>
#   scripts/ferretdb.sh stop <datadir>         stop the instance started with that datadir
#
# Then: MONGODB_TEST_URL=mongodb://127.0.0.1:<port>/ node --import tsx --test test/store/mongo.test.ts
set -euo pipefail

readonly FERRETDB_MODULE='github.com/FerretDB/FerretDB'
readonly FERRETDB_VERSION='v1.24.2'
readonly CACHE_DIR="${FERRETDB_CACHE:-$HOME/.cache/emqx-v3-api}/ferretdb-${FERRETDB_VERSION}"
readonly BIN="${CACHE_DIR}/ferretdb"

usage () {
  echo "usage: $0 build | start <port> <datadir> | stop <datadir>" >&2
  exit 2
}

cmd_build () {
  if [[ -x "$BIN" ]]; then
    echo "ferretdb already built: $BIN"
    return 0
  fi
  command -v go >/dev/null || { echo 'go is not installed' >&2; exit 1; }

  local started src work
  started=$(date +%s)

  # the module cache copy is read-only and lacks the generated version file, so build from a copy
  src=$(go mod download -json "${FERRETDB_MODULE}@${FERRETDB_VERSION}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [[ -n "$src" && -d "$src" ]] || { echo "go mod download gave no source dir" >&2; exit 1; }

  work=$(mktemp -d)
  # shellcheck disable=SC2064 # expand now: work is local
  trap "chmod -R u+w '$work' 2>/dev/null; rm -rf '$work'" EXIT
  cp -R "$src/." "$work/"
  chmod -R u+w "$work"

  # build/version embeds *.txt; without version.txt the binary panics at startup
  printf '%s\n' "$FERRETDB_VERSION" > "$work/build/version/version.txt"

  mkdir -p "$CACHE_DIR"
  (cd "$work" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -o "$BIN.tmp" ./cmd/ferretdb)
  mv "$BIN.tmp" "$BIN"

  echo "built $BIN in $(( $(date +%s) - started ))s"
}

# true when something accepts TCP connections on 127.0.0.1:$1
port_open () {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

cmd_start () {
  local port=${1:-} datadir=${2:-}
  [[ "$port" =~ ^[0-9]+$ && -n "$datadir" ]] || usage
  [[ -x "$BIN" ]] || { echo "ferretdb is not built: run $0 build" >&2; exit 1; }
  if port_open "$port"; then
    echo "port $port is already in use" >&2
    exit 1
  fi

  mkdir -p "$datadir"
  datadir=$(cd "$datadir" && pwd)
  local log="$datadir/ferretdb.log" pidfile="$datadir/ferretdb.pid"

  # --debug-addr=- turns off the metrics/pprof HTTP listener so several instances can run at once.
  # FerretDB ignores writeConcern; synchronous(full) makes its SQLite fsync every commit instead.
  nohup "$BIN" \
    --handler=sqlite \
    --sqlite-url="file:${datadir}/?_pragma=synchronous(full)" \
    --listen-addr="127.0.0.1:${port}" \
    --state-dir="$datadir" \
    --debug-addr=- \
    --telemetry=disable \
    --log-level=warn \
    >"$log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" > "$pidfile"

  local deadline=$(( $(date +%s) + 20 ))
  until port_open "$port"; do
    if ! kill -0 "$pid" 2>/dev/null || (( $(date +%s) >= deadline )); then
      echo "ferretdb did not start on port $port; log tail:" >&2
      tail -n 30 "$log" >&2 || true
      kill "$pid" 2>/dev/null || true
      rm -f "$pidfile"
      exit 1
    fi
    sleep 0.2
  done
  echo "ferretdb pid $pid listening on 127.0.0.1:$port (data $datadir)"
}

cmd_stop () {
  local datadir=${1:-}
  [[ -n "$datadir" ]] || usage
  local pidfile="$datadir/ferretdb.pid"
  if [[ ! -f "$pidfile" ]]; then
    echo "no pid file in $datadir" >&2
    exit 1
  fi
  local pid
  pid=$(cat "$pidfile")
  if kill "$pid" 2>/dev/null; then
    # give it a moment to flush and exit; then force
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
  echo "ferretdb pid $pid stopped"
}

case "${1:-}" in
  build) cmd_build ;;
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  *) usage ;;
esac
