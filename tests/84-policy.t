#!/bin/sh
# Network policy: GET/POST /v1/sprites/NAME/policy/network and sprite-policy;
# malformed policies refused with 400 and a message; the policy kept across
# spritesd restarts and shown in the sprite at /.sprite/policy/network.json;
# and enforced: a sprite has no network but spritesd's proxy (http_proxy in
# every exec), which lets through what the policy allows (plain HTTP and
# CONNECT), refuses the rest with 403 (names, raw IPs, private addresses),
# answers 502 when unreachable, and applies a change at once, to new
# requests and to open tunnels.  A test HTTP server on the host's loopback
# plays the Internet; spritesd --resolve gives it the names allowed.test and
# denied.test.
# shellcheck disable=SC2016 # $VARS in single quotes are for the sprite's shell
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

now_ms() { echo $(($(date +%s%N) / 1000000)); }

for c in curl perl bash; do
	command -v "$c" >/dev/null || { echo "Bail out! $c is not installed: run scripts/install-deps"; exit 1; }
done

# ---- the host's HTTP server: answers "hello from the host: METHOD PATH",
# or to /big the output of `seq 1 2000000` (14.9 MB) ----
cat >"$T/httpd.pl" <<'EOF'
use strict;
use warnings;
use IO::Socket::INET;
$SIG{CHLD} = 'IGNORE';
$| = 1;
my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 64, ReuseAddr => 1)
	or die "httpd.pl: cannot listen: $!\n";
print $s->sockport, "\n";
while (1) {
	my $c = $s->accept or next;
	if (fork() == 0) {
		close $s;
		my $line = <$c> // exit 0;
		my ($method, $path) = $line =~ m{^(\S+) (\S+)} ? ($1, $2) : ('?', '?');
		while (my $h = <$c>) { last if $h =~ /^\r?\n$/; }
		my $body = $path =~ m{/big$} ? join('', map { "$_\n" } 1 .. 2000000)
			: "hello from the host: $method $path\n";
		print $c "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ", length($body),
			"\r\nConnection: close\r\n\r\n", $body;
		exit 0;
	}
	close $c;
}
EOF
perl "$T/httpd.pl" >"$T/httpd.port" 2>"$T/httpd.log" &
i=0
until [ -s "$T/httpd.port" ] || [ "$i" -ge 100 ]; do sleep 0.05; i=$((i + 1)); done
HP=$(cat "$T/httpd.port")
[ -n "$HP" ] || { echo "Bail out! the test HTTP server did not start:"; sed 's/^/# /' "$T/httpd.log"; exit 1; }
# The server's children carry the script's path: lib.sh's cleanup does not know them.
trap 'pkill -KILL -f "$T/httpd.pl" 2>/dev/null; cleanup' EXIT

RESOLVE='--resolve allowed.test=127.0.0.1 --resolve denied.test=127.0.0.1'
# shellcheck disable=SC2086 # RESOLVE is two options and their arguments
start_spritesd $RESOLVE
S=pol
sprite-create "$S" >/dev/null || echo "Bail out! cannot create a sprite"
auth="$T/auth"
(umask 077 && printf 'Authorization: Bearer %s\n' "$(cat "$STATE/token")" >"$auth")

