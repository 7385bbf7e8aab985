# shellcheck shell=sh
# tasks.sh: task add|list|show|logs|close|retry (task(1)).  Sourced by
# bin/task after lib/task.sh; lib/task/watch.sh uses its helpers too.
#
# Titles, bodies and feedback are untrusted: they reach SQL only through lit
# and are printed only through jq (as JSON, or cleaned of control
# characters for a terminal).

TASK_STATUSES='backlog queued processing blocked done archived'

# status_arg S: S if it is a task status, else fail (exit 2).
status_arg() {
	case " $TASK_STATUSES " in
	*" $1 "*) [ -n "$1" ] && printf '%s' "$1" && return 0 ;;
	esac
	usage_die "\"$1\" is not a status: use one of $TASK_STATUSES"
}

# sql_in [OPTIONS]: run the statements on stdin (for texts of any length:
# an argument is limited to 128 KiB).
sql_in() {
	sqlite3 -bail -batch -cmd ".timeout 10000" -cmd "PRAGMA foreign_keys=ON" "$@" "$DB"
}

# query SQL: $_rows, the rows of the query as sqlite3 -json gives them (an
# array, or nothing when there is none); fails (exit 1) when it cannot.
# Call it in the main shell, not in a pipeline or $(...).
query() {
	_rows=$(sql -json "$1") || die "cannot read the task database $DB"
}

# task_json ID: the task's row as one JSON line.
task_json() {
	query "SELECT * FROM tasks WHERE id = $1"
	printf '%s' "$_rows" | jq -c '.[]'
}

# task_exists ID: fail (exit 1) when there is no task ID.
task_exists() {
	[ "$(sql "SELECT count(*) FROM tasks WHERE id = $1")" = 1 ] || die "no task $1 (task list shows them)"
}

# ---- task add PROJECT TITLE [--body TEXT] ----

cmd_add() {
	_usage='usage: task add PROJECT TITLE [--body TEXT]'
	_project='' _title='' _body='' _n=0 _opts=1
	while [ $# -gt 0 ]; do
		case $_opts$1 in
		1-h | 1--help) echo "$_usage"; return 0 ;;
		1--body) [ $# -ge 2 ] || usage_die "--body needs a text (- reads it from stdin)"; _body=$2; shift ;;
		1--body=*) _body=${1#*=} ;;
		1--) _opts=0 ;;
		1-?*) usage_die "unknown option $1 (a title that starts with - goes after --): $_usage" ;;
		*)
			case $_n in
			0) _project=$1 ;;
			1) _title=$1 ;;
			*) usage_die "too many arguments (quote the title): $_usage" ;;
			esac
			_n=$((_n + 1)) ;;
		esac
		shift
	done
	[ "$_n" = 2 ] || usage_die "$_usage"
	[ -n "$_title" ] || usage_die "a task needs a title: $_usage"
	if [ "$_body" = - ]; then
		_body=$(cat) || die "cannot read the body from stdin"
	fi
	db_init
	project_load "$_project"
	_row=$(printf '%s\n' "INSERT INTO tasks (title, body, status, project)
		VALUES ($(lit "$_title"), $(lit "$_body"), 'backlog', $(lit "$P_NAME"));
		SELECT * FROM tasks WHERE id = last_insert_rowid();" | sql_in -json) ||
		die "cannot write the task database $DB"
	printf '%s' "$_row" | jq -c '.[]'
}

# ---- task list [--status S] [--project P] [--all] [--json] ----

cmd_list() {
	_usage='usage: task list [--status S] [--project P] [--all] [--json]'
	_where="status <> 'archived'" _json=0 _project=''
	while [ $# -gt 0 ]; do
		case $1 in
		-h | --help) echo "$_usage"; return 0 ;;
		--status | --project) [ $# -ge 2 ] || usage_die "$1 needs a value: $_usage" ;;
		esac
		case $1 in
		--status) _where="status = '$(status_arg "$2")'" || exit 2; shift ;;
		--status=*) _where="status = '$(status_arg "${1#*=}")'" || exit 2 ;;
		--project) _project=$2; shift ;;
		--project=*) _project=${1#*=} ;;
		--all) _where=1 ;;
		--json) _json=1 ;;
		*) usage_die "unknown argument $1: $_usage" ;;
		esac
		shift
	done
	db_init
	if [ -n "$_project" ]; then
		project_load "$_project"
		_where="$_where AND project = $(lit "$P_NAME")"
	fi
	if [ "$_json" = 1 ]; then
		query "SELECT * FROM tasks WHERE $_where ORDER BY id"
		printf '%s' "$_rows" | jq -c '.[]'
		return
	fi
	# The table: ID STATUS PROJECT TITLE, titles on one line.
	query "SELECT id, status, project, title FROM tasks WHERE $_where ORDER BY id"
	printf '%s' "$_rows" |
		jq -rn "$TASK_JQ_DEFS"'
			[inputs] | add // [] | map(.id |= tostring | .status |= clean | .project |= (. // "" | clean)) |
			([.[].id | length] + [2] | max) as $iw |
			([.[].project | length] + [7] | max) as $pw |
			("ID" | lpad($iw)) + "  STATUS      " + ("PROJECT" | pad($pw)) + "  TITLE",
			(.[] | (.id | lpad($iw)) + "  " + (.status | pad(10)) + "  " + (.project | pad($pw)) + "  " + (.title | clean))'
}

