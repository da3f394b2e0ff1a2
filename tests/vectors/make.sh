#!/usr/bin/env bash
# Regenerates the test vectors in this folder with the real `openssl enc`, then checks that openssl
# itself agrees with every vector's `expect:` line. Deterministic: every salt is fixed with -S, so
# running it again gives the same bytes. Format: README.md. Usage: tests/vectors/make.sh
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

readonly SALT=0102030405060708
readonly PASS_RIGHT='correct horse battery staple'
readonly PASS_WRONG='correct horse battery stapler'

# The plaintexts: text, so a reader can see what the vectors hold.
printf 'hello, world\n' >"$work/hello"
printf '0123456789abcdef' >"$work/sixteen"
printf 'fifteen bytes!!' >"$work/fifteen"
: >"$work/empty"
seq 1 60 | tr '\n' ' ' >"$work/numbers" # 171 bytes: several base64 lines
printf 'TWENTY=twenty\n' >"$work/env"

hex() { od -An -v -tx1 "$1" | tr -d ' \n'; }

# encrypt PLAINTEXT_FILE FLAGS... : openssl enc -e with the right passphrase and the fixed salt,
# into $work/body. Sets $command to the exact command line (passphrase via the environment).
#
# OpenSSL 3 leaves the `Salted__` header out when the salt is given with -S, so the header is written
# by hand in front of the ciphertext, and `-a`/`-A` become `openssl base64`, the same BIO_f_base64
# that `enc -a` uses. The bytes are what `openssl enc -e FLAGS` writes when it picks the salt itself.
encrypt() {
    local plain=$1
    shift
    local -a flags=() armor=()
    local f
    for f in "$@"; do
        case $f in
            -a) armor=(openssl base64 -e) ;;
            -A) armor+=(-A) ;;
            *) flags+=("$f") ;;
        esac
    done
    command="{ printf 'Salted__\\x01\\x02\\x03\\x04\\x05\\x06\\x07\\x08'; PASS='$PASS_RIGHT' openssl enc -e ${flags[*]} -S $SALT -pass env:PASS -in $(basename "$plain"); }"
    ((${#armor[@]})) && command+=" | ${armor[*]}"
    {
        printf 'Salted__\x01\x02\x03\x04\x05\x06\x07\x08'
        PASS=$PASS_RIGHT openssl enc -e "${flags[@]}" -S "$SALT" -pass env:PASS -in "$plain" 2>/dev/null
    } >"$work/bin"
    if ((${#armor[@]})); then
        "${armor[@]}" -in "$work/bin" -out "$work/body"
    else
        mv "$work/bin" "$work/body"
    fi
}

# emit NAME EXPECT PASSPHRASE PLAINTEXT_FILE DESCRIPTION DECRYPT_FLAGS...
# Writes NAME from $command and $work/body, after checking `openssl enc -d DECRYPT_FLAGS` agrees.
emit() {
    local name=$1 expect=$2 pass=$3 plain=$4 description=$5
    shift 5
    local -a flags=("$@")
    local cipher=aes-256-cbc kdf=legacy iter="" md=sha256 armor=binary extra=()
    while (($#)); do
        case $1 in
            -aes-*) cipher=${1#-} ;;
            -pbkdf2) kdf=pbkdf2; [[ -n $iter ]] || iter=10000 ;; # openssl's default count
            -iter) iter=$2; shift ;;
            -md) md=$2; shift ;;
            -a) armor=base64 ;;
            -A) extra+=(-A) ;;
        esac
        shift
    done
    # What openssl itself says, so a vector can never claim something the reference tool denies.
    local verdict
    if PASS=$pass openssl enc -d "${flags[@]}" -pass env:PASS -in "$work/body" -out "$work/out" 2>/dev/null; then
        if [[ $expect == success ]] && cmp -s "$work/out" "$plain"; then verdict=success; else verdict=wrong-plaintext; fi
    else
        verdict=failure
    fi
    case $expect/$verdict in
        success/success | "decryption failed/failure" | "not encrypted/failure") ;;
        *) echo "make.sh: $name: expected '$expect' but openssl says $verdict" >&2; exit 1 ;;
    esac
    {
        echo "description: $description"
        echo "command: $command"
        echo "passphrase: $pass"
        echo "cipher: $cipher"
        echo "kdf: $kdf"
        [[ $kdf == pbkdf2 ]] && echo "iter: $iter"
        echo "md: $md"
        echo "armor: $armor"
        echo "expect: $expect"
        [[ $expect == success ]] && echo "plaintext-hex: $(hex "$plain")"
        echo "openssl-check: openssl enc -d ${flags[*]} -pass env:PASS"
        echo
        cat "$work/body"
    } >"$here/$name"
}

