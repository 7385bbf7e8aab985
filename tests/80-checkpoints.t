#!/bin/sh
# Checkpoints: sprite-checkpoint create / list / restore against spritesd's
# btrfs snapshots.  A restore brings back the whole tree byte for byte
# (contents, deletions, modes, symlinks) and stops the sprite's processes; a
# create is live (processes keep running, and what they write afterwards
# stays out of the checkpoint); checkpoints outlive a spritesd restart and go
# with their sprite; unknown ids are 404; without btrfs the stream says why.
# Creates and restores of a sprite run one at a time, in the order asked; a
# create goes on without its client, and a destroy meanwhile is clean.
# shellcheck disable=SC2016 # $VARS in single quotes are for the sprite's shell
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# tree SPRITE: every path under /home/sprite, /workspace and /tmp, taken in
# the sprite, with its type and mode, owner, size, mtime, symlink target
# (%N), and a sha256 for each file.
tree() {
	sprite-exec -s "$1" -n -- sh -c '
		find /home/sprite /workspace /tmp -print0 | LC_ALL=C sort -z |
			xargs -0 stat -c "%A %u:%g %s %Y %N"
		find /home/sprite /workspace /tmp -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum'
}

# progress LINE...: progress lines as sprite-checkpoint prints them on stderr.
progress() { printf 'sprite-checkpoint: %s\n' "$@"; }

# shellcheck disable=SC2119 # no arguments for spritesd
start_spritesd
if grep -q 'checkpoints are unavailable' "$T/spritesd.log"; then
	echo "1..0 # SKIP $(sed -n 's/^spritesd: checkpoints are unavailable: //p' "$T/spritesd.log")"
	exit 0
fi
auth="$T/auth"
(umask 077 && printf 'Authorization: Bearer %s\n' "$(cat "$STATE/token")" >"$auth")
sprite-create cp >/dev/null || echo "Bail out! cannot create a sprite"

# ---- a tree of every kind of thing ----
run sprite-exec -s cp -n -- sh -c '
	mkdir -p /workspace/proj/sub /workspace/proj/gone /home/sprite/.config
	printf "hello\n" >/workspace/proj/a.txt
	head -c 300000 /dev/urandom >/workspace/proj/sub/blob
	printf "x" >"/workspace/proj/name with spaces"
	echo keep >/workspace/proj/gone/f
	echo "[user]" >/home/sprite/.config/settings
	chmod 640 /workspace/proj/a.txt
	chmod 700 /workspace/proj/sub
	chmod 4755 /home/sprite/.config/settings
	ln -s a.txt /workspace/proj/link
	ln -s /nonexistent /home/sprite/dangling
	echo t >/tmp/t.txt'
is "$rc/$err" "0/" "a tree of files, directories, modes and symlinks is made in the sprite"
tree cp >"$T/tree0"
[ -s "$T/tree0" ] && grep -q "link' -> 'a.txt'" "$T/tree0" && grep -q '^-rwsr-xr-x' "$T/tree0"
ok $? "the listing shows modes and symlink targets ($(wc -l <"$T/tree0" | tr -d ' ') lines)"

# ---- create ----
t0=$(now_ms)
run sprite-checkpoint -s cp create -m "before changes"
took=$(($(now_ms) - t0))
is "$rc" 0 "sprite-checkpoint create: exit 0"
is "$(wc -l <"$T/out" | tr -d ' ')" 1 "one line on stdout"
is "$(jq -c '{id, comment, is_auto}' "$T/out")" '{"id":"v0","comment":"before changes","is_auto":false}' \
	"it is the new checkpoint: v0, with the comment, not automatic"
jq -r .create_time "$T/out" | grep -Eqx '[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z'
ok $? "create_time is RFC 3339 ($(jq -r .create_time "$T/out"))"
progress "Creating checkpoint..." "Saving filesystem state..." "Checkpoint v0 created" >"$T/want"
cmp -s "$T/want" "$T/err"
ok $? "progress on stderr: Creating..., Saving..., Checkpoint v0 created"
[ "$took" -lt 2000 ]
ok $? "it takes well under a second or two (${took} ms)"
stat -c %i "$STATE/sprites/cp/checkpoints/v0" | grep -qx 256
ok $? "on the host, checkpoints/v0 is a btrfs subvolume (its top inode is 256)"

