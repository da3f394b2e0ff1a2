#!/usr/bin/env bash
# A fleet of `bundle-bootstrap watch` processes (each its own state folder) polling one bundle URL
# on 127.0.0.1, served by Python's http.server (Last-Modified / If-Modified-Since; counted by
# benches/fleet_server.py): requests per second and bytes served while nothing changes, then the
# time from publishing a new bundle until every watcher applied it.
#
# Usage: benches/watch-fleet.sh [WATCHERS] [INTERVAL_SECS] [SECONDS]   (default 50 10 120)
# BOOT=path/to/bundle-bootstrap uses that binary (default: a release build). OLD_BOOT=path runs
# the steady phase a second time with another binary (e.g. one built before conditional GETs)
# to compare the bytes it downloads.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-50}
INTERVAL=${2:-10}
SECONDS_TOTAL=${3:-120}
# Light key derivation: 50 watchers applying at once on a small machine measure the fleet, not
# PBKDF2 (the default 600,000 rounds cost each apply about a CPU-second in a debug build).
ITER=20000
BLOB_KIB=1024
WORK=$(mktemp -d /tmp/sb-fleet.XXXXXX)
PIDS=()
SERVER_PID=""
stop_watchers() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}
cleanup() {
  stop_watchers
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
export P="bench passphrase"
# Never this machine's saved configuration (/etc/startup-bundle/bootstrap.toml).
export BUNDLE_BOOTSTRAP_CONFIG=none
if [ -z "${BOOT:-}" ]; then
  cargo build --release --locked --bins -q
  BOOT=$PWD/target/release/bundle-bootstrap
fi
BUNDLE=${BUNDLE:-$(dirname "$BOOT")/bundle}

make_release() { # VERSION → $WORK/web-VERSION.bundle
  local dir="$WORK/p$1"
  mkdir -p "$dir/10-app"
  printf 'name = "web"\nversion = "%s"\n' "$1" > "$dir/bundle.toml"
  # The module notes when it ran: the time from publish to applied is read from these.
  printf 'date +%%s.%%N > "$BUNDLE_STATE_DIR/applied-%s"\n' "$1" > "$dir/10-app/start"
  head -c $((BLOB_KIB * 1024)) /dev/urandom > "$dir/10-app/blob"
  "$BUNDLE" pack "$dir" -o "$WORK/web-$1.bundle" --pass env:P --iter "$ITER" --compression none >/dev/null
}
make_release 1
make_release 2
mkdir -p "$WORK/www"
cp "$WORK/web-1.bundle" "$WORK/www/web.bundle"
# An If-Modified-Since validator needs a Last-Modified a second older than the answer's Date.
touch -d '-5 seconds' "$WORK/www/web.bundle"
SIZE=$(stat -c %s "$WORK/www/web.bundle")
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 benches/fleet_server.py "$WORK/www" "$PORT" &
SERVER_PID=$!
for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/__stats" && break; sleep 0.1; done
URL="http://127.0.0.1:$PORT/web.bundle"
stats() { curl -sf "http://127.0.0.1:$PORT/__stats"; }
field() { python3 -c "import json,sys; s=json.load(sys.stdin); print($1)"; }

start_fleet() { # BINARY TAG
  local i
  for i in $(seq "$N"); do
    "$1" watch "$URL" --pass env:P --iter "$ITER" --state-dir "$WORK/$2/s$i" \
      --interval "${INTERVAL}s" >"$WORK/$2-w$i.log" 2>&1 &
    PIDS+=($!)
  done
}
applied_count() { # TAG VERSION
  find "$WORK/$1" -maxdepth 2 -name "applied-$2" 2>/dev/null | wc -l
}
wait_applied() { # TAG VERSION TIMEOUT_SECS
  local deadline=$((SECONDS + $3))
  while [ "$(applied_count "$1" "$2")" -lt "$N" ]; do
    [ $SECONDS -ge $deadline ] && { echo "only $(applied_count "$1" "$2") of $N applied v$2" >&2; return 1; }
    sleep 0.2
  done
}

steady_phase() { # BINARY TAG → prints the steady numbers
  start_fleet "$1" "$2"
  wait_applied "$2" 1 300
  curl -sf -o /dev/null "http://127.0.0.1:$PORT/__reset"
  local t0=$SECONDS
  sleep $((SECONDS_TOTAL / 2))
  local s; s=$(stats); local took=$((SECONDS - t0))
  local reqs; reqs=$(echo "$s" | field 's["requests"]')
  local bytes; bytes=$(echo "$s" | field 's["body_bytes"]')
  local statuses; statuses=$(echo "$s" | field 's["by_status"]')
  printf '  %s: %d requests in %ds = %.1f req/s %s, %d body bytes (%.1f KiB/s)\n' "$2" "$reqs" "$took" \
    "$(python3 -c "print($reqs/$took)")" "$statuses" "$bytes" "$(python3 -c "print($bytes/1024/$took)")"
}

echo "watch fleet: $N watchers, --interval ${INTERVAL}s (±10% jitter), bundle $SIZE bytes, $(basename "$BOOT") at $BOOT"
echo "steady state (every watcher applied v1, nothing changes), $((SECONDS_TOTAL / 2))s:"
steady_phase "$BOOT" new
rss=$(ps -o rss= -p "$(IFS=,; echo "${PIDS[*]}")" | awk '{s+=$1} END {print int(s/NR)}')
echo "  mean RSS of a watcher: $((rss / 1024)) MiB"

# Publish v2 the way an upload to a web root does: a new file renamed over the old one.
cp "$WORK/web-2.bundle" "$WORK/www/.web.bundle.tmp"
mv "$WORK/www/.web.bundle.tmp" "$WORK/www/web.bundle"
published=$(date +%s.%N)
wait_applied new 2 $((INTERVAL * 4 + 120))
last=$(cat "$WORK"/new/s*/applied-2 | sort -n | tail -1)
first=$(cat "$WORK"/new/s*/applied-2 | sort -n | head -1)
printf 'publish v2 → applied: first watcher %.1fs, all %d watchers %.1fs\n' \
  "$(python3 -c "print($first - $published)")" "$N" "$(python3 -c "print($last - $published)")"
s=$(stats)
echo "  server during the publish phase: $(echo "$s" | field 's["by_status"]'), $(echo "$s" | field 's["body_bytes"]') body bytes"
stop_watchers

if [ -n "${OLD_BOOT:-}" ]; then
  cp "$WORK/web-1.bundle" "$WORK/www/web.bundle"
  touch -d '-5 seconds' "$WORK/www/web.bundle"
  echo "the same steady state with OLD_BOOT ($OLD_BOOT):"
  steady_phase "$OLD_BOOT" old
  stop_watchers
fi
