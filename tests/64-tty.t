#!/bin/sh
# sprite-exec -t, driven through a real terminal: the test's own tmux (a
# private server) runs sprite-exec -t in a pane, types into it and reads the
# screen.  The remote terminal has the local size and follows resizes; it is
# a /dev/pts; its exit status comes back; Ctrl-C is a byte for the remote
# shell; the local terminal is restored.  Also -t without a local terminal.
# shellcheck disable=SC2016 # $VARS in single quotes are for the sprite's shell
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"



command -v tmux >/dev/null || { echo "Bail out! tmux is not installed: run scripts/install-deps"; exit 1; }
SOCK="$T/tmux.sock"
# The test's tmux server goes with the test (it is not under $T/state).
trap 'tmux -S "$SOCK" kill-server 2>/dev/null; cleanup' EXIT

tm() { tmux -S "$SOCK" "$@"; }

# screen: the lines of the pane of tmux session $PANE, its scrollback included.
screen() { tm capture-pane -p -S -200 -t "$PANE" 2>/dev/null; }

# wait_line REGEX: wait (10 s at most) for a whole line of the pane to match
# REGEX (grep -E); $line is the first one that does.
wait_line() {
	i=0
	line=
	while [ "$i" -lt 100 ]; do
		line=$(screen | grep -E -x -m 1 -- "$1")
		[ -n "$line" ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	diag "no line matching /$1/ on the screen:"
	screen | grep . | sed 's/^/#   | /'
	return 1
}

# type_line TEXT: type TEXT and Enter into the pane.
type_line() { tm send-keys -t "$PANE" -l "$1" && tm send-keys -t "$PANE" Enter; }

# wait_file FILE: until FILE is not empty (5 s at most).
wait_file() {
	i=0
	while [ ! -s "$1" ] && [ "$i" -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
}

# shellcheck disable=SC2119 # no arguments for spritesd
start_spritesd
sprite-create term >/dev/null || echo "Bail out! cannot create a sprite"

# ---- an interactive shell on a 100x30 terminal ----
PANE=term
tm -f /dev/null new-session -d -s term -x 100 -y 30 \
	"stty -g >'$T/stty.before'; sprite-exec -t -s term -- bash --norc -i; echo \"EXIT=\$?\"; stty -g >'$T/stty.after'; exec sleep 300"
ok $? "the test's tmux runs sprite-exec -t -s term -- bash --norc -i in a 100x30 pane"
wait_line 'bash-[0-9.]+[#$]'
ok $? "the remote bash prompts"
pane_tty=$(tm display-message -p -t term '#{pane_tty}')
is "$(stty -F "$pane_tty" -a | tr ' ' '\n' | grep -E -x -- '-?(icanon|echo|isig)' | tr '\n' ' ')" \
	"-isig -icanon -echo " "meanwhile the local terminal ($pane_tty) is raw: no line editing, echo or signals"

type_line 'echo "S:$(stty size) H:$(hostname)"'
wait_line 'S:.*'
is "$line" "S:30 100 H:term" "stty size in the sprite: 30 100, the local terminal's size"

tm resize-window -t term -x 120 -y 40
ok $? "tmux resize-window -x 120 -y 40"
sleep 0.3
type_line 'echo "R:$(stty size)"'
wait_line 'R:.*'
is "$line" "R:40 120" "stty size follows the resize: 40 120 (SIGWINCH sent on as a resize)"

type_line 'echo "T:$(tty)"'
wait_line 'T:.*'
like "$line" "T:/dev/pts/" "tty names a /dev/pts terminal ($line)"

# ---- Ctrl-C is a byte for the remote terminal ----
type_line 'sleep 100'
i=0
until sprite-exec -s term -n -- pgrep -fx 'sleep 100' >/dev/null; do
	i=$((i + 1))
	[ "$i" -gt 50 ] && break
	sleep 0.1
done
sprite-exec -s term -n -- pgrep -fx 'sleep 100' >/dev/null
ok $? "sleep 100 runs in the remote bash"
tm send-keys -t term C-c
type_line 'echo "I:$?"'
wait_line 'I:.*'
is "$line" "I:130" "Ctrl-C interrupts it: the remote bash gets its prompt back, and \$? is 130"
run sprite-exec -s term -n -- pgrep -fx 'sleep 100'
is "$rc" 1 "the sleep is gone"

# ---- the exit status, and the local terminal afterwards ----
type_line 'exit 5'
wait_line 'EXIT=.*'
is "$line" "EXIT=5" "exit 5 in the remote shell: sprite-exec exits 5"
wait_file "$T/stty.after"
[ -s "$T/stty.before" ] && [ -s "$T/stty.after" ]
ok $? "the pane's terminal settings were saved before and after"
is "$(cat "$T/stty.after")" "$(cat "$T/stty.before")" "the local terminal is restored afterwards (stty -g the same)"

# ---- ended by a signal, sprite-exec restores the terminal too ----
PANE=sig
tm new-session -d -s sig -x 100 -y 30 \
	"stty -g >'$T/sig.before'; sprite-exec -t -s term -- bash --norc -i; echo \"EXIT=\$?\"; stty -g >'$T/sig.after'; exec sleep 300"
wait_line 'bash-[0-9.]+[#$]'
ok $? "another pane: a remote bash prompts"
client=$(pgrep -f -n '^sprite-exec -t -s term -- bash --norc -i$')
kill -TERM "$client"
wait_line '.*EXIT=[0-9]+'
is "EXIT=${line##*EXIT=}" "EXIT=143" "SIGTERM to its sprite-exec: exit 143 (after the remote prompt: no newline came)"
wait_file "$T/sig.after"
is "$(cat "$T/sig.after")" "$(cat "$T/sig.before")" "and the local terminal is restored (stty -g the same)"

# ---- attaching from a terminal to a detached TTY session ----
id=$(timeout 20 sprite-exec -s term -t --detach -- bash --norc -i | jq -r .session_id)
PANE=att
tm new-session -d -s att -x 90 -y 20 \
	"stty -g >'$T/att.before'; sprite-exec -s term --attach $id; echo \"EXIT=\$?\"; stty -g >'$T/att.after'; exec sleep 300"
wait_line 'bash-[0-9.]+[#$]'
ok $? "sprite-exec --attach in a 90x20 pane to a detached bash -i: its prompt"
type_line 'echo "A:$(stty size)"'
wait_line 'A:.*'
is "$line" "A:20 90" "the session's terminal takes the attaching terminal's size (20 90)"
type_line 'exit 4'
wait_line 'EXIT=.*'
is "$line" "EXIT=4" "exit 4 in it: the attached sprite-exec exits 4"
wait_file "$T/att.after"
is "$(cat "$T/att.after")" "$(cat "$T/att.before")" "and the local terminal is restored (stty -g the same)"
tm kill-server 2>/dev/null

# ---- -t without a local terminal ----
echo 'echo hi; exit 3' | timeout 60 sprite-exec -t -s term -- sh >"$T/out" 2>"$T/err"
is "$?" 3 "echo 'echo hi; exit 3' | sprite-exec -t -s term -- sh: exit 3"
like "$(cat "$T/out")" "echo hi; exit 3" "the remote terminal echoes what came from the pipe"
is "$(tail -c 4 "$T/out" | od -An -c | tr -s ' ')" " h i \r \n" "and the output ends with the command's hi (CR LF: a terminal's)"
is "$(cat "$T/err")" "" "nothing on stderr"
run sprite-exec -t -s term -- sh -c 'echo to-err >&2; stty size' </dev/null
is "$rc" 0 "-t with stdin /dev/null: exit 0"
is "$(tr -d '\r' <"$T/out")" "$(printf 'to-err\n24 80')" \
	"stderr goes to the terminal too, which is 24x80 without a local terminal"
is "$err" "" "nothing on sprite-exec's stderr"

plan "$tap_n"
done_testing