# ---- change everything, start a process, restore ----
run sprite-exec -s cp -n -- sh -c '
	echo new >/workspace/proj/new.txt
	printf "changed\n" >/workspace/proj/a.txt
	rm /workspace/proj/sub/blob "/workspace/proj/name with spaces"
	rm -r /workspace/proj/gone
	chmod 600 /workspace/proj/a.txt
	chmod 755 /workspace/proj/sub
	ln -sf /etc/hostname /workspace/proj/link
	ln -s x /home/sprite/newlink
	rm /tmp/t.txt; mkdir /tmp/newdir
	sleep 300 >/dev/null 2>&1 &'
is "$rc/$err" "0/" "then files are added, changed, deleted, chmod-ed and relinked, and a process started"
tree cp >"$T/tree1"
cmp -s "$T/tree0" "$T/tree1"
ok $((!$?)) "the tree differs from the checkpoint now"
run sprite-exec -s cp -n -- pgrep -fx 'sleep 300'
is "$rc" 0 "the process runs"

t0=$(now_ms)
run sprite-checkpoint -s cp restore v0
took=$(($(now_ms) - t0))
is "$rc/$out" "0/" "sprite-checkpoint restore v0: exit 0, nothing on stdout"
progress "Restoring to v0..." "Stopping processes..." "Restoring filesystem state..." "Restored to v0" >"$T/want"
cmp -s "$T/want" "$T/err"
ok $? "progress on stderr: Restoring to v0..., Stopping processes..., Restoring filesystem state..., Restored to v0"
[ "$took" -lt 5000 ]
ok $? "restore takes ${took} ms"
tree cp >"$T/tree2"
cmp -s "$T/tree0" "$T/tree2"
ok $? "the tree is byte-identical to the checkpoint: contents, deletions, modes, owners, mtimes, symlinks"
cmp -s "$T/tree0" "$T/tree2" || diff "$T/tree0" "$T/tree2" | sed 's/^/#   /' | head -20
run sprite-exec -s cp -n -- pgrep -fx 'sleep 300'
is "$rc/$out" "1/" "the process that ran before the restore is gone"

# ---- a second checkpoint: ids, order, source ----
run sprite-checkpoint -s cp create
is "$rc/$(jq -r .id "$T/out")" "0/v1" "the next checkpoint is v1"
is "$(jq -c '{comment, source_id}' "$T/out")" '{"comment":"","source_id":"v0"}' \
	"with no comment, made from v0 (source_id, as the files were restored to v0)"
run sprite-checkpoint -s cp list
is "$rc/$err" "0/" "sprite-checkpoint list: exit 0, quiet"
is "$(jq -r .id "$T/out" | tr '\n' ' ')" "v1 v0 " "one line each, newest first"
is "$(jq -r .comment "$T/out" | tail -n 1)" "before changes" "the comment is kept"
run sh -c 'sprite-checkpoint -s cp list | head -n 1'
is "$rc/$(jq -r .id "$T/out")/$err" "0/v1/" "list | head -n 1: the first line, no complaint"

# ---- a live create: processes run on, later writes stay out ----
sprite-create live >/dev/null || echo "Bail out! cannot create sprite live"
run sprite-exec -s live -n -- sh -c '
	tmux new-session -d -s keep "sleep 1000"
	nohup sh -c "i=0; while :; do i=\$((i + 1)); echo \"{\\\"n\\\":\$i}\" >>/tmp/task-hooks.jsonl; sleep 0.02; done" \
		>/dev/null 2>&1 &
	sleep 0.3'
