# shellcheck shell=sh
# daemon.sh: task daemon: keeps every project's hook events flowing into the
# task database (sprite-tail | hook-apply per sprite, tail | hook-apply for
# agents run here), and notices agents whose tmux window has gone.  Runs in
# the foreground, logs to stderr, prints hook-apply's change lines on
# stdout.  Sourced by bin/task after lib/task.sh; see task-sprite(1).

# shellcheck source=lib/task/agent.sh
. "$TASK_LIBDIR/task/agent.sh"

dlog() { printf 'task daemon: %s\n' "$*" >&2; }

# The loop each pipeline runs in, by setsid in a process group of its own
# (so that it stops as a whole): $1 what it follows (for the log), $2 the
# pipeline's script, then its arguments.  The pipeline is started again,
# from the stored cursor, whenever it ends: after 1 s, doubling up to 30 s,
# back to 1 s after a run of a minute or more.
# shellcheck disable=SC2016 # expanded by that sh
DAEMON_AGAIN='
what=$1 run=$2 delay=1
shift 2
while :; do
	t0=$(date +%s)
	sh -c "$run" sh "$@"
	[ $(($(date +%s) - t0)) -lt 60 ] || delay=1
	echo "task daemon: the hook pipeline of $what ended: again in ${delay}s" >&2
	sleep "$delay"
	delay=$((delay * 2))
	[ "$delay" -le 30 ] || delay=30
done'

# One sprite's pipeline: $1 database, $2 sprite, $3 hook event file.
# shellcheck disable=SC2016 # expanded by that sh
DAEMON_SPRITE_PIPE='
sprite-tail -s "$2" -f --from "$(hook-apply --db "$1" --cursor "$2:$3")" "$3" | hook-apply --db "$1"'

# The pipeline of the agents run on this machine: $1 database, $2 the local
# hook event file.  Its lines get cursors (source local:FILE, the file's
# device:inode, an epoch, the byte offset after the line) so that
# hook-apply applies each exactly once, as it does sprite-tail's; it starts
# at the stored offset (from 0 for another file, with the next epoch for a
# file shorter than that).  The file is only ever appended to.
# shellcheck disable=SC2016 # expanded by that sh
DAEMON_LOCAL_PIPE='
db=$1 file=$2 src=local:$2
if id=$(stat -c %d:%i "$file" 2>/dev/null) && size=$(stat -c %s "$file"); then
	off=0 epoch=0 cfile="" cepoch=0 coff=0
	cur=$(hook-apply --db "$db" --cursor "$src")
	[ -z "$cur" ] || eval "$(printf "%s" "$cur" | jq -r "\"cfile=\(.file | @sh) cepoch=\(.epoch | tostring | @sh) coff=\(.offset | tostring | @sh)\"")"
	if [ "$cfile" = "$id" ]; then
		if [ "$coff" -le "$size" ]; then off=$coff epoch=$cepoch; else epoch=$((cepoch + 1)); fi
	fi
	tail -c "+$((off + 1))" -f "$file" |
		jq -nRc --unbuffered --arg src "$src" --arg file "$id" --argjson epoch "$epoch" --argjson off "$off" "
			foreach inputs as \$l (\$off; . + (\$l | utf8bytelength) + 1;
				{cursor: {source: \$src, file: \$file, epoch: \$epoch, offset: .}}
				+ (\$l | try {line: fromjson} catch {text: \$l}))" |
		hook-apply --db "$db"
fi'

# D_PIPES: the running pipelines, "name=pid" words (a sprite's name, or
# @local); each pid is its process group's.
D_PIPES=
D_SLEEP=
D_LOCAL_ID=

# pipe_start NAME WHAT SCRIPT ARGS...: run SCRIPT in DAEMON_AGAIN's loop.
pipe_start() {
	_n=$1
	shift
	# Not a group leader (no job control here): setsid makes the pid the
	# new group's id without forking.
	setsid sh -c "$DAEMON_AGAIN" sh "$@" </dev/null &
	D_PIPES="$D_PIPES $_n=$!"
}

# pipe_stop NAME: stop its whole group (TERM, KILL after 2 s).
pipe_stop() {
	_keep=
	for _e in $D_PIPES; do
		if [ "${_e%%=*}" = "$1" ]; then
			group_kill "${_e#*=}"
		else
			_keep="$_keep $_e"
		fi
	done
	D_PIPES=$_keep
}

# pid_alive PID: a child of ours that has not ended (a zombie has).
pid_alive() {
	_st=$(ps -o stat= -p "$1" 2>/dev/null) && case $_st in Z*) return 1 ;; esac
}

# group_alive PGID: a process of the group (a session too: setsid made it)
# has not ended; zombies have.
group_alive() {
	# shellcheck disable=SC2009 # pgrep counts zombies
	ps -o stat= -s "$1" 2>/dev/null | grep -qv "^Z"
}

