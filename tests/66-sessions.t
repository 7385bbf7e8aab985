#!/bin/sh
# Exec sessions: sprite-exec --detach and --attach (replay, live output, exit
# status, finished and unknown sessions, the /exec/ID and legacy ?id= forms),
# how long a session outlives its connection (non-TTY 10 s, --detach and TTY
# for ever), sprite-sessions (list, --kill with its NDJSON progress) and the
# kill endpoint over plain HTTP.
# shellcheck disable=SC2016 # $VARS in single quotes are for the sprite's shell
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"



now_ms() { echo $(($(date +%s%N) / 1000000)); }

# session ID: sprite-sessions' line for session ID of sprite $S.
session() { sprite-sessions -s "$S" | jq -c --arg id "$1" 'select(.id == $id)'; }

# detach ARGS...: sprite-exec -s $S --detach ARGS; $id is the session.
detach() {
	id=$(timeout 20 sprite-exec -s "$S" --detach "$@" | jq -r .session_id)
}

# running PATTERN: pgrep -fx PATTERN in sprite $S (status 0 when it runs).
running() { sprite-exec -s "$S" -n -- pgrep -fx "$1" >/dev/null; }

# ws_get PATH: a WebSocket upgrade of PATH with curl, which reads the server's
# frames without answering them (enough for an attach without stdin).  $code
# is the HTTP status; $T/frames has one line per frame: "text JSON",
# "bin BYTES" or "close BYTES", bytes other than printable ASCII as \ooo.
# (A live session ends at curl's 10 s: its complaint goes to $T/ws.err.)
ws_get() {
	code=$(curl -sS --http1.1 --noproxy '*' --max-time 10 -H @"$auth" \
		-H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' \
		-H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' \
		-o "$T/ws.body" -w '%{http_code}' "$SPRITESD_URL$1" 2>"$T/ws.err")
	od -An -v -tu1 "$T/ws.body" | LC_ALL=C awk '
		{ for (i = 1; i <= NF; i++) b[n++] = $i + 0 }
		END {
			p = 0
			while (p + 2 <= n) {
				op = b[p] % 16; len = b[p + 1] % 128; p += 2
				if (len == 126) { len = b[p] * 256 + b[p + 1]; p += 2 }
				else if (len == 127) { len = 0; for (k = 0; k < 8; k++) len = len * 256 + b[p + k]; p += 8 }
				s = ""
				for (k = 0; k < len && p + k < n; k++) {
					c = b[p + k]
					if (op == 1 || (c >= 32 && c < 127 && c != 92)) s = s sprintf("%c", c)
					else s = s sprintf("\\%03o", c)
				}
				p += len
				print (op == 1 ? "text" : op == 2 ? "bin" : op == 8 ? "close" : "op" op) " " s
			}
		}' >"$T/frames"
}

# shellcheck disable=SC2119 # no arguments for spritesd
start_spritesd
S=sess
sprite-create "$S" >/dev/null || echo "Bail out! cannot create a sprite"
auth="$T/auth"
(umask 077 && printf 'Authorization: Bearer %s\n' "$(cat "$STATE/token")" >"$auth")

# ---- --detach ----
# 20 lines in 2 s, then a second more: an attach has something to follow
# live even when a loaded run is slow to start it.
script='i=0; while [ $i -lt 20 ]; do i=$((i + 1)); echo line$i; sleep 0.1; done; sleep 1; exit 7'
t0=$(now_ms)
run sprite-exec -s "$S" --detach -- sh -c "$script"
took=$(($(now_ms) - t0))
is "$rc" 0 "--detach: exit 0"
is "$(wc -l <"$T/out" | tr -d ' ')" 1 "--detach prints exactly one line"
id=$(jq -r .session_id "$T/out")
printf '%s\n' "$id" | grep -Eqx '[0-9]+'
ok $? "with a numeric session id ($id)"
is "$out" "{\"sprite\":\"$S\",\"session_id\":\"$id\",\"tty\":false}" "the line is {\"sprite\",\"session_id\",\"tty\"}"
is "$err" "" "nothing on stderr"
[ "$took" -lt 1000 ]
ok $? "and it returns at once (${took} ms, the command takes 3 s)"

