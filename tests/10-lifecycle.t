#!/bin/sh
# Sprite lifecycle: sprite-create, sprite-list (order, count, pagination),
# sprite-destroy, the name rules, and the REST answers spritesd gives for them
# (status codes, error bodies, Sprite-Version, the list's shape).
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"



# count FILE: its number of lines.
count() { wc -l <"$1" | tr -d ' '; }

# api AUTHFILE METHOD PATH [JSON]: one REST call with curl.  The token goes in
# a header file (curl -H @FILE), never on a command line.  $code is the HTTP
# status; the body is in $T/body, the headers in $T/headers.
api() {
	if [ "$2" = HEAD ]; then
		code=$(curl -sS --noproxy '*' --max-time 10 -H @"$1" --head \
			-D "$T/headers" -o "$T/body" -w '%{http_code}' "$SPRITESD_URL$3")
	elif [ $# -ge 4 ]; then
		code=$(curl -sS --noproxy '*' --max-time 10 -H @"$1" -X "$2" \
			-H 'Content-Type: application/json' --data-binary "$4" \
			-D "$T/headers" -o "$T/body" -w '%{http_code}' "$SPRITESD_URL$3")
	else
		code=$(curl -sS --noproxy '*' --max-time 10 -H @"$1" -X "$2" \
			-D "$T/headers" -o "$T/body" -w '%{http_code}' "$SPRITESD_URL$3")
	fi
}

# has_version DESC: the last response carried a Sprite-Version header.
has_version() {
	grep -qi '^sprite-version: [^[:space:]]' "$T/headers"
	ok $? "$1 carries a Sprite-Version header"
}

LC_ALL=C
export LC_ALL
# shellcheck disable=SC2119 # no arguments for spritesd
start_spritesd

# ---- sprite-create ----
run sprite-create alpha
is "$rc" 0 "sprite-create exits 0"
is "$(count "$T/out")" 1 "sprite-create prints exactly one line"
is "$err" "" "sprite-create writes nothing to stderr"
is "$(jq -c . "$T/out" 2>&1)" "$out" "the line is one compact JSON object"
is "$(jq -r 'type' "$T/out")" object "the line is a JSON object"
is "$(jq -r .name "$T/out")" alpha "it has the sprite's name"
is "$(jq -r .status "$T/out")" cold "a new sprite is cold"
created=$(jq -r .created_at "$T/out")
printf '%s\n' "$created" |
	grep -Eq '^[0-9]{4}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9](\.[0-9]+)?(Z|[+-][0-2][0-9]:[0-5][0-9])$'
ok $? "created_at is RFC 3339 ($created)"
then_s=$(date -u -d "$created" +%s 2>/dev/null || echo 0)
now_s=$(date -u +%s)
[ $((now_s - then_s)) -ge -5 ] && [ $((now_s - then_s)) -le 60 ]
ok $? "created_at is the time of creation"

# ---- sprite-list: one line per sprite, in name order ----
run sprite-list
is "$rc" 0 "sprite-list exits 0"
is "$(jq -r .name "$T/out")" alpha "sprite-list shows the new sprite"
is "$(count "$T/out")" 1 "one line for one sprite"
is "$err" "" "sprite-list writes nothing to stderr"

for n in charlie bravo; do
	sprite-create "$n" >/dev/null
done
run sprite-list
is "$rc" 0 "sprite-list with 3 sprites exits 0"
is "$(count "$T/out")" 3 "three sprites, three lines"
is "$(jq -r .name "$T/out" | tr '\n' ' ')" "alpha bravo charlie " "listed in name order"
is "$(jq -c 'select(type != "object")' "$T/out")" "" "every line is a JSON object"

# ---- pagination: more than one page (sprite-list asks for 50 a page) ----
: >"$T/made"
i=0
fails=0
while [ "$i" -lt 120 ]; do
	name=$(printf 'p-%03d' "$i")
	sprite-create "$name" >/dev/null 2>>"$T/create.err" || fails=$((fails + 1))
	printf '%s\n' "$name" >>"$T/made"
	i=$((i + 1))
done
is "$fails" 0 "120 more sprites created"
printf '%s\n' alpha bravo charlie >>"$T/made"
sort "$T/made" >"$T/want.names"
before=$(grep -c 'GET /v1/sprites 200' "$T/spritesd.log")
run sprite-list
after=$(grep -c 'GET /v1/sprites 200' "$T/spritesd.log")
is "$rc" 0 "sprite-list over three pages exits 0"
is "$((after - before))" 3 "sprite-list asked for three pages of 50"
jq -r .name "$T/out" >"$T/got.names"
is "$(count "$T/got.names")" 123 "all 123 sprites listed"
is "$(sort "$T/got.names" | uniq -d)" "" "no sprite listed twice"
cmp -s "$T/want.names" "$T/got.names"
ok $? "every sprite listed exactly once, in name order"
run sprite-list --prefix p-
is "$(count "$T/out")" 120 "sprite-list --prefix p- lists the 120 p- sprites"

# ---- sprite-destroy ----
run sprite-exec -s alpha -n -- sh -c 'echo data >/home/sprite/f; echo data >/workspace/f'
is "$rc" 0 "alpha runs a command (its sandbox exists, with files)"
[ -d "$STATE/sprites/alpha" ]
ok $? "alpha has a directory under \$STATE/sprites"
run sprite-destroy alpha
is "$rc" 0 "sprite-destroy exits 0"
is "$out$err" "" "sprite-destroy is quiet on success"
sprite-list | jq -r .name >"$T/names"
grep -qx alpha "$T/names"
is "$?" 1 "sprite-list no longer shows alpha"
is "$(count "$T/names")" 122 "the other sprites remain"
[ ! -e "$STATE/sprites/alpha" ]
ok $? "alpha's directory is gone"
is "$(find "$STATE/sprites" -maxdepth 1 -name '.deleting-*' | wc -l | tr -d ' ')" 0 \
	"no half-deleted directory left behind"
is "$(sprite_procs alpha)" "" "no process of alpha's sandbox is left"
[ ! -d "$(head -n 1 "$STATE/cgroups")/alpha" ]
ok $? "and its cgroup is gone"

run sprite-destroy alpha
is "$rc" 1 "destroying it again exits 1"
is "$out" "" "nothing on stdout"
stderr_is 'sprite-destroy: sprite "alpha" not found (sprite-list shows what exists)' \
	"destroying it again says it is not found"

# A bad name among good ones: nothing is destroyed.
run sprite-destroy bravo Bad_Name
is "$rc" 2 "sprite-destroy with a bad name among others exits 2"
sprite-list | jq -r .name | grep -qx bravo
ok $? "and destroys none of them"

# ---- duplicate create ----
run sprite-create bravo
is "$rc" 1 "creating an existing sprite exits 1"
is "$out" "" "nothing on stdout"
like "$err" "already exists" "the message says it already exists"
is "$(count "$T/err")" 1 "in one line"
is "$(sprite-list | wc -l | tr -d ' ')" 122 "no sprite was added"

# ---- bad names ----
long=$(printf '%064d' 0 | tr 0 a)
for bad in Bad_Name -x "$long" ""; do
	run sprite-create -- "$bad"
	is "$rc" 2 "sprite-create \"$bad\" exits 2"
	is "$out" "" "sprite-create \"$bad\" prints nothing"
	stderr_is "sprite-create: invalid sprite name \"$bad\": use 1-63 lowercase letters, digits and '-', starting with a letter or digit" \
		"sprite-create \"$bad\" says why"
done
run sprite-create -x
is "$rc" 2 "sprite-create -x (an option, not a name) exits 2"
like "$err" "sprite-create: unknown option -x" "and says it is an unknown option"
is "$(sprite-list | wc -l | tr -d ' ')" 122 "no sprite was added by the bad names"
run sprite-create "$(printf '%063d' 0 | tr 0 b)"
is "$rc" 0 "a 63-character name is accepted"

# ---- the REST API itself ----
auth="$T/auth"
(umask 077 && printf 'Authorization: Bearer %s\n' "$(cat "$STATE/token")" >"$auth")
printf 'Authorization: Bearer not-the-token\n' >"$T/badauth"

api "$auth" POST /v1/sprites '{"name":"Bad_Name"}'
is "$code" 400 "POST /v1/sprites with a bad name: 400"
is "$(jq -r .error "$T/body")" bad_request "with a JSON error code"
like "$(jq -r .message "$T/body")" 'invalid sprite name' "and a message"
has_version "the 400"

api /dev/null GET /v1/sprites
is "$code" 401 "GET /v1/sprites without a token: 401"
is "$(jq -r 'has("error")' "$T/body")" true "the 401 body is JSON with \"error\""
has_version "the 401"
api "$T/badauth" GET /v1/sprites
is "$code" 401 "GET /v1/sprites with a wrong token: 401"
api /dev/null GET /v1/sprites/bravo
is "$code" 401 "GET /v1/sprites/NAME without a token: 401"

api "$auth" POST /v1/sprites '{"name":"api-made"}'
is "$code" 201 "POST /v1/sprites creates: exactly 201"
is "$(jq -r .name "$T/body")" api-made "and returns the sprite"
has_version "the 201"
api "$auth" POST /v1/sprites '{"name":"api-made"}'
is "$code" 400 "creating it twice: 400"

api "$auth" GET /v1/sprites/api-made
is "$code" 200 "GET /v1/sprites/NAME: 200"
is "$(jq -r .name "$T/body")" api-made "with the sprite"
has_version "the 200"
api "$auth" GET /v1/sprites/no-such-sprite
is "$code" 404 "GET of a missing sprite: 404"
has_version "the 404"

api "$auth" GET /v1/sprites/bravo/control
is "$code" 404 "GET /v1/sprites/NAME/control: 404"
is "$(wc -c <"$T/body" | tr -d ' ')" 0 "with an empty body"
has_version "the /control 404"

api "$auth" HEAD /v1/sprites/bravo/exec
is "$code" 200 "HEAD /v1/sprites/NAME/exec (the SDKs' version probe): 200"
has_version "HEAD /exec"

api "$auth" DELETE /v1/sprites/api-made
is "$code" 204 "DELETE /v1/sprites/NAME: 204"
is "$(wc -c <"$T/body" | tr -d ' ')" 0 "with an empty body"
has_version "the 204"
api "$auth" DELETE /v1/sprites/api-made
is "$code" 404 "DELETE again: 404"

api "$auth" GET '/v1/sprites?max_results=100'
is "$code" 200 "GET /v1/sprites: 200"
has_version "the list"
cp "$T/body" "$T/page1"
jq -e '(.sprites | type) == "array" and (.has_more | type) == "boolean"
	and (.next_continuation_token | type) == "string"' "$T/page1" >/dev/null
ok $? "the list has sprites, has_more and next_continuation_token"
jq -e '.org | type == "object" and ([.name, .running, .warm, .cold, .running_limit, .warm_limit]
	| map(type) == ["string", "number", "number", "number", "number", "number"])' "$T/page1" >/dev/null
