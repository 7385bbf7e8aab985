#!/bin/sh
# hook-apply: Claude Code hook events (real ones, from tests/fixtures, passed
# through task-hook as in a sprite) applied to the task database, exactly as
# task-workflow section 4 says; the change lines it prints; malformed input;
# cursors and exactly-once; the schema; batching; options.  No spritesd.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

FIX=$TOP/tests/fixtures/claude-hooks
D=$T/tasks.db
unset TASK_DB TASK_ID TASK_HOOKS_FILE
export XDG_DATA_HOME="$T/data" # never the user's own database
S=s:/tmp/h                     # a cursor source

q() { sqlite3 "$D" "$@" </dev/null; }
newdb() {  # newdb: a fresh task database in $D, with project p in sprite s
	rm -f "$D" "$D-wal" "$D-shm"
	hook-apply --db "$D" --sprite s </dev/null
	q "INSERT INTO projects (name, path, sprite_name) VALUES ('p', '/src/p', 's')"
}
task() {  # task ID STATUS [STARTED_AT]: add a task of p (started now unless NULL)
	q "INSERT INTO tasks (id, title, status, project, started_at) VALUES ($1, 'task $1', '$2', 'p', ${3:-CURRENT_TIMESTAMP})"
}
hook() {  # hook ID: the event on stdin through the hook writer into $T/hooks.jsonl
	TASK_ID=$1 TASK_HOOKS_FILE=$T/hooks.jsonl task-hook
}
joined() { awk 'NR > 1 { printf " | " } { printf "%s", $0 }'; }
logs() {  # logs ID: the task's rows, "type:content | ..."
	q "SELECT line_type || ':' || content FROM task_logs WHERE task_id = $1 ORDER BY id" | joined
}
since=0
news() {  # news ID: $got is "status | type:content | ..." with the rows added since the last call
	got=$(q "SELECT status FROM tasks WHERE id = $1")
	n_logs=$(q "SELECT line_type || ':' || content FROM task_logs WHERE task_id = $1 AND id > $since ORDER BY id" | joined)
	since=$(q "SELECT coalesce(max(id), 0) FROM task_logs")
	got="$got${n_logs:+ | $n_logs}"
}
summary() {  # summary APPLIED MALFORMED UNKNOWN IGNORED DUPS: hook-apply's last line on stderr
	e=events
	[ "$1" = 1 ] && e=event
	u=tasks
	[ "$3" = 1 ] && u=task
	d=duplicates
	[ "$5" = 1 ] && d=duplicate
	printf 'hook-apply: %s %s applied, %s malformed, %s %s %s, %s ignored (task not started), %s %s' \
		"$1" "$e" "$2" "$3" unknown "$u" "$4" "$5" "$d"
}
ev() {  # ev ID EVENT [JSON-FIELDS]: a bare event line, as task-hook would write it
	printf '{"hook_event_name":"%s","task_id":%s%s}\n' "$2" "$1" "${3:+,$3}"
}
cur() {  # cur OFFSET EVENT-JSON [EPOCH [FILE [SOURCE]]]: a line as sprite-tail prints it
	jq -cn --argjson o "$1" --argjson l "$2" --argjson e "${3:-0}" --arg f "${4:-1:2}" --arg s "${5:-$S}" \
		'{cursor: {source: $s, file: $f, epoch: $e, offset: $o, check: "x:y"}, line: $l}'
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# steps FIXTURE ID: feed the fixture's lines one at a time through task-hook,
# and each new line of $T/hooks.jsonl through hook-apply; after each, the task
# must be as the table on stdin says: the line number, then "status" and the
# task_logs rows that line added, "type:content", joined by " | ".
steps() {
	steps_bad='' steps_n=0
	: >"$T/steps.out"
	while read -r n want; do
		steps_n=$((steps_n + 1))
		[ "$n" = "$steps_n" ] || echo "Bail out! the table for $1 skips line $steps_n"
		name=$(sed -n "${n}p" "$1" | jq -r .hook_event_name)
		sed -n "${n}p" "$1" | hook "$2"
		tail -n 1 "$T/hooks.jsonl" | hook-apply --db "$D" --sprite s >>"$T/steps.out" 2>"$T/step.err"
		r=$?
		[ "$r" = 0 ] && [ ! -s "$T/step.err" ] || steps_bad="$steps_bad line $n: exit $r $(cat "$T/step.err");"
		news "$2"
		is "$got" "$want" "$(basename "$1") line $n ($name)"
	done
	is "$steps_n" "$(wc -l <"$1" | tr -d ' ')" "$(basename "$1"): every line was fed"
	is "$steps_bad" "" "$(basename "$1"): hook-apply exits 0 with nothing on stderr at every step"
}

# ---- tmux-permission.jsonl, one event at a time ----
newdb
task 7 processing
steps "$FIX/tmux-permission.jsonl" 7 <<'EOF'
1 processing | system:Claude session: 3b4906ec-8be3-4e6d-9c8d-47b3ac212d6a
2 processing
3 processing | user:make hello.txt
4 processing | pending_tool:echo hi > hello.txt
5 processing
6 blocked | system:Waiting for permission: Bash: echo hi > hello.txt
7 blocked
8 processing | tool:Bash: echo hi > hello.txt
9 processing
10 processing
11 blocked | text:done | system:Waiting for user input
12 blocked
13 processing | user:append a line (answer with Enter)
14 processing
15 processing | pending_tool:echo more >> hello.txt
16 blocked | system:Waiting for permission: Bash: echo more >> hello.txt
17 blocked
18 processing | tool:Bash: echo more >> hello.txt
19 processing
20 blocked | text:done | system:Waiting for user input
21 blocked
22 processing | user:append a line (answer with 3 = No)
23 processing
24 processing | pending_tool:echo more >> hello.txt
25 blocked | system:Waiting for permission: Bash: echo more >> hello.txt
26 processing | user:append a line (answer with Escape)
27 processing
28 processing | pending_tool:echo more >> hello.txt
29 blocked | system:Waiting for permission: Bash: echo more >> hello.txt
30 processing | user:append a line (answer with 2)
31 processing | pending_tool:echo more >> hello.txt
32 processing
33 blocked | system:Waiting for permission: Bash: echo more >> hello.txt
34 processing | tool:Bash: echo more >> hello.txt
35 processing
36 processing
37 blocked | text:done | system:Waiting for user input
38 processing | user:append a line (after choosing 2)
39 processing | pending_tool:echo more >> hello.txt
40 processing
41 blocked | system:Waiting for permission: Bash: echo more >> hello.txt
42 processing | tool:Bash: echo more >> hello.txt
43 processing
44 blocked | text:done | system:Waiting for user input
45 blocked
46 blocked | system:Agent exited (prompt_input_exit) | question:Task needs review
EOF
is "$(q "SELECT claude_session_id FROM tasks WHERE id = 7")" 3b4906ec-8be3-4e6d-9c8d-47b3ac212d6a \
	"SessionStart stored claude_session_id"
is "$(q "SELECT count(*) FROM task_logs")" 33 "33 rows in all, none for another task"
ts1=$(head -n 1 "$T/hooks.jsonl" | jq .ts)
is "$(q "SELECT created_at FROM task_logs WHERE id = 1")" "$(q "SELECT datetime($ts1 / 1000, 'unixepoch')")" \
	"a row's created_at is the event's ts (UTC, the task app's format)"
is "$(wc -l <"$T/steps.out" | tr -d ' ')" 28 "one change line per event that changed something"
is "$(sed -n 4p "$T/steps.out")" \
	'{"task_id":7,"event":"PermissionRequest","old_status":"processing","new_status":"blocked","logs":[{"line_type":"system","content":"Waiting for permission: Bash: echo hi > hello.txt"}]}' \
	"the change line of a PermissionRequest"
is "$(tail -n 1 "$T/steps.out")" \
	'{"task_id":7,"event":"SessionEnd","old_status":"blocked","new_status":"blocked","logs":[{"line_type":"system","content":"Agent exited (prompt_input_exit)"},{"line_type":"question","content":"Task needs review"}]}' \
	"the change line of a SessionEnd: two logs"

# The same events in one run (one transaction) leave the same rows.
cp "$T/hooks.jsonl" "$T/tmux.jsonl"
q "SELECT task_id, line_type, content, created_at FROM task_logs ORDER BY id" >"$T/onebyone.rows"
newdb
task 7 processing
run hook-apply --db "$D" --sprite s <"$T/tmux.jsonl"
is "$rc/$err" "0/" "the whole file at once: exit 0, nothing on stderr"
q "SELECT task_id, line_type, content, created_at FROM task_logs ORDER BY id" >"$T/batch.rows"
cmp -s "$T/onebyone.rows" "$T/batch.rows"
ok $? "the same rows as one event at a time"
cmp -s "$T/steps.out" "$T/out"
ok $? "and the same change lines"
is "$(q "SELECT status FROM tasks WHERE id = 7")" blocked "and the same status"

# ---- print-tools.jsonl ----
# Claude's TaskCreated/TaskCompleted carry its own task_id "1": there is no
# task 1, so any trace of it on stderr would show the hook writer let it through.
newdb
task 8 processing
rm -f "$T/hooks.jsonl"
since=0
steps "$FIX/print-tools.jsonl" 8 <<'EOF'
1 processing | system:Claude session: 0e5db337-ccf8-4772-b38a-9e4b4168f707
2 processing | user:run the tool tour
3 processing
4 processing
5 processing | pending_tool:Fake subagent
6 processing
7 processing | system:Subagent finished: general-purpose
8 processing | tool:Agent: Fake subagent
9 processing
10 processing | pending_tool:TaskCreate
11 processing
12 processing | tool:TaskCreate
13 processing
14 processing | pending_tool:TaskUpdate
15 processing
16 processing | tool:TaskUpdate
17 processing
18 processing | pending_tool:echo failing >&2; exit 3
19 processing
20 processing
21 processing | pending_tool:mkdir -p sub && cd sub
22 processing
23 processing | tool:Bash: mkdir -p sub && cd sub
24 processing
25 processing | pending_tool:mkdir -p ../.claude && echo '{"env":{"HARNESS":"1"}}' > ../.claude/settings.local.json && sleep 3
26 processing
27 processing | tool:Bash: mkdir -p ../.claude && echo '{"env":{"HARNESS":"1"}}' > ../.claude/settings.local.json && sleep 3
28 processing
29 processing
30 blocked | text:done | system:Waiting for user input
31 blocked | system:Agent exited (other) | question:Task needs review
EOF

# ---- tool details, cut to length (synthesized, through task-hook) ----
newdb
task 20 processing
rm -f "$T/hooks.jsonl"
a150=$(printf '%0145d' 0 | tr 0 a)
p250=$(printf '%0250d' 0 | tr 0 p)
e250=$(printf '%0250d' 0 | sed 's/0/é/g')
{
	ev 20 PreToolUse '"tool_name":"Write","tool_input":{"file_path":"/w/a.txt","content":"SECRET"}'
	ev 20 PostToolUse '"tool_name":"Write","tool_input":{"file_path":"/w/a.txt","content":"SECRET"},"tool_response":{"x":"SECRET"}'
	ev 20 PostToolUse '"tool_name":"Read","tool_input":{"file_path":"/w/b.txt"}'
	ev 20 PostToolUse '"tool_name":"Edit","tool_input":{"file_path":"/w/c.txt","old_string":"SECRET","new_string":"x"}'
	ev 20 PostToolUse '"tool_name":"Glob","tool_input":{"pattern":"**/*.c"}'
	ev 20 PostToolUse '"tool_name":"Grep","tool_input":{"pattern":"TODO","path":"/w"}'
	ev 20 PostToolUse '"tool_name":"Agent","tool_input":{"description":"Look around","prompt":"long"}'
	ev 20 PostToolUse '"tool_name":"Task","tool_input":{"description":"Old name"}'
	ev 20 PostToolUse '"tool_name":"WebFetch","tool_input":{"url":"https://example.com/"}'
	ev 20 PostToolUse '"tool_name":"WebSearch","tool_input":{"query":"sqlite wal"}'
	ev 20 PostToolUse '"tool_name":"mcp__srv__do","tool_input":{"x":1}'
	ev 20 PostToolUse '"tool_name":"Bash","tool_input":{}'
	ev 20 PreToolUse "\"tool_name\":\"Bash\",\"tool_input\":{\"command\":\"echo $a150\"}"
	ev 20 PostToolUse "\"tool_name\":\"Bash\",\"tool_input\":{\"command\":\"echo $a150\"}"
	ev 20 PreToolUse "\"tool_name\":\"Read\",\"tool_input\":{\"file_path\":\"$p250\"}"
	ev 20 UserPromptSubmit "\"prompt\":\"$e250\""
} >"$T/tools.in"
while read -r line; do printf '%s\n' "$line" | hook 20; done <"$T/tools.in"
run hook-apply --db "$D" --sprite s <"$T/hooks.jsonl"
is "$rc/$err" "0/" "tool events: exit 0, nothing on stderr"
p200=$(printf '%0200d' 0 | tr 0 p)
e200=$(printf '%0200d' 0 | sed 's/0/é/g')
b100=$(printf 'echo %095d' 0 | tr 0 a)
q "SELECT line_type || ':' || content FROM task_logs WHERE task_id = 20 ORDER BY id" >"$T/got"
cat >"$T/want" <<EOF
pending_tool:/w/a.txt
tool:Write: /w/a.txt
tool:Read: /w/b.txt
tool:Edit: /w/c.txt
tool:Glob: **/*.c
tool:Grep: TODO
tool:Agent: Look around
tool:Task: Old name
tool:WebFetch: https://example.com/
tool:WebSearch: sqlite wal
tool:mcp__srv__do
tool:Bash
pending_tool:echo $a150
tool:Bash: $b100
pending_tool:$p200
user:$e200
EOF
cmp -s "$T/want" "$T/got"
ok $? "each tool's detail (Write/Read/Edit file_path, Glob/Grep pattern, Agent/Task description, WebFetch url, WebSearch query; the name alone otherwise)"
diff "$T/want" "$T/got" | sed 's/^/# /' | cut -c1-200
is "$(q "SELECT count(*) FROM task_logs WHERE content LIKE '%SECRET%'")" 0 "written contents never reach the database"
is "$(q "SELECT length(content) FROM task_logs WHERE line_type = 'user'")" 200 \
	"a prompt is cut to 200 characters, not bytes"

# ---- status moves (synthesized) ----
newdb
task 21 processing
since=0
step() {  # step ID EVENT [FIELDS]: apply one bare event; then news ID ($got)
	ev "$@" | hook-apply --db "$D" --sprite s >"$T/step.out" 2>"$T/step.err"
	news "$1"
}
step 21 Notification '"notification_type":"permission_prompt","message":"Claude needs your permission to use Bash"'
is "$got" \
	"blocked | system:Waiting for permission: Claude needs your permission to use Bash" \
	"Notification permission_prompt while processing: blocked, with the message"
step 21 PreToolUse '"tool_name":"Bash","tool_input":{"command":"ls"}'
is "$got" \
	"processing | system:Agent resumed working | pending_tool:ls" "PreToolUse while blocked: processing, Agent resumed working"
step 21 Notification '"notification_type":"idle_prompt","message":"Claude is waiting for your input"'
is "$got" \
	"blocked | system:Waiting for user input: Claude is waiting for your input" \
	"Notification idle_prompt while processing: blocked, with its message"
step 21 Notification '"notification_type":"elicitation_dialog"'
is "$got" blocked \
	"Notification while blocked: nothing new"
step 21 UserPromptSubmit '"prompt":"go on"'
is "$got" "processing | user:go on" "UserPromptSubmit while blocked: processing"
step 21 Notification '"notification_type":"auth_success","message":"ok"'
is "$got" processing \
	"another Notification: nothing"
step 21 Notification '"notification_type":"elicitation_dialog","message":"Pick one"'
is "$got" \
	"blocked | system:Waiting for user input: Pick one" "Notification elicitation_dialog while processing: blocked, with its message"
step 21 SessionEnd '"reason":"clear"'
is "$got" blocked "SessionEnd reason clear: nothing"
is "$(cat "$T/step.out")" "" "and no change line"
step 21 SessionStart '"session_id":"new-1","source":"clear"'
is "$got" "blocked | system:Claude session: new-1" \
	"SessionStart source clear with a new session_id: logged"
is "$(q "SELECT claude_session_id FROM tasks WHERE id = 21")" new-1 "and stored"
step 21 SessionStart '"session_id":"new-1","source":"compact"'
is "$got" blocked "SessionStart compact, same id: nothing"
step 21 SessionStart '"session_id":"new-1","source":"resume"'
is "$got" blocked "nor on resume with the same id"
step 21 Stop '"stop_hook_active":false'
is "$got" "blocked | system:Waiting for user input" \
	"Stop while blocked: still blocked"
step 21 PostToolUse '"tool_name":"Read","tool_input":{"file_path":"/x"}'
is "$got" "processing | tool:Read: /x" \
	"PostToolUse while blocked, no question among the last rows: processing"
step 21 SessionEnd '"reason":"logout"'
is "$got" "blocked | system:Agent exited (logout) | question:Task needs review" \
	"SessionEnd while processing: blocked, Task needs review"
step 21 PostToolUse '"tool_name":"Read","tool_input":{"file_path":"/a"}'
is "$got" "blocked | tool:Read: /a" \
	"PostToolUse while blocked with a question among the last 3 rows: stays blocked"
step 21 PostToolUse '"tool_name":"Read","tool_input":{"file_path":"/b"}'
is "$got" "blocked | tool:Read: /b" \
	"again (the question is the third row back, counting this one)"
step 21 PostToolUse '"tool_name":"Read","tool_input":{"file_path":"/c"}'
is "$got" "processing | tool:Read: /c" \
	"once the question is out of the last 3 rows: processing"
# The same three in one transaction.
ev 21 SessionEnd '"reason":"other"' | hook-apply --db "$D" --sprite s >/dev/null
news 21
{
	ev 21 PostToolUse '"tool_name":"Read","tool_input":{"file_path":"/a"}'
	ev 21 PostToolUse '"tool_name":"Read","tool_input":{"file_path":"/b"}'
	ev 21 PostToolUse '"tool_name":"Read","tool_input":{"file_path":"/c"}'
} >"$T/three"
run hook-apply --db "$D" --sprite s <"$T/three"
is "$(printf '%s\n' "$out" | jq -r '.old_status + ">" + .new_status' | joined)" \
	"blocked>blocked | blocked>blocked | blocked>processing" "the same in one transaction"

# ---- tasks not started, unknown, done; task_id as a string ----
task 30 backlog NULL
task 31 'done'
q "UPDATE tasks SET updated_at = '2000-01-01 00:00:00'"
before=$(q "SELECT count(*) FROM task_logs")
{
	ev 30 Stop
	ev 30 UserPromptSubmit '"prompt":"hi"'
} >"$T/in"
run hook-apply --db "$D" --sprite s <"$T/in"
is "$rc/$out" "0/" "events for a task never started: exit 0, no change line"
stderr_is "$(summary 0 0 0 2 0)" "counted as ignored"
is "$(q "SELECT status || ' ' || updated_at FROM tasks WHERE id = 30")/$(q "SELECT count(*) FROM task_logs")" \
	"backlog 2000-01-01 00:00:00/$before" "nothing changed"
{
	ev 21 InstructionsLoaded '"file_path":"/w/CLAUDE.md"'
	ev 99 Stop
	ev 21 MessageDisplay
} >"$T/in"
run hook-apply --db "$D" --sprite s <"$T/in"
is "$rc/$out" "0/" "an event for an unknown task: exit 0, no change line"
printf '%s\n%s\n' "hook-apply: stdin line 2: unknown task 99 (Stop event)" "$(summary 2 0 1 0 0)" >"$T/want"
cmp -s "$T/want" "$T/err"
ok $? "reported on stderr with its line, and counted"
is "$(q "SELECT count(*) FROM tasks WHERE id = 99")/$(q "SELECT count(*) FROM task_logs")" "0/$before" \
	"nothing changed, no task made"
run hook-apply --db "$D" --sprite s <<'EOF'
{"hook_event_name":"UserPromptSubmit","task_id":"21","prompt":"as a string"}
EOF
is "$rc/$err" "0/" "task_id as a string of digits: accepted"
is "$out" '{"task_id":21,"event":"UserPromptSubmit","old_status":"processing","new_status":"processing","logs":[{"line_type":"user","content":"as a string"}]}' \
	"and applied (the change line gives it as a number)"
since=$(q "SELECT max(id) FROM task_logs")
{
	ev 31 PreToolUse '"tool_name":"Bash","tool_input":{"command":"ls"}'
	ev 31 PermissionRequest '"tool_name":"Bash","tool_input":{"command":"ls"}'
	ev 31 Stop
	ev 31 SessionEnd '"reason":"other"'
} >"$T/in"
run hook-apply --db "$D" --sprite s <"$T/in"
is "$rc/$err" "0/" "events for a done task: exit 0"
news 31
is "$got" "done | pending_tool:ls | system:Waiting for permission: Bash: ls | system:Waiting for user input | system:Agent exited (other)" \
	"logged, its status untouched, no question"
is "$(q "SELECT updated_at FROM tasks WHERE id = 31")" "2000-01-01 00:00:00" "updated_at untouched too"
is "$(printf '%s\n' "$out" | jq -r '.old_status + ">" + .new_status' | sort -u)" "done>done" "its change lines say done>done"

# ---- events apply only to their own sprite's tasks ----
newdb
q "INSERT INTO projects (name, path, sprite_name) VALUES ('q', '/src/q', 'other')"
task 70 processing
{
	cur 10 '{"hook_event_name":"Stop","task_id":70}' 0 1:2 other:/tmp/task-hooks.jsonl
	cur 20 '{"hook_event_name":"UserPromptSubmit","task_id":70,"prompt":"forged","ts":0}' 0 1:2 other:/tmp/task-hooks.jsonl
} >"$T/forged"
run hook-apply --db "$D" <"$T/forged"
is "$rc/$out" "0/" "another project's sprite names task 70 (sprite s's): nothing applied, exit 0"
is "$err" "hook-apply: other:/tmp/task-hooks.jsonl:10: refused: task 70 is s's, not sprite other's (Stop event)
hook-apply: other:/tmp/task-hooks.jsonl:20: refused: task 70 is s's, not sprite other's (UserPromptSubmit event)
$(summary 0 0 0 0 0), 2 refused (another sprite's task, or no sprite)" "each refusal said on stderr, and counted"
is "$(q "SELECT status FROM tasks WHERE id = 70")/$(logs 70)" "processing/" "the task is as it was"
is "$(hook-apply --db "$D" --cursor other:/tmp/task-hooks.jsonl | jq -r .offset)" 20 "and the refused lines are behind the cursor"
ev 70 Stop >"$T/bare"
run hook-apply --db "$D" <"$T/bare"
is "$rc/$(q "SELECT status FROM tasks WHERE id = 70")" "0/processing" "a bare line without --sprite: refused"
like "$err" "stdin line 1: refused: a bare line names no sprite (use --sprite NAME for lines without a cursor)" "saying what to do"
run hook-apply --db "$D" --sprite other <"$T/bare"
is "$(q "SELECT status FROM tasks WHERE id = 70")" processing "--sprite other: refused too"
run hook-apply --db "$D" --sprite s <"$T/bare"
is "$rc/$err/$(q "SELECT status FROM tasks WHERE id = 70")" "0//blocked" "--sprite s: applied"
printf '%s\n' '{"hook_event_name":"Stop","task_id":70}' | cur 30 "$(cat)" 0 1:2 "$(printf 's\033]52;c;eA==\007')x:/tmp/h" >"$T/esc"
run hook-apply --db "$D" <"$T/esc"
like "$err" 'hook-apply: s\x1b]52;c;eA==\x07x:/tmp/h:30: refused: task 70 is s'"'"'s, not sprite s\x1b]52;c;eA==\x07x'"'"'s' \
	"a source holding escapes is shown escaped"
run hook-apply --db "$D" --sprite a:b </dev/null
is "$rc" 2 "--sprite with a colon: a usage error"
# Where the task's agent runs (task execute records it) comes first.
task 71 processing
q "INSERT INTO settings (key, value) VALUES ('sprite_tools.agent.71', '{\"where\":\"sprite\",\"sprite\":\"moved\"}')"
ev 71 Stop | hook-apply --db "$D" --sprite s >/dev/null 2>&1
is "$(q "SELECT status FROM tasks WHERE id = 71")" processing "an agent recorded in sprite moved: sprite s's events refused"
ev 71 Stop | hook-apply --db "$D" --sprite moved >/dev/null 2>&1
is "$(q "SELECT status FROM tasks WHERE id = 71")" blocked "sprite moved's applied"
task 72 processing
q "INSERT INTO settings (key, value) VALUES ('sprite_tools.agent.72', '{\"where\":\"local\",\"sprite\":\"\"}')"
cur 5 '{"hook_event_name":"Stop","task_id":72}' 0 1:2 s:/tmp/h | hook-apply --db "$D" >/dev/null 2>&1
is "$(q "SELECT status FROM tasks WHERE id = 72")" processing "an agent run on this machine: the sprite's events refused"
cur 5 '{"hook_event_name":"Stop","task_id":72}' 0 1:2 local:/home/u/.local/state/task/task-hooks.jsonl |
	hook-apply --db "$D" >/dev/null 2>&1
is "$(q "SELECT status FROM tasks WHERE id = 72")" blocked "the local pipeline's (source local:FILE) applied"

# ---- change lines ----
newdb
task 40 processing
run hook-apply --db "$D" --sprite s <<'EOF'
{"hook_event_name":"UserPromptSubmit","task_id":40,"ts":1764000000123,"prompt":"say \"hi\"\\ \n\t\u001f é"}
EOF
is "$out" '{"task_id":40,"event":"UserPromptSubmit","old_status":"processing","new_status":"processing","logs":[{"line_type":"user","content":"say \"hi\"\\ \n\t\u001F é"}]}' \
	"a change line: task_id, event, old_status, new_status, logs, its strings escaped"
is "$(printf '%s\n' "$out" | jq -r '.logs[0].content')" "$(q "SELECT content FROM task_logs")" "it is JSON and says what the row holds"
is "$(q "SELECT created_at FROM task_logs")" "2025-11-24 16:00:00" "created_at from ts 1764000000123"
# C1 controls (U+009B is CSI) and bidi overrides (U+202E) in what a sprite
# sent: escaped in the change line, which a terminal may show; kept in the row.
run hook-apply --db "$D" --sprite s <<'EOF'
{"hook_event_name":"UserPromptSubmit","task_id":40,"prompt":"a\u009b31mb\u202ec\u2066d\u00e9"}
EOF
like "$out" '"content":"a\u009B31mb\u202Ec\u2066dé"' "C1 controls and bidi overrides are \\u escapes in a change line (é is not)"
is "$(printf '%s\n' "$out" | jq -r '.logs[0].content')" "$(q "SELECT content FROM task_logs ORDER BY id DESC LIMIT 1")" \
	"and the line still says what the row holds"
# A ts from before Claude Code's hooks existed (1970), or ahead of the clock:
# the time of arrival instead.
newdb
task 41 processing
far=$(($(date +%s) * 1000 + 3600000))
{
	ev 41 UserPromptSubmit '"ts":0,"prompt":"1970"'
	ev 41 UserPromptSubmit "\"ts\":$far,\"prompt\":\"an hour ahead\""
} | hook-apply --db "$D" --sprite s >/dev/null
is "$(q "SELECT content || ':' || (abs(strftime('%s', created_at) - strftime('%s', 'now')) < 120) FROM task_logs" | joined)" \
	"1970:1 | an hour ahead:1" "an implausible ts (1970, an hour ahead) is replaced by the time of arrival"
newdb
task 40 processing
cur 123 '{"hook_event_name":"Stop","task_id":40}' >"$T/in"
run hook-apply --db "$D" --sprite s <"$T/in"
is "$out" '{"task_id":40,"event":"Stop","old_status":"processing","new_status":"blocked","logs":[{"line_type":"system","content":"Waiting for user input"}],"source":"s:/tmp/h","offset":123}' \
	"with a cursor: its source and offset too"

# ---- malformed input ----
newdb
task 41 processing
{
	echo 'garbage'
	echo '{"hook_event_name":"Stop","task_id":'
	echo '[1,2]'
	echo
	echo '{"task_id":41}'
	ev 41 UserPromptSubmit '"prompt":"after garbage"'
	echo '{"hook_event_name":"Stop"}'
	echo '{"hook_event_name":"Stop","task_id":"4x"}'
	echo '{"hook_event_name":"Stop","task_id":-1}'
	echo '{"hook_event_name":"PostToolUse","task_id":41}'
	head -c 5242880 /dev/zero | tr '\0' x
	echo
	ev 41 Stop
	printf '%s' '{"hook_event_name":"UserPromptSubmit","task_id":41,"prompt":"no newline"}'
} >"$T/bad.in"
run hook-apply --db "$D" --sprite s <"$T/bad.in"
is "$rc" 0 "malformed lines: exit 0"
sed 's/not JSON (.*)$/not JSON (...)/' "$T/err" >"$T/got"
cat >"$T/want" <<EOF
hook-apply: stdin line 1: not JSON (...)
hook-apply: stdin line 2: not JSON (...)
hook-apply: stdin line 3: not a JSON object
hook-apply: stdin line 5: not a hook event (no hook_event_name)
hook-apply: stdin line 7: Stop event without task_id
hook-apply: stdin line 8: Stop event with a bad task_id (want an integer or a string of digits)
hook-apply: stdin line 9: Stop event with a bad task_id (want an integer or a string of digits)
hook-apply: stdin line 10: PostToolUse event without tool_name
hook-apply: stdin line 11: line longer than 4194304 bytes: skipped
$(summary 3 9 0 0 0)
EOF
cmp -s "$T/want" "$T/got"
ok $? "each reported on stderr with its line number (the empty line 4 skipped quietly), then the counts"
diff "$T/want" "$T/got" | sed 's/^/# /'
is "$(logs 41)" "user:after garbage | system:Waiting for user input | user:no newline" \
	"the good events around them applied, a last line without its newline too"
is "$(q "SELECT status FROM tasks WHERE id = 41")" processing "and the status follows them"
printf '%s' '{"hook_event_name":"Stop","task_id":41' >"$T/in"
run hook-apply --db "$D" --sprite s <"$T/in"
is "$rc/$out" "0/" "a truncated last line: exit 0"
like "$err" "hook-apply: stdin line 1: not JSON (" "reported"
is "$(q "SELECT status FROM tasks WHERE id = 41")" processing "and not applied"
run hook-apply --db "$D" --sprite s </dev/null
is "$rc/$out/$err" "0//" "no input: exit 0, nothing said"

# ---- cursors: exactly once ----
newdb
task 50 processing
{
	cur 10 '{"hook_event_name":"Stop","task_id":50}'
	cur 20 '{"hook_event_name":"UserPromptSubmit","task_id":50,"prompt":"one"}'
	cur 30 '{"hook_event_name":"UserPromptSubmit","task_id":50,"prompt":"two"}'
} >"$T/c1"
run hook-apply --db "$D" --sprite s <"$T/c1"
is "$rc/$err" "0/" "sprite-tail lines: exit 0"
is "$(printf '%s\n' "$out" | jq -r .offset | joined)" "10 | 20 | 30" "each applied"
is "$(logs 50)" "system:Waiting for user input | user:one | user:two" "once"
run hook-apply --db "$D" --sprite s --cursor "$S"
is "$rc/$err" "0/" "--cursor: exit 0"
is "$out" '{"source":"s:/tmp/h","file":"1:2","epoch":0,"offset":30,"check":"x:y"}' "--cursor prints the last cursor stored, as it came"
is "$(wc -l <"$T/out" | tr -d ' ')" 1 "on one line"
run hook-apply --db "$D" --sprite s <"$T/c1"
is "$rc/$out" "0/" "the same lines again: nothing printed"
stderr_is "$(summary 0 0 0 0 3)" "counted as duplicates"
is "$(logs 50)" "system:Waiting for user input | user:one | user:two" "nothing applied twice"
{
	cur 20 '{"hook_event_name":"UserPromptSubmit","task_id":50,"prompt":"one"}'
	cur 30 '{"hook_event_name":"UserPromptSubmit","task_id":50,"prompt":"two"}'
	cur 40 '{"hook_event_name":"UserPromptSubmit","task_id":50,"prompt":"three"}'
} >"$T/c2"
run hook-apply --db "$D" --sprite s <"$T/c2"
is "$(printf '%s\n' "$out" | jq -r .offset)" 40 "overlapping lines: only the new one applied"
stderr_is "$(summary 1 0 0 0 2)" "the others counted as duplicates"
{
	cur 5 '{"hook_event_name":"UserPromptSubmit","task_id":50,"prompt":"epoch 1"}' 1
	cur 5 '{"hook_event_name":"UserPromptSubmit","task_id":50,"prompt":"epoch 1 again"}' 1
	cur 7 '{"hook_event_name":"UserPromptSubmit","task_id":50,"prompt":"new file"}' 0 1:3
	cur 3 '{"hook_event_name":"UserPromptSubmit","task_id":50,"prompt":"other source"}' 0 9:9 s:/tmp/h2
} >"$T/c3"
run hook-apply --db "$D" --sprite s <"$T/c3"
is "$(logs 50)" "system:Waiting for user input | user:one | user:two | user:three | user:epoch 1 | user:new file | user:other source" \
	"a cursor in a new epoch is applied, then one in a new file, and another source's"
stderr_is "$(summary 3 0 0 0 1)" "a repeated offset in the new epoch is a duplicate"
is "$(hook-apply --db "$D" --sprite s --cursor "$S")" '{"source":"s:/tmp/h","file":"1:3","epoch":0,"offset":7,"check":"x:y"}' \
	"the source's cursor moved to the new file"
is "$(hook-apply --db "$D" --cursor s:/tmp/h2)" '{"source":"s:/tmp/h2","file":"9:9","epoch":0,"offset":3,"check":"x:y"}' \
	"each source has its own"
run hook-apply --db "$D" --sprite s --cursor u:/tmp/h
is "$rc/$out/$err" "0//" "--cursor for an unknown source: nothing, exit 0"
run hook-apply --db "$T/none/tasks.db" --cursor "$S"
is "$rc/$out/$err" "0//" "--cursor when the database does not exist: nothing, exit 0"
ok "$([ ! -e "$T/none" ] && echo 0 || echo 1)" "and nothing created"
{
	echo '{"cursor":{"source":"s:/tmp/h","file":"1:3","epoch":-1,"offset":50},"line":{"hook_event_name":"Stop","task_id":50}}'
	echo '{"cursor":{"source":"s:/tmp/h","file":"1:3","epoch":0,"offset":"50"},"line":{"hook_event_name":"Stop","task_id":50}}'
	echo '{"cursor":{"file":"1:3","epoch":0,"offset":50},"line":{"hook_event_name":"Stop","task_id":50}}'
	echo '{"cursor":{"source":"s:/tmp/h","file":"1:3","epoch":0,"offset":60,"check":"x:y"},"text":"not json"}'
	echo '{"cursor":{"source":"s:/tmp/h","file":"1:3","epoch":0,"offset":70,"check":"x:y"},"line":[1]}'
	echo '{"cursor":{"source":"s:/tmp/h","file":"1:3","epoch":0,"offset":80,"check":"x:y"},"line":{"hook_event_name":"Stop","task_id":98}}'
} >"$T/c4"
run hook-apply --db "$D" --sprite s <"$T/c4"
cat >"$T/want" <<EOF
hook-apply: stdin line 1: bad cursor (want source, file, epoch and offset, as sprite-tail prints them)
hook-apply: stdin line 2: bad cursor (want source, file, epoch and offset, as sprite-tail prints them)
hook-apply: stdin line 3: bad cursor (want source, file, epoch and offset, as sprite-tail prints them)
hook-apply: s:/tmp/h:60: the line is not JSON
hook-apply: s:/tmp/h:70: the line is not a JSON object
hook-apply: s:/tmp/h:80: unknown task 98 (Stop event)
$(summary 0 5 1 0 0)
EOF
cmp -s "$T/want" "$T/err"
ok $? "bad cursors are malformed; a tailed line's position is its source and offset"
diff "$T/want" "$T/err" | sed 's/^/# /'
is "$rc/$out/$(q "SELECT status FROM tasks WHERE id = 50")" "0//processing" "none applied"
is "$(hook-apply --db "$D" --sprite s --cursor "$S" | jq -c .offset)" 80 \
	"the cursor moves past lines that could not be applied (reported once, not at every restart)"
# Mixed with bare events: both applied, only the cursors stored.
{
	ev 50 UserPromptSubmit '"prompt":"bare"'
	cur 90 '{"hook_event_name":"Stop","task_id":50}'
} >"$T/c5"
run hook-apply --db "$D" --sprite s <"$T/c5"
is "$(printf '%s\n' "$out" | jq -c '[.event, .offset]' | joined)" '["UserPromptSubmit",null] | ["Stop",90]' \
	"bare events and tailed ones mix"

# ---- the schema ----
newdb
cols() {  # cols TABLE: "name type notnull default pk, ..."
	q "SELECT name || ' ' || type || ' ' || \"notnull\" || ' ' || coalesce(dflt_value, '-') || ' ' || pk FROM pragma_table_info('$1')" |
		awk 'NR > 1 { printf ", " } { printf "%s", $0 }'
}
is "$(cols tasks)" "id INTEGER 0 - 1, title TEXT 1 - 0, body TEXT 0 '' 0, status TEXT 0 'backlog' 0, type TEXT 0 '' 0, project TEXT 0 '' 0, worktree_path TEXT 0 '' 0, branch_name TEXT 0 '' 0, claude_session_id TEXT 0 '' 0, daemon_session TEXT 0 '' 0, tmux_window_id TEXT 0 '' 0, permission_mode TEXT 0 '' 0, created_at DATETIME 0 CURRENT_TIMESTAMP 0, updated_at DATETIME 0 CURRENT_TIMESTAMP 0, started_at DATETIME 0 - 0, completed_at DATETIME 0 - 0" \
	"a fresh database: tasks as in section 3"
is "$(cols projects)" "id INTEGER 0 - 1, name TEXT 1 - 0, path TEXT 1 - 0, sprite_name TEXT 0 '' 0, sprite_status TEXT 0 '' 0, created_at DATETIME 0 CURRENT_TIMESTAMP 0" \
	"projects"
is "$(cols task_logs)" "id INTEGER 0 - 1, task_id INTEGER 1 - 0, line_type TEXT 0 'output' 0, content TEXT 1 - 0, created_at DATETIME 0 CURRENT_TIMESTAMP 0" \
	"task_logs"
is "$(q "SELECT \"table\" || '.' || \"to\" || ' ' || on_delete FROM pragma_foreign_key_list('task_logs')")" "tasks.id CASCADE" \
	"task_logs.task_id references tasks(id) on delete cascade"
is "$(cols settings)" "key TEXT 0 - 1, value TEXT 1 - 0" "settings"
is "$(cols hook_cursors)" "source TEXT 0 - 1, cursor TEXT 1 - 0, updated_at DATETIME 0 CURRENT_TIMESTAMP 0" "hook_cursors"
is "$(q "SELECT group_concat(name, ' ') FROM (SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name)")" \
	"hook_cursors projects settings task_logs tasks" "and no other table"
is "$(q "PRAGMA journal_mode")" wal "journal_mode is wal"
rm -f "$D" "$D-wal" "$D-shm"
q "CREATE TABLE tasks (id INTEGER PRIMARY KEY, title TEXT, status TEXT, project TEXT, started_at DATETIME);
   INSERT INTO tasks VALUES (60, 'old one', 'processing', 'old', '2020-01-01 00:00:00');
   CREATE TABLE projects (id INTEGER PRIMARY KEY, name TEXT, path TEXT);
   INSERT INTO projects (name, path) VALUES ('old', '/src/old')"
# Its project has no sprite_name yet: its sprite is task-old, as task names it.
run hook-apply --db "$D" --sprite task-old <<'EOF'
{"hook_event_name":"Stop","task_id":60}
EOF
is "$rc/$err" "0/" "an older database, missing columns and tables: exit 0"
is "$(q "SELECT group_concat(name, ' ') FROM pragma_table_info('tasks')")" \
	"id title status project started_at body type worktree_path branch_name claude_session_id daemon_session tmux_window_id permission_mode created_at updated_at completed_at" \
	"the missing columns are added"
is "$(q "SELECT id, title, status, started_at, body, claude_session_id FROM tasks")" "60|old one|blocked|2020-01-01 00:00:00||" \
	"its data kept, and the event applied"
is "$(logs 60)" "system:Waiting for user input" "its logs in the new task_logs"
rm -f "$D" "$D-wal" "$D-shm"
q "CREATE TABLE tasks (name TEXT, status TEXT)"
run hook-apply --db "$D" --sprite s <<'EOF'
{"hook_event_name":"Stop","task_id":1}
EOF
is "$rc/$out" "1/" "a tasks table without an id column: exit 1"
stderr_is "hook-apply: cannot use the task database $D: its table tasks has no id column: it is not a task database" \
	"with a clear message"
is "$(q "SELECT group_concat(name) FROM sqlite_master")" tasks "and the file is left as it was"

# A reader in a transaction (the TUI) does not hold hook-apply up (WAL), and
# keeps its snapshot; a writer holding the lock makes hook-apply wait for it
# (busy timeout) rather than fail.
newdb
task 70 processing
rm -f "$T/sq.in" "$T/sq.out"
mkfifo "$T/sq.in" "$T/sq.out"
sqlite3 -cmd '.timeout 5000' "$D" <"$T/sq.in" >"$T/sq.out" 2>&1 &
sq=$!
exec 4>"$T/sq.in" 5<"$T/sq.out"
echo "BEGIN; SELECT count(*) FROM task_logs;" >&4
read -r c0 <&5
t0=$(now_ms)
ev 70 Stop | timeout 20 hook-apply --db "$D" --sprite s >/dev/null 2>"$T/err"
r=$?
t1=$(now_ms)
is "$r/$(cat "$T/err")" "0/" "hook-apply writes while a reader holds a transaction open"
ok "$([ $((t1 - t0)) -lt 2000 ] && echo 0 || echo 1)" "without waiting for it ($((t1 - t0)) ms)"
echo "SELECT count(*) FROM task_logs; COMMIT; SELECT count(*) FROM task_logs;" >&4
read -r c1 <&5
read -r c2 <&5
is "$c0 $c1 $c2" "0 0 1" "the reader keeps its snapshot, then sees the row"
echo "BEGIN IMMEDIATE; SELECT 'locked';" >&4
read -r l <&5
is "$l" locked "another writer holds the write lock"
ev 70 UserPromptSubmit '"prompt":"waited"' | hook-apply --db "$D" --sprite s >/dev/null 2>"$T/err" &
ha=$!
sleep 1
ok "$(kill -0 "$ha" 2>/dev/null && echo 0 || echo 1)" "hook-apply waits for it"
echo "COMMIT;" >&4
wait "$ha"
is "$?/$(cat "$T/err")/$(q "SELECT status FROM tasks WHERE id = 70")" "0//processing" "and applies the event once the lock is released"
exec 4>&- 5<&-
wait "$sq"

# ---- batching ----
newdb
i=1000
while [ "$i" -lt 1100 ]; do
	task "$i" processing
	i=$((i + 1))
done
jq -cn 'range(20000) | {hook_event_name: "UserPromptSubmit", task_id: (1000 + . % 100), prompt: "p\(.)"}' >"$T/many"
t0=$(now_ms)
run hook-apply --db "$D" --sprite s <"$T/many"
t1=$(now_ms)
is "$rc/$err" "0/" "20,000 events: exit 0"
is "$(q "SELECT count(*) || ' ' || count(DISTINCT task_id) FROM task_logs")" "20000 100" "all applied, to 100 tasks"
is "$(q "SELECT min(c) || ' ' || max(c) FROM (SELECT count(*) AS c FROM task_logs GROUP BY task_id)")" "200 200" \
	"200 each"
is "$(q "SELECT content FROM task_logs WHERE task_id = 1042 ORDER BY id DESC LIMIT 1")" p19942 "in order"
is "$(wc -l <"$T/out" | tr -d ' ')" 20000 "one change line each"
ok "$([ $((t1 - t0)) -lt 10000 ] && echo 0 || echo 1)" "in reasonable time: batched transactions ($((t1 - t0)) ms)"

# A lone event in a stream that stays open is committed at once.
rm -f "$T/fifo"
mkfifo "$T/fifo"
hook-apply --db "$D" --sprite s <"$T/fifo" >"$T/fifo.out" 2>"$T/fifo.err" &
ha=$!
exec 3>"$T/fifo"
t0=$(now_ms)
ev 1001 UserPromptSubmit '"prompt":"through a fifo"' >&3
while [ "$(q "SELECT count(*) FROM task_logs WHERE content = 'through a fifo'")" != 1 ] && [ $(($(now_ms) - t0)) -lt 2000 ]; do
	sleep 0.05
done
is "$(q "SELECT count(*) FROM task_logs WHERE content = 'through a fifo'")" 1 \
	"a lone event on a pipe left open is committed before end of input ($(($(now_ms) - t0)) ms)"
sleep 0.1
is "$(cat "$T/fifo.out")" '{"task_id":1001,"event":"UserPromptSubmit","old_status":"processing","new_status":"processing","logs":[{"line_type":"user","content":"through a fifo"}]}' \
	"and its change line printed"
ok "$(kill -0 "$ha" 2>/dev/null && echo 0 || echo 1)" "hook-apply still waits for more"
exec 3>&-
wait "$ha"
is "$?/$(cat "$T/fifo.err")" "0/" "end of input: exit 0"

# What one read brings is one transaction, with its cursor: a write that
# fails (here a trigger refuses the second row) undoes the whole read, and
# stores no cursor, so that the same lines given again are applied once.
newdb
task 80 processing
refuse() { q "CREATE TRIGGER refuse BEFORE INSERT ON task_logs WHEN NEW.content = 'boom' BEGIN SELECT RAISE(ABORT, 'refused by a trigger'); END"; }
refuse
{
	cur 10 '{"hook_event_name":"UserPromptSubmit","task_id":80,"prompt":"a"}'
	cur 20 '{"hook_event_name":"UserPromptSubmit","task_id":80,"prompt":"boom"}'
	cur 30 '{"hook_event_name":"UserPromptSubmit","task_id":80,"prompt":"c"}'
} >"$T/tx"
run hook-apply --db "$D" --sprite s <"$T/tx"
is "$rc/$out" "1/" "a write that fails: exit 1, no change line"
stderr_is "hook-apply: cannot use the task database $D: refused by a trigger" "says why"
is "$(logs 80)/$(hook-apply --db "$D" --sprite s --cursor "$S")" "/" "the events read with it are undone, and no cursor stored"
q "DROP TRIGGER refuse"
run hook-apply --db "$D" --sprite s <"$T/tx"
is "$rc/$(logs 80)" "0/user:a | user:boom | user:c" "given again, each is applied once"
newdb
task 80 processing
refuse
rm -f "$T/fifo"
mkfifo "$T/fifo"
hook-apply --db "$D" --sprite s <"$T/fifo" >/dev/null 2>"$T/fifo.err" &
ha=$!
exec 3>"$T/fifo"
sed -n 1p "$T/tx" >&3
t0=$(now_ms)
while [ -z "$(logs 80)" ] && [ $(($(now_ms) - t0)) -lt 2000 ]; do
	sleep 0.05
done
sed -n 2p "$T/tx" >&3
wait "$ha"
r=$?
exec 3>&-
is "$r/$(logs 80)" "1/user:a" "events read apart are committed apart: the first stays when the second fails"
is "$(hook-apply --db "$D" --sprite s --cursor "$S" | jq .offset)" 10 "with its cursor"
q "DROP TRIGGER refuse"
run hook-apply --db "$D" --sprite s <"$T/tx"
is "$rc/$(logs 80)" "0/user:a | user:boom | user:c" "restarted from the start: the rest applied, the first not twice"
stderr_is "$(summary 2 0 0 0 1)" "it was a duplicate"

# ---- options, closed stdout ----
run hook-apply -h
is "$rc/$err" "0/" "-h: exit 0"
like "$out" "usage: hook-apply [--db PATH]" "usage on stdout"
run hook-apply --help
is "$rc" 0 "--help: exit 0"
run hook-apply --bogus
is "$rc/$out" "2/" "an unknown option: exit 2"
like "$err" "hook-apply: unknown option --bogus" "says so"
run hook-apply --db "$D" --sprite s extra
is "$rc" 2 "an argument: exit 2"
like "$err" 'hook-apply: unexpected argument "extra": events are read on stdin' "says so"
run hook-apply --db
is "$rc" 2 "--db without its argument: exit 2"
run hook-apply --db ""
is "$rc/$err" "2/hook-apply: --db needs a file name" "--db '': exit 2"

newdb
i=1000
while [ "$i" -lt 1100 ]; do
	task "$i" processing
	i=$((i + 1))
done
{
	hook-apply --db "$D" --sprite s <"$T/many" 2>"$T/err"
	echo $? >"$T/rc"
} | head -n 1 >"$T/out"
is "$(cat "$T/rc")/$(cat "$T/err")" "0/" "stdout closed early (| head -n 1): exit 0, nothing on stderr"
is "$(jq -r .logs[0].content "$T/out")" p0 "the reader got the first change line"
is "$(q "SELECT count(*) FROM task_logs")" 20000 "and every event was applied all the same"

# ---- a turn that fails: the real CLI's StopFailure (HTTP 400) ----
newdb
task 9 processing
rm -f "$T/hooks.jsonl"
since=0
steps "$FIX/api-error-stopfailure.jsonl" 9 <<'EOF'
1 processing | system:Claude session: 030386b0-01f4-415a-b5bb-9f2d6146bc87
2 processing | user:overload the api
3 blocked | error:API error (invalid_request): Prompt is too long · the request is ~250000 tokens (limit 200000) but this conversation is only ~1538 tokens — the rest is system prompt, tool definitions, and attachment content. A single-exchange conversation cannot be compacted; reduce attached files/tools or start with less context.
4 blocked | system:Agent exited (other) | question:Task needs review
EOF
newdb
task 9 processing
since=0
step 9 StopFailure '"error":"authentication_failed","error_details":"401 {\"type\":\"error\"}"'
is "$got" 'blocked | error:API error (authentication_failed): 401 {"type":"error"}' \
	"StopFailure without a message: the API's details"
step 9 StopFailure
is "$got" 'blocked | error:API error' "StopFailure with nothing: still logged"
step 9 PreCompact '"trigger":"auto"'
is "$got" 'blocked | system:Compacting the conversation (auto)' "PreCompact: logged, with its trigger"
step 9 SubagentStop '"agent_type":"Explore","last_assistant_message":"found it"'
is "$got" 'blocked | system:Subagent finished: Explore' "SubagentStop: logged; the status stays"
step 9 Stop '"last_assistant_message":"line one\nline two"'
is "$got" 'blocked | text:line one | line two | system:Waiting for user input' "Stop: what the agent said, whole, then waiting"
jq -nc '{hook_event_name: "StopFailure", task_id: 9, error: ("😀" * 60), last_assistant_message: ("ab" + "😀" * 2000)}' |
	hook-apply --db "$D" --sprite s >/dev/null 2>&1
q "SELECT content FROM task_logs WHERE task_id = 9 ORDER BY id DESC LIMIT 1" >"$T/long-error"
iconv -f UTF-8 -t UTF-8 "$T/long-error" >/dev/null 2>&1
ok $? "an error row out of room is cut between characters: valid UTF-8"
long=$(printf '%02100d' 0 | tr 0 w)
step 9 Stop "\"last_assistant_message\":\"$long\""
is "$(q "SELECT length(content) FROM task_logs WHERE task_id = 9 AND line_type = 'text' ORDER BY id DESC LIMIT 1")" \
	2000 "what the agent said is cut to 2000 characters"

# ---- AskUserQuestion: a question, not a permission ----
newdb
task 10 processing
since=0
questions='"tool_name":"AskUserQuestion","tool_input":{"questions":[
 {"question":"Which color?","header":"Color","options":[{"label":"Red","description":"warm"},{"label":"Blue","description":"cool"}],"multiSelect":false},
 {"question":"Which extras?","header":"Extras","options":[{"label":"Shadow","description":""},{"label":"Glow"}],"multiSelect":true}]}'
questions=$(printf '%s' "$questions" | tr -d '\n')
step 10 PreToolUse "$questions"
is "$got" 'processing | pending_tool:AskUserQuestion' "PreToolUse AskUserQuestion: pending, not yet blocked"
step 10 PermissionRequest "$questions"
is "$got" 'blocked | question:Question 1/2 (Color, choose one): Which color? 1. Red (warm); 2. Blue (cool); or an answer of your own | question:Question 2/2 (Extras, choose any): Which extras? 1. Shadow; 2. Glow; or an answer of your own' \
	"PermissionRequest AskUserQuestion: blocked, each question with its options numbered"
is "$(q "SELECT value FROM settings WHERE key = 'sprite_tools.question.10'")" \
	'{"questions":[{"header":"Color","question":"Which color?","multiSelect":false,"options":[{"label":"Red","description":"warm"},{"label":"Blue","description":"cool"}]},{"header":"Extras","question":"Which extras?","multiSelect":true,"options":[{"label":"Shadow","description":""},{"label":"Glow","description":""}]}],"next":0}' \
	"the question is stored for task reply"
step 10 Notification '"notification_type":"permission_prompt","message":"Claude needs your permission"'
is "$got" blocked "the permission_prompt Notification that follows: nothing new"
is "$(q "SELECT count(*) FROM settings WHERE key = 'sprite_tools.question.10'")" 1 "the question still pending"
step 10 PostToolUse "$questions"
is "$got" 'processing | tool:AskUserQuestion' "PostToolUse AskUserQuestion (answered): processing, though questions are the last rows"
is "$(q "SELECT count(*) FROM settings WHERE key = 'sprite_tools.question.10'")" 0 "and no question pending"
step 10 PermissionRequest "$questions"
step 10 Stop
is "$(q "SELECT count(*) FROM settings WHERE key = 'sprite_tools.question.10'")" 0 "a Stop ends a pending question too"
step 10 UserPromptSubmit '"prompt":"x"'
step 10 PermissionRequest '"tool_name":"AskUserQuestion","tool_input":{"questions":[{"question":"Q\nK Enter","header":"H\u001b]0;x\u0007","options":[{"label":"A\r\nK C-c","description":"d\u0085e"}]}]}'
is "$(q "SELECT value FROM settings WHERE key = 'sprite_tools.question.10'")" \
	'{"questions":[{"header":"H ]0;x ","question":"Q K Enter","multiSelect":false,"options":[{"label":"A  K C-c","description":"d  e"}]}],"next":0}' \
	"a question's texts are kept on one line: control characters (C0, C1) as spaces"
step 10 UserPromptSubmit '"prompt":"x"'
step 10 PermissionRequest '"tool_name":"AskUserQuestion","tool_input":{"questions":[{"question":"No options","options":[]},"junk"]}'
is "$got" 'blocked | system:Waiting for permission: AskUserQuestion' "questions without options: shown as a permission"
is "$(q "SELECT count(*) FROM settings WHERE key = 'sprite_tools.question.10'")" 0 "and none stored"
many=$(jq -nr '{tool_name: "AskUserQuestion", tool_input: {questions: [range(6) | {question: ("q" + tostring), header: ("h" * 40),
	options: [range(10) | {label: ("L" * 70), description: ("d" * 90)}]}]}} | tostring | .[1:-1]')
step 10 PermissionRequest "$many"
is "$(q "SELECT json_array_length(value, '\$.questions') || ' ' || json_array_length(value, '\$.questions[0].options')
	|| ' ' || length(json_extract(value, '\$.questions[0].header')) || ' ' || length(json_extract(value, '\$.questions[0].options[0].label'))
	|| ' ' || length(json_extract(value, '\$.questions[0].options[0].description'))
	FROM settings WHERE key = 'sprite_tools.question.10'")" "4 8 30 60 80" \
	"at most 4 questions of 8 options; header, label and description cut to 30, 60, 80 characters"

# ---- the hooks installed: the mapping's own table ----
run hook-apply --settings '/home/sprite/.local/bin/task-hook'
is "$rc/$err" "0/" "--settings: exit 0"
is "$(printf '%s' "$out" | jq -c '[.hooks | to_entries[] | [.key, .value[0].matcher // ""]]')" \
	'[["SessionStart","startup|resume|clear|compact"],["UserPromptSubmit",""],["PreToolUse",""],["PostToolUse",""],["PermissionRequest",""],["Notification","permission_prompt|idle_prompt|elicitation_dialog"],["Stop",""],["StopFailure",""],["SubagentStop",""],["PreCompact",""],["SessionEnd",""]]' \
	"every event mapped, with its matcher"
is "$(printf '%s' "$out" | jq -r '[.hooks[][].hooks[] | "\(.type) \(.command)"] | unique | .[]') $(printf '%s' "$out" | jq .skipDangerousModePermissionPrompt)" \
	"command /home/sprite/.local/bin/task-hook true" "each runs the command given; the dangerous-mode prompt skipped"
run hook-apply --settings ''
is "$rc" 2 "--settings with no command: usage error"

# The default database: $TASK_DB, else $XDG_DATA_HOME/task/tasks.db, else ~/.local/share/task/tasks.db.
TASK_DB=$T/env.db hook-apply </dev/null
ok $? "TASK_DB names the database"
is "$(sqlite3 "$T/env.db" "PRAGMA journal_mode" </dev/null)" wal "and it is created there"
hook-apply </dev/null
is "$?/$(ls "$XDG_DATA_HOME/task")" "0/tasks.db" "else \$XDG_DATA_HOME/task/tasks.db (its directory made)"
(unset XDG_DATA_HOME && HOME=$T/home hook-apply </dev/null)
is "$?/$(ls "$T/home/.local/share/task")" "0/tasks.db" "else ~/.local/share/task/tasks.db"
is "$(stat -c %a "$T/home/.local/share/task" "$T/home/.local/share/task/tasks.db" | tr '\n' ' ')" "700 600 " \
	"the directory made 0700, the database 0600: it holds prompts"

# --cursor only reads: a database of the task app's own, without hook-apply's
# table, has no cursor and is left as it was; a missing one is not made.
sqlite3 "$T/app.db" "CREATE TABLE tasks (id INTEGER PRIMARY KEY, title TEXT)" </dev/null
run hook-apply --db "$T/app.db" --cursor web:/tmp/task-hooks.jsonl
is "$rc/$out/$err" "0//" "--cursor on a database without cursors: nothing, exit 0"
is "$(sqlite3 "$T/app.db" "SELECT group_concat(name) FROM sqlite_master" </dev/null)" tasks "and nothing added to it"
(unset XDG_DATA_HOME TASK_DB && HOME=$T/nohome hook-apply --cursor web:/tmp/task-hooks.jsonl)
is "$?/$(ls -d "$T/nohome" 2>/dev/null)" "0/" "--cursor with no database yet: exit 0, no directory made"

plan "$tap_n"
done_testing
