#!/bin/sh
# Errors: each is one clear line on stderr with the right exit status, and
# nothing half done: a refused token, an unknown or badly named sprite, a
# server that is not running (crashed, stopped, never started), a server that
# dies under a running command.  No token ever shows in a message or the log.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"



# one_line DESC: stderr was a single line.
one_line() { is "$(wc -l <"$T/err" | tr -d ' ')" 1 "$1"; }

# names: the sprites that exist, one line each (through the local spritesd).
names() { sprite-list | jq -r .name | tr '\n' ' '; }

: >"$T/all.err"
# shellcheck disable=SC2119 # no arguments for spritesd
start_spritesd
sprite-create box >/dev/null || echo "Bail out! cannot create a sprite"
token=$(cat "$STATE/token")
wrong='wrong-token-3f9c1e7a'
URL=$SPRITESD_URL

# ---- a refused token ----
run env SPRITES_API_URL="$URL" SPRITES_TOKEN="$wrong" sprite-list
is "$rc" 1 "sprite-list with a wrong token: exit 1"
is "$out" "" "nothing on stdout"
stderr_is "sprite-list: the API at $URL refused the token from SPRITES_TOKEN (401): check it" \
	"the message names SPRITES_TOKEN, not the token"

# A client without the token gets its 401, then the connection is closed
# (no keep-alive for it to try again on, or to hold).
run perl -MIO::Socket::INET -e '
	my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$ARGV[0]") or die "connect: $!\n";
	print $s "GET /v1/sprites HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\n\r\n";
	local $SIG{ALRM} = sub { print "still open\n"; exit 0 };
	alarm 3;
	my $all = ""; while (sysread($s, my $b, 4096)) { $all .= $b }
	print $all =~ m{^HTTP/1.1 401} ? "401, closed\n" : "no 401\n";' "$SPRITESD_PORT"
is "$out" "401, closed" "a wrong token: 401, and the server closes the connection"

run env SPRITES_API_URL="$URL" SPRITES_TOKEN="$wrong" sprite-exec -s box -n -- echo ran
is "$rc" 255 "sprite-exec with a wrong token: exit 255"
is "$out" "" "the command did not run"
stderr_is "sprite-exec: the API at $URL refused the token from SPRITES_TOKEN (401): check it" \
	"sprite-exec's message names SPRITES_TOKEN, not the token"

run env SPRITES_API_URL="$URL" SPRITES_TOKEN="$wrong" sprite-create made-anyway
is "$rc" 1 "sprite-create with a wrong token: exit 1"
one_line "in one line"
run env SPRITES_API_URL="$URL" SPRITES_TOKEN="$wrong" sprite-destroy box
is "$rc" 1 "sprite-destroy with a wrong token: exit 1"
one_line "in one line"
is "$(names)" "box " "nothing was created or destroyed with the wrong token"

run env SPRITES_API_URL="$URL" SPRITE_TOKEN="$wrong" sprite-list
stderr_is "sprite-list: the API at $URL refused the token from SPRITE_TOKEN (401): check it" \
	"a token from SPRITE_TOKEN: the message names SPRITE_TOKEN"
printf '%s\n' "$wrong" >"$T/wrong.token"
run env SPRITES_API_URL="$URL" SPRITES_TOKEN_FILE="$T/wrong.token" sprite-list
stderr_is "sprite-list: the API at $URL refused the token from SPRITES_TOKEN_FILE (401): check it" \
	"a token from SPRITES_TOKEN_FILE: the message names SPRITES_TOKEN_FILE"

# The local spritesd's own token file no longer matches (it was rewritten).
cp "$STATE/token" "$T/token.saved"
printf '%s\n' "$wrong" >"$STATE/token"
run sprite-list
is "$rc" 1 "a stale local token file: sprite-list exits 1"
stderr_is "sprite-list: the local spritesd at $URL refused the token in $STATE/token (401): restart spritesd to rewrite it" \
	"and says to restart spritesd"
run sprite-exec -s box -n -- true
is "$rc" 255 "a stale local token file: sprite-exec exits 255"
like "$err" "restart spritesd" "and says to restart spritesd"
one_line "in one line"
cp "$T/token.saved" "$STATE/token"