# api METHOD [BODY]: one call of the policy endpoint; $code, and the body in $T/body.
api() {
	if [ $# -gt 1 ]; then
		code=$(printf '%s' "$2" | curl -sS --noproxy '*' --max-time 10 -H @"$auth" -X "$1" \
			-H 'Content-Type: application/json' --data-binary @- -o "$T/body" -w '%{http_code}' \
			"$SPRITESD_URL/v1/sprites/$S/policy/network")
	else
		code=$(curl -sS --noproxy '*' --max-time 10 -H @"$auth" -X "$1" -o "$T/body" \
			-w '%{http_code}' "$SPRITESD_URL/v1/sprites/$S/policy/network")
	fi
}

# in_sprite CMD...: run CMD in the sprite ($rc, $out, $err as run's).
in_sprite() { run sprite-exec -s "$S" -- "$@"; }

# fetch URL [CURL-OPTIONS...]: in the sprite, curl URL through the proxy;
# $out is "HTTP-CODE BODY", $rc curl's status.
fetch() {
	u=$1
	shift
	in_sprite curl -sS --max-time 10 -w ' %{http_code}' "$@" "$u"
}

# ---- the API ----
api GET
is "$code $(cat "$T/body")" '200 {"rules":[]}' 'GET: a new sprite has no policy, {"rules":[]}'
api POST '{"rules":[{"domain":"allowed.test","action":"allow"}]}'
is "$code" 204 "POST a policy: 204"
is "$(cat "$T/body")" "" "with no body"
api GET
is "$code $(cat "$T/body")" '200 {"rules":[{"domain":"allowed.test","action":"allow"}]}' "GET returns what was set"
is "$(cat "$STATE/sprites/$S/policy.json")" '{"rules":[{"domain":"allowed.test","action":"allow"}]}' \
	"it is kept in STATEDIR/sprites/NAME/policy.json"

# malformed POLICY MESSAGE: POST it: 400 and exactly that message; the policy stays.
malformed() {
	api POST "$1"
	is "$code $(jq -r .message "$T/body" 2>/dev/null)" "400 $2" "400 for $1"
}
malformed 'not json' "invalid policy: not JSON ('[' or '{' expected near 'not')"
malformed '[]' 'invalid policy: the document must be a JSON object {"rules":[...]}'
malformed '{"rules":{}}' 'invalid policy: "rules" must be an array'
malformed '{"rules":[{}]}' 'invalid policy: rule 1 needs "domain" and "action", or "include"'
malformed '{"rules":[{"domain":"a.test","action":"allow"},{"domain":"b.test"}]}' \
	'invalid policy: rule 2 needs "domain" and "action", or "include"'
malformed '{"rules":[{"domain":"a.test","action":"permit"}]}' \
	'invalid policy: rule 1: action "permit" is neither "allow" nor "deny"'
malformed '{"rules":[{"domain":"a b.test","action":"allow"}]}' \
	'invalid policy: rule 1: domain "a b.test" is not a host name, an IP address, "*." and a domain, or "*"'
malformed '{"rules":[{"domain":"a.*.test","action":"allow"}]}' \
	'invalid policy: rule 1: domain "a.*.test" is not a host name, an IP address, "*." and a domain, or "*"'
malformed '{"rules":[{"include":"everything"}]}' \
	'invalid policy: rule 1: unknown include "everything" (known: "defaults")'
malformed '{"rules":[{"include":"defaults","domain":"a.test","action":"allow"}]}' \
	'invalid policy: rule 1 has both "include" and "domain"/"action": use one or the other'
malformed '{"rules":[],"junk":true}' 'invalid policy: unknown field "junk" (a policy has only "rules")'
malformed '{"rules":[{"domain":"a.test","action":"allow","port":443}]}' \
	'invalid policy: rule 1 has an unknown field "port" (a rule has "domain" and "action", or "include")'
malformed '{"rules":[]} trailing' "invalid policy: not JSON (end of file expected near 'trailing')"
is "$(jq -r .error "$T/body")" bad_request 'the error body is {"error":"bad_request","message":...}'
api GET
is "$(cat "$T/body")" '{"rules":[{"domain":"allowed.test","action":"allow"}]}' "a refused policy changes nothing"
api DELETE
is "$code" 405 "DELETE: 405"
run curl -sS --noproxy '*' --max-time 10 -H @"$auth" -o /dev/null -w '%{http_code}' \
	"$SPRITESD_URL/v1/sprites/nope/policy/network"
is "$out" 404 "an unknown sprite: 404"

# ---- enforcement ----
in_sprite sh -c 'env | grep -i _proxy= | sort'
is "$out" "ALL_PROXY=http://127.0.0.1:3128
HTTPS_PROXY=http://127.0.0.1:3128
HTTP_PROXY=http://127.0.0.1:3128
NO_PROXY=localhost,127.0.0.1,::1
http_proxy=http://127.0.0.1:3128
https_proxy=http://127.0.0.1:3128
no_proxy=localhost,127.0.0.1,::1" "every exec is told about the proxy (http_proxy, ..., no_proxy)"
in_sprite cat /.sprite/policy/network.json
is "$out" '{"rules":[{"domain":"allowed.test","action":"allow"}]}' "the sprite sees its policy at /.sprite/policy/network.json"
in_sprite sh -c 'echo "{}" >/.sprite/policy/network.json'
ok $((rc == 0)) "read-only (writing it fails: exit $rc)"

fetch "http://allowed.test:$HP/hello"
is "$rc/$out" "0/hello from the host: GET /hello
 200" "plain HTTP to an allowed host: the server's answer (to GET /path, not the absolute URI)"
fetch "http://allowed.test:$HP/tunnel" -p
is "$rc/$out" "0/hello from the host: GET /tunnel
 200" "CONNECT to an allowed host (curl -p): the tunnel works"
fetch "http://denied.test:$HP/x"
is "$rc/$out" '0/spritesd proxy: denied.test: not allowed by the network policy of sprite "pol" (no rule allows it); sprite-policy -s pol set changes it
 403' "plain HTTP to a host the policy does not allow: 403 with a one-line reason"
fetch "http://denied.test:$HP/x" -p
is "$rc" 56 "CONNECT to it: refused (curl exit 56)"
like "$err" "CONNECT tunnel failed, response 403" "with 403"
fetch "http://127.0.0.1:$HP/x" --noproxy '' -x http://127.0.0.1:3128
like "$out" "an IP address is allowed only when a rule names it" "a raw IP through the proxy: refused"
is "${out##* }" 403 "with 403"
fetch "https://1.1.1.1/" -p
is "$rc" 56 "CONNECT to a public raw IP: refused too (curl exit 56)"
fetch "http://localhost:$SPRITESD_PORT/v1/sprites" --noproxy '' -x http://127.0.0.1:3128
is "${out##* }" 403 "the host's loopback services (spritesd itself, as localhost): 403"
fetch "http://allowed.test:1/" -p
is "$rc" 56 "an allowed host where nothing listens: the CONNECT fails (curl exit 56)"
like "$err" "response 502" "with 502"
fetch "http://allowed.test:1/"
like "$out" "cannot connect to allowed.test port 1: Connection refused" "plain HTTP: 502 says why"
is "${out##* }" 502 "with 502"

# A large answer through a tunnel, read slowly: it arrives whole, and
# spritesd does not hold it (it stops reading the server while the sprite
# does not read).
want=$(seq 1 2000000 | md5sum)
hwm() { awk '$1 == "VmHWM:" { print $2 }' "/proc/$SPRITESD_PID/status"; }
hwm0=$(hwm)
in_sprite sh -c "curl -sS -p http://allowed.test:$HP/big | { sleep 2; md5sum; }"
is "$rc/$out" "0/$want" "14.9 MB through a CONNECT tunnel to a reader that stalls 2 s: all of it, intact"
grew=$(($(hwm) - hwm0))
[ "$grew" -lt 8192 ]
ok $? "spritesd's peak memory grew by ${grew} kB from ${hwm0} kB (< 8 MB): nothing piles up"
in_sprite sh -c "curl -sS http://allowed.test:$HP/big | md5sum"
is "$rc/$out" "0/$want" "and as plain HTTP"

# Around the proxy: no network at all.
fetch "http://127.0.0.1:$HP/x" --noproxy '*'
is "$rc" 7 "ignoring the proxy, the host's server is not there (curl exit 7)"
in_sprite bash -c 'echo >/dev/tcp/1.1.1.1/80'
is "$rc" 1 "bash /dev/tcp to a public address: fails"
like "$err" "Network is unreachable" "Network is unreachable: the sprite has loopback only"

# A sprite's bytes in what spritesd logs (method, host): escaped, so that
# they cannot drive the terminal that reads the log (OSC sets its title).
# shellcheck disable=SC2016 # the sprite's shell expands these
in_sprite bash -c 'exec 3<>/dev/tcp/127.0.0.1/3128
printf "CONNECT \033]0;pwned\007evil.test:443 HTTP/1.1\r\n\r\n" >&3; head -c 300 <&3 >/dev/null
exec 3<>/dev/tcp/127.0.0.1/3128
printf "G\033[2JET http://esc.test/ HTTP/1.1\r\nHost: esc.test\r\n\r\n" >&3; head -c 300 <&3 >/dev/null'
sleep 0.3
like "$(grep 'proxy' "$T/spritesd.log" | tail -n 5)" '\x1b]0;pwned\x07evil.test' "a host holding an OSC sequence is logged escaped"
case $(cat "$T/spritesd.log") in
*"$(printf '\033')"*) ok 1 "no escape byte in spritesd's log" ;;
*) ok 0 "no escape byte in spritesd's log" ;;
esac

