#!/bin/sh
# SDK conformance, checkpoints: the official JavaScript SDK's checkpoint calls
# (createCheckpoint, listCheckpoints, getCheckpoint, restoreCheckpoint and
# their NDJSON streams) against a real spritesd.  tests/sdk/checkpoints.mjs
# does the checks; this turns its results into TAP, as tests/50-sdk.t does for
# the general ones.  Each check has 20 s, and node as a whole NODE_TIMEOUT
# seconds, so a hang fails the test instead of blocking it.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

SDK="$TOP/tests/sdk"
if [ ! -f "$SDK/node_modules/@fly/sprites/package.json" ]; then
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

# shellcheck disable=SC2119 # no arguments for spritesd
start_spritesd
if grep -q 'checkpoints are unavailable' "$T/spritesd.log"; then
	echo "1..0 # SKIP $(sed -n 's/^spritesd: checkpoints are unavailable: //p' "$T/spritesd.log")"
	exit 0
fi
token=$(cat "$STATE/token") || { echo "Bail out! no token in $STATE/token"; exit 1; }

# URL and token through the environment, never the command line.
NODE_TIMEOUT=120
# shellcheck disable=SC2086 # node_flags is empty or one word
SPRITES_API_URL="$SPRITESD_URL" SPRITES_TOKEN="$token" SDK_TEST_SPRITE=sdk-checkpoints \
	timeout -k 5 "$NODE_TIMEOUT" node --no-warnings $node_flags "$SDK/checkpoints.mjs" \
	>"$T/sdk.out" 2>"$T/sdk.err"
rc=$?
[ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] ||
	echo "checkpoints.mjs did not finish in $NODE_TIMEOUT s: stopped" >>"$T/sdk.err"

planned=$(sed -n 's/^plan	\([0-9][0-9]*\)$/\1/p' "$T/sdk.out")
if [ -z "$planned" ]; then
	echo "Bail out! checkpoints.mjs did not start (exit $rc):"
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
	ok 1 "SDK: a check reported no result (checkpoints.mjs exited $rc)"
done
if [ "$tap_failed" -ne 0 ] || [ "$rc" -ne 0 ]; then
	sed 's/^/# node: /' "$T/sdk.err"
	diag "spritesd log:"
	tail -n 30 "$T/spritesd.log" | sed 's/^/#   /'
fi
[ "$rc" -eq 0 ] || tap_failed=$((tap_failed + 1))
done_testing
