# shellcheck shell=sh
# P_*, T_* and S_* are set by lib/task.sh's loaders, through eval:
# shellcheck disable=SC2153
# agent.sh: task execute, reply, keys and fetch: a task's agent, run in a
# tmux window of its project's sprite (or, with --local, of this machine),
# answered through sprite-sendkeys, its branch brought home as a git bundle.
# Also what sprite.sh and daemon.sh share with them (they source this file).
# Sourced by bin/task after lib/task.sh; see task-sprite(1).
#
# Untrusted text (titles, bodies, prompts, replies) goes into a sprite only
# through exec stdin or sprite-sendkeys; scripts run in a sprite are constant
# text (sh -c or sh -s) whose data comes as arguments or on stdin.

# shellcheck source=lib/task/answer.sh
. "$TASK_LIBDIR/task/answer.sh"

TASK_SESSION=task-daemon
TASK_WORKSPACE=/workspace
# shellcheck disable=SC2034 # for sprite.sh and daemon.sh
TASK_HOOKS_SPRITE=/tmp/task-hooks.jsonl

# ---- small things ----

# task_tmpdir: $TASK_TMP, a private temporary directory removed at exit.
# Call it in the main shell (not in $(...)) before using $TASK_TMP.
TASK_TMP=
task_tmpdir() {
	[ -z "$TASK_TMP" ] || return 0
	TASK_TMP=$(mktemp -d "${TMPDIR:-/tmp}/task.XXXXXX") || die "cannot make a temporary directory"
	trap 'rm -rf "$TASK_TMP"' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
}

