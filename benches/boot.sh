#!/usr/bin/env bash
# Time from exec to the first module's start for a ~50 MB bundle served on 127.0.0.1:
# `bundle-bootstrap run URL` against `curl | openssl enc -d | tar -xz` doing the same, plus the
# bootstrap's peak RSS and binary size. Usage: benches/boot.sh [MIB]
set -euo pipefail
cd "$(dirname "$0")/.."
MIB=${1:-50}
WORK=$(mktemp -d /tmp/sb-boot.XXXXXX)
SERVER_PID=""
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
export P="bench passphrase"
cargo build --release --locked --bins -q
BUNDLE=$PWD/target/release/bundle
BOOT=$PWD/target/release/bundle-bootstrap

python3 benches/corpus.py "$WORK/p" "$MIB"
# The first module records when it started.
printf '#!/bin/sh\ndate +%%s.%%N > "$STAMP"\n' > "$WORK/p/m1/start"
mkdir -p "$WORK/www"
"$BUNDLE" pack "$WORK/p" -o "$WORK/www/p.bundle" --pass env:P >/dev/null
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server "$PORT" --bind 127.0.0.1 --directory "$WORK/www" >/dev/null 2>&1 &
SERVER_PID=$!
for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/p.bundle" && break; sleep 0.1; done
URL="http://127.0.0.1:$PORT/p.bundle"

runs=3
ours=(); shell=(); rss=0
for i in $(seq $runs); do
  export STAMP="$WORK/stamp"
  t0=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$WORK/rss" "$BOOT" run "$URL" --pass env:P --state-dir "$WORK/state$i" --env "STAMP=$STAMP" >/dev/null 2>&1
  ours+=("$(python3 -c "print($(cat "$STAMP") - $t0)")")
  rss=$(cat "$WORK/rss")
  mkdir -p "$WORK/shell$i"
  t0=$(date +%s.%N)
  curl -s "$URL" | openssl enc -d -aes-256-cbc -pbkdf2 -iter 600000 -md sha256 -pass env:P | tar -C "$WORK/shell$i" -xz
  (cd "$WORK/shell$i/start-up-bundle/m1" && sh ./start)
  shell+=("$(python3 -c "print($(cat "$STAMP") - $t0)")")
  rm -rf "$WORK/state$i" "$WORK/shell$i"
done
median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
o=$(median "${ours[@]}"); s=$(median "${shell[@]}")
echo "exec → first module start, ${MIB} MiB bundle on 127.0.0.1 (median of $runs):"
printf '  bundle-bootstrap: %.3fs   curl | openssl | tar: %.3fs   ratio: %.2f (≤ 1.0 is the target)\n' "$o" "$s" "$(python3 -c "print($o/$s)")"
echo "  bundle-bootstrap peak RSS: $((rss / 1024)) MiB"
echo "  bundle-bootstrap size (release, dynamic): $(stat -c %s "$BOOT") bytes"