rm -f "$here"/*.vec

# --- Good files: every knob once, and each armour layout. ---
encrypt "$work/hello" -aes-256-cbc -pbkdf2 -iter 1000 -md sha256
emit pbkdf2-sha256-aes256.vec success "$PASS_RIGHT" "$work/hello" "our defaults bar the count" -aes-256-cbc -pbkdf2 -iter 1000 -md sha256

encrypt "$work/numbers" -aes-128-cbc -pbkdf2 -iter 1000 -md sha512 -a
emit pbkdf2-sha512-aes128-base64.vec success "$PASS_RIGHT" "$work/numbers" "base64 over several 64-column lines" -aes-128-cbc -pbkdf2 -iter 1000 -md sha512 -a

encrypt "$work/sixteen" -aes-192-cbc -pbkdf2 -iter 1000 -md sha1
emit pbkdf2-sha1-aes192-16-bytes.vec success "$PASS_RIGHT" "$work/sixteen" "exactly one block: padding adds a whole block" -aes-192-cbc -pbkdf2 -iter 1000 -md sha1

encrypt "$work/empty" -aes-256-cbc -pbkdf2 -iter 1000 -md md5 -a
emit pbkdf2-md5-aes256-empty-base64.vec success "$PASS_RIGHT" "$work/empty" "empty plaintext: one block of padding" -aes-256-cbc -pbkdf2 -iter 1000 -md md5 -a

encrypt "$work/fifteen" -aes-256-cbc -pbkdf2
emit pbkdf2-openssl-default-iter.vec success "$PASS_RIGHT" "$work/fifteen" "-pbkdf2 alone: openssl's 10000 iterations, sha256" -aes-256-cbc -pbkdf2

encrypt "$work/env" -aes-256-cbc -a -salt -md md5
emit legacy-md5-aes256-base64.vec success "$PASS_RIGHT" "$work/env" "the 2009 article's way: EVP_BytesToKey with md5" -aes-256-cbc -md md5 -a

encrypt "$work/hello" -aes-128-cbc -md sha256
emit legacy-sha256-aes128.vec success "$PASS_RIGHT" "$work/hello" "openssl >= 1.1 without -pbkdf2" -aes-128-cbc -md sha256

encrypt "$work/numbers" -aes-192-cbc -md sha1 -a
emit legacy-sha1-aes192-base64.vec success "$PASS_RIGHT" "$work/numbers" "legacy KDF with sha1, base64" -aes-192-cbc -md sha1 -a

encrypt "$work/numbers" -aes-256-cbc -pbkdf2 -iter 1000 -md sha256 -a -A
emit base64-one-line.vec success "$PASS_RIGHT" "$work/numbers" "-a -A: all base64 on one line, no newline" -aes-256-cbc -pbkdf2 -iter 1000 -md sha256 -a -A

encrypt "$work/numbers" -aes-256-cbc -pbkdf2 -iter 1000 -md sha256 -a
sed -i 's/$/\r/' "$work/body"
command="$command | sed 's/\$/\\r/'"
emit base64-crlf.vec success "$PASS_RIGHT" "$work/numbers" "base64 with CRLF line ends (a file that went through Windows)" -aes-256-cbc -pbkdf2 -iter 1000 -md sha256 -a

# --- Wrong parameters: each fails for this salt (openssl agrees, checked above). ---
encrypt "$work/hello" -aes-256-cbc -pbkdf2 -iter 1000 -md sha256
emit wrong-passphrase.vec "decryption failed" "$PASS_WRONG" "$work/hello" "made with '$PASS_RIGHT'" -aes-256-cbc -pbkdf2 -iter 1000 -md sha256
emit wrong-iter.vec "decryption failed" "$PASS_RIGHT" "$work/hello" "made with -iter 1000, read with 999" -aes-256-cbc -pbkdf2 -iter 999 -md sha256
emit wrong-md.vec "decryption failed" "$PASS_RIGHT" "$work/hello" "made with -md sha256, read with sha512" -aes-256-cbc -pbkdf2 -iter 1000 -md sha512
emit wrong-kdf.vec "decryption failed" "$PASS_RIGHT" "$work/hello" "made with -pbkdf2, read with the legacy KDF" -aes-256-cbc -md sha256
emit wrong-cipher.vec "decryption failed" "$PASS_RIGHT" "$work/hello" "made with aes-256-cbc, read with aes-128-cbc" -aes-128-cbc -pbkdf2 -iter 1000 -md sha256

# --- Damage. CBC has no integrity: only damage to the last two blocks is noticed here. ---
encrypt "$work/numbers" -aes-256-cbc -pbkdf2 -iter 1000 -md sha256
size=$(stat -c %s "$work/body")
base=$command
head -c $((size - 5)) "$work/body" >"$work/cut" && mv "$work/cut" "$work/body"
command="$base | head -c $((size - 5))"
emit truncated-mid-block.vec "decryption failed" "$PASS_RIGHT" "$work/numbers" "last 5 bytes cut: not a whole number of blocks" -aes-256-cbc -pbkdf2 -iter 1000 -md sha256

encrypt "$work/numbers" -aes-256-cbc -pbkdf2 -iter 1000 -md sha256
head -c $((size - 16)) "$work/body" >"$work/cut" && mv "$work/cut" "$work/body"
command="$base | head -c $((size - 16))"
emit truncated-block.vec "decryption failed" "$PASS_RIGHT" "$work/numbers" "last block cut: the new last block's padding is wrong" -aes-256-cbc -pbkdf2 -iter 1000 -md sha256

# flip OFFSET: xor the byte at OFFSET with 0x01, in $work/body.
flip() {
    local b
    b=$(od -An -j "$1" -N1 -tu1 "$work/body" | tr -d ' ')
    printf "$(printf '\\%03o' $((b ^ 1)))" | dd of="$work/body" bs=1 seek="$1" conv=notrunc status=none
}
encrypt "$work/numbers" -aes-256-cbc -pbkdf2 -iter 1000 -md sha256
flip $((size - 1))
command="$base, then byte $((size - 1)) xor 0x01"
emit flipped-last-byte.vec "decryption failed" "$PASS_RIGHT" "$work/numbers" "one bit flipped in the last block" -aes-256-cbc -pbkdf2 -iter 1000 -md sha256

encrypt "$work/numbers" -aes-256-cbc -pbkdf2 -iter 1000 -md sha256
flip $((size - 17))
command="$base, then byte $((size - 17)) xor 0x01"
emit flipped-pad-byte.vec "decryption failed" "$PASS_RIGHT" "$work/numbers" "a bit flipped in the second-last block changes the pad byte" -aes-256-cbc -pbkdf2 -iter 1000 -md sha256

encrypt "$work/numbers" -aes-256-cbc -pbkdf2 -iter 1000 -md sha256
head -c 16 "$work/body" >"$work/cut" && mv "$work/cut" "$work/body"
command="$base | head -c 16"
emit header-only.vec "decryption failed" "$PASS_RIGHT" "$work/numbers" "Salted__ and the salt, no ciphertext" -aes-256-cbc -pbkdf2 -iter 1000 -md sha256

encrypt "$work/numbers" -aes-256-cbc -pbkdf2 -iter 1000 -md sha256
head -c 12 "$work/body" >"$work/cut" && mv "$work/cut" "$work/body"
command="$base | head -c 12"
emit short-salt.vec "decryption failed" "$PASS_RIGHT" "$work/numbers" "cut inside the salt" -aes-256-cbc -pbkdf2 -iter 1000 -md sha256

encrypt "$work/numbers" -aes-256-cbc -pbkdf2 -iter 1000 -md sha256 -a
sed -i '2s/^\(.\{10\}\)./\1*/' "$work/body"
command="$base -a | sed '2s/^\\(.\\{10\\}\\)./\\1*/'"
emit base64-bad-char.vec "decryption failed" "$PASS_RIGHT" "$work/numbers" "a '*' in the second base64 line" -aes-256-cbc -pbkdf2 -iter 1000 -md sha256 -a

