#!/bin/sh
# sprite-exec: output byte-exact and kept apart, exit statuses, environment and
# working directory, stdin (large, absent, closed), commands that cannot run,
# --json events, concurrency, choosing the sprite, and a reader that goes away.
# shellcheck disable=SC2016 # $VARS in single quotes are for the sprite's shell
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"



# same FILE1 FILE2 DESC: the files are byte for byte the same.
same() {
	cmp "$1" "$2" >"$T/cmp" 2>&1
	ok $? "$3"
	[ -s "$T/cmp" ] && sed 's/^/#   /' "$T/cmp"
	return 0
}

# shellcheck disable=SC2119 # no arguments for spritesd
start_spritesd
sprite-create box >/dev/null || echo "Bail out! cannot create a sprite"

# ---- stdout and stderr: apart and byte-exact ----
printf 'out\0put' >"$T/want.out"
printf 'err\0\377or' >"$T/want.err"
run sprite-exec -s box -n -- sh -c 'printf "out\0put"; printf "err\0\377or" >&2'
is "$rc" 0 "a command that succeeds: exit 0"
same "$T/want.out" "$T/out" "stdout byte-exact: a NUL byte, no trailing newline"
same "$T/want.err" "$T/err" "stderr byte-exact and apart from stdout"

# Interleaved writes still land on the right side.
run sprite-exec -s box -n -- sh -c 'for i in 1 2 3 4 5; do echo "o$i"; echo "e$i" >&2; done'
is "$out" "$(printf 'o%s\n' 1 2 3 4 5)" "interleaved: all of stdout, in order"
is "$err" "$(printf 'e%s\n' 1 2 3 4 5)" "interleaved: all of stderr, in order"

# ---- exit statuses ----
run sprite-exec -s box -n -- false
is "$rc" 1 "exit 1 is returned"
run sprite-exec -s box -n -- sh -c 'exit 3'
is "$rc" 3 "exit 3 is returned"
is "$out$err" "" "with no output of its own"
run sprite-exec -s box -n -- sh -c 'exit 255'
is "$rc" 255 "exit 255 is returned"
run sprite-exec -s box -n -- sh -c 'kill -TERM $$'
is "$rc" 143 "death by SIGTERM: 128+15"

run env SPRITES_API_URL=http://127.0.0.1:1 SPRITES_TOKEN=unused sprite-exec -s box -n -- true
is "$rc" 255 "an unreachable server: exit 255"
is "$out" "" "with nothing on stdout"
like "$err" "sprite-exec: cannot reach http://127.0.0.1:1: " "and a message saying it cannot reach the server"

# ---- environment and working directory ----
run sprite-exec -s box -n -- sh -c 'pwd; printf "%s\n" "$HOME"'
is "$out" "$(printf '/home/sprite\n/home/sprite')" "default working directory and HOME are /home/sprite"
run sprite-exec -s box -n -e 'K=a=b  c d' -e 'L=x' -- sh -c 'printf "[%s][%s]" "$K" "$L"'
is "$out" "[a=b  c d][x]" "-e K=V: a value with '=' and spaces arrives intact; -e repeats"
run sprite-exec -s box -n -e HOME=/tmp -- sh -c 'printf "%s" "$HOME"'
is "$out" "/tmp" "-e can replace a default variable"
run sprite-exec -s box -n -C /tmp -- pwd
is "$out" "/tmp" "-C DIR sets the working directory"
run sprite-exec -s box -n -C /workspace -- sh -c 'pwd; printf "%s" "$HOME"'
is "$out" "$(printf '/workspace\n/home/sprite')" "-C does not change HOME"
run sprite-exec -s box -n -C /no/such/dir -- true
is "$rc" 126 "-C to a missing directory: exit 126 (the command cannot start)"
stderr_is "sprite: cannot change to directory /no/such/dir: No such file or directory" "and says so"
run sprite-exec -s box -n -e NOEQUALS -- true
is "$rc" 2 "-e without '=': exit 2"
stderr_is 'sprite-exec: bad -e "NOEQUALS": use -e NAME=VALUE' "and says how to write it"

# Options end at the command: its own flags stay its own.
run sprite-exec -s box -n echo -s x
is "$out" "-s x" "flags after the command belong to the command"

