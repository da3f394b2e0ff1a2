#!/usr/bin/env bash
# Throughput and memory of `bundle pack`/`bundle unpack` against the shell pipeline they replace:
#   tar -c | gzip -6 | openssl enc -aes-256-cbc -pbkdf2 -iter 600000     (pack)
#   openssl enc -d … | tar -xz                                            (unpack)
# on a generated mixed corpus (text, binaries, already-compressed data), plus peak RSS on a 1 GiB
# personality. Prints ratios in one run. Usage: benches/pipeline.sh [CORPUS_MIB] [BIG_MIB]
set -euo pipefail
cd "$(dirname "$0")/.."
MIB=${1:-256}
BIG_MIB=${2:-1024}
WORK=${BENCH_DIR:-$(mktemp -d /tmp/sb-bench.XXXXXX)}
trap 'rm -rf "$WORK"' EXIT
export P="bench passphrase"
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 1; }

cargo build --release --locked --bins -q
BUNDLE=$PWD/target/release/bundle

echo "== corpus: ${MIB} MiB of text, binaries and compressed data in 8 modules"
python3 benches/corpus.py "$WORK/corpus" "$MIB"

# seconds and peak RSS (KiB) of a command: "SECONDS KIB"
measure() { /usr/bin/time -f "%e %M" -o "$WORK/time" bash -c "$1" >/dev/null 2>"$WORK/err" || { cat "$WORK/err" >&2; exit 1; }; cat "$WORK/time"; }
ratio() { python3 -c "import sys; print(f'{float(sys.argv[1])/float(sys.argv[2]):.2f}')" "$1" "$2"; }

echo "== pack"
read -r shell_pack shell_pack_rss < <(measure "tar -C '$WORK/corpus' -c . | gzip -6 | openssl enc -aes-256-cbc -pbkdf2 -iter 600000 -md sha256 -pass env:P -out '$WORK/shell.enc'")
read -r ours_pack ours_pack_rss < <(measure "'$BUNDLE' pack '$WORK/corpus' -o '$WORK/ours.enc' --pass env:P")
shell_size=$(stat -c %s "$WORK/shell.enc"); ours_size=$(stat -c %s "$WORK/ours.enc")
echo "shell pipeline: ${shell_pack}s   bundle pack: ${ours_pack}s   speed-up: $(ratio "$shell_pack" "$ours_pack")x"
echo "size: gzip -6 ${shell_size} B, ours ${ours_size} B, ours/gzip = $(ratio "$ours_size" "$shell_size")"

echo "== unpack"
mkdir -p "$WORK/shell-out" "$WORK/ours-out"
read -r shell_unpack _ < <(measure "openssl enc -d -aes-256-cbc -pbkdf2 -iter 600000 -md sha256 -pass env:P -in '$WORK/shell.enc' | tar -C '$WORK/shell-out' -xz")
read -r ours_unpack ours_unpack_rss < <(measure "'$BUNDLE' unpack '$WORK/ours.enc' -C '$WORK/ours-out' --pass env:P")
echo "shell pipeline: ${shell_unpack}s   bundle unpack: ${ours_unpack}s   speed-up: $(ratio "$shell_unpack" "$ours_unpack")x"
diff -r "$WORK/corpus" "$WORK/ours-out/start-up-bundle" -x bundle.json -q && echo "round trip: identical"
rm -rf "$WORK/shell-out" "$WORK/ours-out" "$WORK/shell.enc"

echo "== peak RSS on a ${BIG_MIB} MiB personality (streaming: should stay flat)"
python3 benches/corpus.py "$WORK/big" "$BIG_MIB"
read -r big_pack big_pack_rss < <(measure "'$BUNDLE' pack '$WORK/big' -o '$WORK/big.enc' --pass env:P")
mkdir -p "$WORK/big-out"
read -r big_unpack big_unpack_rss < <(measure "'$BUNDLE' unpack '$WORK/big.enc' -C '$WORK/big-out' --pass env:P")
echo "pack:   ${MIB} MiB peak $((ours_pack_rss / 1024)) MiB; ${BIG_MIB} MiB peak $((big_pack_rss / 1024)) MiB (${big_pack}s)"
echo "unpack: ${MIB} MiB peak $((ours_unpack_rss / 1024)) MiB; ${BIG_MIB} MiB peak $((big_unpack_rss / 1024)) MiB (${big_unpack}s)"