# ---- unknown and bad sprite names ----
run sprite-exec -s nope -n -- echo ran
is "$rc" 255 "sprite-exec in an unknown sprite: exit 255"
is "$out" "" "nothing ran"
stderr_is 'sprite-exec: sprite "nope" not found (sprite-list shows what exists)' "and says it is not found"
run sprite-exec -s Bad_Name -n -- echo ran
is "$rc" 2 "sprite-exec with a bad sprite name: exit 2"
is "$out" "" "nothing ran"
stderr_is "sprite-exec: invalid sprite name \"Bad_Name\": use 1-63 lowercase letters, digits and '-', starting with a letter or digit" \
	"and gives the rule"

# ---- what spritesd logs ----
secret_arg=argument-5e1d9c
secret_env=environment-77b2a0
run sprite-exec -s box -n -e "SECRET=$secret_env" -- echo "$secret_arg"
is "$out" "$secret_arg" "a command with a secret argument and variable runs"
grep -F -e "$secret_arg" -e "$secret_env" "$T/spritesd.log" >/dev/null
is "$?" 1 "spritesd logs neither the command's arguments nor its environment"

# ---- clients that go away do not take spritesd down ----
# A connection that closes without sending a request (a port probe).
curl -s --noproxy '*' --max-time 1 "telnet://127.0.0.1:$SPRITESD_PORT" </dev/null >/dev/null 2>&1
sleep 0.2
kill -0 "$SPRITESD_PID" 2>/dev/null
ok $? "spritesd survives a connection closed without a request"
# A request line holding %0a (rewritten before lws sees it) and a long run
# of raw 0xFF bytes, which the rewrite makes six times longer: before any
# token is checked.  (curl's telnet doubles each 0xFF: still a run of them.)
{ printf 'GET /v1/sprites/box/exec?cmd=%%0a'; head -c 20000 /dev/zero | tr '\0' '\377'; printf ' HTTP/1.1\r\nHost: x\r\n\r\n'; } |
	curl -s --noproxy '*' --max-time 2 "telnet://127.0.0.1:$SPRITESD_PORT" >/dev/null 2>&1
sleep 0.2
run sprite-list
is "$rc/$(kill -0 "$SPRITESD_PID" 2>/dev/null && echo alive)" "0/alive" \
	"spritesd survives a request line of %0a and raw 0xFF bytes, and serves the next request"
