#!/bin/sh
# SDK conformance: the official JavaScript SDK (@fly/sprites, installed in
# tests/sdk/node_modules by scripts/install-deps) against a real spritesd.
# tests/sdk/conformance.mjs does the checks (the REST calls, exec, stdin
# streaming, TTY and resize, sessions listed and attached to, signals); this
# turns its results into TAP.  Each check has 20 s, and node as a whole
# 300 s, so a hang fails the test instead of blocking it.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

sdk_check

# shellcheck disable=SC2119 # no arguments for spritesd
start_spritesd
sdk_run conformance.mjs sdk-conformance 300
