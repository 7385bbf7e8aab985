# shellcheck shell=sh
# bench-lib.sh: what the bench scripts share: messages, a temporary
# directory, and a private spritesd on a free loopback port with its own
# state directory, found by the commands through $XDG_STATE_HOME/spritesd.
# Everything it made (its sprites included) goes on exit and on interruption.
# Source it with TOP set to the top of the tree.

PATH="$TOP/bin:$PATH"
export PATH

die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

T=$(mktemp -d "${TMPDIR:-/tmp}/sprite-bench.XXXXXX") || die "cannot make a temporary directory"
export T
export XDG_STATE_HOME="$T/state"
STATE="$XDG_STATE_HOME/spritesd"
unset SPRITES_API_URL SPRITES_TOKEN SPRITE_TOKEN SPRITES_TOKEN_FILE SPRITE
SPRITESD_PID=
CHILD=
cleanup() {
	set +u
	[ -z "$CHILD" ] || kill "$CHILD" 2>/dev/null
	if [ -n "$SPRITESD_PID" ]; then
		# Our own spritesd: every sprite it has is the bench's, and
		# sandboxes outlive spritesd.
		sprite-list 2>/dev/null | jq -r .name 2>/dev/null | while read -r n; do
			sprite-destroy "$n" >/dev/null 2>&1
		done
		kill "$SPRITESD_PID" 2>/dev/null
		wait "$SPRITESD_PID" 2>/dev/null
	fi
	# Whatever the bench left running in the background.
	pkill -P $$ 2>/dev/null
	# spritesd run as root mounts a btrfs volume (a loop device) on its
	# sprites directory for checkpoints: it goes with the directory.
	if mountpoint -q "$STATE/sprites" 2>/dev/null; then
		umount -l "$STATE/sprites"
	fi
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# run CMD...: run it in the background and wait, so that a signal stops the
# benchmark at once (the shell runs traps only between commands).
run() {
	"$@" &
	CHILD=$!
	wait "$CHILD"
	set -- $?
	CHILD=
	return "$1"
}

# shellcheck disable=SC2120 # ARGS are optional
# bench_start_spritesd [ARGS...]: spritesd, with ARGS, on a free port.
bench_start_spritesd() {
	command -v spritesd >/dev/null 2>&1 || die "spritesd not found: run make"
	spritesd -q -l 127.0.0.1:0 -d "$STATE" "$@" >"$T/spritesd.log" 2>&1 &
	SPRITESD_PID=$!
	i=0
	while [ ! -s "$STATE/url" ]; do
		i=$((i + 1))
		if [ "$i" -gt 200 ] || ! kill -0 "$SPRITESD_PID" 2>/dev/null; then
			cat "$T/spritesd.log" >&2
			die "spritesd did not start"
		fi
		sleep 0.05
	done
}
