#!/bin/sh
# sprite-tail: complete lines with exact cursors, resuming at the exact byte,
# files that appear, grow, are truncated, replaced or rolled back, long lines,
# and a follower that survives dropped connections and spritesd restarts.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

start_spritesd
sprite-create tl >/dev/null || echo "Bail out! cannot create a sprite"
F=/tmp/t.jsonl
in_sprite() { sprite-exec -s tl -n -- sh -c "$1"; }
# offsets FILE: the cursor offsets, one per line
offsets() { jq -r .cursor.offset "$1" | tr '\n' ' '; }

# ---- reading once ----
run sprite-tail -s tl "$F"
is "$rc/$out" "0/" "a file that does not exist: nothing, exit 0"
in_sprite "printf '{\"n\":1}\n{\"n\":2}\nnot json\n{\"n\":3}' > $F"
run sprite-tail -s tl "$F"
is "$rc" 0 "--once (the default) exits 0"
is "$(jq -c .line "$T/out" | tr '\n' ' ')" '{"n":1} {"n":2} null ' "JSON lines are parsed; the partial last line is held back"
is "$(jq -r '.text // empty' "$T/out")" "not json" "a line that is not JSON comes as text"
is "$(offsets "$T/out")" "8 16 25 " "each cursor is the byte offset after its line"
is "$(jq -r .cursor.source "$T/out" | sort -u)" "tl:$F" "the cursor names the source"
is "$(jq -r .cursor.check "$T/out" | sed -n 2p)" "$(printf '{"n":1}\n{"n":2}\n' | cksum | tr ' ' :)" \
	"its check is cksum of the bytes before it"
run sprite-tail -s tl --raw "$F"
is "$out" "$(printf '{"n":1}\n{"n":2}\nnot json')" "--raw prints the lines only"
c2=$(sed -n 1p "$T/out" | jq -c .cursor 2>/dev/null)
run sprite-tail -s tl "$F"
c2=$(sed -n 2p "$T/out" | jq -c .cursor)
run sprite-tail -s tl --from "$c2" "$F"
is "$(jq -c '.line // .text' "$T/out" | tr '\n' ' ')" '"not json" ' "--from resumes right after its line"
in_sprite "printf '\n{\"n\":4}\n' >> $F"
c3=$(jq -c .cursor "$T/out")
run sprite-tail -s tl --from "$c3" "$F"
is "$(jq -c .line "$T/out" | tr '\n' ' ')" '{"n":3} {"n":4} ' "the held line is printed once complete, then the next"
is "$(offsets "$T/out")" "33 41 " "with exact offsets"
run sprite-tail -s tl --from "" "$F"
is "$(wc -l <"$T/out" | tr -d ' ')" 5 "--from \"\" starts at the beginning"
# A path that is not UTF-8, and a file that starts with empty lines.
bad=$(printf '/tmp/x\377y')
# shellcheck disable=SC2016 # $1 is the sprite shell's
sprite-exec -s tl -- sh -c 'printf "\n\n{\"n\":1}\n" >"$1"' sh "$bad"
run sprite-tail -s tl "$bad"
is "$rc" 0 "a path that is not UTF-8: exit 0"
is "$(jq -c '[.text, .line]' "$T/out" | tr '\n' ' ')" '["",null] ["",null] [null,{"n":1}] ' \
	"empty lines come as empty text"
is "$(jq -r .cursor.source "$T/out" | sort -u)" "tl:/tmp/x$(printf '\357\277\275')y" \
	"the cursor names the path with U+FFFD for the byte that is not UTF-8"
run sprite-tail -s tl --from "$(sed -n 2p "$T/out" | jq -c .cursor)" "$bad"
is "$rc/$(jq -c .line "$T/out")" '0/{"n":1}' "and resumes from such a cursor"

# ---- bad cursors ----
run sprite-tail -s tl --from '{"nope":1}' "$F"
is "$rc" 2 "a malformed cursor: exit 2"
stderr_is "sprite-tail: bad --from cursor: use one printed by sprite-tail or hook-apply --cursor" "and says so"
run sprite-tail -s tl --from "$c3" /tmp/other.jsonl
is "$rc" 2 "a cursor for another file: exit 2"
stderr_is "sprite-tail: the --from cursor is for tl:$F, not tl:/tmp/other.jsonl" "and says which"
run sprite-tail -s nope "$F"
is "$rc" 1 "an unknown sprite: exit 1"
stderr_is "sprite-tail: sprite \"nope\" not found (sprite-list shows what exists)" "and says so"

# ---- truncated, rolled back, replaced (read once) ----
last=$(sprite-tail -s tl "$F" | tail -n 1 | jq -c .cursor)
in_sprite "printf '{\"new\":1}\n' > $F"
run sprite-tail -s tl --from "$last" "$F"
is "$(jq -c '[.cursor.epoch, .cursor.offset, .line]' "$T/out")" '[1,10,{"new":1}]' \
	"a truncated file is read again from the start, in a new epoch"
