# shellcheck shell=sh
# task.sh: what the task scripts (bin/task and bin/task-*) share: messages,
# the task database, projects, the backend.  Sourced, never run.
#
# Untrusted text (titles, bodies, prompts, replies) never reaches a shell
# parser: it goes into SQL only through lit (doubled quotes, the one escape
# SQLite string literals have), to the sprite only through stdin or
# sprite-sendkeys, and into shell variables only through jq's @sh.

TASK_PROG=${TASK_PROG:-task}

say() { printf '%s: %s\n' "$TASK_PROG" "$*" >&2; }
die() { say "$*"; exit 1; }
usage_die() { say "$*"; exit 2; }

# jq definitions for the human views.  clean: a text on one line, harmless
# on a terminal (newline, tab and CR as \n \t \r; other control characters,
# C1 controls (U+0080-U+009F), bidi marks and overrides, and the line and
# paragraph separators as ?).  pad(n) / lpad(n): left- / right-aligned in n
# columns.
# shellcheck disable=SC2016 # jq's $n, not the shell's
TASK_JQ_DEFS='
def clean: [explode[] | if . == 10 then 92, 110 elif . == 9 then 92, 116 elif . == 13 then 92, 114
	elif . < 32 or . == 127 or (. >= 128 and . < 160) or . == 1564 or . == 8206 or . == 8207
		or (. >= 8232 and . <= 8238) or (. >= 8294 and . <= 8297) then 63
	else . end] | implode;
def pad($n): . + (" " * ($n - length));
def lpad($n): (" " * ($n - length)) + .;
'

# term_clean: standard input, line by line as it comes, made harmless for a
# terminal (clean): what a sprite prints (an installer's output, an error)
# must not reach the user's terminal raw, where an escape sequence could
# set the window title or write the clipboard (OSC 52).
term_clean() { jq --unbuffered -rR "$TASK_JQ_DEFS"'clean'; }

# ---- the database ----

# The task app's location: TASK_DB, else $XDG_DATA_HOME/task/tasks.db, else
# ~/.local/share/task/tasks.db (the same rule as hook-apply's).
task_db_path() {
	if [ -n "${TASK_DB:-}" ]; then
		printf '%s\n' "$TASK_DB"
	else
		case ${XDG_DATA_HOME:-} in
		/*) printf '%s/task/tasks.db\n' "$XDG_DATA_HOME" ;;
		*) printf '%s/.local/share/task/tasks.db\n' "${HOME:?HOME is not set}" ;;
		esac
	fi
}
DB=$(task_db_path)

# db_init: create or migrate the schema (hook-apply owns it: lib/taskdb.c).
db_init() {
	# Its directory, private (it holds prompts), as hook-apply makes its own.
	[ -d "$(dirname "$DB")" ] || (umask 077 && mkdir -p "$(dirname "$DB")") ||
		die "cannot create the directory of the task database $DB"
	hook-apply --db "$DB" </dev/null || die "cannot open the task database $DB"
}

# sql SQL...: run statements on the database; sqlite3's options may come
# first (-json, -separator X...).  WAL and a busy timeout, as every writer.
sql() {
	sqlite3 -bail -batch -cmd ".timeout 10000" -cmd "PRAGMA foreign_keys=ON" "$DB" "$@" </dev/null
}

# lit TEXT: TEXT as an SQL string literal, whatever it holds.
lit() {
	_lit=$(printf '%s.' "$1" | sed "s/'/''/g")
	printf "'%s'" "${_lit%.}"
}

# int VALUE: VALUE if it is a plain non-negative integer, else fail (exit 2).
int() {
	case $1 in
	'' | *[!0-9]* | ????????????????*) usage_die "\"$1\" is not a task id: use a number, e.g. task show 7" ;;
	esac
	printf '%s' "$1"
}

# ---- projects and tasks ----

# project_load NAME: sets P_ID, P_NAME, P_PATH, P_SPRITE (the sprite's name:
# sprite_name, else task-NAME) and P_SPRITE_STATUS; fails (exit 1) when there
# is no such project.
project_load() {
	_row=$(sql -json "SELECT id, name, path, sprite_name, sprite_status FROM projects WHERE name = $(lit "$1")") ||
		die "cannot read the task database $DB (see above)"
	[ -n "$_row" ] || die "no project \"$1\" (task project list shows them; task project add NAME PATH makes one)"
	eval "$(printf '%s' "$_row" | jq -r '.[0] | "P_ID=\(.id) P_NAME=\(.name | @sh) P_PATH=\(.path | @sh)
		P_SPRITE=\(if .sprite_name == "" or .sprite_name == null then "task-" + .name else .sprite_name end | @sh)
		P_SPRITE_STATUS=\(.sprite_status // "" | @sh)"')"
}

# task_load ID: sets T_ID, T_TITLE, T_BODY, T_STATUS, T_PROJECT, T_WORKTREE,
# T_BRANCH, T_WINDOW; fails (exit 1) when there is no such task.
task_load() {
	_id=$(int "$1") || exit 2
	_row=$(sql -json "SELECT * FROM tasks WHERE id = $_id") || die "cannot read the task database $DB (see above)"
	[ -n "$_row" ] || die "no task $_id (task list shows them)"
	eval "$(printf '%s' "$_row" | jq -r '.[0] | "T_ID=\(.id) T_TITLE=\(.title | @sh) T_BODY=\(.body // "" | @sh)
		T_STATUS=\(.status | @sh) T_PROJECT=\(.project // "" | @sh)
		T_WORKTREE=\(.worktree_path // "" | @sh) T_BRANCH=\(.branch_name // "" | @sh)
		T_WINDOW=\(.tmux_window_id // "" | @sh)"')"
}

# slug TITLE: task-workflow section 1: lowercased; spaces and _ to -;
# everything but [a-z0-9-] dropped; runs of - collapsed; trimmed; 40 chars.
slug() {
	printf '%s' "$1" | tr '[:upper:]' '[:lower:]' | tr ' _\n\t' '----' | LC_ALL=C tr -cd 'a-z0-9-' |
		tr -s '-' | sed 's/^-*//; s/-*$//' | cut -c 1-40 | sed 's/-*$//'
}