# A client killed in the middle of a command.
sprite-exec -s box -n -- sh -c 'echo started; exec sleep 30' >"$T/gone.out" 2>&1 &
gone=$!
i=0
while [ "$(cat "$T/gone.out")" != started ] && [ "$i" -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
kill -KILL "$gone" 2>/dev/null
wait "$gone" 2>/dev/null
run sprite-exec -s box -n -- echo still-serving
is "$rc/$out" "0/still-serving" "spritesd survives a client killed mid-command, and serves the next"

# ---- the server dies under a running command ----
timeout 60 sprite-exec -s box -n -- sh -c 'echo started; exec sleep 30' >"$T/mid.out" 2>"$T/mid.err" &
mid=$!
i=0
while [ "$(cat "$T/mid.out")" != started ] && [ "$i" -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
is "$(cat "$T/mid.out")" started "a long command is running"
stop_spritesd KILL
i=0
while kill -0 "$mid" 2>/dev/null && [ "$i" -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
if kill -0 "$mid" 2>/dev/null; then
	ok 1 "sprite-exec ends within 5 s of spritesd being killed"
	kill "$mid"
else
	ok 0 "sprite-exec ends within 5 s of spritesd being killed"
fi
wait "$mid"
is "$?" 255 "and exits 255"
is "$(wc -l <"$T/mid.err" | tr -d ' ')" 1 "one line on stderr"
like "$(cat "$T/mid.err")" "sprite-exec: connection to $URL lost before the command finished (it may still be running: sprite-exec -s box --attach " \
	"saying the connection was lost, and how to attach again"
cmp -s "$T/want" "$T/mid.err" || printf '#   got:  %s\n' "$(cat "$T/mid.err")"
cat "$T/mid.err" >>"$T/all.err"

# ---- a crashed server (its url file is left behind) ----
run sprite-list
is "$rc" 1 "spritesd crashed: sprite-list exits 1"
stderr_is "sprite-list: cannot reach $URL: Connection refused (is spritesd running? start it with \"spritesd &\")" \
	"and asks whether spritesd is running"
run sprite-exec -s box -n -- echo ran
is "$rc" 255 "spritesd crashed: sprite-exec exits 255"
is "$out" "" "nothing ran"
like "$err" "sprite-exec: cannot reach $URL: " "sprite-exec says it cannot reach the server"
like "$err" '(is spritesd running? start it with "spritesd &")' "and asks whether spritesd is running"
one_line "in one line"
run sprite-create other
is "$rc" 1 "spritesd crashed: sprite-create exits 1"
like "$err" "is spritesd running?" "and asks whether spritesd is running"
run sprite-destroy box
is "$rc" 1 "spritesd crashed: sprite-destroy exits 1"
like "$err" "is spritesd running?" "and asks whether spritesd is running"
one_line "in one line"

# ---- a stopped server (it removes its url file) ----
# shellcheck disable=SC2119 # no arguments for spritesd
start_spritesd
is "$(names)" "box " "spritesd restarts on the same state: nothing was half done"
stop_spritesd TERM
nolocal="no Sprites API configured and no local spritesd found in $STATE (start one with \"spritesd &\", or set SPRITES_TOKEN for Fly.io)"
run sprite-list
is "$rc" 1 "spritesd stopped: sprite-list exits 1"
stderr_is "sprite-list: $nolocal" "and says how to start one"
run sprite-exec -s box -n -- echo ran
is "$rc" 255 "spritesd stopped: sprite-exec exits 255 (its own failure, not the command's 1)"
stderr_is "sprite-exec: $nolocal" "and says how to start one"
run env SPRITES_API_URL="$URL" SPRITES_TOKEN_FILE="$STATE/token" sprite-list
is "$rc" 1 "an explicit URL of a stopped spritesd: sprite-list exits 1"
stderr_is "sprite-list: cannot reach $URL: Connection refused (is spritesd running? start it with \"spritesd &\")" \
	"and asks whether spritesd is running"
run env SPRITES_API_URL="$URL" SPRITES_TOKEN_FILE="$STATE/token" sprite-exec -s box -n -- echo ran
is "$rc" 255 "an explicit URL of a stopped spritesd: sprite-exec exits 255"
like "$err" "(is spritesd running?" "and asks whether spritesd is running"

# ---- no spritesd was ever started ----
fresh="$T/fresh"
never="no Sprites API configured and no local spritesd found in $fresh/spritesd (start one with \"spritesd &\", or set SPRITES_TOKEN for Fly.io)"
run env XDG_STATE_HOME="$fresh" sprite-list
is "$rc" 1 "no spritesd ever: sprite-list exits 1"
stderr_is "sprite-list: $never" "and says how to start one"
run env XDG_STATE_HOME="$fresh" sprite-create box2
is "$rc" 1 "no spritesd ever: sprite-create exits 1"
stderr_is "sprite-create: $never" "and says how to start one"
run env XDG_STATE_HOME="$fresh" sprite-exec -s box -n -- echo ran
is "$rc" 255 "no spritesd ever: sprite-exec exits 255 (its own failure, not the command's 1)"
stderr_is "sprite-exec: $never" "and says how to start one"
[ ! -e "$fresh" ]
ok $? "and nothing was created in the fresh state directory"

# ---- no token anywhere ----
grep -F -e "$token" -e "$wrong" "$T/spritesd.log" >/dev/null
is "$?" 1 "no token appears in spritesd's log"
grep -F -e "$token" -e "$wrong" "$T/all.err" >/dev/null
is "$?" 1 "no token appears in any error message"
[ -s "$T/all.err" ]
ok $? "(and there were error messages to look at)"

plan "$tap_n"
done_testing
