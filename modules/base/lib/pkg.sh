# shellcheck shell=bash
# Shared helpers for startup-bundle library modules. Source it, do not run it:
#
#   # shellcheck source=../base/lib/pkg.sh
#   . "$BUNDLE_ROOT/base/lib/pkg.sh"
#
# What it gives a module:
#   logging     say, changed, already, warn, die, finish (prints the change count)
#   distro      pkg_detect -> PKG_MANAGER (apt|dnf|yum), DISTRO_ID, DISTRO_FAMILY
#               (debian|rhel|other), DISTRO_PRETTY
#   packages    pkg_refresh_index MAX_AGE_SECONDS, pkg_is_installed NAME,
#               pkg_available NAME, pkg_require_available NAME... (fails before
#               installing anything), pkg_install NAME... (installs only what is missing)
#   services    have_systemd, service_enable_start NAME, service_restart NAME
#   files       write_if_changed PATH MODE [OWNER[:GROUP]] < content, ensure_dir,
#               bundle_file VARIABLE PATH (a file inside the bundle, never outside it),
#               ensure_module_state_dir (this module's own state folder)
#   values      parse_duration TEXT (90s, 5m, 1h30m, 2d or plain seconds),
#               words [--keep-commas] TEXT (split on whitespace and commas, or on
#               whitespace only)
#
# Conventions: every helper either succeeds or calls `die` (which exits), so the
# helpers that answer a question (write_if_changed: 0 = changed, 1 = already up to
# date) are safe inside `if` even though bash ignores `set -e` there. Messages go to
# stdout (changes and "already ..." lines) or stderr (warnings, errors);
# bundle-bootstrap prefixes every line with the module's name.

if [[ -n ${_STARTUP_BUNDLE_PKG_SH:-} ]]; then
	return 0
fi
_STARTUP_BUNDLE_PKG_SH=1

# Empty arrays under `set -u` need bash 4.4 (Amazon Linux 2's 4.2 fails on them).
if ((BASH_VERSINFO[0] < 4 || (BASH_VERSINFO[0] == 4 && BASH_VERSINFO[1] < 4))); then
	printf 'error: %s\n' "startup-bundle modules need bash 4.4 or later; this is bash $BASH_VERSION (Amazon Linux 2 and RHEL 7 are too old)" >&2
	exit 1
fi

# Counted by `changed`, reported by `finish`.
BUNDLE_CHANGES=0

# How long apt/dnf may wait for another package manager holding the lock (seconds).
PKG_LOCK_TIMEOUT=300

# The file whose time says when this module last refreshed the index (_index_stamp).
INDEX_STAMP=

# ---------------------------------------------------------------------------
# logging

say() { printf '%s\n' "$*"; }
changed() {
	BUNDLE_CHANGES=$((BUNDLE_CHANGES + 1))
	printf 'changed: %s\n' "$*"
}
already() { printf 'already %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
	printf 'error: %s\n' "$*" >&2
	exit 1
}

# Last line of a module: tells the operator whether this run changed the machine.
finish() {
	if ((BUNDLE_CHANGES == 0)); then
		say "${BUNDLE_MODULE:-module}: no changes"
	else
		say "${BUNDLE_MODULE:-module}: ${BUNDLE_CHANGES} change(s)"
	fi
}

# require_env NAME... : the bootstrap sets these; running a script by hand without
# them is a mistake worth a precise message.
require_env() {
	local name
	for name in "$@"; do
		[[ -n ${!name:-} ]] || die "$name is not set (bundle-bootstrap sets it; when running by hand, export it)"
	done
}

require_root() {
	[[ $(id -u) -eq 0 ]] || die "${BUNDLE_MODULE:-this module} must run as root (it installs packages and writes system files)"
}

# ---------------------------------------------------------------------------
# values

