#!/bin/sh
# sprite-sendkeys: text as a bracketed paste then a separate Enter, named keys
# as keys, nothing ever parsed by a shell; --json streams requests over one
# exec.  Each case types into its own tmux window in a real sprite, whose
# program turns on bracketed paste and records every byte it receives raw.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

start_spritesd
sprite-create sk >/dev/null || { echo "Bail out! cannot create a sprite"; exit 1; }

# The recorder: what a TUI like Claude Code's does (ask for bracketed
# paste, read the terminal raw), keeping the bytes in the file $1.
sprite-exec -s sk -- sh -c 'cat >/tmp/rec; tmux new-session -d -s task-daemon -n idle' <<'EOF'
printf '\033[?2004h'
stty raw -echo
exec cat >"$1"
EOF
is "$?" 0 "tmux session task-daemon started in the sprite"

# pane NAME: a new window running the recorder into /tmp/got-NAME, ready.
pane() {
	# shellcheck disable=SC2016 # the sprite's shell expands them
	sprite-exec -s sk -- sh -c '
		tmux new-window -d -t task-daemon -n "$1" "sh /tmp/rec /tmp/got-$1"
		i=0
		while [ ! -e "/tmp/got-$1" ] && [ "$i" -lt 500 ]; do sleep 0.01; i=$((i + 1)); done' \
		pane "$1"
}

# got NAME WANT-FILE DESCRIPTION: the window received exactly the bytes of
# WANT-FILE (waiting up to 5 s for them to arrive).
got() {
	i=0
	while :; do
		sprite-exec -s sk -- cat "/tmp/got-$1" >"$T/got" 2>/dev/null
		cmp -s "$2" "$T/got" && break
		[ "$i" -ge 50 ] && break
		sleep 0.1
		i=$((i + 1))
	done
	cmp -s "$2" "$T/got"
	ok $? "$3"
	cmp -s "$2" "$T/got" || printf '#   got:  %s\n#   want: %s\n' "$(od -c "$T/got" | head -5)" "$(od -c "$2" | head -5)"
}

paste_of() { printf '\033[200~%s\033[201~' "$1"; }

# ---- text, then Enter ----
pane a
run sprite-sendkeys -s sk -t task-daemon:a 'fix the login bug'
is "$rc/$out/$err" "0//" "text: exit 0, nothing printed"
{ paste_of 'fix the login bug'; printf '\r'; } >"$T/want"
got a "$T/want" "the text arrives as one bracketed paste, then a separate Enter (CR)"

# ---- untrusted text: never parsed by a shell ----
pane b
nasty="\$(touch /tmp/pwned) \`touch /tmp/pwned2\`; rm -rf / & \"double\" 'single' \\ ; | > /tmp/x
second line	with a tab; \$HOME \${IFS} *"
run sprite-sendkeys -s sk -t task-daemon:b "$nasty"
is "$rc" 0 "shell metacharacters, quotes and a newline: exit 0"
# tmux pastes a newline as CR, as terminals do; it stays inside the paste.
{ paste_of "$nasty" | tr '\n' '\r'; printf '\r'; } >"$T/want"
got b "$T/want" "they arrive byte for byte, the newline inside the paste"
run sprite-exec -s sk -- sh -c 'ls /tmp/pwned /tmp/pwned2 /tmp/x 2>/dev/null | wc -l'
is "$out" 0 "and nothing in them was executed"

# ---- --no-enter, named keys ----
pane c
run sprite-sendkeys -s sk -t task-daemon:c --no-enter 'draft'
is "$rc/$out/$err" "0//" "--no-enter: exit 0"
run sprite-sendkeys -s sk -t task-daemon:c --key Escape --key Up --key C-c --key y --key 1
is "$rc/$out/$err" "0//" "keys alone: exit 0"
{ paste_of 'draft'; printf '\033\033[A\003y1'; } >"$T/want"
got c "$T/want" "--no-enter sends no Enter; keys arrive as keys (ESC, Up, ^C, y, 1), with no Enter after"
pane c2
run sprite-sendkeys -s sk -t task-daemon:c2 --key Escape 'then this'
{ paste_of 'then this'; printf '\033\r'; } >"$T/want"
got c2 "$T/want" "text and a key: the paste, the key, then Enter"

# ---- text on stdin ----
pane d
printf 'from stdin\nline two\n' | sprite-sendkeys -s sk -t task-daemon:d >"$T/out" 2>"$T/err"
is "$?/$(cat "$T/out" "$T/err")" "0/" "text from stdin: exit 0"
{ paste_of "from stdin$(printf '\r')line two"; printf '\r'; } >"$T/want"
got d "$T/want" "stdin's one final newline is not typed, the inner one is pasted"

# A long prompt: 100 KiB, exactly.
pane e
head -c 76800 /dev/urandom | base64 -w 100 >"$T/long"
sprite-sendkeys -s sk -t task-daemon:e --no-enter <"$T/long"
is "$?" 0 "a 100 KiB prompt: exit 0"
{ printf '\033[200~'; head -c "$(($(wc -c <"$T/long") - 1))" "$T/long" | tr '\n' '\r'; printf '\033[201~'; } >"$T/want"
got e "$T/want" "it arrives whole"

