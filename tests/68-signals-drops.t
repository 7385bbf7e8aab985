#!/bin/sh
# Interrupts and lost connections.  Ctrl-C (SIGINT) on a command without a
# terminal goes to the command, which decides; a second one leaves at once.
# An attached client whose server dies says so, names the session and exits
# 255; the session's process survives in the sprite (the session itself, kept
# by spritesd, does not).  A TTY session survives its client being killed:
# --attach picks it up, scrollback first, then the rest and the exit.
# shellcheck disable=SC2016 # $VARS in single quotes are for the sprite's shell
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"



now_ms() { echo $(($(date +%s%N) / 1000000)); }

# running PATTERN: pgrep -fx PATTERN in sprite $S (status 0 when it runs).
running() { sprite-exec -s "$S" -n -- pgrep -fx "$1" >/dev/null; }

# wait_running PATTERN: until it runs in sprite $S (5 s at most).
wait_running() {
	i=0
	until running "$1" || [ "$i" -ge 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
}

# wait_file FILE TEXT: until FILE holds TEXT (5 s at most).
wait_file() {
	i=0
	until grep -qF -- "$2" "$1" 2>/dev/null || [ "$i" -ge 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
}

# wait_exit PID MAX_S: until PID has exited (MAX_S at most); false if it has not.
wait_exit() {
	i=0
	while kill -0 "$1" 2>/dev/null; do
		[ "$i" -ge $(($2 * 10)) ] && return 1
		sleep 0.1
		i=$((i + 1))
	done
}

# reap PID MAX_S: $st is the exit status of background job PID, or "hung"
# when it has not ended within MAX_S (it is then killed).  The clients that
# get signals run without timeout(1), which would pass each signal on twice
# (to its child and to its process group).
reap() {
	if wait_exit "$1" "$2"; then
		wait "$1"
		st=$?
	else
		kill -KILL "$1" 2>/dev/null
		wait "$1" 2>/dev/null
		st=hung
	fi
}

# shellcheck disable=SC2119 # no arguments for spritesd
start_spritesd
S=sig
sprite-create "$S" >/dev/null || echo "Bail out! cannot create a sprite"

# ---- Ctrl-C without a terminal: the command's own choice ----
sprite-exec -s "$S" -n -- sh -c 'trap "echo got-int; exit 42" INT; sleep 100 & wait' \
	>"$T/out" 2>"$T/err" &
client=$!
wait_running 'sleep 100'
running 'sleep 100'
ok $? "a command trapping INT runs (its sleep 100 is there)"
kill -INT "$client"
reap "$client" 10
is "$st" 42 "SIGINT to sprite-exec: the command's trap runs and sprite-exec exits with its status, 42"
is "$(cat "$T/out")" got-int "the trap's output arrives (got-int)"
is "$(cat "$T/err")" "" "nothing on stderr"
# (A background job of a non-interactive sh ignores SIGINT: that sleep 100 stays.)
sprite-exec -s "$S" -n -- pkill -fx 'sleep 100'

sprite-exec -s "$S" -n -- sleep 100 >"$T/out" 2>"$T/err" &
client=$!
wait_running 'sleep 100'
kill -INT "$client"
reap "$client" 10
is "$st" 130 "SIGINT to sprite-exec running a plain sleep 100: exit 130 (it died of SIGINT)"
is "$(cat "$T/out")$(cat "$T/err")" "" "with no output"
running 'sleep 100'
is "$?" 1 "and the sleep is gone from the sprite"

# A command that ignores INT: the first ^C changes nothing, a second leaves.
sprite-exec -s "$S" -n -- sh -c 'trap "" INT; sleep 101' >"$T/out" 2>"$T/err" &
client=$!
wait_running 'sleep 101'
kill -INT "$client"
sleep 0.5
kill -0 "$client" 2>/dev/null
ok $? "a command ignoring INT: after one SIGINT sprite-exec still waits for it"
t0=$(now_ms)
kill -INT "$client"
reap "$client" 10
took=$(($(now_ms) - t0))
is "$st/$(cat "$T/out")" "130/" "a second SIGINT: sprite-exec leaves with 130"
[ "$took" -lt 1000 ]
ok $? "at once (${took} ms)"
sprite-exec -s "$S" -n -- pkill -fx 'sleep 101'

# ---- the server dies under an attached client ----
id=$(timeout 20 sprite-exec -s "$S" --detach -- sh -c 'echo started; exec sleep 61' | jq -r .session_id)
sprite-exec -s "$S" -n --attach "$id" >"$T/att.out" 2>"$T/att.err" &
client=$!
wait_file "$T/att.out" started
is "$(cat "$T/att.out")" started "--attach to a detached session: its output so far"
URL=$SPRITESD_URL
stop_spritesd KILL
reap "$client" 5
isnt_hung=0
[ "$st" != hung ] || isnt_hung=1
ok "$isnt_hung" "spritesd is killed: the attached sprite-exec ends within 5 s"
is "$st" 255 "with status 255"
is "$(cat "$T/att.err")" \
	"sprite-exec: connection to $URL lost before the command finished (it may still be running: sprite-exec -s $S --attach $id)" \
	"saying the connection was lost, and how to --attach again"

# shellcheck disable=SC2119 # no arguments for spritesd
start_spritesd
is "$SPRITESD_URL" "$URL" "spritesd is back, at the same address"
running 'sleep 61'
ok $? "the lost session's process still runs in the sprite"
is "$(sprite-sessions -s "$S" | jq -r --arg id "$id" 'select(.id == $id) | .id')" "" \
	"but its session did not survive the restart: not listed"
run sprite-exec -s "$S" -n --attach "$id"
is "$rc" 255 "--attach to it: exit 255"
stderr_is "sprite-exec: session $id not found in sprite \"$S\"" "session ... not found"
sprite-exec -s "$S" -n -- pkill -fx 'sleep 61'

# ---- a TTY session outlives its client: --attach picks it up ----
sprite-exec -s "$S" -t -- sh -c 'echo before; sleep 3; echo after; exit 9' \
	</dev/null >"$T/tty.out" 2>"$T/tty.err" &
client=$!
wait_file "$T/tty.out" before
id=$(sprite-sessions -s "$S" | jq -r 'select(.command == "sh -c echo before; sleep 3; echo after; exit 9") | .id')
printf '%s\n' "$id" | grep -Eqx '[0-9]+'
ok $? "a TTY session runs and is listed ($id)"
kill -KILL "$client"
wait "$client" 2>/dev/null
sleep 0.3
kill -0 "$client" 2>/dev/null
is "$?" 1 "its sprite-exec is gone (killed with SIGKILL)"
is "$(sprite-sessions -s "$S" | jq -r --arg id "$id" 'select(.id == $id) | .is_active')" true \
	"its client killed with SIGKILL, the session is still active"
t0=$(now_ms)
run sprite-exec -s "$S" -n --attach "$id"
took=$(($(now_ms) - t0))
is "$rc" 9 "--attach ID: the session's exit status (9)"
is "$out" "$(printf 'before\r\nafter\r')" "the scrollback (before), then what came later (after)"
is "$err" "" "nothing on stderr"
[ "$took" -ge 1000 ]
ok $? "(the attach waited for the rest: ${took} ms)"

plan "$tap_n"
done_testing
