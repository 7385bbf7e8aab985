#!/bin/sh
# SDK conformance, checkpoints: the official JavaScript SDK's checkpoint calls
# (createCheckpoint, listCheckpoints, getCheckpoint, restoreCheckpoint and
# their NDJSON streams) against a real spritesd.  tests/sdk/checkpoints.mjs
# does the checks; this turns its results into TAP, as tests/50-sdk.t does for
# the general ones.  Each check has 20 s, and node as a whole 120 s,
# so a hang fails the test instead of blocking it.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

sdk_check

# shellcheck disable=SC2119 # no arguments for spritesd
start_spritesd
if grep -q 'checkpoints are unavailable' "$T/spritesd.log"; then
	echo "1..0 # SKIP $(sed -n 's/^spritesd: checkpoints are unavailable: //p' "$T/spritesd.log")"
	exit 0
fi
sdk_run checkpoints.mjs sdk-checkpoints 120