# ---- the backend ----

# The token `task sprite token` stores (0600): given to the commands through
# SPRITES_TOKEN_FILE, never through argv or the environment's value.
TASK_TOKEN_FILE=${XDG_CONFIG_HOME:-${HOME:?HOME is not set}/.config}/sprite-tools/token

# backend_ready: make sure the sprite commands have an API: Fly.io when a
# token is configured, else the local spritesd, started when it is not
# running (its log in its state directory).
backend_ready() {
	if [ -z "${SPRITES_TOKEN:-}${SPRITE_TOKEN:-}${SPRITES_TOKEN_FILE:-}" ] && [ -s "$TASK_TOKEN_FILE" ]; then
		SPRITES_TOKEN_FILE=$TASK_TOKEN_FILE
		export SPRITES_TOKEN_FILE
	fi
	[ -n "${SPRITES_TOKEN:-}${SPRITE_TOKEN:-}${SPRITES_TOKEN_FILE:-}${SPRITES_API_URL:-}" ] && return 0
	sprite-list >/dev/null 2>&1 && return 0
	_state=${XDG_STATE_HOME:-$HOME/.local/state}/spritesd
	case ${XDG_STATE_HOME:-/} in /*) ;; *) _state=$HOME/.local/state/spritesd ;; esac
	mkdir -p "$_state" || die "cannot create $_state for spritesd"
	say "starting spritesd (log: $_state/spritesd.log)"
	# Its own session: it outlives this command, and a ^C here does not stop it.
	# Any free port: the commands find it in the state directory.
	setsid spritesd -q -l 127.0.0.1:0 -d "$_state" >>"$_state/spritesd.log" 2>&1 </dev/null &
	_i=0
	until sprite-list >/dev/null 2>&1; do
		_i=$((_i + 1))
		[ "$_i" -le 100 ] || die "spritesd did not start: see $_state/spritesd.log"
		sleep 0.05
	done
}

# ---- projects' settings (lib/task/project.sh writes them) ----

# project_execution NAME: where NAME's agents run: "sprite" (the default) or
# "local", as task project edit NAME --execution stored it (settings key
# project.NAME.execution; the task app's schema has no column for it).
project_execution() {
	case $(sql "SELECT value FROM settings WHERE key = $(lit "project.$1.execution")") in
	local) echo local ;;
	*) echo sprite ;;
	esac
}