# ---- task show ID ----

cmd_show() {
	case ${1:-} in -h | --help) echo 'usage: task show ID'; return 0 ;; esac
	[ $# -eq 1 ] || usage_die "usage: task show ID"
	_id=$(int "$1") || exit 2
	db_init
	# The row; the question its agent waits on (AskUserQuestion: its
	# questions, options and the one to answer now, "next"), else null; the
	# API error its last turn ended on (newer than the last prompt), else
	# null; then its last 10 log rows (oldest first) under "logs".
	_out=$(sql -json "SELECT * FROM tasks WHERE id = $_id;
		SELECT value AS question FROM settings WHERE key = 'sprite_tools.question.$_id' AND json_valid(value)
			AND EXISTS (SELECT 1 FROM tasks WHERE id = $_id);
		SELECT content AS error FROM task_logs WHERE task_id = $_id AND line_type = 'error'
			AND id > (SELECT coalesce(max(id), 0) FROM task_logs WHERE task_id = $_id AND line_type = 'user')
			ORDER BY id DESC LIMIT 1;
		SELECT * FROM (SELECT id, line_type, content, created_at FROM task_logs
			WHERE task_id = $_id ORDER BY id DESC LIMIT 10) ORDER BY id") ||
		die "cannot read the task database $DB"
	[ -n "$_out" ] || die "no task $_id (task list shows them)"
	printf '%s' "$_out" | jq -cn '[inputs] as $r | $r[0][0]
		+ {question: ([$r[][] | select(has("question")) | .question | fromjson][0]),
		   error: ([$r[][] | select(has("error")) | .error][0]),
		   logs: ([$r[] | select(.[0] | has("line_type"))][0] // [])}'
}

# ---- task logs ID [-f] [--json] ----

# logs_print ID JSON FROM TO: the task's log rows with FROM < id <= TO.
logs_print() {
	query "SELECT id, task_id, line_type, content, created_at FROM task_logs
		WHERE task_id = $1 AND id > $3 AND id <= $4 ORDER BY id"
	printf '%s' "$_rows" |
		if [ "$2" = 1 ]; then
			jq -c '.[]'
		else
			jq -r "$TASK_JQ_DEFS"'.[] | "\(.created_at) \(.line_type) \(.content | clean)"'
		fi
}

# logs_max ID: the id of the task's last log row (0 when none).
logs_max() {
	sql "SELECT coalesce(max(id), 0) FROM task_logs WHERE task_id = $1" ||
		die "cannot read the task database $DB"
}

cmd_logs() {
	_usage='usage: task logs ID [-f] [--json]'
	_id='' _follow=0 _json=0
	while [ $# -gt 0 ]; do
		case $1 in
		-h | --help) echo "$_usage"; return 0 ;;
		-f | --follow) _follow=1 ;;
		--json) _json=1 ;;
		-?*) usage_die "unknown option $1: $_usage" ;;
		*) [ -z "$_id" ] || usage_die "$_usage"; _id=$(int "$1") || exit 2 ;;
		esac
		shift
	done
	[ -n "$_id" ] || usage_die "$_usage"
	db_init
	task_exists "$_id"
	_last=$(logs_max "$_id") || exit 1
	logs_print "$_id" "$_json" 0 "$_last" || exit 0
	[ "$_follow" = 1 ] || return 0
	# Follow: a cheap query every half second; the new rows when the last id
	# moves.  Until interrupted, or stdout is closed (the next write fails).
	trap 'exit 0' INT TERM HUP
	while :; do
		sleep 0.5
		_now=$(logs_max "$_id") || exit 1
		[ "$_now" = "$_last" ] && continue
		logs_print "$_id" "$_json" "$_last" "$_now" || exit 0
		_last=$_now
	done
}

