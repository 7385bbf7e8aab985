# shellcheck shell=sh
# project.sh: task project add|list|edit (task(1)).  Sourced by bin/task
# after lib/task.sh.
#
# A project is a git repository on this machine, under a name that also
# names its sprite (task-NAME).  Its execution mode ("sprite", the default,
# or "local") has no column in the task app's schema: it is kept in settings
# under project.NAME.execution (see project_execution in lib/task.sh).

project_usage() {
	cat <<'EOF'
usage: task project add NAME PATH
       task project list
       task project edit NAME --execution sprite|local
EOF
}

# project_json WHERE: the projects matching the SQL condition WHERE, one JSON
# line each: name, path, sprite_name (task-NAME unless set), sprite_status,
# execution.
project_json() {
	_rows=$(sql -json "SELECT name, path,
			CASE WHEN coalesce(sprite_name, '') = '' THEN 'task-' || name ELSE sprite_name END AS sprite_name,
			coalesce(sprite_status, '') AS sprite_status,
			CASE (SELECT value FROM settings WHERE key = 'project.' || name || '.execution')
				WHEN 'local' THEN 'local' ELSE 'sprite' END AS execution
		FROM projects WHERE $1 ORDER BY name") || die "cannot read the task database $DB"
	printf '%s' "$_rows" | jq -c '.[]'
}

cmd_project() {
	[ $# -gt 0 ] || { project_usage >&2; exit 2; }
	_sub=$1
	shift
	case $_sub in
	-h | --help) project_usage ;;
	add) project_add "$@" ;;
	list) project_list "$@" ;;
	edit) project_edit "$@" ;;
	*) usage_die "unknown project command \"$_sub\" (task project add|list|edit)" ;;
	esac
}

project_add() {
	case ${1:-} in -h | --help) project_usage; return 0 ;; esac
	[ $# -eq 2 ] || usage_die "usage: task project add NAME PATH"
	_name=$1 _path=$2
	# The sprite is task-NAME: sprite names are 1 to 63 of [a-z0-9-],
	# starting with a letter or a digit.
	case $_name in
	'' | [!a-z0-9]* | *[!a-z0-9-]* | ???????????????????????????????????????????????????????????*)
		usage_die "\"$_name\" is not a project name: use 1 to 58 lowercase letters, digits and -, starting with a letter or digit" ;;
	esac
	[ -d "$_path" ] || die "$_path is not a directory: give the path of a git repository"
	_abs=$(CDPATH='' cd -P -- "$_path" && pwd -P) || die "cannot enter $_path"
	_top=$(git -C "$_abs" rev-parse --show-toplevel 2>/dev/null) ||
		die "$_abs is not a git repository (git init makes one)"
	[ "$_top" = "$_abs" ] || die "$_abs is inside the git repository $_top: give its top directory"
	db_init
	_n=$(sql "INSERT OR IGNORE INTO projects (name, path) VALUES ($(lit "$_name"), $(lit "$_abs")); SELECT changes()") ||
		die "cannot write the task database $DB"
	[ "$_n" = 1 ] || die "project \"$_name\" exists already (task project list shows it)"
	project_json "name = $(lit "$_name")"
}

project_list() {
	case ${1:-} in -h | --help) project_usage; return 0 ;; esac
	[ $# -eq 0 ] || usage_die "usage: task project list"
	db_init
	project_json 1
}

project_edit() {
	_name='' _exec=''
	while [ $# -gt 0 ]; do
		case $1 in
		-h | --help) project_usage; return 0 ;;
		--execution) [ $# -ge 2 ] || usage_die "--execution needs sprite or local"; _exec=$2; shift ;;
		--execution=*) _exec=${1#*=} ;;
		-*) usage_die "unknown option $1: usage: task project edit NAME --execution sprite|local" ;;
		*) [ -z "$_name" ] || usage_die "usage: task project edit NAME --execution sprite|local"; _name=$1 ;;
		esac
		shift
	done
	[ -n "$_name" ] || usage_die "usage: task project edit NAME --execution sprite|local"
	case $_exec in
	sprite | local) ;;
	'') usage_die "nothing to change: task project edit $_name --execution sprite|local" ;;
	*) usage_die "\"$_exec\" is not an execution mode: use sprite or local" ;;
	esac
	db_init
	project_load "$_name"
	sql "INSERT OR REPLACE INTO settings (key, value) VALUES ($(lit "project.$P_NAME.execution"), $(lit "$_exec"))" ||
		die "cannot write the task database $DB"
	project_json "id = $P_ID"
}