encrypt "$work/numbers" -aes-256-cbc -pbkdf2 -iter 1000 -md sha256 -a
asize=$(stat -c %s "$work/body")
head -c $((asize - 4)) "$work/body" >"$work/cut" && mv "$work/cut" "$work/body"
command="$base -a | head -c $((asize - 4))"
emit base64-truncated.vec "decryption failed" "$PASS_RIGHT" "$work/numbers" "base64 cut inside its last quad" -aes-256-cbc -pbkdf2 -iter 1000 -md sha256 -a

# --- Not an openssl enc file at all. ---
cp "$work/hello" "$work/body"
command="cat hello"
emit not-encrypted-text.vec "not encrypted" "$PASS_RIGHT" "$work/hello" "plain text" -aes-256-cbc -pbkdf2 -iter 1000 -md sha256

: >"$work/body"
command=": (an empty file)"
emit not-encrypted-empty.vec "not encrypted" "$PASS_RIGHT" "$work/empty" "an empty file" -aes-256-cbc -pbkdf2 -iter 1000 -md sha256

gzip -n -c "$work/hello" >"$work/body"
command="gzip -n -c hello"
emit not-encrypted-gzip.vec "not encrypted" "$PASS_RIGHT" "$work/hello" "a compressed payload that was never encrypted" -aes-256-cbc -pbkdf2 -iter 1000 -md sha256

PASS=$PASS_RIGHT openssl enc -e -aes-256-cbc -pbkdf2 -iter 1000 -nosalt -pass env:PASS -in "$work/hello" -out "$work/body"
command="PASS='$PASS_RIGHT' openssl enc -e -aes-256-cbc -pbkdf2 -iter 1000 -nosalt -pass env:PASS -in hello"
emit not-encrypted-nosalt.vec "not encrypted" "$PASS_RIGHT" "$work/hello" "-nosalt: no Salted__ header, which bundles never use" -aes-256-cbc -pbkdf2 -iter 1000 -md sha256

echo "make.sh: wrote $(ls "$here"/*.vec | wc -l) vectors, openssl agrees with each"
