#!/bin/sh
# task's board: task project add/list/edit, task add/list/show/logs/close/
# retry and task watch, against a task database of its own: exact output,
# exit statuses and rows; their errors; a title full of shell and SQL
# metacharacters stored and shown byte for byte, executing nothing; logs -f
# and watch seeing rows that hook-apply adds; a closed stdout.  No spritesd.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

export TASK_DB="$T/tasks.db"
export XDG_DATA_HOME="$T/data" XDG_CONFIG_HOME="$T/config" # never the user's
unset TASK_ID TASK_HOOKS_FILE
cd "$T" || exit 1

q() { sqlite3 "$TASK_DB" "$@" </dev/null; }
hex() { od -An -v -tx1 | tr -d ' \n'; }
# ev ID EVENT TS [JSON-FIELDS]: a hook event, as task-hook writes it, applied
# as coming from the sprite of the task's project.
ev() {
	_sprite=$(q "SELECT CASE WHEN coalesce(p.sprite_name, '') = '' THEN 'task-' || p.name ELSE p.sprite_name END
		FROM tasks t JOIN projects p ON p.name = t.project WHERE t.id = $1")
	printf '{"hook_event_name":"%s","task_id":%s,"ts":%s%s}\n' "$2" "$1" "$3" "${4:+,$4}" |
		hook-apply --db "$TASK_DB" --sprite "${_sprite:-none}" >/dev/null 2>&1
}
# wait_for SECONDS CMD...: until CMD succeeds, every 0.1 s; fails after SECONDS.
wait_for() {
	_n=$(($1 * 10))
	shift
	until "$@"; do
		_n=$((_n - 1))
		[ "$_n" -gt 0 ] || return 1
		sleep 0.1
	done
}
# Conditions for wait_for (which calls them):
# shellcheck disable=SC2317
has() { grep -qF -- "$2" "$1" 2>/dev/null; } # has FILE TEXT
# shellcheck disable=SC2317
nlines() { [ -e "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ]; } # nlines FILE N: at least N lines
gone() { ! kill -0 "$1" 2>/dev/null; }      # gone PID
# shellcheck disable=SC2317
quiet() { ! pgrep -f "$TASK_DB" >/dev/null; } # quiet: no process has TASK_DB in its arguments
boards() { grep -c '^BACKLOG (' "$1"; }     # boards FILE: how many boards

if ! { git init -q "$T/web" && git init -q "$T/api" && mkdir "$T/plain" "$T/web/sub"; }; then
	echo "Bail out! cannot make the repositories"
	exit 1
fi

# ---- the command ----
run task -h
is "$rc/$err" "0/" "task -h: exit 0, nothing on stderr"
is "$(head -n 1 "$T/out")" "usage: task COMMAND [ARGS...]" "task -h: the usage on stdout"
like "$out" "task watch [--project P]" "task -h lists task watch"
run task
is "$rc/$out" "2/" "task alone: exit 2, nothing on stdout"
like "$err" "usage: task COMMAND" "task alone: the usage on stderr"
run task frob
is "$rc/$out" "2/" "an unknown command: exit 2"
stderr_is 'task: unknown command "frob" (task -h lists them)' "an unknown command: one line"

# ---- projects ----
run task project list
is "$rc/$out/$err" "0//" "project list on a new database: nothing, exit 0"
ok "$([ -s "$TASK_DB" ] && echo 0 || echo 1)" "the database is created at TASK_DB"
is "$(q "SELECT group_concat(name, ' ') FROM (SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name)")" \
	"hook_cursors projects settings sqlite_sequence task_logs tasks" "with the whole schema"
mkdir -p "$XDG_DATA_HOME/task"
run env -u TASK_DB task project list
ok "$([ "$rc" = 0 ] && [ -s "$XDG_DATA_HOME/task/tasks.db" ] && echo 0 || echo 1)" \
	"without TASK_DB: \$XDG_DATA_HOME/task/tasks.db"

run task project add web "$T/web"
is "$rc/$err" "0/" "project add: exit 0, nothing on stderr"
is "$out" "{\"name\":\"web\",\"path\":\"$T/web\",\"sprite_name\":\"task-web\",\"sprite_status\":\"\",\"execution\":\"sprite\"}" \
	"project add prints the project"
run task project add api ./api/
is "$rc/$out" "0/{\"name\":\"api\",\"path\":\"$T/api\",\"sprite_name\":\"task-api\",\"sprite_status\":\"\",\"execution\":\"sprite\"}" \
	"a relative path is stored absolute"
is "$(q "SELECT name || '|' || path || '|' || sprite_name || '|' || sprite_status FROM projects ORDER BY id")" \
	"web|$T/web||
api|$T/api||" "the projects' rows"
run task project list
is "$rc/$out" "0/{\"name\":\"api\",\"path\":\"$T/api\",\"sprite_name\":\"task-api\",\"sprite_status\":\"\",\"execution\":\"sprite\"}
{\"name\":\"web\",\"path\":\"$T/web\",\"sprite_name\":\"task-web\",\"sprite_status\":\"\",\"execution\":\"sprite\"}" \
	"project list: one JSON line per project, by name"
q "UPDATE projects SET sprite_name = 'my-box', sprite_status = 'ready' WHERE name = 'api'"
run task project list
is "$(head -n 1 "$T/out")" "{\"name\":\"api\",\"path\":\"$T/api\",\"sprite_name\":\"my-box\",\"sprite_status\":\"ready\",\"execution\":\"sprite\"}" \
	"project list: a stored sprite name and status"
q "UPDATE projects SET sprite_name = '', sprite_status = '' WHERE name = 'api'"

run task project add web "$T/api"
is "$rc/$out" "1/" "project add of an existing name: exit 1"
stderr_is 'task: project "web" exists already (task project list shows it)' "project add of an existing name: one line"
run task project add plain "$T/plain"
is "$rc/$out" "1/" "project add of a directory that is no git repository: exit 1"
stderr_is "task: $T/plain is not a git repository (git init makes one)" "not a git repository: one line"
run task project add sub "$T/web/sub"
is "$rc" 1 "project add of a directory inside a repository: exit 1"
stderr_is "task: $T/web/sub is inside the git repository $T/web: give its top directory" \
	"inside a repository: one line"
run task project add none "$T/none"
is "$rc" 1 "project add of a missing directory: exit 1"
stderr_is "task: $T/none is not a directory: give the path of a git repository" "a missing directory: one line"
for bad in Web -web a_b 'a b' 'x;y' '' "$(printf 'a%058d' 0)"; do
	run task project add "$bad" "$T/web"
	is "$rc/$out" "2/" "project add \"$bad\": exit 2"
	stderr_is "task: \"$bad\" is not a project name: use 1 to 58 lowercase letters, digits and -, starting with a letter or digit" \
		"project add \"$bad\": one line"
done
long=$(printf 'a%057d' 0)
run task project add "$long" "$T/web"
is "$rc" 0 "a name of 58 characters is taken"
q "DELETE FROM projects WHERE name = '$long'"
run task project add web
is "$rc" 2 "project add without a path: exit 2"
stderr_is "task: usage: task project add NAME PATH" "project add without a path: the usage"
run task project frob
is "$rc" 2 "an unknown project command: exit 2"
stderr_is 'task: unknown project command "frob" (task project add|list|edit)' "an unknown project command: one line"
is "$(q "SELECT count(*) FROM projects")" 2 "no project was added by the errors"

run task project edit web --execution local
is "$rc/$err" "0/" "project edit --execution local: exit 0"
is "$out" "{\"name\":\"web\",\"path\":\"$T/web\",\"sprite_name\":\"task-web\",\"sprite_status\":\"\",\"execution\":\"local\"}" \
	"project edit prints the project, execution local"
is "$(q "SELECT key || '=' || value FROM settings WHERE key LIKE 'project.%'")" "project.web.execution=local" \
	"kept in settings as project.web.execution"
is "$(sh -c '. "$1/lib/task.sh" && project_execution web && project_execution api' - "$TOP")" "local
sprite" "project_execution: local for web, sprite (the default) for api"
run task project edit web --execution=sprite
is "$rc/$(jq -r .execution "$T/out")" "0/sprite" "project edit --execution=sprite"
run task project edit nope --execution local
is "$rc/$out" "1/" "project edit of an unknown project: exit 1"
stderr_is 'task: no project "nope" (task project list shows them; task project add NAME PATH makes one)' \
	"an unknown project: one line"
run task project edit web --execution cloud
is "$rc" 2 "project edit --execution cloud: exit 2"
stderr_is 'task: "cloud" is not an execution mode: use sprite or local' "a bad execution mode: one line"
run task project edit web
is "$rc" 2 "project edit without a change: exit 2"
stderr_is 'task: nothing to change: task project edit web --execution sprite|local' "nothing to change: one line"
run task project edit web --path /x
is "$rc" 2 "project edit with an unknown option: exit 2"
stderr_is 'task: unknown option --path: usage: task project edit NAME --execution sprite|local' "an unknown option: one line"

# ---- add ----
run task add web 'Fix the login'
is "$rc/$err" "0/" "add: exit 0, nothing on stderr"
is "$(jq -c 'del(.created_at, .updated_at)' "$T/out")" \
	'{"id":1,"title":"Fix the login","body":"","status":"backlog","type":"","project":"web","worktree_path":"","branch_name":"","claude_session_id":"","daemon_session":"","tmux_window_id":"","permission_mode":"","started_at":null,"completed_at":null}' \
	"add prints the new task's row"
is "$(wc -l <"$T/out" | tr -d ' ')" 1 "as one line"
created=$(jq -r .created_at "$T/out")
case $created in
[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]' '[0-2][0-9]:[0-5][0-9]:[0-5][0-9]) ok 0 "created_at is YYYY-MM-DD HH:MM:SS" ;;
*) ok 1 "created_at is YYYY-MM-DD HH:MM:SS (got $created)" ;;
esac
is "$(jq -r .updated_at "$T/out")" "$created" "updated_at is created_at"
run task add api 'Speed up CI' --body 'the cache is cold'
is "$rc/$(jq -c '[.id, .title, .body, .status, .project]' "$T/out")" '0/[2,"Speed up CI","the cache is cold","backlog","api"]' \
	"add --body"

# A title and a body full of what a shell or SQL would act on.
esc=$(printf '\033')
nasty="\$(touch $T/m1) \`touch $T/m2\` '; DROP TABLE tasks; -- \"dq\" \\ back ${esc}[31m
.shell touch $T/m3
| & ; > $T/m4 *	\${IFS} \$HOME
"
printf '%s' "$nasty" >"$T/nasty"
printf "body\n.shell touch %s/m5\n'); DROP TABLE projects; --\n\n" "$T" >"$T/body"
run task add web "$nasty" --body - <"$T/body"
is "$rc/$err" "0/" "add of a nasty title, the body from stdin: exit 0"
jq -j .title "$T/out" >"$T/got"
cmp -s "$T/nasty" "$T/got"
ok $? "the title printed byte for byte"
is "$(q "SELECT lower(hex(title)) FROM tasks WHERE id = 3")" "$(hex <"$T/nasty")" "the title stored byte for byte"
is "$(q "SELECT lower(hex(body)) FROM tasks WHERE id = 3")" "$(printf 'body\n.shell touch %s/m5\n'"'"'); DROP TABLE projects; --' "$T" | hex)" \
	"the body stored byte for byte (its trailing newlines dropped)"
run task show 3
jq -j .title "$T/out" >"$T/got"
cmp -s "$T/nasty" "$T/got"
ok $? "show gives the title back byte for byte"
run task list --json
jq -j 'select(.id == 3) | .title' "$T/out" >"$T/got"
cmp -s "$T/nasty" "$T/got"
ok $? "list --json gives the title back byte for byte"

run task add nope 'x'
is "$rc/$out" "1/" "add to an unknown project: exit 1"
stderr_is 'task: no project "nope" (task project list shows them; task project add NAME PATH makes one)' \
	"add to an unknown project: one line"
run task add web
is "$rc/$out" "2/" "add without a title: exit 2"
stderr_is 'task: usage: task add PROJECT TITLE [--body TEXT]' "add without a title: the usage"
run task add web ''
is "$rc" 2 "add with an empty title: exit 2"
stderr_is 'task: a task needs a title: usage: task add PROJECT TITLE [--body TEXT]' "an empty title: one line"
run task add web two words
is "$rc" 2 "add with an unquoted title: exit 2"
stderr_is 'task: too many arguments (quote the title): usage: task add PROJECT TITLE [--body TEXT]' "too many arguments: one line"
run task add web -x
is "$rc" 2 "add with a title that looks like an option: exit 2"
stderr_is 'task: unknown option -x (a title that starts with - goes after --): usage: task add PROJECT TITLE [--body TEXT]' \
	"an unknown option: one line"
run task add web -- -x
is "$rc/$(jq -r .title "$T/out")" "0/-x" "add web -- -x: the title -x"
q "DELETE FROM tasks WHERE id = 4"
run task add web 'x' --body
is "$rc" 2 "--body without a text: exit 2"
is "$(q "SELECT count(*) FROM tasks")/$(q "SELECT count(*) FROM projects")" "3/2" \
	"three tasks and two projects: nothing dropped, nothing more added"

# ---- what a terminal is shown: C1 controls and bidi overrides too ----
# (lib/task.sh's clean, which every view and term_clean use.)
got=$(
	# shellcheck source=lib/task.sh
	. "$TOP/lib/task.sh"
	printf 'a\302\233[31mb\342\200\256c\342\201\246d\342\200\217e\033]52;c;x\007 \303\251\n' | term_clean
)
is "$got" "a?[31mb?c?d?e?]52;c;x? é" "term_clean: C1 CSI, RLO, LRI, RLM, ESC and BEL as ?; é kept"
# ---- list ----
clean="\$(touch $T/m1) \`touch $T/m2\` '; DROP TABLE tasks; -- \"dq\" \\ back ?[31m\\n.shell touch $T/m3\\n| & ; > $T/m4 *\\t\${IFS} \$HOME\\n"
run task list
is "$rc/$err" "0/" "list: exit 0"
is "$out" "ID  STATUS      PROJECT  TITLE
 1  backlog     web      Fix the login
 2  backlog     api      Speed up CI
 3  backlog     web      $clean" "list: the table, titles on one line and harmless on a terminal"
run task list --json
is "$(jq -c '[.id, .status]' "$T/out" | tr '\n' ' ')" '[1,"backlog"] [2,"backlog"] [3,"backlog"] ' "list --json: one line per task"
run task list --project api --json
is "$rc/$(jq -c .id "$T/out" | tr '\n' ' ')" "0/2 " "list --project api"
run task list --status blocked
is "$rc/$out" "0/ID  STATUS      PROJECT  TITLE" "list --status blocked: only the header"
run task list --status blocked --json
is "$rc/$out/$err" "0//" "list --status blocked --json: nothing"
run task list --status busy
is "$rc/$out" "2/" "list --status busy: exit 2"
stderr_is 'task: "busy" is not a status: use one of backlog queued processing blocked done archived' "a bad status: one line"
run task list --project nope
is "$rc/$out" "1/" "list --project nope: exit 1"
run task list --frob
is "$rc" 2 "list --frob: exit 2"
stderr_is 'task: unknown argument --frob: usage: task list [--status S] [--project P] [--all] [--json]' "list --frob: one line"

# ---- show ----
run task show 2
is "$rc/$err" "0/" "show: exit 0"
is "$(jq -c 'del(.created_at, .updated_at)' "$T/out")" \
	'{"id":2,"title":"Speed up CI","body":"the cache is cold","status":"backlog","type":"","project":"api","worktree_path":"","branch_name":"","claude_session_id":"","daemon_session":"","tmux_window_id":"","permission_mode":"","started_at":null,"completed_at":null,"question":null,"error":null,"logs":[]}' \
	"show: the row and its logs (none), one line"
run task show 99
is "$rc/$out" "1/" "show of an unknown task: exit 1"
stderr_is 'task: no task 99 (task list shows them)' "an unknown task: one line"
run task show abc
is "$rc/$out" "2/" "show of a bad id: exit 2"
stderr_is 'task: "abc" is not a task id: use a number, e.g. task show 7' "a bad id: one line"
run task show
is "$rc" 2 "show without an id: exit 2"

# ---- logs ----
ts1=1790000000000 ts2=1790000001000 ts3=1790000002000
t1=$(q "SELECT datetime(1790000000, 'unixepoch')")
t2=$(q "SELECT datetime(1790000001, 'unixepoch')")
t3=$(q "SELECT datetime(1790000002, 'unixepoch')")
run task logs 1
is "$rc/$out/$err" "0//" "logs of a task without logs: nothing"
q "UPDATE tasks SET status = 'processing', started_at = CURRENT_TIMESTAMP WHERE id = 1"
ev 1 Stop "$ts1"
ev 1 UserPromptSubmit "$ts2" "\"prompt\":\"fix it\\nnow; \$(touch $T/m6)\""
run task logs 1
is "$rc/$err" "0/" "logs: exit 0"
is "$out" "$t1 system Waiting for user input
$t2 user fix it\\nnow; \$(touch $T/m6)" "logs: TIME TYPE CONTENT, the content on one line"
run task logs 1 --json
is "$out" "{\"id\":1,\"task_id\":1,\"line_type\":\"system\",\"content\":\"Waiting for user input\",\"created_at\":\"$t1\"}
{\"id\":2,\"task_id\":1,\"line_type\":\"user\",\"content\":\"fix it\\nnow; \$(touch $T/m6)\",\"created_at\":\"$t2\"}" \
	"logs --json: one JSON line per row"
run task logs 99
is "$rc/$out" "1/" "logs of an unknown task: exit 1"
stderr_is 'task: no task 99 (task list shows them)' "logs of an unknown task: one line"
run task logs 1x
is "$rc" 2 "logs of a bad id: exit 2"
run task logs 1 -x
is "$rc" 2 "logs -x: exit 2"
stderr_is 'task: unknown option -x: usage: task logs ID [-f] [--json]' "logs -x: one line"

# -f: the rows there, then one hook-apply adds later; SIGTERM ends it, 0.
task logs -f 1 >"$T/follow.out" 2>"$T/follow.err" &
fpid=$!
wait_for 30 nlines "$T/follow.out" 2
ok $? "logs -f prints the rows there"
ev 1 PreToolUse "$ts3" '"tool_name":"Bash","tool_input":{"command":"make test"}'
wait_for 30 nlines "$T/follow.out" 3
ok $? "logs -f prints a row added later"
is "$(sed -n 3p "$T/follow.out")" "$t3 pending_tool make test" "the new row"
kill -TERM "$fpid"
wait "$fpid"
is "$?/$(cat "$T/follow.err")" "0/" "logs -f: SIGTERM ends it with exit 0, nothing on stderr"
is "$(wc -l <"$T/follow.out" | tr -d ' ')" 3 "each row once"

# -f on a stdout that closes: it ends at the next row.
mkfifo "$T/lpipe"
task logs -f 1 >"$T/lpipe" 2>"$T/lclosed.err" &
lpid=$!
head -n 1 <"$T/lpipe" >/dev/null
ev 1 PostToolUse "$((ts3 + 1000))" '"tool_name":"Bash","tool_input":{"command":"make test"}'
wait_for 30 gone "$lpid"
ok $? "logs -f ends when its stdout is closed and a row comes"
gone "$lpid" || kill "$lpid"
wait "$lpid"
is "$?/$(cat "$T/lclosed.err")" "0/" "with exit 0, nothing on stderr"

# ---- close ----
run task close 2
is "$rc/$err" "0/" "close: exit 0"
is "$(jq -c '[.id, .status, (.completed_at | type)]' "$T/out")" '[2,"done","string"]' "close prints the row: done, completed_at"
is "$(q "SELECT status, completed_at IS NOT NULL, completed_at = updated_at FROM tasks WHERE id = 2")" "done|1|1" \
	"the row: done, completed_at and updated_at stamped"
q "UPDATE tasks SET completed_at = '2020-01-01 00:00:00' WHERE id = 2"
run task close 2
is "$rc" 0 "close of a done task: exit 0"
stderr_is 'task: task 2 is done already' "close of a done task: says so"
is "$(q "SELECT completed_at FROM tasks WHERE id = 2")" "2020-01-01 00:00:00" "and leaves it as it is"
run task close 99
is "$rc/$out" "1/" "close of an unknown task: exit 1"
stderr_is 'task: no task 99 (task list shows them)' "close of an unknown task: one line"
run task close -1
is "$rc" 2 "close of a bad id: exit 2"

# ---- retry (no agent window: back to the backlog) ----
fb="not yet: \$(touch $T/m7) \`touch $T/m8\` '); DELETE FROM tasks; --
and a second line"
run task retry 2 -m "$fb"
is "$rc" 0 "retry of a done task without an agent: exit 0"
stderr_is 'task: task 2 is back in the backlog: task execute 2 starts its agent with the feedback' "retry: says what it did"
is "$(jq -c '[.id, .status, .completed_at]' "$T/out")" '[2,"backlog",null]' "retry prints the row: backlog"
is "$(q "SELECT status, completed_at IS NULL FROM tasks WHERE id = 2")" "backlog|1" "the row: backlog, completed_at cleared"
is "$(q "SELECT line_type || ':' || lower(hex(content)) FROM task_logs WHERE task_id = 2")" "user:$(printf '%s' "$fb" | hex)" \
	"the feedback logged as a user row, byte for byte"
before=$(q "SELECT count(*) FROM task_logs")
run task retry 1
is "$rc" 0 "retry without feedback: exit 0"
stderr_is 'task: task 1 is back in the backlog: task execute 1 starts its agent' "retry without feedback: says what it did"
is "$(q "SELECT status FROM tasks WHERE id = 1")/$(q "SELECT count(*) FROM task_logs")" "backlog/$before" \
	"backlog, no log row"
q "UPDATE tasks SET status = 'queued' WHERE id = 1"
run task retry 1 -m 'soon'
is "$(q "SELECT status FROM tasks WHERE id = 1")/$(jq -r .status "$T/out")" "queued/queued" "retry of a queued task: it stays queued"
stderr_is 'task: task 1 is queued: its agent starts with the feedback when it is executed' "retry of a queued task: says so"
run task retry 99 -m x
is "$rc/$out" "1/" "retry of an unknown task: exit 1"
stderr_is 'task: no task 99 (task list shows them)' "retry of an unknown task: one line"
run task retry two
is "$rc" 2 "retry of a bad id: exit 2"
run task retry 1 -m ''
is "$rc" 2 "retry with empty feedback: exit 2"
stderr_is 'task: empty feedback: usage: task retry ID [-m FEEDBACK]' "empty feedback: one line"
run task retry 1 -m
is "$rc" 2 "retry -m without a text: exit 2"
run task retry 1 not quoted
is "$rc" 2 "retry with unquoted feedback: exit 2"

n=0
for m in m1 m2 m3 m4 m5 m6 m7 m8; do [ -e "$T/$m" ] && n=$((n + 1)); done
is "$n" 0 "no marker file was created: nothing was executed"
is "$(q "SELECT count(*) FROM tasks")/$(q "SELECT count(*) FROM projects")" "3/2" "no table was dropped or emptied"

# ---- watch ----
q "UPDATE tasks SET status = 'processing' WHERE id = 1; UPDATE tasks SET status = 'done', completed_at = CURRENT_TIMESTAMP WHERE id = 2"
board1="BACKLOG (1)
  #3  web  $clean
QUEUED (0)
PROCESSING (1)
  #1  web  Fix the login
           > soon
BLOCKED (0)
DONE (1)
  #2  api  Speed up CI"
board2="BACKLOG (2)
  #3  web  $clean
  #5  web  watch me
QUEUED (0)
PROCESSING (1)
  #1  web  Fix the login
           > soon
BLOCKED (0)
DONE (1)
  #2  api  Speed up CI"
board3="BACKLOG (2)
  #3  web  $clean
  #5  web  watch me
QUEUED (0)
PROCESSING (0)
BLOCKED (1)
  #1  web  Fix the login
           > Waiting for user input
DONE (1)
  #2  api  Speed up CI"
task watch >"$T/watch.out" 2>"$T/watch.err" &
wpid=$!
wait_for 30 has "$T/watch.out" "  #2  api  Speed up CI"
ok $? "watch prints the board"
is "$(cat "$T/watch.out")" "$board1" "the board: a section per status, a processing task's last log row"
task add web 'watch me' >/dev/null
wait_for 30 has "$T/watch.out" "watch me"
ok $? "watch prints a new board when a task is added"
task project edit web --execution local >/dev/null # a change that leaves the board as it is
sleep 1
is "$(boards "$T/watch.out")" 2 "two boards: none for a change that does not show"
ev 1 Stop "$((ts3 + 2000))"
wait_for 30 has "$T/watch.out" "BLOCKED (1)"
ok $? "watch prints a new board when hook-apply blocks a task"
is "$(cat "$T/watch.out")" "$board1

$board2

$board3" "each board after an empty line, on a non-terminal"
kill -TERM "$wpid"
wait "$wpid"
is "$?/$(cat "$T/watch.err")" "0/" "watch: SIGTERM ends it with exit 0, nothing on stderr"

# watch on a stdout that closes: it ends at the next board.
mkfifo "$T/wpipe"
task watch >"$T/wpipe" 2>"$T/wclosed.err" &
wpid=$!
head -n 1 <"$T/wpipe" >/dev/null
task close 5 >/dev/null
wait_for 30 gone "$wpid"
ok $? "watch ends when its stdout is closed and the board changes"
gone "$wpid" || kill "$wpid"
wait "$wpid"
is "$?/$(cat "$T/wclosed.err")" "0/" "with exit 0, nothing on stderr"

run task watch --project nope
is "$rc" 1 "watch --project of an unknown project: exit 1"
run task watch --frob
is "$rc" 2 "watch --frob: exit 2"
stderr_is 'task: unknown argument --frob: usage: task watch [--project P]' "watch --frob: one line"

# ---- retry of a task whose agent is still in its window ----
# A local agent (its worktree outside the sprite's /workspace): a tmux
# window task-6 of session task-daemon, on a tmux server of this test's
# own, running cat into a file in place of the agent.
unset TMUX
export TMUX_TMPDIR="$T/tmux"
mkdir -p "$TMUX_TMPDIR"
task add web 'an agent' >/dev/null
q "UPDATE tasks SET status = 'blocked', started_at = CURRENT_TIMESTAMP, worktree_path = '$T/wt' WHERE id = 6"
tmux new-session -d -s task-daemon -n task-6 "cat >'$T/typed'"
is "$?" 0 "a tmux window task-6 in session task-daemon"
run task retry 6 -m "do it again: \$(touch $T/m9)"
is "$rc" 0 "retry of a task whose agent runs: exit 0"
stderr_is 'task: task 6: feedback sent to its agent (tmux window task-daemon:task-6)' "retry: says it sent the feedback"
is "$(jq -r .status "$T/out")" blocked "the task's status is for the agent's hooks to change"
wait_for 30 has "$T/typed" "do it again: \$(touch $T/m9)"
ok $? "the feedback typed into the agent's pane"
q "UPDATE tasks SET status = 'done', completed_at = CURRENT_TIMESTAMP WHERE id = 6"
run task retry 6
is "$rc/$(q "SELECT status || '|' || (completed_at IS NULL) FROM tasks WHERE id = 6")" "0/processing|1" \
	"retry of a done task whose agent runs: processing again, completed_at cleared"
wait_for 30 has "$T/typed" "Please try again."
ok $? "without -m: \"Please try again.\" typed"
is "$(q "SELECT count(*) FROM task_logs WHERE task_id = 6")" 0 "no log row of ours (the agent's hook logs the prompt)"
tmux kill-session -t task-daemon
run task retry 6 -m 'once more'
is "$rc/$(q "SELECT status FROM tasks WHERE id = 6")" "0/backlog" "retry once the window has gone: back to the backlog"
is "$(q "SELECT line_type || ':' || content FROM task_logs WHERE task_id = 6")" "user:once more" "with the feedback logged"
ok "$([ ! -e "$T/m9" ] && echo 0 || echo 1)" "nothing typed was executed"

# Nothing of ours left running (watch's sqlite3 ends with it), no spritesd.
wait_for 10 quiet
ok $? "no process of this test is left (watch's connection included)"
ok "$([ ! -e "$STATE" ] && echo 0 || echo 1)" "no spritesd was started"

plan "$tap_n"
done_testing
