#!/bin/sh
# task follows the configuration: with no API configured it starts the
# local spritesd itself (its state in $XDG_STATE_HOME/spritesd), once, and
# uses it; with a Fly.io token stored by `task sprite token` it goes there
# (a spritesd of its own, token-protected, stands in for api.sprites.dev).
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

# The Fly.io path end to end: a spritesd with a state directory of its own
# stands in for api.sprites.dev at SPRITES_API_URL, and only the stored
# token gets in.
spritesd -q -l 127.0.0.1:0 -d "$T/remote" >>"$T/remote.log" 2>&1 &
RPID=$!
DPID=
trap 'kill "$DPID" 2>/dev/null; SPRITES_TOKEN_FILE=$T/remote/token SPRITES_API_URL=$RURL sprite-destroy task-web >/dev/null 2>&1
	kill "$RPID"; wait "$RPID"; pkill -TERM -f "spritesd -q -l 127.0.0.1:0 -d $STATE" 2>/dev/null; sleep 0.3; cleanup' EXIT
i=0
while [ ! -s "$T/remote/url" ] && [ "$i" -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
RURL=$(cat "$T/remote/url")
export SPRITES_API_URL="$RURL"
task sprite token <"$T/remote/token" >/dev/null 2>&1
run task sprite init web
is "$rc" 0 "with a token and its API: task sprite init exit 0"
unlike "$err" "starting spritesd" "no local spritesd is started"
is "$(SPRITES_TOKEN_FILE=$T/remote/token sprite-list | jq -r .name)" task-web "the sprite is made there, with the token"
run task sprite status web
is "$rc/$(printf '%s' "$out" | jq -c '[.sprite, .status, .sprite_status]')" '0/["task-web","running","ready"]' \
	"task sprite status asks that API"
task daemon --interval 0.3 >/dev/null 2>"$T/daemon.err" &
DPID=$!
i=0
while ! grep -q "following the hook events of sprite task-web" "$T/daemon.err" && [ "$i" -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
grep -q "following the hook events of sprite task-web" "$T/daemon.err"
ok $? "task daemon follows the sprite there"
# Its pipeline: a sprite-tail that has that API and the stored token.
tails() {
	for p in $(pgrep -x sprite-tail); do
		tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null |
			grep -qx "SPRITES_API_URL=$RURL" && tr '\0' '\n' <"/proc/$p/environ" |
			grep -x 'SPRITES_TOKEN_FILE=.*'
	done
}
i=0
while [ -z "$(tails)" ] && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
is "$(tails)" "SPRITES_TOKEN_FILE=$HOME/.config/sprite-tools/token" "its sprite-tail uses that API, with the stored token's file"
pgrep -f -- "$(cat "$T/remote/token")" >/dev/null
ok $((!$?)) "and the token is on no process's command line"
kill "$DPID"
wait "$DPID"
DPID=
grep -qF "$(cat "$T/remote/token")" "$T/daemon.err" "$TASK_DB"
ok $((!$?)) "nor in its log, nor in the database"
printf 'not-the-token\n' | task sprite token >/dev/null 2>&1
run task sprite status web
is "$rc" 1 "a wrong token: exit 1"
is "$err" "task: cannot reach the Sprites API: the API at $RURL refused the token from SPRITES_TOKEN_FILE (401): check it" \
	"one line saying the token was refused"

plan "$tap_n"
done_testing
