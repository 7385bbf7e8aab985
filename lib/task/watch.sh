# shellcheck shell=sh
# watch.sh: task watch, the board, live (task(1)).  Sourced by bin/task
# after lib/task.sh.
#
# One sqlite3 stays connected to the database and is asked PRAGMA
# data_version four times a second: the number moves when another
# connection (hook-apply, a task command, the task app) commits.  Then the
# board is drawn again, and shown only if it differs from the last one.

# shellcheck source=lib/task/tasks.sh
. "$TASK_LIBDIR/task/tasks.sh"

# board_draw WHERE WIDTH: the board of the tasks matching WHERE, lines cut
# to WIDTH columns (0: not cut).  A section per status but archived; under
# a processing or blocked task, its last log row; the 10 last done tasks.
board_draw() {
	query "SELECT id, status, project, title, completed_at,
			CASE WHEN status IN ('processing', 'blocked') THEN
				(SELECT content FROM task_logs l WHERE l.task_id = t.id ORDER BY l.id DESC LIMIT 1)
			END AS last
		FROM tasks t WHERE status <> 'archived' AND $1 ORDER BY id"
	printf '%s' "$_rows" |
		jq -rn --argjson w "$2" "$TASK_JQ_DEFS"'
			def cut: if $w > 3 and length > $w then .[0:$w - 3] + "..." else . end;
			[inputs] | add // [] |
			map(.id |= "#\(.)" | .project |= (if . == null or . == "" then "-" else clean end)) |
			([.[].id | length] | max // 0) as $iw |
			([.[].project | length] | max // 0) as $pw |
			(" " * ($iw + $pw + 6)) as $indent |
			. as $all |
			("backlog", "queued", "processing", "blocked", "done") as $s |
			[$all[] | select(.status == $s)] |
			(if $s == "done" then sort_by(.completed_at // "", .id) | reverse else . end) as $ts |
			"\($s | ascii_upcase) (\($ts | length))",
			($ts[0:10][] |
				("  " + (.id | lpad($iw)) + "  " + (.project | pad($pw)) + "  " + (.title | clean) | cut),
				(.last // empty | $indent + "> " + clean | cut)),
			(if ($ts | length) > 10 then "  ... and \(($ts | length) - 10) more" else empty end)'
}

cmd_watch() {
	_usage='usage: task watch [--project P]'
	_project=''
	while [ $# -gt 0 ]; do
		case $1 in
		-h | --help) echo "$_usage"; return 0 ;;
		--project) [ $# -ge 2 ] || usage_die "--project needs a name: $_usage"; _project=$2; shift ;;
		--project=*) _project=${1#*=} ;;
		*) usage_die "unknown argument $1: $_usage" ;;
		esac
		shift
	done
	db_init
	_where=1
	if [ -n "$_project" ]; then
		project_load "$_project"
		_where="project = $(lit "$P_NAME")"
	fi
	_tty=0
	if [ -t 1 ]; then
		_tty=1
		exec 5>&1 # the terminal, for its width (stdout is a pipe in $(...))
	fi

	# The connection that watches: sqlite3 between two fifos, which are
	# unlinked as soon as both ends are open.  It ends when we do (EOF).
	_dir=$(mktemp -d "${TMPDIR:-/tmp}/task-watch.XXXXXX") || die "cannot make a temporary directory"
	if ! mkfifo "$_dir/q" "$_dir/a"; then
		rm -rf "$_dir"
		die "cannot make fifos in $_dir"
	fi
	sqlite3 -batch -cmd ".timeout 10000" "$DB" <"$_dir/q" >"$_dir/a" 2>/dev/null &
	exec 3>"$_dir/q" 4<"$_dir/a"
	rm -rf "$_dir"

	# A closed stdout is a failed write, then a clean exit; so are signals.
	trap '' PIPE
	trap 'exit 0' INT TERM HUP
	_shown='' _n=0 _v='' _v0=''
	while :; do
		_w=0
		if [ "$_tty" = 1 ]; then
			_w=$(stty size <&5 2>/dev/null | cut -d ' ' -f 2)
			case $_w in '' | 0 | *[!0-9]*) _w=${COLUMNS:-80} ;; esac
		fi
		_board=$(board_draw "$_where" "$_w" 3>&- 4<&-) || die "cannot read the task database $DB"
		if [ "$_board" != "$_shown" ]; then
			if [ "$_tty" = 1 ]; then
				printf '\033[H\033[2J%s\n' "$_board"
			elif [ "$_n" = 0 ]; then
				printf '%s\n' "$_board"
			else
				printf '\n%s\n' "$_board"
			fi 2>/dev/null || exit 0
			_shown=$_board _n=$((_n + 1))
		fi
		# Until the database changes.
		while :; do
			if ! printf 'PRAGMA data_version;\n' >&3 2>/dev/null || ! IFS= read -r _v <&4; then
				die "lost the connection to the task database $DB"
			fi
			[ "$_v" = "$_v0" ] || break
			sleep 0.25 3>&- 4<&-
		done
		_v0=$_v
	done
}