# ---- --json: a stream of requests over one exec ----
pane f
pane g
cat >"$T/req" <<'EOF'
{"target":"task-daemon:f","text":"one"}
{"target":"task-daemon:g","keys":["Escape","y"]}
not json
{"target":"task-daemon:f","text":"two","enter":false}
{"target":"bad target; rm -rf /","text":"x"}
{"target":"task-daemon:f","keys":["Down"],"enter":true}
{"target":"task-daemon:nowhere","text":"lost"}
{"target":"task-daemon:g","text":"$(id)"}
EOF
run sprite-sendkeys -s sk --json <"$T/req"
is "$rc" 1 "--json with bad requests: exit 1"
cat >"$T/want" <<'EOF'
{"n":1,"target":"task-daemon:f","ok":true}
{"n":2,"target":"task-daemon:g","ok":true}
{"n":3,"target":"task-daemon:f","ok":true}
{"n":4,"target":"task-daemon:f","ok":true}
{"n":5,"target":"task-daemon:nowhere","ok":false,"error":"can't find window: nowhere"}
{"n":6,"target":"task-daemon:g","ok":true}
EOF
cmp -s "$T/want" "$T/out"
ok $? "one JSON line per request sent, in order, each with its outcome"
like "$err" "sprite-sendkeys: stdin line 3: not a JSON object: skipped" "a line that is not JSON is named and skipped"
like "$err" "sprite-sendkeys: stdin line 5: bad target: use a tmux target such as task-daemon:task-7: skipped" \
	"a bad target too"
unlike "$err" "nowhere" "a request that failed is told on stdout only"
{ paste_of one; printf '\r'; paste_of two; printf '\033[B\r'; } >"$T/want"
got f "$T/want" "window f got its requests in order"
# shellcheck disable=SC2016 # the text itself
{ printf '\033y'; paste_of '$(id)'; printf '\r'; } >"$T/want"
got g "$T/want" "window g too, the command substitution as text"

# -t is the default target of requests that have none.
pane h
printf '%s\n' '{"text":"defaulted"}' '{"target":"task-daemon:h","keys":["z"]}' |
	sprite-sendkeys -s sk -t task-daemon:h --json >"$T/out"
is "$?/$(cat "$T/out")" '0/{"n":1,"target":"task-daemon:h","ok":true}
{"n":2,"target":"task-daemon:h","ok":true}' "--json -t TARGET: the default target"
{ paste_of defaulted; printf '\rz'; } >"$T/want"
got h "$T/want" "both delivered"

# One exec for the lot: the sprite's session count goes up by one per run.
pane i
seq 1 50 | jq -c '{target: "task-daemon:i", text: tostring, enter: false}' >"$T/many"
sprite-sendkeys -s sk --json <"$T/many" >"$T/out"
is "$?/$(wc -l <"$T/out" | tr -d ' ')" "0/50" "50 requests: 50 answers"
seq 1 50 | while read -r n; do paste_of "$n"; done >"$T/want"
got i "$T/want" "delivered in order"
grep -c 'WS /v1/sprites/sk/exec ' "$T/spritesd.log" >"$T/before"
printf '%s\n' '{"target":"task-daemon:i","keys":["a"]}' '{"target":"task-daemon:i","keys":["b"]}' |
	sprite-sendkeys -s sk --json >/dev/null
is "$(($(grep -c 'WS /v1/sprites/sk/exec ' "$T/spritesd.log") - $(cat "$T/before")))" 1 "several requests, one exec"

# A closed stdout: it stops quietly.
sprite-sendkeys -s sk --json <"$T/many" 2>"$T/err" | head -n 1 >"$T/out"
is "$(cat "$T/out")/$(cat "$T/err")" '{"n":1,"target":"task-daemon:i","ok":true}/' "| head -n 1: the first answer, no complaint"

# ---- failures ----
run sprite-sendkeys -s sk -t task-daemon:nowhere hello
is "$rc/$out" "1/" "a missing window: exit 1"
stderr_is "sprite-sendkeys: could not send to task-daemon:nowhere: can't find window: nowhere" "says so, with tmux's message"

run sprite-sendkeys -s ghost -t task-daemon:a hello
is "$rc" 1 "a sprite that does not exist: exit 1"
stderr_is 'sprite-sendkeys: sprite "ghost" not found (sprite-list shows what exists)' "says so"

run sprite-sendkeys -s sk hello
is "$rc" 2 "no target: exit 2"
stderr_is 'sprite-sendkeys: no target: use -t TARGET or give "target"' "says so"
run sprite-sendkeys -s sk -t 'a b' hello
is "$rc" 2 "a target with a blank: exit 2"
run sprite-sendkeys -s sk -t 'x;id' hello
is "$rc" 2 "a target with a semicolon: exit 2"
run sprite-sendkeys -s sk -t task-daemon:a --key 'Escape;id'
is "$rc" 2 "a key with a semicolon: exit 2"
stderr_is "sprite-sendkeys: bad key name: use tmux key names such as Escape, Up, C-c, Enter, 1" "says so"
run sprite-sendkeys -s sk -t task-daemon:a </dev/null
is "$rc" 2 "no text, no key: exit 2"
stderr_is "sprite-sendkeys: nothing to send" "says so"
run sprite-sendkeys -s sk --json hello </dev/null
is "$rc" 2 "--json TEXT: exit 2"
run sprite-sendkeys -s sk --json --key y </dev/null
is "$rc" 2 "--json --key: exit 2"
run sprite-sendkeys -t task-daemon:a hello
is "$rc" 2 "no sprite: exit 2"
stderr_is "sprite-sendkeys: which sprite? use -s SPRITE or set SPRITE (sprite-list shows what exists)" "says so"
SPRITE=sk run sprite-sendkeys -t task-daemon:nowhere hello
is "$rc" 1 "SPRITE names the sprite"
run sprite-sendkeys -h
is "$rc" 0 "-h: exit 0"
like "$out" "usage: sprite-sendkeys" "usage on stdout"
run sprite-sendkeys --bogus
is "$rc" 2 "an unknown option: exit 2"

stop_spritesd
run sprite-sendkeys -s sk -t task-daemon:a hello
is "$rc" 1 "spritesd down: exit 1"
like "$err" "sprite-sendkeys: " "says so"

plan "$tap_n"
done_testing