is "$rc/$err" "0/" "sprite live runs a tmux server and an agent appending to /tmp/task-hooks.jsonl"
# (task-hook[s]: the pattern must not match the shell running pgrep.)
pids() { sprite-exec -s live -n -- sh -c 'pgrep -f "task-hook[s].jsonl"; tmux has-session -t keep && echo tmux'; }
before_pids=$(pids)
hooks="$STATE/sprites/live/fs/tmp/task-hooks.jsonl"
lines_before=$(wc -l <"$hooks")
run sprite-checkpoint -s live create
lines_after=$(wc -l <"$hooks")
is "$rc/$(jq -r .id "$T/out")" "0/v0" "sprite live: checkpoint v0 made while they run"
sleep 0.5
is "$(pids)" "$before_pids" "the appender and the tmux server run on, same pids"
lines_later=$(wc -l <"$hooks")
[ "$lines_later" -gt "$lines_after" ]
ok $? "the agent kept appending after the checkpoint ($lines_after -> $lines_later lines)"
snap="$STATE/sprites/live/checkpoints/v0/tmp/task-hooks.jsonl"
in_cp=$(wc -l <"$snap")
sleep 0.3
is "$(wc -l <"$snap")" "$in_cp" "the checkpoint's copy does not change while the agent writes on"
[ "$in_cp" -ge "$lines_before" ] && [ "$in_cp" -le "$lines_after" ]
ok $? "it holds what was written before the checkpoint ($lines_before <= $in_cp <= $lines_after lines)"
cp "$hooks" "$T/hooks.live"
run sprite-checkpoint -s live restore v0
is "$rc" 0 "restore v0 of live"
run sprite-exec -s live -n -- cat /tmp/task-hooks.jsonl
head -n "$in_cp" "$T/hooks.live" >"$T/hooks.want"
printf '%s\n' "$out" | cmp -s - "$T/hooks.want"
ok $? "after the restore the file is the pre-checkpoint content, the first $in_cp lines"
run sprite-exec -s live -n -- sh -c 'pgrep -f "task-hook[s].jsonl"; tmux has-session -t keep 2>/dev/null && echo tmux'
is "$out" "" "and neither the appender nor the tmux server survived the restore"

# ---- over HTTP: the stream's form, 404s ----
code=$(curl -sS --noproxy '*' -H @"$auth" -X POST -H 'Content-Type: application/json' -d '{"comment":"http"}' \
	-D "$T/headers" -o "$T/body" -w '%{http_code}' "$SPRITESD_URL/v1/sprites/cp/checkpoint")
is "$code" 200 "POST /checkpoint: 200"
grep -qi '^content-type: application/x-ndjson' "$T/headers"
ok $? "Content-Type: application/x-ndjson"
is "$(jq -r .type "$T/body" | tr '\n' ' ')" "info info complete " "info lines, then complete"
is "$(tail -n 1 "$T/body" | jq -r .data)" "Checkpoint v2 created" '{"type":"complete","data":"Checkpoint v2 created",...}'
jq -e 'select(.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$") | not)' "$T/body" >/dev/null
ok $((!$?)) "every line has an RFC 3339 time"
# A POST with no body and no Content-Length (curl -X POST): the stream still ends.
t0=$(now_ms)
code=$(curl -sS --noproxy '*' --max-time 10 -H @"$auth" -X POST -o "$T/body" -w '%{http_code}' \
	"$SPRITESD_URL/v1/sprites/cp/checkpoints/v2/restore")
took=$(($(now_ms) - t0))
is "$code/$(tail -n 1 "$T/body" | jq -r .data)" "200/Restored to v2" "POST .../checkpoints/v2/restore without a body: Restored to v2"
[ "$took" -lt 5000 ]
ok $? "and the connection closes at the end of the stream (${took} ms)"
code=$(curl -sS --noproxy '*' -H @"$auth" -o "$T/body" -w '%{http_code}' "$SPRITESD_URL/v1/sprites/cp/checkpoints/v1")
is "$code/$(jq -c '{id, source_id}' "$T/body")" '200/{"id":"v1","source_id":"v0"}' "GET /checkpoints/v1: the object"
code=$(curl -sS --noproxy '*' -H @"$auth" -o "$T/body" -w '%{http_code}' "$SPRITESD_URL/v1/sprites/cp/checkpoints/v99")
is "$code/$(jq -r .error "$T/body")" "404/not_found" "GET an unknown checkpoint: 404 with a JSON error"
code=$(curl -sS --noproxy '*' -H @"$auth" -X POST -H 'Content-Length: 0' -o "$T/body" -w '%{http_code}' \
	"$SPRITESD_URL/v1/sprites/cp/checkpoints/v99/restore")
is "$code/$(jq -r .message "$T/body")" "404/checkpoint v99 not found in sprite \"cp\"" "restore an unknown checkpoint: 404"
for bad in v01 x1 v1.json; do
	code=$(curl -sS --noproxy '*' -H @"$auth" -o /dev/null -w '%{http_code}' "$SPRITESD_URL/v1/sprites/cp/checkpoints/$bad")
	is "$code" 404 "GET checkpoints/$bad (not an id vN): 404"
