# shellcheck shell=bash
# tinydns_publish: install tinydns data (from stdin) and compile it, for the tinydns
# module and for a personality's own zone module:
#
#   # shellcheck source=../base/lib/pkg.sh
#   . "$BUNDLE_ROOT/base/lib/pkg.sh"
#   # shellcheck source=../tinydns/lib/tinydns.sh
#   . "$BUNDLE_ROOT/tinydns/lib/tinydns.sh"
#   tinydns_publish "zone/data" < data
#
# The data is compiled in a scratch folder first: a syntax error stops the run and
# leaves the served data.cdb as it was (tinydns reads data.cdb on every query, so a
# new one needs no restart).

# Where Debian's tinydns package keeps its service folder (conf/, root/, run).
TINYDNS_SERVICE_DIR=/etc/sv/tinydns
TINYDNS_ROOT_DIR=$TINYDNS_SERVICE_DIR/root

# tinydns_publish ORIGIN < data   (ORIGIN names the source in messages)
tinydns_publish() {
	local origin=$1 scratch data=$TINYDNS_ROOT_DIR/data cdb=$TINYDNS_ROOT_DIR/data.cdb
	[[ -d $TINYDNS_ROOT_DIR ]] || die "$TINYDNS_ROOT_DIR does not exist: is the tinydns package installed? (the tinydns module installs it)"
	command -v tinydns-data >/dev/null 2>&1 || die "tinydns-data is not installed (package tinydns)"
	scratch=$(mktemp -d "$TINYDNS_ROOT_DIR/.publish.XXXXXX") || die "cannot create a scratch folder in $TINYDNS_ROOT_DIR"
	if ! cat >"$scratch/data"; then
		rm -rf -- "$scratch"
		die "cannot read the tinydns data from $origin"
	fi
	if [[ -f $cdb && ! $data -nt $cdb ]] && cmp -s -- "$scratch/data" "$data"; then
		rm -rf -- "$scratch"
		already "published: tinydns data from $origin ($cdb)"
		return 1
	fi
	if ! (cd "$scratch" && tinydns-data); then
		rm -rf -- "$scratch"
		die "tinydns-data rejected the data from $origin (see the line above); the served $cdb is unchanged"
	fi
	write_if_changed "$data" 644 <"$scratch/data" || true
	mv -f -- "$scratch/data.cdb" "$cdb" || die "cannot move the compiled data into $cdb"
	# Newer than data, so that the next run sees it as compiled from this data.
	chmod 644 "$cdb" || die "cannot chmod $cdb"
	touch -- "$cdb" || die "cannot touch $cdb"
	rm -rf -- "$scratch"
	changed "compiled $cdb from $origin"
	return 0
}