group_kill() {
	kill -TERM "-$1" 2>/dev/null
	_i=0
	while group_alive "$1" && [ "$_i" -lt 20 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	kill -KILL "-$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

daemon_stop() {
	trap - TERM INT HUP EXIT
	[ -z "$D_SLEEP" ] || kill "$D_SLEEP" 2>/dev/null
	for _e in $D_PIPES; do
		group_kill "${_e#*=}"
	done
	D_PIPES=
	dlog "stopped"
}

# daemon_pipes: a pipeline for each project's sprite (projects executed in
# sprites, and those switched to local whose agents still run there), and
# one for the local hook event file once it exists; those no longer wanted
# stopped, those that died started again.
daemon_pipes() {
	_want=
	_rows=$(sql -separator "$(printf '\t')" "SELECT name, sprite_name, EXISTS (SELECT 1 FROM settings
		WHERE substr(key, 1, 19) = 'sprite_tools.agent.' AND json_extract(value, '\$.where') = 'sprite'
		AND json_extract(value, '\$.sprite') = projects.sprite_name
		AND json_extract(value, '\$.state') IN ('running', 'launching'))
		FROM projects WHERE sprite_name != '' ORDER BY name")
	_tab=$(printf '\t')
	while IFS=$_tab read -r _p _s _busy; do
		[ -n "$_s" ] || continue
		[ "$(execution_of "$_p")" = sprite ] || [ "$_busy" = 1 ] || continue
		case " $_want " in *" $_s "*) ;; *) _want="$_want $_s" ;; esac
	done <<EOF
$_rows
EOF
	_lfile=$(task_local_dir)/hooks.jsonl
	_lid=$(stat -c %d:%i "$_lfile" 2>/dev/null) || _lid=
	for _e in $D_PIPES; do
		_n=${_e%%=*}
		if ! pid_alive "${_e#*=}"; then
			dlog "the pipeline of $_n died: starting it again"
			pipe_stop "$_n"
		elif [ "$_n" = @local ]; then
			if [ "$_lid" != "$D_LOCAL_ID" ]; then
				dlog "$_lfile was replaced: following the new one"
				pipe_stop @local
			fi
		else
			case " $_want " in
			*" $_n "*) ;;
			*)
				dlog "sprite $_n runs no project's agents any more: no longer following it"
				pipe_stop "$_n"
				;;
			esac
		fi
	done
	for _s in $_want; do
		case " $D_PIPES " in *" $_s="*) continue ;; esac
		if ! (backend_ready); then
			dlog "no Sprites API for sprite $_s yet: trying again"
			continue
		fi
		dlog "following the hook events of sprite $_s"
		pipe_start "$_s" "sprite $_s" "$DAEMON_SPRITE_PIPE" "$DB" "$_s" "$TASK_HOOKS_SPRITE"
	done
	if [ -n "$_lid" ]; then
		case " $D_PIPES " in
		*" @local="*) ;;
		*)
			dlog "following the hook events of this machine's agents ($_lfile)"
			D_LOCAL_ID=$_lid
			pipe_start @local "this machine" "$DAEMON_LOCAL_PIPE" "$DB" "$_lfile"
			;;
		esac
	fi
}

# daemon_gone: the agents of processing or blocked tasks whose tmux window
# has gone, each place (sprite, or this machine) asked once.
daemon_gone() {
	# Fields apart by the unit separator: not white space to read, so that
	# empty ones stay (the JSON value has none raw).
	_us=$(printf '\037')
	_rows=$(sql -separator "$_us" "SELECT t.id, json_extract(s.value, '\$.where'),
		COALESCE(json_extract(s.value, '\$.sprite'), ''), json_extract(s.value, '\$.target'),
		COALESCE(json_extract(s.value, '\$.socket'), ''), s.value
		FROM tasks t JOIN settings s ON s.key = 'sprite_tools.agent.' || t.id
		WHERE t.status IN ('processing', 'blocked') AND json_extract(s.value, '\$.state') = 'running'
		ORDER BY 2, 3, 5, 1")
	[ -n "$_rows" ] || return 0
	_place='' _wins=''
	while IFS=$_us read -r _id _where _s _target _sock _rec; do
		[ -n "$_id" ] || continue
		if [ "$_place" != "$_where:$_s:$_sock" ]; then
			_place=$_where:$_s:$_sock
			_wins=$(windows_of "$_where" "$_s" "$_sock")
		fi
		case $_wins in *'#end') ;; *) continue ;; esac
		printf '%s\n' "$_wins" | grep -qxF "${_target#*:}" && continue
		if [ "$(agent_gone "$_id" "$_rec" "Agent window $_target is gone")" = 1 ]; then
			dlog "task $_id: its agent's window $_target is gone: blocked, needs review"
		fi
	done <<EOF
$_rows
EOF
}

cmd_daemon() {
	_interval=2
	while [ $# -gt 0 ]; do
		case $1 in
		--interval)
			[ $# -ge 2 ] || usage_die "--interval needs seconds: task daemon [--interval SECONDS]"
			_interval=$2
			shift
			;;
		*) usage_die "daemon: unknown argument \"$1\" (task daemon [--interval SECONDS])" ;;
		esac
		shift
	done
	case $_interval in
	'' | *[!0-9.]* | *.*.* | .) usage_die "--interval wants seconds, such as 2 or 0.5, not \"$_interval\"" ;;
	esac
	db_init
	# The stored Fly.io token, for the pipelines (backend_ready's rule).
	if [ -z "${SPRITES_TOKEN:-}${SPRITE_TOKEN:-}${SPRITES_TOKEN_FILE:-}" ] && [ -s "$TASK_TOKEN_FILE" ]; then
		SPRITES_TOKEN_FILE=$TASK_TOKEN_FILE
		export SPRITES_TOKEN_FILE
	fi
	trap 'daemon_stop; exit 0' TERM INT HUP
	trap 'daemon_stop' EXIT
	dlog "keeping $DB up to date (every ${_interval}s; stop with SIGTERM or ^C)"
	while :; do
		daemon_pipes
		daemon_gone
		sleep "$_interval" &
		D_SLEEP=$!
		wait "$D_SLEEP"
		D_SLEEP=
	done
}