# With "*" allowed, private addresses still need a rule naming the host.
api POST '{"rules":[{"domain":"*","action":"allow"},{"domain":"allowed.test","action":"allow"}]}'
fetch "http://denied.test:$HP/x"
is "$out" "spritesd proxy: denied.test is 127.0.0.1, a private, loopback or link-local address: allowed only when a rule names denied.test exactly
 403" '"*" does not reach a name that resolves to a private address'
fetch "http://localhost:$SPRITESD_PORT/v1/sprites" --noproxy '' -x http://127.0.0.1:3128
like "$out" "a private, loopback or link-local address" "nor the host's loopback"
fetch "http://allowed.test:$HP/exact"
is "$out" "hello from the host: GET /exact
 200" "a rule naming the host exactly does"
api POST '{"rules":[{"domain":"127.0.0.1","action":"allow"}]}'
fetch "http://127.0.0.1:$HP/ip" --noproxy '' -x http://127.0.0.1:3128
is "$out" "hello from the host: GET /ip
 200" "and a rule naming an IP address lets it through"

# ---- a change applies at once to a running process ----
api POST '{"rules":[{"domain":"allowed.test","action":"allow"}]}'
run sprite-exec -s "$S" --detach -- sh -c "while :; do curl -s -o /dev/null -w '%{http_code}\\n' --max-time 2 http://allowed.test:$HP/loop >>/tmp/loop.log; sleep 0.2; done"
loop=$(jq -r .session_id "$T/out")
# last_code WANT MAX_MS: wait until the loop's last line is WANT.
last_code() {
	deadline=$(($(now_ms) + $2))
	while [ "$(sprite-exec -s "$S" -- tail -n 1 /tmp/loop.log 2>/dev/null)" != "$1" ]; do
		[ "$(now_ms)" -ge "$deadline" ] && return 1
		sleep 0.2
	done
}
last_code 200 5000
ok $? "a loop in the sprite fetching every 0.2 s gets 200"
api POST '{"rules":[{"domain":"allowed.test","action":"deny"}]}'
t0=$(now_ms)
last_code 403 5000
ok $? "the policy now denies the host: the same process gets 403 ($(($(now_ms) - t0)) ms after the POST)"
api POST '{"rules":[{"domain":"allowed.test","action":"allow"}]}'
last_code 200 5000
ok $? "allowed again: 200 again"
sprite-sessions -s "$S" --kill "$loop" --timeout 2s >/dev/null 2>&1

