#!/bin/sh
# The hook pipeline under fire: 5,000 events appended inside a sprite at a
# steady rate while spritesd is killed twice, the WebSocket is dropped, and
# both ends of the pipeline are killed and restarted the way task daemon
# restarts them.  Afterwards every event is in the database exactly once, in
# order, and the statuses are right.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

start_spritesd
sprite-create faults >/dev/null || echo "Bail out! cannot create a sprite"
DB=$T/tasks.db
H=/tmp/task-hooks.jsonl
SRC=faults:$H
N=5000

hook-apply --db "$DB" </dev/null
sqlite3 "$DB" "INSERT INTO projects (name, path, sprite_name) VALUES ('f', '/src/f', 'faults');
	INSERT INTO tasks (id, title, status, project, started_at) VALUES
	(1, 'one', 'processing', 'f', CURRENT_TIMESTAMP), (2, 'two', 'processing', 'f', CURRENT_TIMESTAMP),
	(3, 'three', 'processing', 'f', CURRENT_TIMESTAMP), (4, 'four', 'processing', 'f', CURRENT_TIMESTAMP)"

# Event i: odd, a prompt "e<i>" (-> processing); even, the Stop that ends
# its turn (-> blocked).  Pairs go to tasks 1, 2, 3, 4 in turn, so every task
# ends blocked; then a last prompt sets task 3 processing.  20 events every
# 50 ms: about 400 a second for 12 s.
cat >"$T/writer" <<'EOF'
i=1
while [ "$i" -le "$1" ]; do
	t=$(((i - 1) / 2 % 4 + 1))
	if [ $((i % 2)) -eq 1 ]; then
		printf '{"hook_event_name":"UserPromptSubmit","task_id":%d,"prompt":"e%d"}\n' "$t" "$i"
	else
		printf '{"hook_event_name":"Stop","task_id":%d}\n' "$t"
	fi >>/tmp/task-hooks.jsonl
	[ $((i % 20)) -eq 0 ] && sleep 0.05
	i=$((i + 1))
done
printf '{"hook_event_name":"UserPromptSubmit","task_id":3,"prompt":"last"}\n' >>/tmp/task-hooks.jsonl
EOF
# A background job of its own in the sprite, outliving the exec (and
# spritesd's restarts).
# shellcheck disable=SC2016 # the sprite's shell expands them
sprite-exec -s faults -- sh -c 'setsid sh -c "$0" writer "$1" </dev/null >/dev/null 2>&1 &' \
	"$(cat "$T/writer")" "$N"

# The pipeline, as task daemon runs it: from the stored cursor, restarted
# whenever it ends.  Each end's pid is kept so that the test can kill it.
mkfifo "$T/pipe"
pipeline() {
	while [ ! -e "$T/stop" ]; do
		cursor=$(hook-apply --db "$DB" --cursor "$SRC")
		sprite-tail -s faults -f --from "$cursor" "$H" >"$T/pipe" 2>>"$T/tail.err" &
		echo $! >"$T/tail.pid"
		hook-apply --db "$DB" <"$T/pipe" >>"$T/changes" 2>>"$T/apply.err" &
		echo $! >"$T/apply.pid"
		wait
		echo restart >>"$T/restarts"
		sleep 0.1
	done
}
pipeline &
PIPELINE=$!

# The scripts' way to read it: with a busy timeout, alongside hook-apply.
q() { sqlite3 -cmd ".timeout 10000" "$DB" "$1"; }
applied() { q "SELECT count(*) FROM task_logs"; }

sleep 1.5
stop_spritesd KILL
diag "spritesd killed at $(applied) rows"
sleep 1
start_spritesd
sleep 1.5
sprite-exec -s faults -- pkill -x tail
diag "WebSocket dropped at $(applied) rows"
sleep 1.5
kill -KILL "$(cat "$T/apply.pid")"
diag "hook-apply killed at $(applied) rows"
sleep 1.5
stop_spritesd KILL
diag "spritesd killed again at $(applied) rows"
sleep 1
start_spritesd
sleep 1.5
kill -KILL "$(cat "$T/tail.pid")"
diag "sprite-tail killed at $(applied) rows"

# Everything in, or 60 s.
i=0
while [ "$(applied)" -lt $((N + 1)) ] && [ "$i" -lt 600 ]; do
	sleep 0.1
	i=$((i + 1))
done
sleep 0.5
touch "$T/stop"
kill "$(cat "$T/tail.pid")" 2>/dev/null
wait "$PIPELINE"

total=$(sprite-exec -s faults -- wc -l "$H" | cut -d' ' -f1)
is "$total" $((N + 1)) "the writer appended all its events"
is "$(applied)" $((N + 1)) "the database holds one row per event"
q "SELECT content FROM task_logs WHERE line_type = 'user' ORDER BY id" >"$T/got"
{
	seq 1 2 "$N" | sed 's/^/e/'
	echo last
} >"$T/want"
cmp -s "$T/got" "$T/want"
ok $? "every prompt exactly once, in the order written"
is "$(q "SELECT count(*) FROM task_logs WHERE line_type = 'system' AND content = 'Waiting for user input'")" \
	$((N / 2)) "every Stop exactly once"
is "$(q "SELECT group_concat(status, ' ') FROM (SELECT status FROM tasks ORDER BY id)")" \
	"blocked blocked processing blocked" "the final statuses are right"
size=$(sprite-exec -s faults -- stat -c %s "$H")
is "$(hook-apply --db "$DB" --cursor "$SRC" | jq -r .offset)" "$size" "the stored cursor is at the end of the file"
is "$(jq -r .offset "$T/changes" | sort | uniq -d | wc -l)" 0 "no change was printed twice"
restarts=$(wc -l <"$T/restarts")
ok "$([ "$restarts" -ge 2 ] && echo 0 || echo 1)" "the pipeline was restarted ($restarts times)"
unlike "$(cat "$T/apply.err")" "malformed" "no line came to hook-apply torn"

# A cron run afterwards: nothing new, nothing applied twice.
run sh -c "sprite-tail -s faults --once --from '$(hook-apply --db "$DB" --cursor "$SRC")' $H | hook-apply --db '$DB'"
is "$rc/$out/$(applied)" "0//$((N + 1))" "a --once run from the stored cursor applies nothing again"

plan "$tap_n"
done_testing