# task_local_dir: where local agents' files live on this machine (launcher,
# prompts, the local hook event file): $XDG_STATE_HOME/task.
task_local_dir() {
	case ${XDG_STATE_HOME:-} in
	/*) printf '%s/task\n' "$XDG_STATE_HOME" ;;
	*) printf '%s/.local/state/task\n' "${HOME:?HOME is not set}" ;;
	esac
}

# execution_of PROJECT: sprite or local (project_execution, once lib/task.sh
# has it; sprite until then).
execution_of() {
	if command -v project_execution >/dev/null 2>&1; then
		case $(project_execution "$1") in
		local) echo local ;;
		*) echo sprite ;;
		esac
	else
		echo sprite
	fi
}

# repo_default_branch DIR: the branch tasks start from in the repository
# DIR: origin's HEAD when it is a local branch too, else main, master or
# trunk, else the branch checked out.
repo_default_branch() {
	_b=$(git -C "$1" symbolic-ref -q --short refs/remotes/origin/HEAD 2>/dev/null) && _b=${_b#origin/} &&
		git -C "$1" show-ref -q --verify "refs/heads/$_b" && { printf '%s\n' "$_b"; return 0; }
	for _b in main master trunk; do
		git -C "$1" show-ref -q --verify "refs/heads/$_b" && { printf '%s\n' "$_b"; return 0; }
	done
	git -C "$1" symbolic-ref -q --short HEAD
}

# project_sprite: the sprite of the loaded project (P_ID), '' when it has none.
project_sprite() {
	sql "SELECT sprite_name FROM projects WHERE id = $P_ID"
}

# first_reason FILE PREFIX: the first message of a command in FILE, without
# its "PREFIX: ", for a one-line error of ours; cleaned (term_clean), as it
# may be a sprite's words (its tmux's, its shell's).
first_reason() {
	_r=$(sed -n "s/^$2: //p" "$1" | head -n 1)
	[ -n "$_r" ] || _r=$(grep -v '^[[:space:]]*$' "$1" | tail -n 1)
	printf '%s\n' "${_r:-no message}" | term_clean | tr -d '\n'
}

# sprite_ready SPRITE: the API answers (the local spritesd is started when
# none is configured); sets S_STATUS to the sprite's status (cold, warm,
# running), '' when it does not exist.
sprite_ready() {
	backend_ready
	task_tmpdir
	sprite-list --prefix "$1" >"$TASK_TMP/list" 2>"$TASK_TMP/list.err" ||
		die "cannot reach the Sprites API: $(first_reason "$TASK_TMP/list.err" sprite-list)"
	S_STATUS=$(jq -r --arg n "$1" 'select(.name == $n) | .status' "$TASK_TMP/list")
}

# sprite_needed: the loaded project's sprite, ready: sets S_NAME and
# S_STATUS, or fails saying what to do.
sprite_needed() {
	S_NAME=$(project_sprite)
	[ -n "$S_NAME" ] || die "project \"$P_NAME\" has no sprite: run task sprite init $P_NAME first"
	sprite_ready "$S_NAME"
	[ -n "$S_STATUS" ] || die "sprite \"$S_NAME\" of project \"$P_NAME\" does not exist: run task sprite init $P_NAME"
}

# sx SPRITE [sprite-exec options] -- COMMAND...: sprite-exec, whose own
# failures (status 255: the API, the connection) end us with one line; the
# command's standard error is passed on, cleaned, when it is done.
sx() {
	_sx=$1
	shift
	task_tmpdir
	sprite-exec -s "$_sx" "$@" 2>"$TASK_TMP/sx.err"
	_rc=$?
	if [ "$_rc" -eq 255 ] && grep -q '^sprite-exec: ' "$TASK_TMP/sx.err"; then
		die "cannot run a command in sprite \"$_sx\": $(first_reason "$TASK_TMP/sx.err" sprite-exec)"
	fi
	[ ! -s "$TASK_TMP/sx.err" ] || term_clean <"$TASK_TMP/sx.err" >&2
	return "$_rc"
}

# sprite_put SPRITE PATH < DATA: write DATA to PATH in the sprite (relative
# to its home directory), mode 0600, its directory made (0700) as needed.
sprite_put() {
	# shellcheck disable=SC2016 # expanded in the sprite
	sx "$1" -- sh -c 'umask 077 && cd && mkdir -p -- "$(dirname -- "$1")" && cat >"$1"' sh "$2"
}

# ---- a task's agent: where it runs ----

# The agent of a task is recorded in settings, under sprite_tools.agent.ID,
# as JSON: where (sprite or local), sprite, target (the tmux window), window
# (its id), socket (the tmux server's, for an agent run here: the commands
# that come later may not find it as task execute did, through $TMUX or
# TMUX_TMPDIR), log_id (the task's last log row when it was launched), state
# (launching, running, gone).

agent_key() { printf "'sprite_tools.agent.%s'" "$1"; }

# agent_load: the agent of the loaded task (T_ID): sets A_WHERE (sprite,
# local, or '' when it never ran), A_SPRITE, A_TARGET, A_SOCKET, A_STATE,
# A_LOGID.
agent_load() {
	_rec=$(sql "SELECT value FROM settings WHERE key = $(agent_key "$T_ID")")
	if [ -n "$_rec" ]; then
		eval "$(printf '%s' "$_rec" | jq -r '"A_WHERE=\(.where // "" | @sh) A_SPRITE=\(.sprite // "" | @sh)
			A_TARGET=\(.target // "" | @sh) A_SOCKET=\(.socket // "" | @sh) A_STATE=\(.state // "" | @sh)
			A_LOGID=\(.log_id // 0 | tostring | @sh)"')"
		case $A_LOGID in '' | *[!0-9]* | ????????????????*) A_LOGID=0 ;; esac # it goes into SQL
	else
		# shellcheck disable=SC2034 # A_STATE: for those who source this
		A_SPRITE='' A_STATE='' A_LOGID=0 A_TARGET="$TASK_SESSION:task-$T_ID" A_SOCKET=
		case $T_WORKTREE in
		'') A_WHERE='' ;;
		"$TASK_WORKSPACE"/*) A_WHERE=sprite A_SPRITE=$(project_sprite) ;;
		*) A_WHERE=local ;;
		esac
	fi
}

# agent_value STATE WHERE SPRITE TARGET WINDOW SOCKET LOG_ID: an agent's
# record, as stored.
agent_value() {
	jq -nc --arg state "$1" --arg where "$2" --arg sprite "$3" --arg target "$4" \
		--arg window "$5" --arg socket "$6" --argjson log_id "$7" --argjson at "$(date +%s)" \
		'{where: $where, sprite: $sprite, target: $target, window: $window, socket: $socket,
		  log_id: $log_id, state: $state, at: $at}'
}

# agent_put ID STATE WHERE SPRITE TARGET WINDOW SOCKET LOG_ID: record it.
agent_put() {
	_id=$1
	shift
	_v=$(agent_value "$@")
	sql "INSERT OR REPLACE INTO settings(key, value) VALUES ($(agent_key "$_id"), $(lit "$_v"))"
}

# agent_swap ID OLD NEW: task ID's agent record becomes NEW ('' deletes it)
# if it is still OLD ('' for none); prints 1 if it did, 0 if another
# command changed it first.
agent_swap() {
	_k=$(agent_key "$1")
	if [ -z "$2" ]; then
		_cond="NOT EXISTS (SELECT 1 FROM settings WHERE key = $_k)"
	else
		_cond="EXISTS (SELECT 1 FROM settings WHERE key = $_k AND value = $(lit "$2"))"
	fi
	if [ -z "$3" ]; then
		_do="DELETE FROM settings WHERE key = $_k AND $_cond"
	else
		_do="INSERT OR REPLACE INTO settings(key, value) SELECT $_k, $(lit "$3") WHERE $_cond"
	fi
	sql "BEGIN IMMEDIATE; $_do; SELECT changes(); COMMIT"
}

# ltmux SOCKET ARGS...: tmux here, on the server of SOCKET ('' for the
# usual one).
ltmux() {
	_sock=$1
	shift
	if [ -n "$_sock" ]; then
		tmux -S "$_sock" "$@"
	else
		tmux "$@"
	fi
}

# windows_of WHERE SPRITE [SOCKET]: the names of the windows of session
# task-daemon, one a line, then "#end" (nothing at all when they cannot be
# known: the sprite cannot be reached).
windows_of() {
	if [ "$1" = local ]; then
		ltmux "${3:-}" list-windows -t "$TASK_SESSION" -F '#{window_name}' 2>/dev/null
		echo '#end'
	else
		# shellcheck disable=SC2016 # expanded in the sprite
		sprite-exec -n -s "$2" -- sh -c 'tmux list-windows -t "$1" -F "#{window_name}" 2>/dev/null; echo "#end"' \
			sh "$TASK_SESSION" 2>/dev/null
	fi
}

# agent_alive: whether the loaded task's agent has its window (0), has none
# (1), or cannot be known (2).
agent_alive() {
	[ -n "$A_WHERE" ] || return 1
	[ "$A_WHERE" = local ] || [ -n "$A_SPRITE" ] || return 1
	_w=$(windows_of "$A_WHERE" "$A_SPRITE" "$A_SOCKET")
	case $_w in *'#end') ;; *) return 2 ;; esac
	printf '%s\n' "$_w" | grep -qxF "${A_TARGET#*:}"
}

# agent_gone ID RECORD REASON: the agent of task ID, recorded as RECORD, has
# gone without saying so: the task, when processing or blocked and not yet
# marked for review since that launch, becomes blocked with the question
# "Task needs review"; all in one transaction, and only if RECORD is still
# the task's agent.  Prints 1 when it marked the task.
agent_gone() {
	_lid=$(printf '%s' "$2" | jq -r '.log_id // 0')
	case $_lid in '' | *[!0-9]*) _lid=0 ;; esac
	sql "BEGIN IMMEDIATE;
	UPDATE tasks SET status = 'blocked', updated_at = CURRENT_TIMESTAMP
	 WHERE id = $1 AND status IN ('processing', 'blocked')
	   AND EXISTS (SELECT 1 FROM settings WHERE key = $(agent_key "$1") AND value = $(lit "$2"))
	   AND NOT EXISTS (SELECT 1 FROM task_logs WHERE task_id = $1 AND id > $_lid
	                   AND line_type = 'question' AND content = 'Task needs review');
	INSERT INTO task_logs(task_id, line_type, content) SELECT $1, 'system', $(lit "$3") WHERE changes() > 0;
	INSERT INTO task_logs(task_id, line_type, content) SELECT $1, 'question', 'Task needs review' WHERE changes() > 0;
	SELECT changes();
	UPDATE settings SET value = json_set(value, '\$.state', 'gone')
	 WHERE key = $(agent_key "$1") AND value = $(lit "$2");
	COMMIT;"
}

# ---- the launch, in the sprite or here ----

# The script that starts a task's agent, run by sh -s in the sprite (or here,
# --local) with: task id, branch, worktree, repository, mode (sprite or
# local), agent command line ('' for the default), the branch to start from
# ('' for the sprite's task.defaultbranch), and, in local mode, the local
# directory.  It makes or reuses the worktree, trusts it in
# ~/.claude.json, writes the launcher, and opens the task's tmux window;
# prints the window's id and the tmux server's socket, a tab between.  The prompt is already in DIR/prompts/task-ID.txt.
launch_script() {
	cat <<'SCRIPT'
set -u
id=$1 branch=$2 wt=$3 repo=$4 mode=$5 agent=$6 base=$7 dir=${8:-$HOME/.local/state/task}
fail() { printf 'task: %s\n' "$*" >&2; exit 1; }
last() { printf '%s' "$1" | tail -n 1; }
where="sprite ${SPRITE_NAME:-}"
[ "$mode" = sprite ] || where="this machine"
{ cd "$repo" 2>/dev/null && git rev-parse --git-dir >/dev/null 2>&1; } ||
	fail "no git repository in $repo on $where: run task sprite init again"
git worktree prune 2>/dev/null
if [ -d "$wt" ] && [ -e "$wt/.git" ]; then
	:
elif git show-ref --verify --quiet "refs/heads/$branch"; then
	e=$(git worktree add "$wt" "$branch" 2>&1) || fail "cannot make the worktree $wt: $(last "$e")"
else
	[ -n "$base" ] || base=$(git config task.defaultbranch) || base=$(git symbolic-ref --short HEAD) ||
		fail "no default branch in $repo on $where"
	e=$(git worktree add -b "$branch" "$wt" "$base" 2>&1) || fail "cannot make the worktree $wt: $(last "$e")"
fi
excl=$(git rev-parse --path-format=absolute --git-common-dir)/info/exclude
grep -qx '/.task-worktrees/' "$excl" 2>/dev/null || { mkdir -p "${excl%/*}" && echo '/.task-worktrees/' >>"$excl"; }

# Claude Code starts unattended only in a trusted directory (and, in a
# sprite, once onboarding is marked done).  Locally, only an existing
# ~/.claude.json is touched.
cj=$HOME/.claude.json
if [ "$mode" = sprite ] || [ -s "$cj" ]; then
	(
		umask 077
		command -v flock >/dev/null 2>&1 && flock -w 10 9
		[ -s "$cj" ] || echo '{}' >"$cj"
		jq --arg wt "$wt" --arg mode "$mode" '
			(if $mode == "sprite" then .hasCompletedOnboarding = true else . end)
			| .projects[$wt].hasTrustDialogAccepted = true' "$cj" >"$cj.tmp.$$" &&
			mv "$cj.tmp.$$" "$cj" || { rm -f "$cj.tmp.$$"; exit 1; }
	) 9>>"$cj.lock" || echo "task: cannot mark $wt trusted in $cj (the agent may ask)" >&2
fi

# The launcher: the one place that reads the prompt, as data.
mkdir -p "$dir" || fail "cannot make $dir"
cat >"$dir/task-launch.tmp.$$" <<'EOF'
#!/bin/sh
# task-launch PROMPT-FILE: run a task's agent on its prompt, in the task's
# tmux window (task execute opens it with TASK_ID set).  The agent is the
# command line TASK_AGENT (default: claude --dangerously-skip-permissions)
# with the prompt appended as one final argument: the prompt is read here,
# as data, and never parsed by a shell.  The agent's secrets come from the
# 0600 file TASK_ENV_FILE (default ~/.config/task/agent.env).  The Python
# environment TASK_VENV, when it exists, comes first on PATH.
PATH=$HOME/.local/bin:$PATH
# The project's Python environment (task sprite init makes it): first.
if [ -n "${TASK_VENV:-}" ] && [ -x "$TASK_VENV/bin/python" ]; then
	VIRTUAL_ENV=$TASK_VENV
	PATH=$TASK_VENV/bin:$PATH
	export VIRTUAL_ENV
fi
export PATH
env_file=${TASK_ENV_FILE-$HOME/.config/task/agent.env}
if [ -n "$env_file" ] && [ -r "$env_file" ]; then
	# shellcheck source=/dev/null
	. "$env_file"
fi
if ! prompt=$(cat -- "$1" && printf x); then
	echo "task-launch: cannot read the prompt $1" >&2
	sleep 10
	exit 1
fi
prompt=${prompt%x}
if [ -n "${TASK_AGENT:-}" ]; then
	eval "set -- $TASK_AGENT"
elif [ -n "${TASK_CLAUDE_SETTINGS:-}" ]; then
	set -- claude --dangerously-skip-permissions --settings "$TASK_CLAUDE_SETTINGS"
else
	set -- claude --dangerously-skip-permissions
fi
"$@" "$prompt"
rc=$?
# An agent that ends on an error says nothing to its hooks: say it for it.
if [ "$rc" -ne 0 ]; then
	printf '{"hook_event_name":"SessionEnd","session_id":"","reason":"exit status %d"}\n' "$rc" |
		"${TASK_HOOK:-$HOME/.local/bin/task-hook}"
	echo "task-launch: the agent ended with status $rc" >&2
	sleep 2
fi
exit "$rc"
EOF
{ chmod 755 "$dir/task-launch.tmp.$$" && mv "$dir/task-launch.tmp.$$" "$dir/task-launch"; } ||
	fail "cannot write the launcher $dir/task-launch"

# The default agent must be there: one line saying how, not a window that
# dies at once.
if [ -z "$agent" ] && ! PATH=$HOME/.local/bin:$PATH command -v claude >/dev/null 2>&1; then
	fail "claude is not installed on $where: install it (npm install -g @anthropic-ai/claude-code${SPRITE_NAME:+, in task sprite attach}), or set TASK_AGENT"
fi
# (Another execute may make the session at the same time: that will do.)
if ! tmux has-session -t task-daemon 2>/dev/null && ! e=$(tmux new-session -d -s task-daemon -n main -c "$repo" 2>&1) &&
	! tmux has-session -t task-daemon 2>/dev/null; then
	fail "cannot start tmux session task-daemon on $where: $(last "$e")"
fi
if tmux list-windows -t task-daemon -F '#{window_name}' | grep -qx "task-$id"; then
	fail "task $id's agent is already running (tmux window task-daemon:task-$id on $where)"
fi
# A sprite is a sandbox (Claude Code runs dangerously as root only in one);
# this machine is not.
set -- -e "TASK_ID=$id" -e CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 -e "TASK_AGENT=$agent"
if [ "$mode" = sprite ]; then
	set -- "$@" -e IS_SANDBOX=1 -e "TASK_VENV=$repo/.venv"
else
	set -- "$@" -e "TASK_HOOKS_FILE=$dir/hooks.jsonl" -e "TASK_CLAUDE_SETTINGS=$dir/claude/settings.json" \
		-e "TASK_HOOK=$TASK_HOOK" -e TASK_ENV_FILE=
fi
win=$(tmux new-window -d -P -F '#{window_id}' -t task-daemon: -n "task-$id" -c "$wt" "$@" \
	"$dir/task-launch" "$dir/prompts/task-$id.txt" 2>&1) ||
	fail "cannot open tmux window task-$id on $where: $(last "$win")"
printf '%s\t%s\n' "$win" "$(tmux display-message -p -t "$win" '#{socket_path}')"
SCRIPT
}

# hooks_settings HOOK-COMMAND: Claude Code settings with the hooks of
# task-workflow section 4, each running HOOK-COMMAND, and the dangerous-mode
# prompt skipped: hook-apply makes them from its own table, so that the
# hooks installed are the events it maps.
hooks_settings() {
	hook-apply --settings "$1"
}

# prompt_write FILE: the loaded task's prompt: its title, its body, and the
# user's feedback given since its agent last went (task retry's `user` log
# rows after its last launch and after the last "Task needs review").
prompt_write() {
	_since=$(sql "SELECT MAX($A_LOGID, COALESCE((SELECT MAX(id) FROM task_logs WHERE task_id = $T_ID
		AND line_type = 'question' AND content = 'Task needs review'), 0))")
	[ -n "$_since" ] || _since=0
	{
		printf '%s' "$T_TITLE"
		[ -z "$T_BODY" ] || printf '\n\n%s' "$T_BODY"
		sql -json "SELECT content FROM task_logs WHERE task_id = $T_ID AND line_type = 'user'
			AND id > $_since ORDER BY id" |
			jq -j 'if length > 0 then "\n\nFeedback from the user:" + (map("\n\n" + .content) | add) else empty end'
	} >"$1"
}

# ---- task execute ----

# execute_undo: at the exit of a task execute whose agent did not start
# (_ok not 1): the task's status, started_at and agent record back as they
# were, if they are still what this command made them.
execute_undo() {
	[ "$_ok" != 1 ] || return 0
	[ "$(agent_swap "$T_ID" "$_ours" "$_old_agent")" = 1 ] || return 0
	sql "UPDATE tasks SET status = $(lit "$T_STATUS"),
		started_at = $(if [ -n "$_old_started" ]; then lit "$_old_started"; else echo NULL; fi),
		updated_at = CURRENT_TIMESTAMP WHERE id = $T_ID AND status = 'processing'"
}

cmd_execute() {
	_mode='' _id=''
	while [ $# -gt 0 ]; do
		case $1 in
		--sprite) _mode=sprite ;;
		--local) _mode=local ;;
		-*) usage_die "execute: unknown option \"$1\" (task execute ID [--sprite|--local])" ;;
		*)
			[ -z "$_id" ] || usage_die "execute takes one task id (task execute ID [--sprite|--local])"
			_id=$1
			;;
		esac
		shift
	done
	[ -n "$_id" ] || usage_die "execute needs a task id: task execute ID [--sprite|--local]"
	int "$_id" >/dev/null
	db_init
	task_load "$_id"
	[ -n "$T_PROJECT" ] || die "task $T_ID has no project: give it one, then task execute $T_ID"
	project_load "$T_PROJECT"
	[ -n "$_mode" ] || _mode=$(execution_of "$P_NAME")
	[ "$T_STATUS" != archived ] || die "task $T_ID is archived: nothing to execute"
	task_tmpdir
	agent_load
	if [ "$_mode" = sprite ]; then
		sprite_needed
		_sprite=$S_NAME _repo=$TASK_WORKSPACE
	else
		command -v tmux >/dev/null 2>&1 || die "tmux is not installed here: install it, or run task execute $T_ID --sprite"
		git -C "$P_PATH" rev-parse --git-dir >/dev/null 2>&1 ||
			die "project \"$P_NAME\": $P_PATH is not a git repository"
		_sprite='' _repo=$P_PATH
	fi
	# An agent still in its window is answered, not started again (one in
	# a sprite that is no longer the project's is not looked for).
	if [ "$A_WHERE" = local ] || { [ "$A_WHERE" = sprite ] && [ "$A_SPRITE" = "$(project_sprite)" ]; }; then
		[ "$A_WHERE" != sprite ] || backend_ready
		agent_alive
		case $? in
		0) die "task $T_ID's agent is already running (tmux window $A_TARGET): task reply $T_ID TEXT answers it" ;;
		2) die "cannot reach sprite \"$A_SPRITE\" to see whether task $T_ID's agent runs there" ;;
		esac
	fi

	if [ -n "$T_BRANCH" ]; then
		_branch=$T_BRANCH
	else
		_slug=$(slug "$T_TITLE")
		_branch=task/$T_ID-${_slug:-task}
	fi
	case $_branch in
	task/*) _dir=${_branch#task/} ;;
	*) _dir=$T_ID-$(slug "$T_TITLE") ;;
	esac
	_wt=$_repo/.task-worktrees/$_dir
	_target=$TASK_SESSION:task-$T_ID

	prompt_write "$TASK_TMP/prompt"
	_logid=$(sql "SELECT COALESCE(MAX(id), 0) FROM task_logs WHERE task_id = $T_ID")
	# Claimed first (one execute of a task at a time), then started before
	# the agent is: its first hooks must find the task started.  Whatever
	# stops this command before the agent runs puts both back as they were,
	# unless another command has changed them since.
	_old_started=$(sql "SELECT COALESCE(started_at, '') FROM tasks WHERE id = $T_ID")
	_old_agent=$(sql "SELECT value FROM settings WHERE key = $(agent_key "$T_ID")")
	_ours=$(agent_value launching "$_mode" "$_sprite" "$_target" '' '' "$_logid")
	[ "$(agent_swap "$T_ID" "$_old_agent" "$_ours")" = 1 ] ||
		die "task $T_ID is being started by another task execute: task show $T_ID tells how it went"
	_ok=0
	trap 'execute_undo; rm -rf "$TASK_TMP"' EXIT
	sql "UPDATE tasks SET status = 'processing', started_at = COALESCE(started_at, CURRENT_TIMESTAMP),
		completed_at = NULL, updated_at = CURRENT_TIMESTAMP WHERE id = $T_ID" ||
		die "cannot mark task $T_ID started in $DB"

	if [ "$_mode" = sprite ]; then
		say "starting task $T_ID's agent in sprite $_sprite"
		if sprite_put "$_sprite" ".local/state/task/prompts/task-$T_ID.txt" <"$TASK_TMP/prompt" &&
			launch_script | sx "$_sprite" -- sh -s -- "$T_ID" "$_branch" "$_wt" "$_repo" sprite \
				"${TASK_AGENT:-}" '' >"$TASK_TMP/win"; then
			_ok=1
		else
			_ok=0
		fi
	else
		say "starting task $T_ID's agent here, in tmux"
		_ldir=$(task_local_dir)
		TASK_HOOK=$(command -v task-hook) || die "task-hook not found next to task"
		export TASK_HOOK
		_ok=0
		if (umask 077 && mkdir -p "$_ldir/prompts" "$_ldir/claude" &&
			cp "$TASK_TMP/prompt" "$_ldir/prompts/task-$T_ID.txt" &&
			hooks_settings "$(printf '%s' "$TASK_HOOK" | jq -Rr @sh)" >"$_ldir/claude/settings.json") &&
			launch_script | sh -s -- "$T_ID" "$_branch" "$_wt" "$_repo" local "${TASK_AGENT:-}" \
				"$(repo_default_branch "$P_PATH")" "$_ldir" \
				>"$TASK_TMP/win"; then
			_ok=1
		fi
	fi
	[ "$_ok" = 1 ] || exit 1
	_ok=1 # the agent runs: from here on, nothing is put back
	IFS="$(printf '\t')" read -r _win _sock <"$TASK_TMP/win"
	[ "$_mode" = local ] || _sock=''
	agent_put "$T_ID" running "$_mode" "$_sprite" "$_target" "$_win" "$_sock" "$_logid"
	if [ "$_mode" = sprite ]; then _msg="Agent started in sprite $_sprite ($_target)"; else _msg="Agent started on this machine ($_target)"; fi
	sql "UPDATE tasks SET worktree_path = $(lit "$_wt"), branch_name = $(lit "$_branch"),
		daemon_session = $(lit "$TASK_SESSION"), tmux_window_id = $(lit "$_win"),
		updated_at = CURRENT_TIMESTAMP WHERE id = $T_ID;
		INSERT INTO task_logs(task_id, line_type, content) VALUES ($T_ID, 'system', $(lit "$_msg"))" ||
		die "task $T_ID's agent started ($_target), but cannot record it in $DB: task show $T_ID, task sprite status"
	jq -nc --argjson id "$T_ID" --arg where "$_mode" --arg sprite "$_sprite" --arg target "$_target" \
		--arg window "$_win" --arg worktree "$_wt" --arg branch "$_branch" \
		'{id: $id, status: "processing", where: $where} + (if $sprite == "" then {} else {sprite: $sprite} end)
		 + {target: $target, window: $window, worktree: $worktree, branch: $branch}'
}

# ---- task reply, task keys ----

# agent_target ID: load the task and its agent (T_*, A_*), for input: fails
# when it never ran; sets S_NAME for a sprite's.
agent_target() {
	task_load "$1"
	agent_load
	[ -n "$A_WHERE" ] || die "task $T_ID has no agent: task execute $T_ID starts one"
	if [ "$A_WHERE" = sprite ]; then
		S_NAME=$A_SPRITE
		[ -n "$S_NAME" ] || die "task $T_ID's sprite is unknown: task execute $T_ID starts its agent again"
		backend_ready
	fi
}

# send_failed FILE PREFIX: why sending to the loaded task's agent failed, as
# our one line (its window gone, or the tool's reason).
send_failed() {
	if grep -q -e "can't find" -e "no server running" "$1"; then
		die "task $T_ID's agent is not running (no tmux window $A_TARGET): task execute $T_ID starts it again"
	fi
	die "cannot send to task $T_ID's agent: $(first_reason "$1" "$2")"
}

# agent_paste FILE: FILE's text as one paste into the loaded task's agent,
# no Enter (one final newline dropped).
agent_paste() {
	if [ "$A_WHERE" = sprite ]; then
		sprite-sendkeys -s "$S_NAME" -t "$A_TARGET" --no-enter <"$1" 2>"$TASK_TMP/send.err" ||
			send_failed "$TASK_TMP/send.err" sprite-sendkeys
	else
		# As sprite-sendkeys does: one final newline dropped.
		_t=$(cat "$1"; printf x)
		_t=${_t%x}
		_t=${_t%"
"}
		printf '%s' "$_t" >"$TASK_TMP/paste"
		{
			ltmux "$A_SOCKET" load-buffer -b "task-$T_ID" "$TASK_TMP/paste" &&
				ltmux "$A_SOCKET" paste-buffer -p -d -b "task-$T_ID" -t "$A_TARGET"
		} 2>"$TASK_TMP/send.err" || send_failed "$TASK_TMP/send.err" tmux
	fi
}

# agent_keys KEY...: press tmux's named keys in the loaded task's agent.
agent_keys() {
	if [ "$A_WHERE" = sprite ]; then
		_n=$#
		while [ "$_n" -gt 0 ]; do
			set -- "$@" --key "$1"
			shift
			_n=$((_n - 1))
		done
		sprite-sendkeys -s "$S_NAME" -t "$A_TARGET" "$@" 2>"$TASK_TMP/send.err" ||
			send_failed "$TASK_TMP/send.err" sprite-sendkeys
	else
		ltmux "$A_SOCKET" send-keys -t "$A_TARGET" "$@" 2>"$TASK_TMP/send.err" ||
			send_failed "$TASK_TMP/send.err" tmux
	fi
}

# agent_reply ID TEXT: type TEXT into the task's agent and press Enter, the
# way Claude Code needs it (task-workflow section 6).  TEXT - reads it from
# standard input (one final newline dropped).  For task retry too.
agent_reply() {
	agent_target "$1"
	task_tmpdir
	if [ "$2" = - ]; then
		cat >"$TASK_TMP/text" || die "cannot read the reply from standard input"
	else
		printf '%s' "$2" >"$TASK_TMP/text"
	fi
	[ -s "$TASK_TMP/text" ] || usage_die "nothing to reply: give some text (task keys $T_ID Enter presses Enter)"
	if [ "$A_WHERE" = sprite ]; then
		# One exec: sprite-sendkeys pastes, then presses Enter apart.
		sprite-sendkeys -s "$S_NAME" -t "$A_TARGET" <"$TASK_TMP/text" 2>"$TASK_TMP/send.err" ||
			send_failed "$TASK_TMP/send.err" sprite-sendkeys
	else
		# As sprite-sendkeys does: the text as one paste, then Enter apart.
		agent_paste "$TASK_TMP/text"
		sleep 0.1
		agent_keys Enter
	fi
}

# A reply to a task whose agent asked a question (AskUserQuestion) answers
# it: option numbers (1, or 1,3 where several may be chosen) or text of the
# user's own.  Without one, numbers alone are refused unless a permission
# dialog waits: they would answer nothing (text read from standard input
# goes as it is).
cmd_reply() {
	[ $# -eq 2 ] || usage_die "reply needs a task id and text: task reply ID TEXT|N|N,M (TEXT - reads standard input)"
	db_init
	_id=$(int "$1") || exit 2
	_q=$(sql "SELECT value FROM settings WHERE key = $(question_key "$_id")") ||
		die "cannot read the task database $DB"
	if [ -n "$_q" ] && [ "$2" != - ]; then
		[ -n "$2" ] || usage_die "nothing to reply: give an option's number or your own text"
		question_answer "$_id" "$2" "$_q"
		return
	fi
	# A number answers a permission dialog too (1 allows, 3 denies).
	case $2 in
	*[!0-9,]* | '' | -) ;;
	*)
		[ "$(sql "SELECT count(*) FROM tasks t WHERE id = $_id AND status = 'blocked'
			AND (SELECT content FROM task_logs WHERE task_id = t.id AND line_type IN ('system', 'question', 'user')
			     ORDER BY id DESC LIMIT 1) LIKE 'Waiting for permission%'")" = 1 ] ||
			usage_die "task $_id's agent asks no question: nothing sent (to send \"$2\" as text: echo $2 | task reply $_id -)"
		;;
	esac
	agent_reply "$_id" "$2"
}

cmd_keys() {
	[ $# -ge 2 ] || usage_die "keys needs a task id and keys: task keys ID KEY... (1, Enter, Escape, Up, C-c...)"
	_id=$1
	shift
	db_init
	for _k; do
		case $_k in
		'' | -?* | *[!A-Za-z0-9_+-]*) usage_die "\"$_k\" is not a key name: use tmux's (1, y, Enter, Escape, Up, C-c...)" ;;
		esac
	done
	agent_target "$_id"
	task_tmpdir
	agent_keys "$@"
}

# ---- task output ----

# task output ID [-n LINES]: the agent's pane as it is now (its last LINES
# lines, default all that is on screen), without attaching: tmux
# capture-pane, with the pane's own escape sequences left out and what is
# left cleaned (the text is the agent's).
cmd_output() {
	_usage='usage: task output ID [-n LINES]'
	_id='' _n=''
	while [ $# -gt 0 ]; do
		case $1 in
		-h | --help) echo "$_usage"; return 0 ;;
		-n) [ $# -ge 2 ] || usage_die "-n needs a number of lines: $_usage"; _n=$2; shift ;;
		-n*) _n=${1#-n} ;;
		-*) usage_die "unknown option \"$1\": $_usage" ;;
		*) [ -z "$_id" ] || usage_die "output takes one task id: $_usage"; _id=$1 ;;
		esac
		shift
	done
	[ -n "$_id" ] || usage_die "output needs a task id: $_usage"
	case $_n in
	'') ;;
	*[!0-9]* | 0 | ??????*) usage_die "-n wants a number of lines from 1 to 99999, not \"$_n\"" ;;
	esac
	_id=$(int "$_id") || exit 2
	db_init
	agent_target "$_id"
	task_tmpdir
	# The lines on screen, or the last N of the pane's history and screen.
	set -- capture-pane -p -J -t "$A_TARGET"
	[ -z "$_n" ] || set -- "$@" -S "-$_n"
	if [ "$A_WHERE" = sprite ]; then
		sprite-exec -n -s "$S_NAME" -- tmux "$@" >"$TASK_TMP/pane" 2>"$TASK_TMP/pane.err"
	else
		ltmux "$A_SOCKET" "$@" >"$TASK_TMP/pane" 2>"$TASK_TMP/pane.err"
	fi || send_failed "$TASK_TMP/pane.err" "$([ "$A_WHERE" = sprite ] && echo sprite-exec || echo tmux)"
	# Trailing blank lines are the screen's empty rows, not output.
	_out=$(term_clean <"$TASK_TMP/pane") || die "cannot read the pane's text"
	if [ -n "$_n" ]; then
		printf '%s\n' "$_out" | tail -n "$_n"
	elif [ -n "$_out" ]; then
		printf '%s\n' "$_out"
	fi
}

# ---- task fetch ----

cmd_fetch() {
	[ $# -eq 1 ] || usage_die "fetch needs a task id: task fetch ID"
	db_init
	task_load "$1"
	[ -n "$T_PROJECT" ] || die "task $T_ID has no project"
	project_load "$T_PROJECT"
	agent_load
	if [ -z "$T_BRANCH" ] || [ -z "$A_WHERE" ]; then
		die "task $T_ID has no branch yet: task execute $T_ID starts its agent"
	fi
	task_tmpdir
	if [ "$A_WHERE" = sprite ]; then
		S_NAME=$A_SPRITE
		sprite_ready "$S_NAME"
		[ -n "$S_STATUS" ] || die "sprite \"$S_NAME\" of task $T_ID does not exist any more: its branch is lost"
		for _kind in incremental full; do
			# shellcheck disable=SC2016 # expanded in the sprite
			sx "$S_NAME" -n -- sh -c '
				cd /workspace 2>/dev/null || { echo "task: no /workspace in the sprite" >&2; exit 1; }
				git rev-parse -q --verify "refs/heads/$1" >/dev/null || { echo "task: no branch $1 in the sprite" >&2; exit 1; }
				f=$(mktemp) || exit 1
				{ [ "$2" = incremental ] && git bundle create -q "$f" "$1" --not --remotes=origin 2>/dev/null; } ||
					git bundle create -q "$f" "$1" && cat "$f"
				s=$?; rm -f "$f"; exit $s' sh "$T_BRANCH" "$_kind" >"$TASK_TMP/bundle" || exit 1
			if git -C "$P_PATH" fetch --no-progress "$TASK_TMP/bundle" "refs/heads/$T_BRANCH:refs/heads/$T_BRANCH" \
				2>"$TASK_TMP/fetch.err"; then
				break
			fi
			# A bundle whose base we lack: once more with the whole branch.
			[ "$_kind" = incremental ] && grep -q 'prerequisite' "$TASK_TMP/fetch.err" && continue
			if grep -q -e non-fast-forward -e rejected "$TASK_TMP/fetch.err"; then
				die "cannot update $T_BRANCH in $P_PATH: it has commits the agent's branch has not (rename or delete it, then fetch again)"
			fi
			die "cannot fetch $T_BRANCH into $P_PATH: $(first_reason "$TASK_TMP/fetch.err" fatal)"
		done
	fi
	_sha=$(git -C "$P_PATH" rev-parse -q --verify "refs/heads/$T_BRANCH") ||
		die "no branch $T_BRANCH in $P_PATH"
	_base=$(repo_default_branch "$P_PATH") || _base=
	_n=0
	[ -z "$_base" ] || _n=$(git -C "$P_PATH" rev-list --count "$_base..$_sha" 2>/dev/null) || _n=0
	if [ "$A_WHERE" = sprite ]; then
		say "$T_BRANCH is in $P_PATH${_base:+: git -C $P_PATH log $_base..$T_BRANCH}"
	else
		say "$T_BRANCH is already in $P_PATH (the agent ran here)"
	fi
	jq -nc --argjson id "$T_ID" --arg branch "$T_BRANCH" --arg commit "$_sha" --arg path "$P_PATH" \
		--arg base "$_base" --argjson commits "${_n:-0}" \
		'{id: $id, branch: $branch, commit: $commit, path: $path, base: $base, commits: $commits}'
}