# parse_duration TEXT -> seconds on stdout. Same words as the bootstrap's
# durations: plain seconds, or number+unit groups with d/h/m/s ("1h30m").
parse_duration() {
	local text=$1 rest total=0 n unit
	if [[ $text =~ ^[0-9]+$ ]]; then
		printf '%s\n' "$((10#$text))"
		return 0
	fi
	rest=$text
	[[ -n $rest ]] || die "empty duration (expected e.g. 90s, 5m, 6h, 1h30m or seconds)"
	while [[ -n $rest ]]; do
		if [[ $rest =~ ^([0-9]+)([dhms])(.*)$ ]]; then
			n=$((10#${BASH_REMATCH[1]}))
			unit=${BASH_REMATCH[2]}
			rest=${BASH_REMATCH[3]}
			case $unit in
			d) total=$((total + n * 86400)) ;;
			h) total=$((total + n * 3600)) ;;
			m) total=$((total + n * 60)) ;;
			s) total=$((total + n)) ;;
			esac
		else
			die "bad duration '$text' (expected e.g. 90s, 5m, 6h, 1h30m or seconds)"
		fi
	done
	printf '%s\n' "$total"
}

# words [--keep-commas] TEXT -> one item per line. Items are separated by whitespace
# (spaces, tabs, newlines, a DOS line end's CR) and commas; with --keep-commas by
# whitespace only, for items that hold commas themselves (name:password:tag1,tag2).
# Never expands globs: `read` splits, the shell does not.
words() {
	local text items=()
	if (($# == 2)) && [[ $1 == --keep-commas ]]; then
		text=$2
	elif (($# == 1)); then
		text=${1//,/ }
	else
		die "words: expected TEXT or --keep-commas TEXT, got $# arguments"
	fi
	# -d '': read every line, not only the first; read's status is 1 at the end of
	# its input, which is the normal case here.
	IFS=$' \t\r\n' read -r -d '' -a items <<<"$text" || true
	((${#items[@]} == 0)) || printf '%s\n' "${items[@]}"
}

# ---------------------------------------------------------------------------
# distribution and package manager

PKG_MANAGER=
DISTRO_ID=
DISTRO_FAMILY=
DISTRO_PRETTY=

_os_release_field() {
	local field=$1
	[[ -r /etc/os-release ]] || return 0
	(
		# shellcheck source=/dev/null # the machine's own file, not ours
		. /etc/os-release
		printf '%s\n' "${!field:-}"
	)
}

pkg_detect() {
	[[ -z $PKG_MANAGER ]] || return 0
	local like
	DISTRO_ID=$(_os_release_field ID)
	DISTRO_PRETTY=$(_os_release_field PRETTY_NAME)
	like=$(_os_release_field ID_LIKE)
	DISTRO_ID=${DISTRO_ID:-unknown}
	DISTRO_PRETTY=${DISTRO_PRETTY:-$DISTRO_ID}
	# shellcheck disable=SC2034 # DISTRO_FAMILY is read by the modules that source this file
	case " $DISTRO_ID $like " in
	*" debian "* | *" ubuntu "*) DISTRO_FAMILY=debian ;;
	*" rhel "* | *" fedora "* | *" centos "* | *" amzn "*) DISTRO_FAMILY=rhel ;;
	*) DISTRO_FAMILY=other ;;
	esac
	if command -v apt-get >/dev/null 2>&1 && command -v dpkg-query >/dev/null 2>&1; then
		PKG_MANAGER=apt
	elif command -v dnf >/dev/null 2>&1; then
		PKG_MANAGER=dnf
	elif command -v yum >/dev/null 2>&1; then
		PKG_MANAGER=yum
	else
		die "no apt-get, dnf or yum on $DISTRO_PRETTY; supported: Debian, Ubuntu, Amazon Linux, RHEL and its rebuilds (Rocky, Alma, CentOS Stream), Fedora"
	fi
}

# Seconds since the package index was last known to be refreshed, or a huge number.
_index_age() {
	local stamp=$1 newest=0 t now
	now=$(date +%s)
	if [[ -f $stamp ]]; then
		t=$(stat -c %Y "$stamp") || die "cannot stat $stamp"
		((t > newest)) && newest=$t
	fi
	if [[ $PKG_MANAGER == apt ]]; then
		# apt stamps each Release file with the server's Last-Modified time, which is
		# never later than the fetch: using it can only make us refresh more often.
		local f
		for f in /var/lib/apt/lists/*Release; do
			[[ -f $f ]] || continue
			t=$(stat -c %Y "$f") || continue
			((t > newest)) && newest=$t
		done
	fi
	if ((newest == 0)); then
		printf '%s\n' 999999999
	else
		printf '%s\n' "$((now - newest))"
	fi
}

# The time of the last refresh this module made. Sets BUNDLE_MODULE_STATE_DIR.
_index_stamp() {
	ensure_module_state_dir
	INDEX_STAMP=$BUNDLE_MODULE_STATE_DIR/index-refreshed
}

_refresh_now() {
	_index_stamp
	case $PKG_MANAGER in
	apt) DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout="$PKG_LOCK_TIMEOUT" update ||
		die "apt-get update failed on $DISTRO_PRETTY (see the lines above: network, mirror or sources.list)" ;;
	dnf) dnf -q -y makecache || die "dnf makecache failed on $DISTRO_PRETTY (see the lines above)" ;;
	yum) yum -q -y makecache || die "yum makecache failed on $DISTRO_PRETTY (see the lines above)" ;;
	esac
	touch "$INDEX_STAMP" || die "cannot write $INDEX_STAMP"
	changed "refreshed the $PKG_MANAGER package index"
}

# pkg_refresh_index MAX_AGE_SECONDS: refresh only when the index is older than that.
# The stamp lives in the calling module's own state folder (BUNDLE_MODULE_STATE_DIR),
# so a run refreshes at most once; with apt a refresh by any module counts too, since
# apt's own list files carry its time.
pkg_refresh_index() {
	local max_age=${1:?pkg_refresh_index needs a maximum age in seconds} age
	pkg_detect
	_index_stamp
	age=$(_index_age "$INDEX_STAMP")
	if ((age <= max_age)); then
		already "fresh: $PKG_MANAGER package index refreshed ${age}s ago (limit ${max_age}s)"
		return 0
	fi
	_refresh_now
}

pkg_is_installed() {
	local name=$1
	pkg_detect
	case $PKG_MANAGER in
	apt) [[ $(dpkg-query -W -f='${db:Status-Status}' "$name" 2>/dev/null) == installed ]] ;;
	dnf | yum) rpm -q --quiet --whatprovides "$name" 2>/dev/null ;;
	esac
}

# pkg_available NAME: installed, or installable from the configured repositories.
pkg_available() {
	local name=$1 candidate
	pkg_detect
	pkg_is_installed "$name" && return 0
	case $PKG_MANAGER in
	apt)
		candidate=$(apt-cache policy -- "$name" 2>/dev/null | awk '$1 == "Candidate:" { print $2; exit }')
		[[ -n $candidate && $candidate != "(none)" ]]
		;;
	dnf | yum) "$PKG_MANAGER" -q info "$name" >/dev/null 2>&1 ;;
	esac
}

# apt cannot answer "is it available" before its lists exist (fresh images ship none).
_ensure_index_exists() {
	if [[ $PKG_MANAGER == apt ]] && ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
		say "the apt package lists are empty; refreshing them once"
		_refresh_now
	fi
}

# pkg_require_available HINT NAME...: die naming the distribution and HINT when any
# package is missing from the repositories, before anything is installed.
pkg_require_available() {
	local hint=$1 name missing=()
	shift
	pkg_detect
	_ensure_index_exists
	for name in "$@"; do
		pkg_available "$name" || missing+=("$name")
	done
	if ((${#missing[@]} > 0)); then
		die "$DISTRO_PRETTY ($PKG_MANAGER) has no package ${missing[*]} in its configured repositories; nothing was installed. $hint"
	fi
}

_install_cmd() {
	case $PKG_MANAGER in
	apt) DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout="$PKG_LOCK_TIMEOUT" \
		-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold install -- "$@" ;;
	dnf) dnf -q -y install "$@" ;;
	yum) yum -q -y install "$@" ;;
	esac
}

# pkg_install NAME...: installs the missing ones in one transaction; says which were
# already there. A failure (for instance a stale index answering 404) is retried once
# after refreshing the index.
pkg_install() {
	local name missing=() present=()
	pkg_detect
	for name in "$@"; do
		if pkg_is_installed "$name"; then
			present+=("$name")
		else
			missing+=("$name")
		fi
	done
	((${#present[@]} == 0)) || already "installed: ${present[*]}"
	((${#missing[@]} > 0)) || return 0
	pkg_require_available "Check the package name for this distribution." "${missing[@]}"
	say "installing: ${missing[*]}"
	if ! _install_cmd "${missing[@]}"; then
		warn "installing ${missing[*]} failed; refreshing the package index and trying once more"
		_refresh_now
		_install_cmd "${missing[@]}" || die "could not install ${missing[*]} on $DISTRO_PRETTY with $PKG_MANAGER (see the lines above)"
	fi
	changed "installed ${missing[*]}"
}

# ---------------------------------------------------------------------------
# services

# systemd is the init system only when this directory exists (sd_booted(3)).
have_systemd() { [[ -d /run/systemd/system ]]; }

# Without systemd, Debian's policy-rc.d (containers, image builds) may forbid starts:
# respect it the way invoke-rc.d does (exit 101 = action forbidden).
_policy_forbids() {
	local name=$1 action=$2 rc=0
	[[ -x /usr/sbin/policy-rc.d ]] || return 1
	/usr/sbin/policy-rc.d "$name" "$action" >/dev/null 2>&1 || rc=$?
	((rc == 101))
}

_sysv_script() {
	local name=$1
	[[ -x /etc/init.d/$name ]] && printf '%s\n' "/etc/init.d/$name"
}

# service_enable_start NAME: enabled at boot and running. Without systemd, starts it
# through its init script when there is one, or says plainly that it did not.
service_enable_start() {
	local name=$1 script
	if have_systemd; then
		if systemctl is-enabled --quiet "$name" 2>/dev/null; then
			already "enabled: $name"
		else
			systemctl enable "$name" || die "systemctl enable $name failed"
			changed "enabled $name at boot"
		fi
		if systemctl is-active --quiet "$name"; then
			already "running: $name"
		else
			systemctl start "$name" || die "systemctl start $name failed; see: journalctl -u $name"
			changed "started $name"
		fi
		return 0
	fi
	if ! script=$(_sysv_script "$name"); then
		say "systemd is not running (no /run/systemd/system) and $name has no init script: not starting $name; start it yourself"
		return 0
	fi
	if "$script" status >/dev/null 2>&1; then
		already "running: $name (init script; systemd is not running)"
		return 0
	fi
	if _policy_forbids "$name" start; then
		say "systemd is not running and /usr/sbin/policy-rc.d forbids starting $name (a container or image build): not starting it"
		return 0
	fi
	"$script" start || die "$script start failed"
	changed "started $name with $script (systemd is not running; the bundle starts it again at every boot)"
}

# service_restart NAME: after a configuration change; a stopped service is left to
# service_enable_start.
service_restart() {
	local name=$1 script
	if have_systemd; then
		if systemctl is-active --quiet "$name"; then
			systemctl restart "$name" || die "systemctl restart $name failed; see: journalctl -u $name"
			changed "restarted $name"
		fi
		return 0
	fi
	script=$(_sysv_script "$name") || return 0
	"$script" status >/dev/null 2>&1 || return 0
	if _policy_forbids "$name" restart; then
		say "policy-rc.d forbids restarting $name: the new configuration applies at its next start"
		return 0
	fi
	"$script" restart || die "$script restart failed"
	changed "restarted $name"
}

# ---------------------------------------------------------------------------
# files

_octal() { printf '%o\n' "$((8#$1))"; }

# _fix_meta PATH MODE OWNER: returns 0 when it changed something.
_fix_meta() {
	local path=$1 mode=$2 owner=$3 did=1 want_mode have_owner
	want_mode=$(_octal "$mode")
	if [[ $(stat -c %a "$path") != "$want_mode" ]]; then
		chmod "$mode" "$path" || die "cannot chmod $mode $path"
		did=0
	fi
	if [[ -n $owner ]]; then
		if [[ $owner == *:* ]]; then
			have_owner=$(stat -c %U:%G "$path")
		else
			have_owner=$(stat -c %U "$path")
		fi
		if [[ $have_owner != "$owner" ]]; then
			chown "$owner" "$path" || die "cannot chown $owner $path"
			did=0
		fi
	fi
	return "$did"
}

# write_if_changed PATH MODE [OWNER[:GROUP]] < content
# Feed it by redirection (<<EOF, <<<"$text", < <(cmd)), never through a pipe: a
# function at the end of a pipe runs in a subshell, where its die and its change
# count would be lost.
# Writes stdin to PATH (through a temporary file and a rename) only when the bytes,
# mode or owner differ. Returns 0 when it changed something, 1 when PATH was already
# so; any failure exits through die.
write_if_changed() {
	local path=${1:?write_if_changed needs a path} mode=${2:?write_if_changed needs a mode} owner=${3:-}
	local dir tmp
	[[ $mode =~ ^[0-7]{3,4}$ ]] || die "write_if_changed: mode '$mode' is not octal"
	dir=$(dirname -- "$path")
	[[ -d $dir ]] || die "cannot write $path: directory $dir does not exist"
	tmp=$(mktemp "$dir/.${path##*/}.XXXXXX") || die "cannot create a temporary file in $dir"
	if ! cat >"$tmp"; then
		rm -f -- "$tmp"
		die "cannot write $tmp"
	fi
	if [[ -f $path ]] && cmp -s -- "$tmp" "$path"; then
		rm -f -- "$tmp"
		if _fix_meta "$path" "$mode" "$owner"; then
			changed "set mode $mode${owner:+ and owner $owner} on $path"
			return 0
		fi
		already "up to date: $path"
		return 1
	fi
	_fix_meta "$tmp" "$mode" "$owner" || true
	if ! mv -f -- "$tmp" "$path" 2>/dev/null; then
		# A bind-mounted file (a container's /etc/hosts) cannot be renamed over.
		if ! cat -- "$tmp" >"$path"; then
			rm -f -- "$tmp"
			die "cannot write $path"
		fi
		rm -f -- "$tmp"
		_fix_meta "$path" "$mode" "$owner" || true
	fi
	if command -v restorecon >/dev/null 2>&1; then
		restorecon -- "$path" 2>/dev/null || true
	fi
	changed "wrote $path"
	return 0
}

# ensure_dir PATH MODE [OWNER[:GROUP]]
ensure_dir() {
	local path=$1 mode=$2 owner=${3:-}
	if [[ -d $path ]]; then
		if _fix_meta "$path" "$mode" "$owner"; then
			changed "set mode $mode${owner:+ and owner $owner} on $path"
		fi
		return 0
	fi
	mkdir -p -- "$path" || die "cannot create $path"
	_fix_meta "$path" "$mode" "$owner" || true
	changed "created $path"
}

# bundle_file VARIABLE PATH -> $BUNDLE_ROOT/PATH, checked to be a readable file.
# PATH names a file the personality ships inside the (encrypted) bundle, relative to
# BUNDLE_ROOT, the unpacked folder that holds the module folders: broker-secrets/users.
# An absolute PATH and any '..' component are refused, so a setting can never point a
# module at a file outside the bundle. VARIABLE is the setting's name, for messages.
bundle_file() {
	local variable=${1:?bundle_file needs the name of the variable} path=${2-}
	require_env BUNDLE_ROOT
	[[ -n $path ]] || die "$variable is empty: give a file inside the bundle, relative to BUNDLE_ROOT, like broker-secrets/users"
	[[ $path != /* ]] ||
		die "$variable='$path' is an absolute path: give a file inside the bundle, relative to BUNDLE_ROOT ($BUNDLE_ROOT), like broker-secrets/users"
	[[ /$path/ != */../* ]] ||
		die "$variable='$path' has a '..' component: the file must stay inside the bundle (the path is taken from BUNDLE_ROOT, $BUNDLE_ROOT)"
	[[ -f $BUNDLE_ROOT/$path && -r $BUNDLE_ROOT/$path ]] ||
		die "$variable='$path': no readable file $BUNDLE_ROOT/$path (the path is taken from BUNDLE_ROOT, the folder holding the module folders)"
	printf '%s\n' "$BUNDLE_ROOT/$path"
}

# ensure_module_state_dir: BUNDLE_MODULE_STATE_DIR names this module's own state
# folder, which survives from run to run, and it exists. bundle-bootstrap creates it
# (mode 0700) and exports it; a bootstrap older than that variable, and the
# --shell-only user-data, do not, so it is then set to the same place,
# $BUNDLE_STATE_DIR/modules/$BUNDLE_MODULE, and created here. Call it in the
# script's own shell (not inside $(...)), so that its die stops the script.
ensure_module_state_dir() {
	if [[ -z ${BUNDLE_MODULE_STATE_DIR:-} ]]; then
		require_env BUNDLE_STATE_DIR BUNDLE_MODULE
		export BUNDLE_MODULE_STATE_DIR=$BUNDLE_STATE_DIR/modules/$BUNDLE_MODULE
	fi
	if [[ ! -d $BUNDLE_MODULE_STATE_DIR ]]; then
		(umask 077 && mkdir -p -- "$BUNDLE_MODULE_STATE_DIR") ||
			die "cannot create the module's state folder $BUNDLE_MODULE_STATE_DIR"
	fi
}
