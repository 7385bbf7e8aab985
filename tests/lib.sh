# shellcheck shell=sh
# tests/lib.sh: TAP helpers and a real spritesd for the integration tests.
# Source it from a test: `. "$(dirname "$0")/lib.sh"`.  Each test gets its own
# temporary directory ($T) and, with start_spritesd, its own spritesd on a free
# loopback port with a temporary state directory.  Commands find it the way
# users' do: through $XDG_STATE_HOME/spritesd.

set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
PATH="$TOP/bin:$PATH"
export PATH
T=$(mktemp -d "${TMPDIR:-/tmp}/sprite-test.XXXXXX")
export XDG_STATE_HOME="$T/state"
STATE="$XDG_STATE_HOME/spritesd"
unset SPRITES_API_URL SPRITES_TOKEN SPRITE_TOKEN SPRITES_TOKEN_FILE SPRITE
SPRITESD_PID=
tap_n=0
tap_failed=0

plan() { echo "1..$1"; }

ok() {  # ok CONDITION-EXIT-STATUS DESCRIPTION
	tap_n=$((tap_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $tap_n - $2"
	else
		echo "not ok $tap_n - $2"
		tap_failed=$((tap_failed + 1))
	fi
}

is() {  # is GOT WANT DESCRIPTION
	if [ "$1" = "$2" ]; then
		ok 0 "$3"
	else
		ok 1 "$3"
		printf '#   got:  %s\n#   want: %s\n' "$1" "$2" | sed '2,$s/^\([^#]\)/#         \1/'
	fi
}

like() {  # like GOT SUBSTRING DESCRIPTION
	case "$1" in
	*"$2"*) ok 0 "$3" ;;
	*) ok 1 "$3"; printf '#   got:  %s\n#   want something containing: %s\n' "$1" "$2" ;;
	esac
}

unlike() {  # unlike GOT SUBSTRING DESCRIPTION
	case "$1" in
	*"$2"*) ok 1 "$3"; printf '#   got:  %s\n#   want nothing containing: %s\n' "$1" "$2" ;;
	*) ok 0 "$3" ;;
	esac
}

diag() { printf '# %s\n' "$*"; }

# run CMD...: $rc is its status, $out and $err its stdout and stderr (also
# kept byte-exact in $T/out and $T/err).  Every command gets 60 s at most.
# shellcheck disable=SC2034 # rc, out and err are for the tests
run() {
	timeout 60 "$@" >"$T/out" 2>"$T/err"
	rc=$?
	out=$(cat "$T/out")
	err=$(cat "$T/err")
}

# stderr_is LINE DESCRIPTION: stderr was exactly LINE and a newline.
stderr_is() {
	printf '%s\n' "$1" >"$T/want"
	cmp -s "$T/want" "$T/err"
	ok $? "$2"
	cmp -s "$T/want" "$T/err" || printf '#   got:  %s\n#   want: %s\n' "$(cat "$T/err")" "$1"
}

# shellcheck disable=SC2120 # ARGS are optional
# start_spritesd [ARGS...]: start spritesd on a free port; wait until it serves.
start_spritesd() {
	rm -f "$STATE/url"
	spritesd -l "127.0.0.1:${SPRITESD_PORT:-0}" -d "$STATE" "$@" >>"$T/spritesd.log" 2>&1 &
	SPRITESD_PID=$!
	i=0
	while [ ! -s "$STATE/url" ]; do
		i=$((i + 1))
		if [ "$i" -gt 200 ] || ! kill -0 "$SPRITESD_PID" 2>/dev/null; then
			echo "Bail out! spritesd did not start:"
			sed 's/^/# /' "$T/spritesd.log"
			exit 1
		fi
		sleep 0.05
	done
	SPRITESD_URL=$(cat "$STATE/url")
	SPRITESD_PORT=${SPRITESD_URL##*:}
	export SPRITESD_URL SPRITESD_PORT
}

# stop_spritesd [SIGNAL]: stop it (TERM by default; KILL to simulate a crash).
stop_spritesd() {
	if [ -n "$SPRITESD_PID" ]; then
		kill "-${1:-TERM}" "$SPRITESD_PID" 2>/dev/null
		wait "$SPRITESD_PID" 2>/dev/null
		SPRITESD_PID=
	fi
}

cleanup() {
	# Sprites' sandboxes outlive spritesd by design: destroy them, then make
	# sure nothing of this test is left running.
	if [ -n "$SPRITESD_PID" ]; then
		sprite-list 2>/dev/null | jq -r .name 2>/dev/null | while read -r n; do
			sprite-destroy "$n" >/dev/null 2>&1
		done
	fi
	stop_spritesd TERM
	pkill -KILL -f "$T/state" 2>/dev/null
	# spritesd run as root mounts a btrfs volume (a loop device) on
	# STATEDIR/sprites for checkpoints, in $STATE or any state directory a
	# test made under $T: lazily unmounted, each volume and its loop device
	# go once the killed sandboxes let go of it.
	awk -v t="$T/" 'index($2, t) == 1 { print $2 }' /proc/self/mounts | sort -r |
		while IFS= read -r m; do umount -l "$m"; done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

done_testing() {
	[ "$tap_failed" -eq 0 ]
	exit $?
}