# ---- sprite-sessions lists it ----
run sprite-sessions -s "$S"
is "$rc/$err" "0/" "sprite-sessions -s $S: exit 0"
is "$(wc -l <"$T/out" | tr -d ' ')" 1 "one line for the one session"
is "$(jq -c '{id, command, workdir, is_active, tty}' "$T/out")" \
	"$(jq -nc --arg id "$id" --arg c "sh -c $script" '{id: $id, command: $c, workdir: "/home/sprite", is_active: true, tty: false}')" \
	"its id, command, workdir, is_active true and tty false"
created=$(jq -r .created "$T/out")
printf '%s\n' "$created" | grep -Eqx '[0-9]{4}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]Z'
ok $? "created is RFC 3339 ($created)"
age=$(($(date -u +%s) - $(date -u -d "$created" +%s 2>/dev/null || echo 0)))
[ "$age" -ge -2 ] && [ "$age" -le 5 ]
ok $? "and is the time the session started (${age} s ago)"

# ---- --attach: what was missed, then live, then the exit status ----
sleep 0.7
t0=$(now_ms)
run sprite-exec -s "$S" -n --attach "$id"
took=$(($(now_ms) - t0))
lines=$(i=1; while [ $i -le 20 ]; do echo "line$i"; i=$((i + 1)); done)
is "$rc" 7 "--attach ends with the session's exit status (7)"
is "$out" "$lines" "the lines printed before the attach, then the rest, in order, once each"
is "$err" "" "nothing on stderr"
[ "$took" -ge 500 ]
ok $? "the attach followed the command live for a while (${took} ms)"
run sprite-exec -s "$S" -n --attach "$id"
is "$rc/$out" "7/$lines" "attaching again to the finished session: its output and exit status again"
sleep 1.5
run sprite-exec -s "$S" -n --attach "$id"
is "$rc" 255 "1.5 s after a client received its exit, the session is gone: exit 255"
stderr_is "sprite-exec: session $id not found in sprite \"$S\"" "session ... not found"

