#!/bin/sh
# task follows the configuration: with no API configured it starts the
# local spritesd itself (its state in $XDG_STATE_HOME/spritesd), once, and
# uses it; with a Fly.io token stored by `task sprite token` it goes there.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

unset TASK_AGENT TMUX XDG_DATA_HOME XDG_CONFIG_HOME
export TASK_DB="$T/tasks.db" HOME="$T/home"
mkdir -p "$HOME"
# The spritesd task starts is not ours to wait for: stop it by its state
# directory (unique to this test) on the way out.
trap 'pkill -TERM -f "spritesd -q -l 127.0.0.1:0 -d $STATE" 2>/dev/null; sleep 0.3; cleanup' EXIT

R=$T/repo
git init -q -b main "$R"
echo hi >"$R/README"
git -C "$R" add README
git -C "$R" -c user.name=t -c user.email=t@localhost commit -q -m first
task project add web "$R" >/dev/null

[ ! -e "$STATE/url" ]
ok $? "no spritesd runs for this state directory"
export TASK_AGENT='sh -c "sleep 60"'
run task sprite init web
is "$rc" 0 "task sprite init with no API configured: exit 0"
like "$err" "task: starting spritesd (log: $STATE/spritesd.log)" "it says it starts the local spritesd"
[ -s "$STATE/url" ]
ok $? "which serves from \$XDG_STATE_HOME/spritesd"
is "$(sprite-list | jq -r .name)" task-web "the sprite is there"
pid=$(pgrep -f "spritesd -q -l 127.0.0.1:0 -d $STATE")
run task sprite status web
is "$rc/$(printf '%s' "$out" | jq -r .sprite)" "0/task-web" "the next command uses it"
unlike "$err" "starting spritesd" "without starting another"
is "$(pgrep -f "spritesd -q -l 127.0.0.1:0 -d $STATE")" "$pid" "the same spritesd"

# A stored token means Fly.io (here an unreachable API URL stands for it:
# the tests never reach the internet); the token is not on any command line.
printf 'secret-token-123\n' | task sprite token >/dev/null 2>&1
is "$(stat -c %a "$T/home/.config/sprite-tools/token")" 600 "task sprite token stores it 0600"
SPRITES_API_URL=http://127.0.0.1:9 run task sprite status web
is "$rc" 1 "with the token and an API that does not answer: exit 1"
like "$err" "task: cannot reach the Sprites API" "one clear line"
unlike "$err" "secret-token-123" "the token is not in the message"

plan "$tap_n"
done_testing