# An open tunnel to a host the policy stops allowing is closed.
run sprite-exec -s "$S" --detach -- bash -c "exec 3<>/dev/tcp/127.0.0.1/3128
printf 'CONNECT allowed.test:$HP HTTP/1.1\\r\\nHost: allowed.test:$HP\\r\\n\\r\\n' >&3
IFS= read -r line <&3; echo \"\$line\" >/tmp/tunnel.head
cat <&3 >/dev/null; echo closed >/tmp/tunnel.closed"
i=0
until sprite-exec -s "$S" -- test -s /tmp/tunnel.head 2>/dev/null || [ "$i" -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
in_sprite cat /tmp/tunnel.head
is "$(printf '%s' "$out" | tr -d '\r')" "HTTP/1.1 200 Connection established" "a tunnel opened by hand (bash /dev/tcp, CONNECT)"
sleep 0.5
in_sprite test -e /tmp/tunnel.closed
is "$rc" 1 "stays open while the policy allows it"
api POST '{"rules":[{"domain":"other.test","action":"allow"}]}'
t0=$(now_ms)
i=0
until sprite-exec -s "$S" -- test -e /tmp/tunnel.closed 2>/dev/null || [ "$i" -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
in_sprite cat /tmp/tunnel.closed
is "$out" closed "a new policy without its host closes it ($(($(now_ms) - t0)) ms)"
in_sprite cat /.sprite/policy/network.json
is "$out" '{"rules":[{"domain":"other.test","action":"allow"}]}' "/.sprite/policy/network.json shows the change"

# ---- sprite-policy ----
run sprite-policy -s "$S" set --allow allowed.test --deny denied.test
is "$rc/$out/$err" "0//" "sprite-policy set --allow --deny: exit 0, quiet"
run sprite-policy -s "$S" get
is "$rc/$out" '0/{"rules":[{"domain":"allowed.test","action":"allow"},{"domain":"denied.test","action":"deny"}]}' \
	"sprite-policy get prints it as one compact line, the rules in the flags' order"
run sprite-policy -s "$S" set --deny x.test --defaults
run sprite-policy -s "$S" get
is "$out" '{"rules":[{"include":"defaults"},{"domain":"x.test","action":"deny"}]}' "--defaults adds the include, first"
printf '{"rules": [ {"domain": "allowed.test", "action": "allow"} ]}\n' >"$T/doc"
run sh -c 'sprite-policy -s "$1" set <"$2"' sh "$S" "$T/doc"
is "$rc/$err" "0/" "sprite-policy set with a document on stdin"
run sprite-policy -s "$S" get
is "$out" '{"rules":[{"domain":"allowed.test","action":"allow"}]}' "which is what get shows"
printf '{"rules":[{"domain":"a.test","action":"permit"}]}' >"$T/doc"
run sh -c 'sprite-policy -s "$1" set <"$2"' sh "$S" "$T/doc"
is "$rc" 1 "a policy the server refuses: exit 1"
stderr_is "sprite-policy: cannot set the network policy of sprite \"$S\": invalid policy: rule 1: action \"permit\" is neither \"allow\" nor \"deny\" (bad_request)" \
	"with the server's message"
run sprite-policy -s "$S" set --allow 'bad host'
is "$rc" 1 "--allow with a bad host: exit 1 (the server says why)"
echo 'not json' >"$T/doc"
run sh -c 'sprite-policy -s "$1" set <"$2"' sh "$S" "$T/doc"
is "$rc" 2 "stdin that is not JSON: exit 2"
like "$err" "sprite-policy: standard input is not a JSON policy document" "and says so"
run sprite-policy -s nope get
is "$rc" 1 "an unknown sprite: exit 1"
stderr_is 'sprite-policy: sprite "nope" not found (sprite-list shows what exists)' "sprite ... not found"
run sprite-policy -s "$S"
is "$rc" 2 "no command: exit 2"
run sprite-policy -s "$S" frob
is "$rc/$(head -n 1 "$T/err")" '2/sprite-policy: unknown command "frob": use get or set' "an unknown command: exit 2"
run sprite-policy -s "$S" get --allow a.test
is "$rc" 2 "--allow with get: exit 2"
run sprite-policy -s "$S" set --bogus
is "$rc/$(head -n 1 "$T/err")" "2/sprite-policy: unknown option --bogus" "an unknown option: exit 2"
run sprite-policy -h
is "$rc/$(head -n 1 "$T/out" | cut -c1-20)" "0/usage: sprite-policy" "-h: usage on stdout, exit 0"

# ---- across a spritesd restart (the sandbox keeps running) ----
stop_spritesd
# shellcheck disable=SC2086
start_spritesd $RESOLVE
api GET
is "$(cat "$T/body")" '{"rules":[{"domain":"allowed.test","action":"allow"}]}' "after a restart: the policy is still there"
fetch "http://allowed.test:$HP/again"
is "$out" "hello from the host: GET /again
 200" "the adopted sandbox has its proxy back: allowed still works"
fetch "http://denied.test:$HP/again"
is "${out##* }" 403 "and denied is still refused"

# ---- a sprite that went cold and came back ----
stop_spritesd
# shellcheck disable=SC2086
start_spritesd $RESOLVE --idle-timeout 1
i=0
until [ "$(sprite-list | jq -r --arg n "$S" 'select(.name == $n) | .status')" = cold ] || [ "$i" -ge 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
is "$(sprite-list | jq -r --arg n "$S" 'select(.name == $n) | .status')" cold "with nothing running the sprite goes cold"
fetch "http://allowed.test:$HP/warm"
is "$out" "hello from the host: GET /warm
 200" "woken by the next exec, it has its proxy again"
fetch "http://denied.test:$HP/warm" -p
is "$rc" 56 "and its policy"

if [ "$tap_failed" -ne 0 ]; then
	diag "spritesd log:"
	tail -n 40 "$T/spritesd.log" | sed 's/^/#   /'
fi
plan "$tap_n"
done_testing
