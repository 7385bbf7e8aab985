#!/bin/sh
# examples/: notify's lines and notifications from canned change lines; the
# crontab's line, exactly as written, run twice against a real spritesd
# (events applied once); fanout and Makefile.example against a stub `task`;
# and the example scripts pass shellcheck.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

EX=$TOP/examples
FIX=$TOP/tests/fixtures/claude-hooks
unset TASK_DB TASK_ID TASK_HOOKS_FILE NOTIFY_SEND
export XDG_DATA_HOME="$T/data"

# ---- notify ----
cat >"$T/changes" <<'EOF'
{"task_id":7,"event":"PermissionRequest","old_status":"processing","new_status":"blocked","logs":[{"line_type":"system","content":"Waiting for permission: Bash: rm -rf build"}],"source":"web:/tmp/task-hooks.jsonl","offset":2979}
{"task_id":7,"event":"Notification","old_status":"blocked","new_status":"blocked","logs":[]}
{"task_id":7,"event":"PostToolUse","old_status":"blocked","new_status":"processing","logs":[{"line_type":"tool","content":"Bash: rm -rf build"}]}
not a change line

{"task_id":9,"event":"UserPromptSubmit","old_status":"blocked","new_status":"processing","logs":[{"line_type":"user","content":"two\nlines; $(touch pwned) `id`\t-x"}]}
{"task_id":7,"event":"Stop","old_status":"processing","new_status":"blocked","logs":[{"line_type":"system","content":"Waiting for user input"}]}
{"task_id":8,"event":"SessionEnd","old_status":"blocked","new_status":"blocked","logs":[{"line_type":"system","content":"Agent exited (prompt_input_exit)"},{"line_type":"question","content":"Task needs review"}]}
{"task_id":8,"event":"SessionStart","old_status":"blocked","new_status":"blocked","logs":[{"line_type":"system","content":"Claude session: 3b4906ec"}]}
["not", "an", "object"]
{"task_id":10,"event":"PreToolUse","old_status":"processing","new_status":"blocked"}
EOF
(cd "$T" && NOTIFY_SEND=/nonexistent "$EX/notify" <"$T/changes" >"$T/out" 2>"$T/err")
is "$?/$(cat "$T/err")" "0/" "notify: exit 0, nothing on stderr"
is "$(cat "$T/out")" "task 7: blocked — Waiting for permission: Bash: rm -rf build
task 7: blocked — Waiting for user input
task 8: blocked — Agent exited (prompt_input_exit); Task needs review
task 10: blocked — PreToolUse" \
	"without notify-send: a line per task that starts waiting (blocked, or asked for review)"
