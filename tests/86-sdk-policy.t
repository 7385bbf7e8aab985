#!/bin/sh
# SDK conformance, network policy: the official JavaScript SDK (@fly/sprites,
# installed in tests/sdk/node_modules by scripts/install-deps) against a real
# spritesd.  tests/sdk/policy.mjs does the checks (getNetworkPolicy,
# updateNetworkPolicy: 204, what it returns, a refused policy, the sprite's
# /.sprite/policy/network.json); this turns its results into TAP.  Each check
# has 20 s, and node as a whole 120 s.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

sdk_check

# shellcheck disable=SC2119 # no arguments for spritesd
start_spritesd
sdk_run policy.mjs sdk-policy 120