# ---- task close ID ----

cmd_close() {
	case ${1:-} in -h | --help) echo 'usage: task close ID'; return 0 ;; esac
	[ $# -eq 1 ] || usage_die "usage: task close ID"
	db_init
	task_load "$1"
	if [ "$T_STATUS" = "done" ]; then
		say "task $T_ID is done already"
	else
		sql "UPDATE tasks SET status = 'done', completed_at = CURRENT_TIMESTAMP,
			updated_at = CURRENT_TIMESTAMP WHERE id = $T_ID" || die "cannot write the task database $DB"
	fi
	task_json "$T_ID"
}

# ---- task retry ID [-m FEEDBACK] ----
#
# The task goes back to its agent.  When its agent still has its tmux
# window (the task processing, blocked or done; agent_alive, of
# lib/task/agent.sh, asks tmux, here or in the sprite), the feedback
# (default "Please try again.") is typed to it as task reply does
# (agent_reply), and a done task becomes processing again; the agent's
# UserPromptSubmit hook logs the prompt.  Otherwise the task goes back to
# the backlog (a queued task stays queued), completed_at cleared, and the
# feedback, if any, is logged as a user row, whole: the next task execute
# gives it to the agent with the prompt.

cmd_retry() {
	_usage='usage: task retry ID [-m FEEDBACK]'
	_id='' _fb='' _hasfb=0
	while [ $# -gt 0 ]; do
		case $1 in
		-h | --help) echo "$_usage"; return 0 ;;
		-m | --message) [ $# -ge 2 ] || usage_die "$1 needs a text (- reads it from stdin)"; _fb=$2 _hasfb=1; shift ;;
		--message=*) _fb=${1#*=} _hasfb=1 ;;
		-?*) usage_die "unknown option $1: $_usage" ;;
		*) [ -z "$_id" ] || usage_die "$_usage (quote the feedback)"; _id=$1 ;;
		esac
		shift
	done
	[ -n "$_id" ] || usage_die "$_usage"
	_id=$(int "$_id") || exit 2
	if [ "$_hasfb" = 1 ] && [ "$_fb" = - ]; then
		_fb=$(cat) || die "cannot read the feedback from stdin"
	fi
	[ "$_hasfb" = 0 ] || [ -n "$_fb" ] || usage_die "empty feedback: $_usage"
	db_init
	task_load "$_id"

	case $T_STATUS in
	processing | blocked | done)
		# shellcheck source=/dev/null # lib/task/agent.sh, checked on its own
		. "$TASK_LIBDIR/task/agent.sh"
		agent_load
		if [ -n "$A_WHERE" ]; then
			[ "$A_WHERE" = local ] || backend_ready
			agent_alive
			case $? in
			0)
				agent_reply "$T_ID" "${_fb:-Please try again.}" >/dev/null
				if [ "$T_STATUS" = "done" ]; then
					sql "UPDATE tasks SET status = 'processing', completed_at = NULL,
						updated_at = CURRENT_TIMESTAMP WHERE id = $T_ID" || die "cannot write the task database $DB"
				fi
				say "task $T_ID: feedback sent to its agent (tmux window $A_TARGET)"
				task_json "$T_ID"
				return 0 ;;
			2) die "cannot reach sprite \"$A_SPRITE\" to see whether task $T_ID's agent runs there: nothing changed" ;;
			esac
		fi ;;
	esac

	_log=''
	[ -z "$_fb" ] || _log="INSERT INTO task_logs (task_id, line_type, content) VALUES ($T_ID, 'user', $(lit "$_fb"));"
	printf '%s\n' "BEGIN IMMEDIATE;
		UPDATE tasks SET status = CASE status WHEN 'queued' THEN 'queued' ELSE 'backlog' END,
			completed_at = NULL, updated_at = CURRENT_TIMESTAMP WHERE id = $T_ID;
		$_log
		COMMIT;" | sql_in || die "cannot write the task database $DB"
	if [ "$T_STATUS" = queued ]; then
		say "task $T_ID is queued: its agent starts${_fb:+ with the feedback} when it is executed"
	else
		say "task $T_ID is back in the backlog: task execute $T_ID starts its agent${_fb:+ with the feedback}"
	fi
	task_json "$T_ID"
}