done
run sprite-checkpoint -s cp restore v99
is "$rc/$out" "1/" "sprite-checkpoint restore v99: exit 1"
stderr_is 'sprite-checkpoint: checkpoint v99 not found in sprite "cp" (sprite-checkpoint -s cp list shows them)' \
	"it says the checkpoint is unknown and how to see the ones there are"
run sprite-checkpoint -s ghost restore v0
is "$rc" 1 "restore in a sprite that does not exist: exit 1"
stderr_is 'sprite-checkpoint: sprite "ghost" not found (sprite-list shows what exists)' "says it is the sprite that is missing"

# ---- one at a time, in order; the client may go; destroy meanwhile ----
# The snapshot is taken by a child process (btrfs first writes out what the
# sprite wrote: 256 MiB here, not yet on disk), so requests arriving
# meanwhile queue behind it.
sprite-create q >/dev/null || echo "Bail out! cannot create sprite q"
sprite-checkpoint -s q create -m empty >/dev/null 2>&1
dirty() { sprite-exec -s q -n -- sh -c "head -c 256M /dev/zero >/workspace/$1"; }
dirty big1
# arrived N: spritesd has answered N checkpoint requests of q's (their
# headers go at once, queued or not), so the next one comes after them
# however slowly the machine starts a client (10 s at most).
arrived() {
	_i=0
	while [ "$(grep -c 'POST /v1/sprites/q/checkpoint' "$T/spritesd.log")" -lt "$1" ] && [ "$_i" -lt 100 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
}
n0=$(grep -c 'POST /v1/sprites/q/checkpoint' "$T/spritesd.log")
sprite-checkpoint -s q create -m first >"$T/q1.out" 2>"$T/q1.err" &
q1=$!
arrived $((n0 + 1))
sprite-checkpoint -s q create -m second >"$T/q2.out" 2>"$T/q2.err" &
q2=$!
arrived $((n0 + 2))
sprite-checkpoint -s q restore v0 >"$T/q3.out" 2>"$T/q3.err" &
q3=$!
wait "$q1"
r1=$?
wait "$q2"
r2=$?
wait "$q3"
r3=$?
is "$r1/$r2/$r3" "0/0/0" "two creates and a restore asked at once: each exits 0"
is "$(jq -r .id "$T/q1.out")/$(jq -r .id "$T/q2.out")" "v1/v2" "the creates get v1 and v2, in the order asked"
is "$(sprite-checkpoint -s q list | jq -r '"\(.id) \(.comment)"' | tr '\n' ',')" "v2 second,v1 first,v0 empty," \
	"both are listed, with their comments"
is "$(stat -c %s "$STATE/sprites/q/checkpoints/v1/workspace/big1")" 268435456 \
	"v1 holds all of the file written just before it"
is "$(sprite-exec -s q -n -- ls /workspace)" "" "the restore to v0 ran after them: the file is gone"
dirty big2
code=$(curl -sS --noproxy '*' --max-time 0.2 -H @"$auth" -X POST -H 'Content-Length: 0' -o /dev/null \
	-w '%{http_code}' "$SPRITESD_URL/v1/sprites/q/checkpoint" 2>/dev/null)
i=0
while [ "$i" -lt 100 ] && ! sprite-checkpoint -s q list | jq -e 'select(.id == "v3")' >/dev/null; do
	sleep 0.1
	i=$((i + 1))
done
is "$(sprite-checkpoint -s q list | jq -r .id | head -n 1)/$(stat -c %s "$STATE/sprites/q/checkpoints/v3/workspace/big2")" \
	"v3/268435456" "a client that goes away mid-create (HTTP $code): the checkpoint is made all the same"
dirty big3
sprite-checkpoint -s q create >"$T/q4.out" 2>"$T/q4.err" &
q4=$!
sleep 0.1
run sprite-destroy q
is "$rc/$err" "0/" "sprite-destroy while a checkpoint is being made: exit 0"
wait "$q4"
# Destroyed mid-snapshot (as here, unless the machine flushed 256 MiB in a
# blink), or after it.
case $(tail -n 1 "$T/q4.err") in
'sprite-checkpoint: cannot checkpoint sprite "q": Checkpoint failed: sprite "q" was destroyed' | \
	'sprite-checkpoint: Checkpoint v4 created') ok 0 "the create ends saying the sprite was destroyed" ;;