(cd "$T" && NOTIFY_SEND=/nonexistent "$EX/notify" -a <"$T/changes" >"$T/out" 2>"$T/err")
is "$(cat "$T/out")" "task 7: blocked — Waiting for permission: Bash: rm -rf build
task 7: processing — Bash: rm -rf build
task 9: processing — two lines; \$(touch pwned) \`id\` -x
task 7: blocked — Waiting for user input
task 8: blocked — Agent exited (prompt_input_exit); Task needs review
task 10: blocked — PreToolUse" "-a: every change of status; control characters as spaces"
ls "$T/pwned" >/dev/null 2>&1
is "$?" 2 "nothing in the texts was executed"

# A notifier: records its arguments, a line each (NUL-terminated).
mkdir -p "$T/bin"
cat >"$T/bin/notifier" <<EOF
#!/bin/sh
for a in "\$@"; do printf '%s\\000' "\$a"; done >>"$T/notified"
printf '\\n' >>"$T/notified"
EOF
chmod +x "$T/bin/notifier"
NOTIFY_SEND=$T/bin/notifier "$EX/notify" <"$T/changes" >"$T/out" 2>"$T/err"
is "$?/$(cat "$T/out" "$T/err")" "0/" "with a notifier: nothing printed"
is "$(tr '\0' '|' <"$T/notified")" "-a|sprite-tools|--|task 7: blocked|Waiting for permission: Bash: rm -rf build|
-a|sprite-tools|--|task 7: blocked|Waiting for user input|
-a|sprite-tools|--|task 8: blocked|Agent exited (prompt_input_exit); Task needs review|
-a|sprite-tools|--|task 10: blocked|PreToolUse|" "it is called as notify-send: -a sprite-tools -- SUMMARY BODY"
printf '#!/bin/sh\nexit 1\n' >"$T/bin/failing"
chmod +x "$T/bin/failing"
head -n 1 "$T/changes" | NOTIFY_SEND=$T/bin/failing "$EX/notify" >"$T/out"
is "$(cat "$T/out")" "task 7: blocked — Waiting for permission: Bash: rm -rf build" \
	"a notifier that fails (no desktop session): the line instead"
run "$EX/notify" --bogus
is "$rc/$out" "2/" "notify: a bad option: exit 2"

# ---- the crontab line, as written, against a real spritesd ----
entry=$(grep -v '^[[:space:]]*#' "$EX/crontab" | grep '^\* \* \* \* \* ' | sed 's/^\* \* \* \* \* //')
is "$(printf '%s\n' "$entry" | grep -c .)" 1 "crontab: one entry, every minute"
is "$(grep -c -E '^(SHELL|PATH|SPRITE|TASK_DB)=' "$EX/crontab")" 4 "it sets SHELL, PATH, SPRITE and TASK_DB"
like "$entry" "sprite-tail -s \"\$SPRITE\" --once --from \"\$(hook-apply --db \"\$TASK_DB\" --cursor \"\$SPRITE:/tmp/task-hooks.jsonl\")\" /tmp/task-hooks.jsonl | hook-apply --db \"\$TASK_DB\"" \
	"the catch-up pipeline"
# cronjob: run the entry as cron would: sh -c, the crontab's variables set.
cronjob() {
	env SPRITE=web TASK_DB="$T/tasks.db" PATH="$TOP/bin:$PATH" sh -c "$entry"
}

start_spritesd
sprite-create web >/dev/null || { echo "Bail out! cannot create a sprite"; exit 1; }
sprite-exec -s web -- sh -c 'cat >/tmp/task-hook && chmod 755 /tmp/task-hook' <"$TOP/bin/task-hook"
is "$?" 0 "task-hook installed in the sprite"
# events FROM TO: the fixture's lines FROM to TO, each through task-hook in the
# sprite (TASK_ID=7), as Claude Code's hooks run it.
# shellcheck disable=SC2016 # the sprite's shell expands them
events() {
	sed -n "$1,$2p" "$FIX/tmux-permission.jsonl" |
		sprite-exec -s web -- sh -c 'while IFS= read -r l; do printf "%s\n" "$l" | TASK_ID=7 /tmp/task-hook; done'
}
events 1 11
hook-apply --db "$T/tasks.db" </dev/null
sqlite3 "$T/tasks.db" "INSERT INTO projects (name, path, sprite_name) VALUES ('hello', '/src/hello', 'web');
	INSERT INTO tasks (id, title, status, project, started_at) VALUES (7, 'make hello', 'processing', 'hello', CURRENT_TIMESTAMP)"
rows() { sqlite3 "$T/tasks.db" "SELECT line_type || ':' || content FROM task_logs WHERE task_id = 7 ORDER BY id"; }

cronjob >"$T/out" 2>"$T/err"
is "$?/$(cat "$T/out" "$T/err")" "0/" "the first run: exit 0, nothing printed"
is "$(sqlite3 "$T/tasks.db" "SELECT status FROM tasks WHERE id = 7")" blocked "the events applied (the turn ended: blocked)"
rows >"$T/rows1"
is "$(wc -l <"$T/rows1" | tr -d ' ')" 7 "7 log rows"
cronjob >"$T/out" 2>"$T/err"
is "$?/$(cat "$T/out" "$T/err")" "0/" "the second run: exit 0"
rows >"$T/rows2"
cmp -s "$T/rows1" "$T/rows2"
ok $? "the second run applied nothing again"
events 12 46
cronjob >"$T/out" 2>"$T/err"
is "$?/$(cat "$T/out" "$T/err")" "0/" "a run after more events"
cronjob >/dev/null 2>&1

# The same events, applied once to a fresh database: the same rows.
sed -n 1,46p "$FIX/tmux-permission.jsonl" | while IFS= read -r l; do
	printf '%s\n' "$l" | TASK_ID=7 TASK_HOOKS_FILE="$T/ref.jsonl" task-hook
done
hook-apply --db "$T/ref.db" </dev/null
sqlite3 "$T/ref.db" "INSERT INTO projects (name, path, sprite_name) VALUES ('hello', '/src/hello', 'web');
	INSERT INTO tasks (id, title, status, project, started_at) VALUES (7, 'make hello', 'processing', 'hello', CURRENT_TIMESTAMP)"
hook-apply --db "$T/ref.db" --sprite web <"$T/ref.jsonl" >/dev/null
sqlite3 "$T/ref.db" "SELECT line_type || ':' || content FROM task_logs WHERE task_id = 7 ORDER BY id" >"$T/want"
rows >"$T/got"
cmp -s "$T/want" "$T/got"
ok $? "four runs: every event applied exactly once ($(wc -l <"$T/want" | tr -d ' ') rows)"
is "$(hook-apply --db "$T/tasks.db" --cursor web:/tmp/task-hooks.jsonl | jq -r .offset)" \
	"$(sprite-exec -s web -- wc -c /tmp/task-hooks.jsonl | awk '{ print $1 }')" \
	"the cursor stored is the end of the hook file"

# ---- fanout, against a stub task ----
mkdir -p "$T/stub"
cat >"$T/stub/task" <<EOF
#!/bin/sh
# A stub: records each call's arguments (a line, NUL between them), and
# the body add reads on stdin (--body -) as a last one; add prints ids from
# 7 (8 as a JSON row, as task add does), and fails for the title "fail";
# execute fails for 8 when $T/fail8 exists.
for a in "\$@"; do printf '%s\\000' "\$a"; done >>"$T/calls"
[ "\$1" = add ] && { cat; printf '\\000'; } >>"$T/calls"
printf '\\n' >>"$T/calls"
case \$1 in
add)
	[ "\$6" = fail ] && { echo "task: cannot add" >&2; exit 1; }
	n=\$(cat "$T/n" 2>/dev/null || echo 7)
	echo \$((n + 1)) >"$T/n"
	if [ "\$n" = 8 ]; then echo '{"id":8,"title":"x","status":"backlog"}'; else echo "\$n"; fi
	;;
execute) [ "\$2" = 8 ] && [ -e "$T/fail8" ] && { echo "task: cannot start" >&2; exit 1; }; exit 0 ;;
list) printf '%s\\n' '{"id":7,"title":"one","status":"processing","project":"web"}' \
	'{"id":8,"title":"two\\tlines","status":"blocked","project":"web"}' '{"id":9,"title":"x","status":"done","project":"api"}' ;;
sprite) exit 0 ;;
esac
EOF
chmod +x "$T/stub/task"
prompt="Add tests; keep the style. \$(touch $T/pwned) \`id\` 'q' \"d\"
second line"
run env PATH="$T/stub:$PATH" "$EX/fanout" web "$prompt" "lib/a.rb" "-x & y" "-"
is "$rc/$out/$err" "0/7
8
9/" "fanout: exit 0, the ids of the tasks started"
is "$(tr '\0' '|' <"$T/calls")" "add|web|--body|-|--|lib/a.rb|$prompt|
execute|7|
add|web|--body|-|--|-x & y|$prompt|
execute|8|
add|web|--body|-|--|-|$prompt|
execute|9|" "task add PROJECT --body - -- TITLE, the prompt on stdin, then task execute ID; for each title, intact"
: >"$T/calls"
rm -f "$T/n"
: >"$T/fail8"
run env PATH="$T/stub:$PATH" "$EX/fanout" --local web "p" fail one two
is "$rc/$out" "1/7" "a task that fails: the others go on; exit 1"
is "$err" 'task: cannot add
fanout: cannot add the task "fail" (task add failed)
task: cannot start
fanout: task 8 was added but did not start (task execute 8 failed)' "each failure is reported"
is "$(tr '\0' '|' <"$T/calls" | grep execute)" "execute|7|--local|
execute|8|--local|" "--local is passed to task execute"
run "$EX/fanout" web prompt
is "$rc" 2 "fanout without a title: exit 2"
ls "$T/pwned" >/dev/null 2>&1
is "$?" 2 "nothing in the prompt was executed"

# ---- Makefile.example, against the stub ----
status=$(sprite-list | jq -r 'select(.name == "web") | .status')
run env PATH="$T/stub:$PATH" make -s -f "$EX/Makefile.example" agent-status PROJECT=web SPRITE=web
is "$rc/$err" "0/" "make agent-status: exit 0"
is "$out" "$(printf '7\tprocessing\tone\n8\tblocked\ttwo lines\nsprite web: %s' "$status")" \
	"the project's tasks, then its sprite"
run env PATH="$T/stub:$PATH" make -s -f "$EX/Makefile.example" agent-status PROJECT=api
is "$out" "$(printf '9\tdone\tx\nsprite task-api: none')" "another project; its sprite task-api, missing"
: >"$T/calls"
run env PATH="$T/stub:$PATH" make -s -f "$EX/Makefile.example" sprite-sync PROJECT=web
is "$rc/$(tr '\0' '|' <"$T/calls")" "0/sprite|sync|web|" "make sprite-sync: task sprite sync PROJECT"

# ---- shellcheck ----
if command -v shellcheck >/dev/null 2>&1; then
	run shellcheck -x "$EX/quickstart" "$EX/demo-agent" "$EX/notify" "$EX/fanout"
	is "$rc/$out" "0/" "shellcheck: the example scripts are clean"
else
	ok 0 "# SKIP shellcheck not installed"
fi

plan "$tap_n"
done_testing