ok $? "the list has org {name, running, warm, cold, running_limit, warm_limit}"
jq -e '[.name, .running, .warm, .cold, .running_limit, .warm_limit]
	| map(type) == ["string", "number", "number", "number", "number", "number"]' "$T/page1" >/dev/null
ok $? "and the same counters at the top level"
is "$(jq '.running + .warm + .cold' "$T/page1")" 123 "the counters add up to the number of sprites"
is "$(jq -c '[.running, .warm, .cold]' "$T/page1")" "$(jq -c '[.org.running, .org.warm, .org.cold]' "$T/page1")" \
	"top-level and org counters agree"
is "$(jq '.sprites | length' "$T/page1")" 100 "a page holds max_results=100 sprites"
is "$(jq .has_more "$T/page1")" true "has_more on the first page"
tok=$(jq -r .next_continuation_token "$T/page1")
[ -n "$tok" ]
ok $? "and a continuation token"
code=$(curl -sS --noproxy '*' --max-time 10 -H @"$auth" -G --data-urlencode max_results=100 \
	--data-urlencode "continuation_token=$tok" -o "$T/page2" -w '%{http_code}' "$SPRITESD_URL/v1/sprites")
is "$code" 200 "the second page: 200"
is "$(jq '.sprites | length' "$T/page2")" 23 "the second page holds the rest"
is "$(jq -c '[.has_more, .next_continuation_token]' "$T/page2")" '[false,""]' "and ends the list"

plan "$tap_n"
done_testing