# A finished session no client has heard the end of stays attachable.
detach -- sh -c 'echo done-early; exit 4'
i=0
until [ "$(session "$id" | jq -r .is_active)" = false ] || [ "$i" -ge 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
is "$(session "$id" | jq -c '{is_active, exit_code}')" '{"is_active":false,"exit_code":4}' \
	"a detached command that ended: listed with is_active false and its exit_code"
run sprite-exec -s "$S" -n --attach "$id"
is "$rc/$out/$err" "4/done-early/" "attaching after it ended: its output and exit status"

# More output than the scrollback keeps (256 KiB), with no client: the
# command does not wait for one (its oldest output is dropped), and an
# attach gets the last of it and the exit status, 3 times out of 3 with -n,
# and also with a standard input to forward (to a session that has ended).
seq 1 200000 >"$T/seq.all"
echo END >>"$T/seq.all"
ids=
for try in 1 2 3 4; do
	detach -n -- sh -c 'seq 1 200000; echo END'
	ids="$ids $id"
done
t0=$(now_ms)
for id in $ids; do
	until [ "$(session "$id" | jq -r .is_active)" = false ] || [ $(($(now_ms) - t0)) -ge 10000 ]; do
		sleep 0.1
	done
done
is "$(for id in $ids; do session "$id" | jq -c '{is_active, exit_code}'; done | sort -u)" \
	'{"is_active":false,"exit_code":0}' "4 detached commands printing 1.3 MB end with no client reading"
bad=
try=0
for id in $ids; do
	try=$((try + 1))
	if [ "$try" -le 3 ]; then
		timeout 20 sprite-exec -s "$S" -n --attach "$id" >"$T/seq.got" 2>"$T/err"
	else
		timeout 20 sprite-exec -s "$S" --attach "$id" <"$T/seq.all" >"$T/seq.got" 2>"$T/err"
	fi
	st=$?
	n=$(wc -c <"$T/seq.got" | tr -d ' ')
	if [ "$st" -ne 0 ] || [ "$n" -eq 0 ] || [ "$n" -gt 262144 ] || ! tail -c "$n" "$T/seq.all" | cmp -s - "$T/seq.got"; then
		bad="$bad try $try: status $st, $n bytes, $(head -c 150 "$T/err");"
	fi
	[ "$try" -eq 3 ] && { is "$bad" "" "attaching to each with -n: status 0 and the last (at most 256 KiB) of the output, 3 times out of 3"; bad=; }
done
is "$bad" "" "the same when attaching with a standard input to forward (a 1.3 MB file)"

run sprite-exec -s "$S" -n --attach 999999
is "$rc/$out" "255/" "--attach to an unknown session: exit 255"
stderr_is "sprite-exec: session 999999 not found in sprite \"$S\"" "and says it was not found"

# ---- the two attach forms, at the protocol level ----
for form in path legacy; do
	detach -- sh -c "echo $form-1; sleep 0.3; echo $form-2; exit 7"
	if [ "$form" = path ]; then
		ws_get "/v1/sprites/$S/exec/$id?stdin=false"
	else
		ws_get "/v1/sprites/$S/exec?id=$id&stdin=false"
	fi
	is "$code" 101 "$form form: the upgrade is accepted (101)"
	is "$(sed -n '1s/^text //p' "$T/frames" | jq -c '{type, session_id, tty, is_owner}')" \
		"{\"type\":\"session_info\",\"session_id\":\"$id\",\"tty\":false,\"is_owner\":false}" \
		"$form form: session_info first, for that session, not its owner"
	is "$(grep '^bin \\001' "$T/frames" | cut -c9- | tr -d '\n')" "$form-1\\012$form-2\\012" \
		"$form form: the output as stdout frames"
	is "$(grep -v '^text ' "$T/frames" | tail -n 2 | tr '\n' ' ')" 'bin \003\007 close \003\350 ' \
		"$form form: the exit frame (03 07) last, then a normal close"
	ws_get "/v1/sprites/$S/exec$([ "$form" = path ] && echo /999999 || echo '?id=999999')"
	is "$code/$(wc -c <"$T/ws.body" | tr -d ' ')" 404/0 "$form form: an unknown session is 404 with an empty body"
done

# ---- how long sessions outlive their connection ----
sprite-exec -s "$S" -n -- sleep 30 >/dev/null 2>&1 &
client=$!
detach -- sleep 31
kept=$id
# (20 s: it must outlive the 10 to 15 s of the checks below, however slow
# the run)
detach -t -- sh -c 'echo tty-hello; sleep 20; echo tty-bye; exit 6'
tty_id=$id
i=0
until running 'sleep 30' || [ "$i" -ge 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
running 'sleep 30'
ok $? "sleep 30 runs, its sprite-exec connected"
nonint=$(sprite-sessions -s "$S" | jq -r 'select(.command == "sleep 30") | .id')
kill -9 "$client"
wait "$client" 2>/dev/null
gone=$(now_ms)
sleep 5
running 'sleep 30'
ok $? "5 s after its client was killed (kill -9) the command still runs"
until ! running 'sleep 30' || [ $(($(now_ms) - gone)) -ge 15000 ]; do
	sleep 0.25
done
took=$(($(now_ms) - gone))
! running 'sleep 30'
ok $? "later it is gone"
[ "$took" -ge 9000 ] && [ "$took" -le 12500 ]
ok $? "about 10 s after the disconnect (${took} ms)"
is "$(session "$nonint" | jq -c '{is_active, exit_code}')" '{"is_active":false,"exit_code":137}' \
	"its session ended with 137 (SIGKILL)"
running 'sleep 31'
ok $? "the --detach'ed sleep 31 still runs ($(($(now_ms) - gone)) ms after the disconnect)"
is "$(session "$kept" | jq -r .is_active)" true "and its session is active"
is "$(session "$tty_id" | jq -c '{is_active, tty}')" '{"is_active":true,"tty":true}' \
	"the detached TTY session is still listed, active, with tty true"
run sprite-exec -s "$S" -n --attach "$tty_id"
is "$rc" 6 "attaching to it gives its exit status (6)"
is "$out" "$(printf 'tty-hello\r\ntty-bye\r')" "and its output: what it printed long ago, then the rest"

# ---- sprite-sessions --kill ----
detach -- sleep 300
run sprite-sessions -s "$S" --kill "$id"
is "$rc/$err" "0/" "--kill ID (TERM): exit 0"
is "$out" "$(printf '%s\n' \
	"{\"type\":\"signal\",\"message\":\"Signaling SIGTERM to process group $id\",\"signal\":\"SIGTERM\",\"pid\":$id}" \
	'{"type":"exited","message":"Process exited"}' \
	'{"type":"complete","exit_code":143}')" "NDJSON: signal, exited, complete with exit_code 143"
run sprite-sessions -s "$S" --kill "$id"
is "$rc/$out" "0/" "--kill of a session that has already exited: exit 0 (410 is not an error)"
stderr_is "sprite-sessions: session $id has already exited" "and says it has already exited"

detach -- sleep 300
run sprite-sessions -s "$S" --kill "$id" --signal INT
is "$rc" 0 "--kill ID --signal INT: exit 0"
is "$(jq -c '[.type, .signal // .exit_code]' "$T/out" | tr '\n' ' ')" '["signal","SIGINT"] ["exited",null] ["complete",130] ' \
	"signal SIGINT, exited, complete with exit_code 130"

# A process group that ignores TERM: SIGKILL after the timeout; each line as it happens.
detach -- sh -c 'trap "" TERM; sleep 300'
t0=$(now_ms)
timeout 20 sprite-sessions -s "$S" --kill "$id" --timeout 1s 2>"$T/err" | while IFS= read -r l; do
	printf '%s %s\n' "$(($(now_ms) - t0))" "$l"
done >"$T/timed"
cut -d' ' -f2- "$T/timed" >"$T/out"
is "$(cat "$T/out")" "$(printf '%s\n' \
	"{\"type\":\"signal\",\"message\":\"Signaling SIGTERM to process group $id\",\"signal\":\"SIGTERM\",\"pid\":$id}" \
	"{\"type\":\"timeout\",\"message\":\"Timeout, sending SIGKILL to process group $id\"}" \
	'{"type":"killed","message":"Process killed"}' \
	'{"type":"complete","exit_code":137}')" \
	"ignoring TERM, --timeout 1s: signal, timeout, killed, complete with exit_code 137"
first=$(sed -n '1s/ .*//p' "$T/timed")
last=$(sed -n '$s/ .*//p' "$T/timed")
[ "${first:-9999}" -lt 1000 ] && [ "${last:-0}" -ge 1000 ] && [ "${last:-9999}" -lt 4000 ] &&
	[ $((${last:-0} - ${first:-9999})) -ge 500 ]
ok $? "streamed: the signal line at once (${first:-none} ms), the end after the 1 s timeout (${last:-none} ms)"
is "$(cat "$T/err")" "" "nothing on stderr"
running 'sleep 300'
is "$?" 1 "no sleep 300 is left in the sprite"

run sprite-sessions -s "$S" --kill 999999
is "$rc/$out" "1/" "--kill of an unknown session: exit 1"
stderr_is "sprite-sessions: session 999999 not found in sprite \"$S\" (sprite-sessions -s $S lists them)" \
	"and says it was not found"

# ---- the kill endpoint over plain HTTP, with a JSON body ----
detach -- sleep 300
code=$(curl -sS --noproxy '*' --max-time 20 -H @"$auth" -H 'Content-Type: application/json' \
	--data-binary '{"signal":"SIGTERM","timeout":10}' -D "$T/headers" -o "$T/body" -w '%{http_code}' \
	"$SPRITESD_URL/v1/sprites/$S/exec/$id/kill")
is "$code" 200 "POST /v1/sprites/$S/exec/ID/kill with {\"signal\":\"SIGTERM\",\"timeout\":10}: 200"
is "$(grep -i '^content-type:' "$T/headers" | tr -d '\r')" "content-type: application/x-ndjson" \
	"the response is application/x-ndjson"
is "$(jq -c '[.type, .signal // .exit_code]' "$T/body" | tr '\n' ' ')" '["signal","SIGTERM"] ["exited",null] ["complete",143] ' \
	"signal SIGTERM, exited, complete with exit_code 143"

# The detached sleep 31 would outlive the test's sprite otherwise (cleanup destroys it anyway).
sprite-sessions -s "$S" --kill "$kept" --timeout 0 >/dev/null 2>&1

plan "$tap_n"
done_testing