# ---- stdin ----
head -c 10485760 /dev/urandom >"$T/big"
run sprite-exec -s box -- cat <"$T/big"
is "$rc" 0 "10 MiB through cat (stdin a file): exit 0"
same "$T/big" "$T/out" "10 MiB of random bytes come back byte-exact"
timeout 60 cat "$T/big" | timeout 60 sprite-exec -s box -- cat >"$T/out2" 2>"$T/err"
same "$T/big" "$T/out2" "10 MiB through a pipe come back byte-exact"
printf 'abc' >"$T/abc"
run sprite-exec -s box -- wc -c <"$T/abc"
is "$out" 3 "stdin's EOF reaches the command"
run sprite-exec -s box -- cat </dev/null
is "$rc/$out" "0/" "an empty stdin: EOF at once"
run sprite-exec -s box -n -- cat </dev/zero
is "$rc" 0 "-n: cat ends although our stdin never does"
is "$out" "" "-n: the command reads nothing"
run sprite-exec -s box -n -- wc -c <"$T/abc"
is "$out" 0 "-n: stdin is not sent"

# Stdin that arrives faster than the command reads it: spritesd must keep
# feeding the pipe once it has filled (64 KiB), and not stall.  (It did, now
# and then: lws clears POLLOUT after a RAW_WRITEABLE_FILE callback.)
head -c 200000 /dev/zero >"$T/200k"
stalled=0
for try in 1 2 3; do
	timeout 10 sprite-exec -s box -- sh -c 'sleep 1; exec wc -c' <"$T/200k" >"$T/out" 2>"$T/err"
	[ "$(cat "$T/out")" = 200000 ] || { stalled=$try; break; }
done
is "$stalled" 0 "200 KB of stdin to a command that reads late all arrive, 3 times out of 3 (else: the try that stalled)"
timeout 20 sprite-exec -s box -- sha256sum <"$T/big" >"$T/out" 2>"$T/err"
is "$(cut -d' ' -f1 "$T/out")" "$(sha256sum <"$T/big" | cut -d' ' -f1)" \
	"sha256sum in the sprite sees exactly the 10 MiB sent"

# ---- commands that cannot run ----
run sprite-exec -s box -n -- no-such-command
is "$rc" 127 "a command that does not exist: exit 127"
is "$out" "" "nothing on stdout"
stderr_is "sprite: no-such-command: command not found" "and 'command not found' on stderr"
sprite-exec -s box -n -- sh -c 'printf "#!/bin/sh\necho ran\n" >/home/sprite/noexec; chmod 644 /home/sprite/noexec'
run sprite-exec -s box -n -- /home/sprite/noexec
is "$rc" 126 "a file that is not executable: exit 126"
is "$out" "" "it did not run"
stderr_is "sprite: /home/sprite/noexec: permission denied" "and 'permission denied' on stderr"

# ---- --json ----
printf 'h\303\251llo \342\234\223\n' >"$T/utf8"
printf '\377\000\001\376' >"$T/bin"
run sprite-exec -s box -n --json -- sh -c 'printf "h\303\251llo \342\234\223\n"; sleep 0.1; printf "\377\000\001\376" >&2; exit 5'
is "$rc" 5 "--json returns the command's status"
is "$err" "" "--json: nothing on stderr"
is "$(jq -c 'select(type != "object")' "$T/out" 2>&1)" "" "--json: every line is a JSON object"
is "$(head -n 1 "$T/out" | jq -r .type)" session_info "--json: session_info comes first"
is "$(head -n 1 "$T/out" | jq -r '.session_id | type')" string "session_info has a string session_id"
is "$(tail -n 1 "$T/out")" '{"type":"exit","exit_code":5}' "--json: the exit event comes last, exactly"
is "$(sed '1d;$d' "$T/out" | jq -r .type | sort -u | tr '\n' ' ')" "stderr stdout " \
	"--json: only stdout and stderr events in between"
is "$(jq -r 'select(.type == "stdout") | has("data_base64")' "$T/out" | sort -u)" false \
	"UTF-8 output comes as text (\"data\")"
is "$(jq -r 'select(.type == "stderr") | has("data")' "$T/out" | sort -u)" false \
	"other bytes come as \"data_base64\""
jq -j 'select(.type == "stdout") | .data' "$T/out" >"$T/got.utf8"
same "$T/utf8" "$T/got.utf8" "the text decodes to the bytes written"
jq -r 'select(.type == "stderr") | .data_base64' "$T/out" | while read -r line; do
	printf '%s' "$line" | base64 -d
done >"$T/got.bin"
same "$T/bin" "$T/got.bin" "the base64 decodes to the bytes written"

# A long UTF-8 stream is cut into chunks, some inside a character: still text.
prog='BEGIN { printf "x"; for (i = 0; i < 60000; i++) printf "\303\251"; printf "\n" }'
awk "$prog" >"$T/long.utf8"
run sprite-exec -s box -n --json -- awk "$prog"
is "$rc" 0 "--json with 120 KB of UTF-8: exit 0"
is "$(jq -r 'select(.type == "stdout") | has("data_base64")' "$T/out" | sort -u)" false \
	"every chunk of it is text, even where a chunk boundary cuts a character"
