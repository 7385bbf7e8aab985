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
# The variables task sprite init carries into sprites (AGENT_ENV in
# lib/task/sprite.sh; tests/97 checks that this is all of them): what the
# tests see must not depend on the user's.
unset ANTHROPIC_API_KEY CLAUDE_CODE_OAUTH_TOKEN ANTHROPIC_AUTH_TOKEN ANTHROPIC_CUSTOM_HEADERS ANTHROPIC_BASE_URL \
	ANTHROPIC_MODEL ANTHROPIC_SMALL_FAST_MODEL ANTHROPIC_DEFAULT_OPUS_MODEL ANTHROPIC_DEFAULT_SONNET_MODEL \
	ANTHROPIC_DEFAULT_HAIKU_MODEL CLAUDE_CODE_SUBAGENT_MODEL CLAUDE_CODE_USE_BEDROCK CLAUDE_CODE_SKIP_BEDROCK_AUTH \
	AWS_REGION AWS_DEFAULT_REGION AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_BEARER_TOKEN_BEDROCK \
	ANTHROPIC_BEDROCK_BASE_URL CLAUDE_CODE_USE_VERTEX CLAUDE_CODE_SKIP_VERTEX_AUTH CLOUD_ML_REGION \
	ANTHROPIC_VERTEX_PROJECT_ID GOOGLE_CLOUD_PROJECT GCLOUD_PROJECT ANTHROPIC_VERTEX_BASE_URL \
	GOOGLE_APPLICATION_CREDENTIALS NODE_EXTRA_CA_CERTS
# A test that runs make (tests/98) is not part of the make that runs the
# tests (make check-sanitize runs make check): no "Entering directory".
unset MAKEFLAGS MFLAGS MAKELEVEL
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
		printf '#   got:  %s\n#   want: %s\n' "$1" "$2" | sed '2,$s/^\([^#]\)/#         \1/' >&2
	fi
}

like() {  # like GOT SUBSTRING DESCRIPTION
	case "$1" in
	*"$2"*) ok 0 "$3" ;;
	*) ok 1 "$3"; printf '#   got:  %s\n#   want something containing: %s\n' "$1" "$2" >&2 ;;
	esac
}

unlike() {  # unlike GOT SUBSTRING DESCRIPTION
	case "$1" in
	*"$2"*) ok 1 "$3"; printf '#   got:  %s\n#   want nothing containing: %s\n' "$1" "$2" >&2 ;;
	*) ok 0 "$3" ;;
	esac
}

diag() { printf '# %s\n' "$*"; }
# (What a failure got and wanted goes to stderr, which prove shows without
# -v: CI's log then says why a test failed.)

# run CMD...: $rc is its status, $out and $err its stdout and stderr (also
# kept byte-exact in $T/out and $T/err).  Every command gets 60 s at most,
# or $RUN_TIMEOUT seconds where a test sets it (installers under a loaded
# parallel run).
# shellcheck disable=SC2034 # rc, out and err are for the tests
run() {
	timeout "${RUN_TIMEOUT:-60}" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	out=$(cat "$T/out")
	err=$(cat "$T/err")
}