like "$err" "changed under the cursor" "and it says so"
in_sprite "printf '{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n' > $F"
c1=$(sprite-tail -s tl "$F" | sed -n 2p | jq -c .cursor)
in_sprite "printf '{\"a\":1}\n{\"X\":2}\n{\"c\":3}\n{\"d\":4}\n' > $F"
run sprite-tail -s tl --from "$c1" "$F"
is "$(jq -c .line "$T/out" | tr '\n' ' ')" '{"a":1} {"X":2} {"c":3} {"d":4} ' \
	"a file rolled back (same size, other bytes before the cursor) is read again from the start"
in_sprite "printf '{\"r\":1}\n' > $F.new && mv $F.new $F"
run sprite-tail -s tl --from "$c1" "$F"
is "$(jq -c '[.cursor.epoch, .line]' "$T/out")" '[0,{"r":1}]' "a replaced file (another inode) is read from its start"

# ---- a line too long ----
in_sprite "{ echo '{\"before\":1}'; head -c 5000000 /dev/zero | tr '\\\\0' x; echo; echo '{\"after\":1}'; } > $F"
run sprite-tail -s tl "$F"
is "$(jq -c .line "$T/out" | tr '\n' ' ')" '{"before":1} {"after":1} ' "a 5 MB line is skipped"
is "$(offsets "$T/out")" "13 5000026 " "and the offsets count it"
like "$err" "sprite-tail: tl:$F: the line ending at offset 5000014 is longer than 1048576 bytes: skipped" \
	"it is reported with its position"

# ---- following ----
in_sprite "rm -f $F"
sprite-tail -s tl -f "$F" >"$T/follow.out" 2>"$T/follow.err" &
follower=$!
sleep 0.5
in_sprite "echo '{\"f\":1}' >> $F"
wait_lines() {  # wait_lines N: until the follower printed N lines (10 s at most)
	i=0
	while [ "$(wc -l <"$T/follow.out")" -lt "$1" ] && [ "$i" -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
}
wait_lines 1
is "$(jq -c .line "$T/follow.out")" '{"f":1}' "-f waits for a file that does not exist yet"
in_sprite "echo '{\"f\":2}' >> $F; echo '{\"f\":3}' >> $F"
wait_lines 3
is "$(jq -c .line "$T/follow.out" | tr '\n' ' ')" '{"f":1} {"f":2} {"f":3} ' "and prints lines as they are appended"
# Drop its connection: kill the tail it runs in the sprite.
in_sprite "pkill -x tail; echo '{\"f\":4}' >> $F"
wait_lines 4
in_sprite "echo '{\"f\":5}' >> $F"
wait_lines 5
is "$(jq -c .line "$T/follow.out" | tr '\n' ' ')" '{"f":1} {"f":2} {"f":3} {"f":4} {"f":5} ' \
	"a dropped connection: reconnects, nothing lost, nothing twice"
# spritesd killed, lines written meanwhile, spritesd back on the same port.
stop_spritesd KILL
echo '{"f":6}' >>"$STATE/sprites/tl/fs/tmp/t.jsonl"
sleep 1
start_spritesd
in_sprite "echo '{\"f\":7}' >> $F"
wait_lines 7
is "$(jq -c .line "$T/follow.out" | tr '\n' ' ')" \
	'{"f":1} {"f":2} {"f":3} {"f":4} {"f":5} {"f":6} {"f":7} ' \
	"spritesd killed and restarted: resumes at the exact byte"
is "$(offsets "$T/follow.out")" "8 16 24 32 40 48 56 " "the offsets run on"
# spritesd stopped (its url file goes with it) for longer than a
# reconnection's wait, then started again: the follower waits for it.
stop_spritesd TERM
echo '{"f":8}' >>"$STATE/sprites/tl/fs/tmp/t.jsonl"
sleep 3
kill -0 "$follower" 2>/dev/null
ok $? "spritesd stopped, its url file gone: the follower waits"
start_spritesd
wait_lines 8
is "$(tail -n 1 "$T/follow.out" | jq -c '[.cursor.offset, .line]')" '[64,{"f":8}]' \
	"and goes on once spritesd is back"
in_sprite "printf '{\"g\":1}\n' > $F.new && mv $F.new $F"
wait_lines 9
is "$(tail -n 1 "$T/follow.out" | jq -c '[.cursor.offset, .line]')" '[8,{"g":1}]' \
	"a file replaced while followed is read from its start"
in_sprite ": > $F; sleep 0.3; echo '{\"h\":1}' >> $F"
wait_lines 10
is "$(tail -n 1 "$T/follow.out" | jq -c '[.cursor.offset, .line]')" '[8,{"h":1}]' \
	"a file truncated while followed is read from its start"
kill "$follower"
wait "$follower" 2>/dev/null

plan "$tap_n"
done_testing