jq -j 'select(.type == "stdout") | .data' "$T/out" >"$T/got.long"
same "$T/long.utf8" "$T/got.long" "and the chunks join to the bytes written"

# ---- concurrency ----
i=1
pids=
while [ "$i" -le 20 ]; do
	timeout 60 sprite-exec -s box -n -- sh -c "sleep 0.2; echo out-$i; echo err-$i >&2; exit $((i % 7))" \
		>"$T/c$i.out" 2>"$T/c$i.err" &
	pids="$pids $!"
	i=$((i + 1))
done
i=1
bad=
for pid in $pids; do
	wait "$pid"
	st=$?
	[ "$st" -eq $((i % 7)) ] || bad="$bad $i:status=$st"
	[ "$(cat "$T/c$i.out")" = "out-$i" ] || bad="$bad $i:stdout"
	[ "$(cat "$T/c$i.err")" = "err-$i" ] || bad="$bad $i:stderr"
	i=$((i + 1))
done
is "$bad" "" "20 concurrent execs: each gets its own output and status"

# ---- which sprite ----
run sprite-exec -n -- true
is "$rc" 2 "no -s and no \$SPRITE: exit 2"
stderr_is "sprite-exec: which sprite? use -s SPRITE or set SPRITE (sprite-list shows what exists)" \
	"and says how to name one"
run env SPRITE=box sprite-exec -n -- hostname
is "$rc/$out" "0/box" "\$SPRITE is used when -s is absent"
sprite-create other >/dev/null
run env SPRITE=box sprite-exec -s other -n -- hostname
is "$out" "other" "-s wins over \$SPRITE"
run sprite-exec -s box
is "$rc" 2 "no command: exit 2"
like "$err" "sprite-exec: no command given" "and says so"

# ---- a reader that goes away ----
{
	timeout 20 sprite-exec -s box -n -- yes
	echo "$?" >"$T/yes.rc"
} | head -n 1 >"$T/yes.out"
is "$(cat "$T/yes.out")" y "| head -n 1 gets the first line of an endless command"
is "$(cat "$T/yes.rc")" 141 "sprite-exec then ends promptly, as a local command would (128+SIGPIPE)"

# ---- bytes a URL must carry: newlines, carriage returns, 0xFF ----
run sprite-exec -s box -n -- printf '[%s]\n' "$(printf 'a\nb')" c
is "$out" "$(printf '[a\nb]\n[c]')" "an argument with a newline arrives whole, and the ones after it too"
run sprite-exec -s box -n -e "V=$(printf 'l1\r\nl2')" -- sh -c 'printf %s "$V" | od -An -c | tr -s " "'
is "$out" " l 1 \r \n l 2" "a variable with CR LF arrives byte for byte"
printf 'through stdin' >"$T/in"
run sprite-exec -s box -- sh -c "$(printf 'cat\n# a multi-line script')" <"$T/in"
is "$rc/$out" "0/through stdin" "a multi-line sh -c script keeps the parameters after it (stdin)"
run sprite-exec -s box -n -- printf '%s' "$(printf 'x\377y')"
is "$(od -An -tx1 "$T/out" | tr -d ' ')" "78ff79" "a 0xFF byte in an argument arrives as it is"
run sprite-exec -s box -n --json -- printf '%s' "$(printf '\377')"
is "$(jq -r 'select(.type == "session_info").command' "$T/out")" "printf %s $(printf '\357\277\275')" \
	"session_info shows bytes that are not UTF-8 as U+FFFD"
(umask 077 && printf 'Authorization: Bearer %s\n' "$(cat "$STATE/token")" >"$T/auth")
code=$(curl -s --noproxy '*' -o /dev/null -w '%{http_code}' -H @"$T/auth" -H 'Connection: Upgrade' \
	-H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' \
	"$SPRITESD_URL/v1/sprites/box/exec?cmd=echo&cmd=a%00b")
is "$code" 400 "a NUL byte in a query value is refused with 400"
# Durations out of any sane range (their cast to an integer was undefined).
for d in 1e300s 1e300 inf nan -5s 1e17; do
	code=$(curl -s --noproxy '*' -o /dev/null -w '%{http_code}' -H @"$T/auth" -H 'Connection: Upgrade' \
		-H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' \
		"$SPRITESD_URL/v1/sprites/box/exec?cmd=true&max_run_after_disconnect=$d")
	printf '%s %s\n' "$d" "$code"
done >"$T/durations"
is "$(tr '\n' ' ' <"$T/durations")" "1e300s 400 1e300 400 inf 400 nan 400 -5s 400 1e17 400 " \
	"max_run_after_disconnect out of range, infinite, NaN or negative: 400"

plan "$tap_n"
done_testing
