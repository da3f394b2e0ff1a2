#!/usr/bin/env bash
# The real-boot demonstration of the systemd units (README, "Every boot: the systemd units"), with
# ../shared/bootlab: a Debian 12 guest with the real cloud-init and systemd under qemu.
#
#   tests/bootlab/units-demo.sh BOOTSTRAP_BIN [WORK_DIR]
#
# BOOTSTRAP_BIN is a static bundle-bootstrap (.ci/bootstrap-size builds one); `bundle` is the debug
# build. Boot 1: user-data rendered by `bundle userdata --watch 10s` applies web v1 and installs the
# units; once the console says so, v2 is published into the served folder, and the watch service
# applies it. Boot 2 (BOOTLAB_REBOOT=offline): nothing serves the bundle any more; the boot unit
# re-applies the last verified release (v2), and its --on-success hook prints `status`.
#
# The user-data is exactly what `bundle userdata` renders, plus a few lines at the end, marked
# "bootlab demo", that keep cloud-final running until the watch has applied v2 (bootlab powers the
# guest off as soon as cloud-final is done) and print the watch's journal and `status`.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
bin=$(readlink -f "$1")
work=${2:-/var/tmp/units-demo}
bootlab=${BOOTLAB:-$here/../../shared/bootlab/boot-userdata.sh}
[ -x "$bootlab" ] || bootlab=/work/shared/bootlab/boot-userdata.sh
bundle=$here/target/debug/bundle
iter=1000
rm -rf "$work" && mkdir -p "$work/www"
cd "$work"

cp "$bin" www/bundle-bootstrap
"$bundle" keygen --passphrase > pass.txt
"$bundle" keygen --unencrypted -p web.pub -s web.key > pubkey.txt
for v in 1 2; do
  mkdir -p "web-$v/10-hello"
  printf 'name = "web"\nversion = "%s"\n' "$v" > "web-$v/bundle.toml"
  cat > "web-$v/10-hello/start" <<MOD
#!/bin/bash
echo "hello from web \$BUNDLE_VERSION (\$BUNDLE_PHASE), boot \$(cat /proc/sys/kernel/random/boot_id)"
echo "web \$BUNDLE_VERSION" > /etc/web-version
MOD
  "$bundle" pack "web-$v" -o "web-$v.bundle" --pass file:pass.txt --iter $iter --sign web.key --seq "$v"
done
"$bundle" publish web-1.bundle --to www

"$bundle" userdata http://10.0.2.100:8080/web.latest --pass-from inline --allow-inline-passphrase \
  --pass file:pass.txt --iter $iter \
  --bootstrap-url http://10.0.2.100:8080/bundle-bootstrap \
  --bootstrap-sha256 "$(sha256sum www/bundle-bootstrap | cut -d' ' -f1)" \
  --watch 10s \
  -- --pubkey "$(cat pubkey.txt)" --retry-for 30s --offline-after 10s \
  --on-success '/usr/local/bin/bundle-bootstrap status' > user-data.rendered
cat user-data.rendered - > user-data <<'TAIL'
# --- bootlab demo only (not rendered by `bundle userdata`): bootlab powers the guest off when
# cloud-final ends, so wait here until the watch service has applied v2 (published by the host).
for _ in $(seq 1 120); do
  /usr/local/bin/bundle-bootstrap status 2>/dev/null | grep -q '^bundle web 2 from' && break
  sleep 5
done
say "bootlab demo: the watch service's journal:"
journalctl -u startup-bundle-watch.service --no-pager -o short-monotonic | tail -n 25
say "bootlab demo: bundle-bootstrap status:"
/usr/local/bin/bundle-bootstrap status || true
TAIL

# Publish v2 once the first boot has installed the units.
runs=/var/tmp/bootlab/runs
mkdir -p "$runs"
before=$(ls "$runs" | wc -l)
(
  for _ in $(seq 1 1200); do
    run=$(ls -d "$runs"/* 2>/dev/null | tail -n 1 || true)
    if [ "$(ls "$runs" | wc -l)" -gt "$before" ] &&
      grep -aq 'installed: startup-bundle.service' "$run/console.log" 2>/dev/null; then
      echo "[demo] $(date +%T) the units are installed: publishing v2"
      "$bundle" publish web-2.bundle --to www
      exit 0
    fi
    sleep 1
  done
  echo "[demo] never saw the units installed" >&2
) &
publisher=$!
status=0
BOOTLAB_REBOOT=offline BOOTLAB_TAIL=${BOOTLAB_TAIL:-80} "$bootlab" user-data www 1500 || status=$?
wait "$publisher" || true
exit "$status"