# stderr_is LINE DESCRIPTION: stderr was exactly LINE and a newline.
stderr_is() {
	printf '%s\n' "$1" >"$T/want"
	cmp -s "$T/want" "$T/err"
	ok $? "$2"
	cmp -s "$T/want" "$T/err" || printf '#   got:  %s\n#   want: %s\n' "$(cat "$T/err")" "$1" >&2
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

# sprite_procs NAME [STATEDIR]: the host pids of every process of a sprite
# (its cgroup's), one a line; nothing when it runs none.
sprite_procs() {
	[ -f "${2:-$STATE}/cgroups" ] || return 0
	while IFS= read -r dir; do
		[ -f "$dir/$1/cgroup.procs" ] && cat "$dir/$1/cgroup.procs"
	done <"${2:-$STATE}/cgroups" | sort -u
}

# wait_query SQL WANT DESCRIPTION: the test's own q (its database) gives
# WANT for SQL within $WAIT_S seconds (default 20), then the test is on it
# ($got holds the last answer).
wait_query() {
	_i=0
	while got=$(q "$1") && [ "$got" != "$2" ] && [ "$_i" -lt "$((${WAIT_S:-20} * 10))" ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	is "$got" "$2" "$3"
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
	# Every process of a sprite is in its cgroup (STATEDIR/cgroups lists
	# spritesd's): kill what is left, then remove the cgroups.
	find "$T" -maxdepth 3 -name cgroups -type f 2>/dev/null | while IFS= read -r list; do
		while IFS= read -r dir; do
			[ -d "$dir" ] || continue
			for g in "$dir"/*/; do
				[ -f "$g/cgroup.procs" ] || continue
				xargs -r kill -KILL <"$g/cgroup.procs" 2>/dev/null
			done
			for _ in 1 2 3 4 5 6 7 8 9 10; do
				for g in "$dir"/*/; do [ -d "$g" ] && rmdir "$g" 2>/dev/null; done
				rmdir "$dir" 2>/dev/null && break
				sleep 0.1
			done
		done <"$list"
	done
	# spritesd run as root mounts a btrfs volume (a loop device) on
	# STATEDIR/sprites for checkpoints, in $STATE or any state directory a
	# test made under $T: lazily unmounted, each volume and its loop device
	# go once the killed sandboxes let go of it.
	awk -v t="$T/" 'index($2, t) == 1 { print $2 }' /proc/self/mounts | sort -r |
		while IFS= read -r m; do umount -l "$m"; done
	# The host's record of sprites' id ranges (spritesd --ids-dir): the
	# claims of this test's sprites that a killed spritesd left.
	grep -l -F "$T/" /run/spritesd/ids/* 2>/dev/null | while IFS= read -r f; do rm -f "$f"; done
	rm -rf "$T"
}
trap cleanup EXIT
# A closed stdout (prove stopped by a bail-out) ends the test through its
# cleanup too.
trap 'exit 1' INT TERM HUP PIPE

done_testing() {
	[ "$tap_failed" -eq 0 ]
	exit $?
}

# ---- the official JavaScript SDK (tests/sdk) ----

# sdk_check: bail out unless the SDK is installed and node has a WebSocket;
# sets node_flags for sdk_run.
sdk_check() {
	if [ ! -f "$TOP/tests/sdk/node_modules/@fly/sprites/package.json" ]; then
		diag "the JavaScript SDK is not installed in tests/sdk/node_modules"
		echo "Bail out! run scripts/install-deps"
		exit 1
	fi
	if ! command -v node >/dev/null 2>&1; then
		echo "Bail out! node is not installed: run scripts/install-deps"
		exit 1
	fi
	# The SDK uses the global WebSocket: Node 22 has it, 20.10-21 behind a flag.
	node_version=$(node -p process.versions.node)
	node_major=${node_version%%.*}
	node_minor=${node_version#*.}
	node_minor=${node_minor%%.*}
	node_flags=
	if [ "$node_major" -lt 20 ] || { [ "$node_major" -eq 20 ] && [ "$node_minor" -lt 10 ]; }; then
		echo "Bail out! node $node_version has no WebSocket; the SDK needs node >= 20.10"
		exit 1
	elif [ "$node_major" -lt 22 ]; then
		node_flags=--experimental-websocket
	fi
}

# sdk_run SCRIPT SPRITE SECONDS: run tests/sdk/SCRIPT against the spritesd
# start_spritesd started, in sprite SPRITE, for SECONDS at most (a hang
# fails the test instead of blocking it); turn what it prints (see
# tests/sdk/harness.mjs) into TAP, and end the test.
sdk_run() {
	token=$(cat "$STATE/token") || { echo "Bail out! no token in $STATE/token"; exit 1; }
	# URL and token through the environment, never the command line.
	# shellcheck disable=SC2086 # node_flags is empty or one word
	SPRITES_API_URL="$SPRITESD_URL" SPRITES_TOKEN="$token" SDK_TEST_SPRITE=$2 \
		timeout -k 5 "$3" node --no-warnings $node_flags "$TOP/tests/sdk/$1" \
		>"$T/sdk.out" 2>"$T/sdk.err"
	rc=$?
	[ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] ||
		echo "$1 did not finish in $3 s: stopped" >>"$T/sdk.err"
	planned=$(sed -n 's/^plan	\([0-9][0-9]*\)$/\1/p' "$T/sdk.out")
	if [ -z "$planned" ]; then
		echo "Bail out! $1 did not start (exit $rc):"
		sed 's/^/# /' "$T/sdk.err"
		exit 1
	fi
	plan "$planned"
	tab=$(printf '\t')
	while IFS="$tab" read -r kind text; do
		case $kind in
		ok) ok 0 "SDK: $text" ;;
		"not ok") ok 1 "SDK: $text" ;;
		"#") diag "  $text" ;;
		esac
	done <"$T/sdk.out"
	while [ "$tap_n" -lt "$planned" ]; do
		ok 1 "SDK: a check reported no result ($1 exited $rc)"
	done
	if [ "$tap_failed" -ne 0 ] || [ "$rc" -ne 0 ]; then
		sed 's/^/# node: /' "$T/sdk.err"
		diag "spritesd log:"
		tail -n 30 "$T/spritesd.log" | sed 's/^/#   /'
	fi
	[ "$rc" -eq 0 ] || tap_failed=$((tap_failed + 1))
	done_testing
}