*) ok 1 "the create ends saying the sprite was destroyed"; diag "$(cat "$T/q4.err")" ;;
esac
is "$(find "$STATE/sprites" -mindepth 1 -maxdepth 1 ! -name cp ! -name live)" "" "nothing of sprite q is left under \$STATE/sprites"
is "$(sprite-list | jq -r .name | sort | tr '\n' ' ')" "cp live " "and spritesd serves on"

# ---- a restart of spritesd ----
stop_spritesd KILL
# shellcheck disable=SC2119 # no arguments for spritesd
start_spritesd
run sprite-checkpoint -s cp list
is "$rc/$(jq -r .id "$T/out" | tr '\n' ' ')" "0/v2 v1 v0 " "after spritesd is killed and restarted the checkpoints are listed"
run sprite-checkpoint -s cp restore v0
is "$rc" 0 "and restorable"
tree cp >"$T/tree3"
cmp -s "$T/tree0" "$T/tree3"
ok $? "to the same tree"

# ---- destroy takes the checkpoints ----
run sprite-destroy cp live
is "$rc" 0 "sprite-destroy of both sprites"
is "$(ls -A "$STATE/sprites")" "" "nothing is left under \$STATE/sprites"
if command -v btrfs >/dev/null 2>&1; then
	is "$(btrfs subvolume list "$STATE/sprites" 2>&1)" "" "no subvolume is left on the volume"
fi

# ---- sprite-checkpoint's usage ----
run sprite-checkpoint -h
is "$rc/$err" "0/" "-h: exit 0, quiet"
like "$out" "create [-m COMMENT]" "and the usage on stdout"
run sprite-checkpoint -s cp
is "$rc/$out" "2/" "no command: exit 2"
run sprite-checkpoint -s cp frobnicate
is "$rc" 2 "an unknown command: exit 2"
like "$err" 'sprite-checkpoint: unknown command "frobnicate": use create, list or restore' "named, with what to use"
run sprite-checkpoint -s cp restore
is "$rc" 2 "restore without an id: exit 2"
run sprite-checkpoint -s cp list -m x
is "$rc" 2 "-m with list: exit 2"
stderr_is "sprite-checkpoint: -m COMMENT goes with create only" "says -m goes with create"
run env -u SPRITE sprite-checkpoint list
is "$rc" 2 "no sprite: exit 2"
run sprite-checkpoint -s nope list
is "$rc/$out" "1/" "an unknown sprite: exit 1"
stderr_is 'sprite-checkpoint: sprite "nope" not found (sprite-list shows what exists)' "says so"
run sprite-checkpoint -s nope create
is "$rc/$out" "1/" "create in an unknown sprite: exit 1, nothing on stdout"

# ---- without btrfs: an error event that says why ----
stop_spritesd TERM
umount -l "$STATE/sprites"
XDG_STATE_HOME="$T/plain"
STATE="$XDG_STATE_HOME/spritesd"
SPRITESD_PORT=0
export XDG_STATE_HOME
start_spritesd --volume-size 0
sprite-create flat >/dev/null || echo "Bail out! cannot create a sprite without btrfs"
run sprite-exec -s flat -n -- sh -c 'echo still works >/workspace/f; cat /workspace/f'
is "$rc/$out" "0/still works" "with --volume-size 0, sprites are plain directories and work as before"
run sprite-checkpoint -s flat create
is "$rc/$out" "1/" "sprite-checkpoint create: exit 1, nothing on stdout"
{
	progress "Creating checkpoint..."
	printf 'sprite-checkpoint: cannot checkpoint sprite "flat": Checkpoint failed: checkpoints need %s on btrfs, and spritesd was started with --volume-size 0: restart it as root without that option (with no sprites yet), or mount a btrfs filesystem there\n' "$STATE/sprites"
} >"$T/want"
cmp -s "$T/want" "$T/err"
ok $? "the error event says why and what to do"
cmp -s "$T/want" "$T/err" || sed 's/^/#   /' "$T/err"
run sprite-checkpoint -s flat list
is "$rc/$out" "0/" "list: none"

plan "$tap_n"
done_testing
