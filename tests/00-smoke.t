#!/bin/sh
# Smoke test: a spritesd starts, a sprite is created, a command runs in it.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"
plan 3
start_spritesd
out=$(sprite-create smoke | jq -r .name)
is "$out" "smoke" "sprite-create prints the sprite"
out=$(sprite-exec -s smoke -n -- echo hello)
is "$out" "hello" "sprite-exec runs a command"
sprite-destroy smoke
ok $? "sprite-destroy"
done_testing
