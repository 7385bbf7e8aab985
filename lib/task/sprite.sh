# shellcheck shell=sh
# sprite.sh: task sprite init, status, sync, attach, checkpoint, restore,
# destroy and token: a project's sprite, made ready for its agents (the code
# sent in as a git bundle, dependencies, hooks, credentials, tmux, network
# policy, a checkpoint).  Sourced by bin/task after lib/task.sh; see
# task-sprite(1).

# shellcheck source=lib/task/agent.sh
. "$TASK_LIBDIR/task/agent.sh"

cmd_sprite() {
	[ $# -gt 0 ] || usage_die "sprite needs a command: init, status, sync, attach, checkpoint, restore, destroy or token"
	_c=$1
	shift
	case $_c in
	init | status | sync | attach | checkpoint | restore | destroy | token) "sprite_$_c" "$@" ;;
	*) usage_die "unknown sprite command \"$_c\": use init, status, sync, attach, checkpoint, restore, destroy or token" ;;
	esac
}

# one_project WHAT ARGS...: the project named by the one argument (loaded).
one_project() {
	_what=$1
	shift
	[ $# -eq 1 ] || usage_die "$_what needs one project: task sprite $_what PROJECT"
	project_load "$1"
}

# project_args WHAT OPTIONS NOUN SYNOPSIS ARGS...: parse the ARGS of "task
# sprite WHAT PROJECT SYNOPSIS": the project in _p; the last value of the
# option in _v, every one in _vs (a line each).  OPTIONS are the option's
# names, "|" between; NOUN says what its value is.
project_args() {
	_what=$1 _opts=$2 _noun=$3
	_usage="task sprite $1 PROJECT $4"
	shift 4
	_p='' _v='' _vs=''
	while [ $# -gt 0 ]; do
		_known=
		case $1 in
		*'|'*) ;; # in no option's name
		*) case "|$_opts|" in *"|$1|"*) _known=1 ;; esac ;;
		esac
		if [ -n "$_known" ]; then
			[ $# -ge 2 ] || usage_die "$1 needs a $_noun: $_usage"
			_v=$2 _vs="$_vs$2
"
			shift
		else
			case $1 in
			-*) usage_die "sprite $_what: unknown option \"$1\" ($_usage)" ;;
			esac
			[ -z "$_p" ] || usage_die "sprite $_what takes one project: $_usage"
			_p=$1
		fi
		shift
	done
	[ -n "$_p" ] || usage_die "sprite $_what needs a project: $_usage"
}

# ---- code in: the project's history as a git bundle through exec stdin ----

# The script that takes a bundle in, run in the sprite by sh -s with: the
# bundle's path less .bundle (with .refs beside it: the branches here, as
# "sha refname" lines), the default branch, a git user name and email.
code_in_script() {
	cat <<'SCRIPT'
set -u
exec >&2
in=$1 def=$2 name=$3 email=$4
ws=/workspace
fail() { rm -f "$in".*; printf 'task: %s\n' "$*" >&2; exit 1; }
last() { printf '%s' "$1" | tail -n 1; }
{ mkdir -p "$ws" && cd "$ws"; } || fail "cannot enter $ws in the sprite"
if [ ! -d .git ]; then
	e=$(git init -q 2>&1) || fail "cannot make a git repository in $ws: $(last "$e")"
fi
if [ -f "$in.bundle" ]; then
	e=$(git fetch -q "$in.bundle" '+refs/heads/*:refs/remotes/origin/*' '+refs/tags/*:refs/tags/*' 2>&1) ||
		fail "cannot take the bundle in: $(last "$e")"
fi
# Every branch as it is there, as origin/NAME (one at a commit the sprite
# has already is in no incremental bundle); those gone, removed.
: >"$in.new"
while read -r sha ref; do
	r=refs/remotes/origin/${ref#refs/heads/}
	git update-ref "$r" "$sha" 2>/dev/null || echo "task: cannot set $r to $sha in the sprite" >&2
	echo "$r" >>"$in.new"
done <"$in.refs"
git for-each-ref --format='%(refname)' refs/remotes/origin | grep -vxF -f "$in.new" |
	while read -r r; do git update-ref -d "$r"; done
git config task.defaultbranch >/dev/null || git config task.defaultbranch "$def"
def=$(git config task.defaultbranch)
up=refs/remotes/origin/$def
git rev-parse -q --verify "$up" >/dev/null ||
	fail "the default branch $def is not in the project any more: name another in the sprite with git -C $ws config task.defaultbranch BRANCH"
if ! git rev-parse -q --verify HEAD >/dev/null; then
	e=$(git checkout -q --no-track -B "$def" "$up" 2>&1) || fail "cannot check $def out in $ws: $(last "$e")"
elif [ "$(git symbolic-ref -q --short HEAD)" = "$def" ]; then
	if ! git merge-base --is-ancestor HEAD "$up"; then
		echo "task: $def in the sprite has commits of its own: left as it is" >&2
	elif [ -n "$(git status --porcelain --untracked-files=no)" ]; then
		echo "task: $ws has changes in the sprite: $def left as it is" >&2
	else
		git merge -q --ff-only "$up" || echo "task: cannot bring $def up to date in the sprite" >&2
	fi
elif ! git rev-parse -q --verify "refs/heads/$def" >/dev/null; then
	git branch -q --no-track "$def" "$up"
elif git merge-base --is-ancestor "refs/heads/$def" "$up"; then
	git update-ref "refs/heads/$def" "$up"
fi
grep -qx '/.task-worktrees/' .git/info/exclude 2>/dev/null || echo '/.task-worktrees/' >>.git/info/exclude
# The agents commit: under the user's name, unless the sprite has one.
git config --global user.name >/dev/null || git config --global user.name "${name:-task agent}"
git config --global user.email >/dev/null || git config --global user.email "${email:-agent@${SPRITE_NAME:-sprite}.invalid}"
rm -f "$in".*
SCRIPT
}

# code_in: send the loaded project's new history into sprite S_NAME: a
# bundle of what the sprite lacks (nothing when it has it all), and its
# branches.  Prints the bundle's size in bytes.
code_in() {
	_def=$(repo_default_branch "$P_PATH") ||
		die "project \"$P_NAME\": cannot tell the default branch of $P_PATH (check a branch out)"
	# What the sprite has already, that this repository knows.
	# shellcheck disable=SC2016 # expanded in the sprite
	sx "$S_NAME" -n -- sh -c 'git -C /workspace for-each-ref --format="%(objectname)" refs/remotes/origin refs/tags 2>/dev/null; true' \
		>"$TASK_TMP/have" || exit 1
	sort -u "$TASK_TMP/have" | while read -r _sha; do
		git -C "$P_PATH" cat-file -e "$_sha" 2>/dev/null && printf '^%s\n' "$_sha"
	done >"$TASK_TMP/not"
	set -- --branches --tags
	[ ! -s "$TASK_TMP/not" ] || set -- "$@" --stdin
	_bytes=0
	if git -C "$P_PATH" bundle create -q "$TASK_TMP/bundle" "$@" <"$TASK_TMP/not" 2>"$TASK_TMP/bundle.err"; then
		_bytes=$(wc -c <"$TASK_TMP/bundle" | tr -d ' ')
	elif grep -q 'empty bundle' "$TASK_TMP/bundle.err"; then
		rm -f "$TASK_TMP/bundle"
	else
		die "cannot bundle $P_PATH: $(first_reason "$TASK_TMP/bundle.err" fatal)"
	fi
	git -C "$P_PATH" for-each-ref --format='%(objectname) %(refname)' refs/heads >"$TASK_TMP/refs"
	_in=/tmp/task-in.$$
	if [ -f "$TASK_TMP/bundle" ]; then
		sprite_put "$S_NAME" "$_in.bundle" <"$TASK_TMP/bundle" || exit 1
	fi
	sprite_put "$S_NAME" "$_in.refs" <"$TASK_TMP/refs" || exit 1
	code_in_script | sx "$S_NAME" -- sh -s -- "$_in" "$_def" \
		"$(git -C "$P_PATH" config user.name)" "$(git -C "$P_PATH" config user.email)" || exit 1
	printf '%s\n' "$_bytes"
}

# ---- dependencies ----

# The script that installs the project's dependencies in the sprite, by its
# marker files, once: again only when one of them changed (their checksum
# is kept in /workspace/.git/task-deps, taken after the installers ran, as
# they may write lock files).  Prints unchanged, none, installed or failed;
# progress on stderr.
deps_script() {
	cat <<'SCRIPT'
set -u
cd /workspace 2>/dev/null || { echo "task: no /workspace in the sprite" >&2; exit 1; }
stamp=.git/task-deps
markers() {
	for f in Gemfile Gemfile.lock package.json package-lock.json requirements.txt go.mod go.sum \
		Cargo.toml Cargo.lock bin/setup; do
		[ ! -f "$f" ] || echo "$f"
	done
}
markers_sum() { markers | while IFS= read -r f; do printf '%s ' "$f"; cksum <"$f"; done | cksum; }
if [ "$(markers_sum)" = "$(cat "$stamp" 2>/dev/null)" ]; then
	echo "task: dependencies unchanged: not installed again" >&2
	echo unchanged
	exit 0
fi
if [ -z "$(markers)" ]; then
	markers_sum >"$stamp"
	echo none
	exit 0
fi
PATH=$HOME/.local/bin:$PATH
PIP_DISABLE_PIP_VERSION_CHECK=1
export PIP_DISABLE_PIP_VERSION_CHECK
failed=
note() { printf 'task: %s\n' "$*" >&2; }
# install MARKER COMMAND...: run it, unless its program is not installed.
install() {
	m=$1
	shift
	if ! command -v "$1" >/dev/null 2>&1; then
		note "$m: $1 is not installed in the sprite: skipped"
		return 0
	fi
	note "$m: $*"
	"$@" </dev/null >&2 || { note "$m: $* failed"; failed=1; }
}
# exclude PATTERN: git leaves what installers make here out of its status.
exclude() {
	e=.git/info/exclude
	grep -qxF "$1" "$e" 2>/dev/null || { mkdir -p .git/info && echo "$1" >>"$e"; }
}
if [ -f Gemfile ] && command -v bundle >/dev/null 2>&1 &&
	! grep -qs '^BUNDLE_PATH:' "$HOME/.bundle/config"; then
	# Gems go to the sprite's home: kept across restarts and shared by every
	# worktree (the system's gem directory may be read-only, or not kept).
	bundle config set --global path "$HOME/.bundle/gems" </dev/null >&2
fi
[ ! -f Gemfile ] || install Gemfile bundle install
if [ -f package-lock.json ]; then
	install package-lock.json npm ci --no-audit --no-fund
elif [ -f package.json ]; then
	install package.json npm install --no-audit --no-fund
fi
# Python packages go to a virtual environment, /workspace/.venv (systems
# refuse pip installs of their own Python, PEP 668); agents get it first on
# their PATH.
if [ -f requirements.txt ]; then
	if ! command -v python3 >/dev/null 2>&1; then
		note "requirements.txt: python3 is not installed in the sprite: skipped"
	elif [ -x .venv/bin/pip ] || { note "requirements.txt: python3 -m venv .venv" &&
		python3 -m venv .venv </dev/null >&2; }; then
		exclude /.venv/
		install requirements.txt .venv/bin/pip install -r requirements.txt
	else
		note "requirements.txt: cannot make the virtual environment /workspace/.venv (is python3's venv module installed?)"
		failed=1
	fi
fi
[ ! -f go.mod ] || install go.mod go mod download
[ ! -f Cargo.toml ] || install Cargo.toml cargo fetch
if [ -f bin/setup ]; then
	if [ -x bin/setup ]; then install bin/setup ./bin/setup; else install bin/setup sh bin/setup; fi
fi
if [ -n "$failed" ]; then
	echo failed
else
	markers_sum >"$stamp"
	echo installed
fi
SCRIPT
}

# deps: install the dependencies in sprite S_NAME (their progress as it
# comes, cleaned: it is the sprite's); prints what deps_script says.
deps() {
	rm -f "$TASK_TMP/deps.err"
	mkfifo "$TASK_TMP/deps.err" || die "cannot make a FIFO in $TASK_TMP"
	term_clean <"$TASK_TMP/deps.err" >&2 &
	_clean=$!
	deps_script | sprite-exec -s "$S_NAME" -- sh -s >"$TASK_TMP/deps" 2>"$TASK_TMP/deps.err"
	_rc=$?
	wait "$_clean"
	[ "$_rc" -eq 0 ] || exit 1
	_d=$(cat "$TASK_TMP/deps")
	[ "$_d" != failed ] || say "installing the dependencies failed (see above): task sprite sync $P_NAME tries again"
	printf '%s\n' "$_d"
}

# ---- the agent's side: hooks, settings, credentials, tmux ----

# The script that finishes the agent's setup in the sprite (sh -s, with 1
# when TASK_AGENT is set here): the hook writer executable, Claude Code's
# settings with our hooks (the user's other settings kept), ~/.claude.json
# with onboarding done, /workspace trusted and the API key approved, the
# tmux session task-daemon.
agent_setup_script() {
	cat <<'SCRIPT'
set -u
fail() { printf 'task: %s\n' "$*" >&2; exit 1; }
umask 077
bin=$HOME/.local/bin
chmod 755 "$bin/task-hook" || fail "cannot install the hook writer in $bin"
mkdir -p "$HOME/.claude" || fail "cannot make $HOME/.claude"
s=$HOME/.claude/settings.json
jq --arg cmd "$bin/task-hook" '.hooks[][].hooks[].command = $cmd' "$HOME/.config/task/claude-settings.json" \
	>"$s.new.$$" || fail "cannot write $s"
if [ -s "$s" ]; then
	{ jq -s '.[0] * .[1]' "$s" "$s.new.$$" >"$s.merged.$$" && mv "$s.merged.$$" "$s.new.$$"; } ||
		{ rm -f "$s".*.$$; fail "$s in the sprite is not JSON: fix or remove it"; }
fi
mv "$s.new.$$" "$s" || fail "cannot write $s"
tail=
env_file=$HOME/.config/task/agent.env
if [ -r "$env_file" ]; then
	# shellcheck source=/dev/null
	tail=$(. "$env_file" && printf '%s' "${ANTHROPIC_API_KEY:-}" | tail -c 20)
fi
cj=$HOME/.claude.json
(
	command -v flock >/dev/null 2>&1 && flock -w 10 9
	[ -s "$cj" ] || echo '{}' >"$cj"
	TASK_KEY_TAIL=$tail jq '.hasCompletedOnboarding = true | .bypassPermissionsModeAccepted = true
		| .projects["/workspace"].hasTrustDialogAccepted = true
		| $ENV.TASK_KEY_TAIL as $k
		| if $k == "" then . else
			.customApiKeyResponses.approved = (((.customApiKeyResponses.approved // []) - [$k]) + [$k])
			| .customApiKeyResponses.rejected = ((.customApiKeyResponses.rejected // []) - [$k]) end' \
		"$cj" >"$cj.new.$$" && mv "$cj.new.$$" "$cj" || { rm -f "$cj.new.$$"; exit 1; }
) 9>>"$cj.lock" || fail "cannot write $cj"
tmux has-session -t task-daemon 2>/dev/null || tmux new-session -d -s task-daemon -n main -c /workspace ||
	fail "cannot start the tmux session task-daemon"
if [ "${1:-0}" != 1 ] && ! PATH=$bin:$PATH command -v claude >/dev/null 2>&1; then
	echo "task: claude is not installed in sprite ${SPRITE_NAME:-}: install it there (task sprite attach), or set TASK_AGENT" >&2
fi
exit 0
SCRIPT
}

# sh_quote VALUE: VALUE in single quotes for sh (read back by the launcher).
sh_quote() {
	printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

# agent_setup: install the hook writer, settings, credentials and tmux in
# sprite S_NAME.
agent_setup() {
	_hook=$(command -v task-hook) || die "task-hook not found next to task"
	sprite_put "$S_NAME" .local/bin/task-hook <"$_hook" || exit 1
	hooks_settings task-hook | sprite_put "$S_NAME" .config/task/claude-settings.json || exit 1
	# The credentials, through stdin only, into a 0600 file.
	if [ -n "${ANTHROPIC_API_KEY:-}${CLAUDE_CODE_OAUTH_TOKEN:-}" ]; then
		{
			echo '# The agent'"'"'s credentials, written by task sprite init: for the agent alone.'
			[ -z "${ANTHROPIC_API_KEY:-}" ] || printf 'ANTHROPIC_API_KEY=%s\nexport ANTHROPIC_API_KEY\n' "$(sh_quote "$ANTHROPIC_API_KEY")"
			[ -z "${CLAUDE_CODE_OAUTH_TOKEN:-}" ] ||
				printf 'CLAUDE_CODE_OAUTH_TOKEN=%s\nexport CLAUDE_CODE_OAUTH_TOKEN\n' "$(sh_quote "$CLAUDE_CODE_OAUTH_TOKEN")"
		} | sprite_put "$S_NAME" .config/task/agent.env || exit 1
	elif [ -z "${TASK_AGENT:-}" ]; then
		say "neither ANTHROPIC_API_KEY nor CLAUDE_CODE_OAUTH_TOKEN is set here: log the agent in (task sprite attach $P_NAME), or set one and run task sprite init $P_NAME again"
	fi
	agent_setup_script | sx "$S_NAME" -- sh -s -- "$([ -n "${TASK_AGENT:-}" ] && echo 1 || echo 0)" || exit 1
}

# policy_hosts: the hosts the loaded project's agent may reach: the API, the
# package registries its marker files call for, GitHub.
policy_hosts() {
	echo api.anthropic.com
	echo github.com
	_top=$(git -C "$P_PATH" ls-tree --name-only HEAD 2>/dev/null)
	_has() { printf '%s\n' "$_top" | grep -qx "$1"; }
	if _has Gemfile; then echo rubygems.org; echo index.rubygems.org; fi
	if _has package.json; then echo registry.npmjs.org; fi
	if _has yarn.lock; then echo registry.yarnpkg.com; fi
	if _has requirements.txt || _has pyproject.toml || _has Pipfile; then echo pypi.org; echo files.pythonhosted.org; fi
	if _has go.mod; then echo proxy.golang.org; echo sum.golang.org; fi
	if _has Cargo.toml; then echo crates.io; echo static.crates.io; echo index.crates.io; fi
}

# ---- task sprite init ----

sprite_init() {
	project_args init --allow host '[--allow HOST]...' "$@"
	_extra=$_vs
	db_init
	project_load "$_p"
	git -C "$P_PATH" rev-parse -q --verify HEAD >/dev/null 2>&1 ||
		die "project \"$P_NAME\": $P_PATH is not a git repository with a commit: commit something, then task sprite init $P_NAME"
	task_tmpdir
	S_NAME=$(project_sprite)
	if [ -z "$S_NAME" ]; then
		S_NAME=task-$(slug "$P_NAME" | cut -c 1-58 | sed 's/-*$//')
		[ "$S_NAME" != task- ] || S_NAME=task-$P_ID
	fi
	sprite_ready "$S_NAME"
	if [ -z "$S_STATUS" ]; then
		say "creating sprite $S_NAME"
		sprite-create "$S_NAME" >/dev/null 2>"$TASK_TMP/create.err" ||
			die "cannot create sprite \"$S_NAME\": $(first_reason "$TASK_TMP/create.err" sprite-create)"
	fi
	sql "UPDATE projects SET sprite_name = $(lit "$S_NAME"), sprite_status = '' WHERE id = $P_ID"
	# The steps, in a subshell: whatever stops them, the project says error.
	if ! (sprite_init_steps "$_extra"); then
		sql "UPDATE projects SET sprite_status = 'error' WHERE id = $P_ID"
		exit 1
	fi
	sql "UPDATE projects SET sprite_status = 'ready' WHERE id = $P_ID"
	jq -nc --arg project "$P_NAME" --arg sprite "$S_NAME" --slurpfile out "$TASK_TMP/init.json" \
		'{project: $project, sprite: $sprite, sprite_status: "ready"} + $out[0]'
}

sprite_init_steps() {
	# The network first: the dependencies come through it.
	policy_hosts >"$TASK_TMP/hosts"
	printf '%s\n' "$1" | grep -v '^$' >>"$TASK_TMP/hosts"
	set --
	while read -r _h; do set -- "$@" --allow "$_h"; done <"$TASK_TMP/hosts"
	say "network policy of $S_NAME: $(tr '\n' ' ' <"$TASK_TMP/hosts")and nothing else"
	sprite-policy -s "$S_NAME" set "$@" 2>"$TASK_TMP/policy.err" ||
		die "cannot set the network policy of sprite \"$S_NAME\": $(first_reason "$TASK_TMP/policy.err" sprite-policy)"
	say "sending $P_PATH into $S_NAME:/workspace as a git bundle"
	_bytes=$(code_in) || exit 1
	say "installing the hook writer, Claude Code's settings and credentials"
	agent_setup
	_deps=$(deps) || exit 1
	# The first checkpoint, once.
	_cp=$(sprite-checkpoint -s "$S_NAME" list 2>/dev/null | jq -r 'select(.comment == "initial-setup") | .id' | head -n 1)
	if [ -z "$_cp" ]; then
		if sprite-checkpoint -s "$S_NAME" create -m initial-setup >"$TASK_TMP/cp" 2>"$TASK_TMP/cp.err"; then
			_cp=$(jq -r .id "$TASK_TMP/cp")
			say "checkpoint $_cp: initial-setup"
		else
			say "no checkpoint initial-setup: $(first_reason "$TASK_TMP/cp.err" sprite-checkpoint)"
		fi
	fi
	jq -nc --argjson bytes "$_bytes" --arg deps "$_deps" --arg cp "$_cp" --rawfile hosts "$TASK_TMP/hosts" \
		'{bundle_bytes: $bytes, dependencies: $deps, checkpoint: (if $cp == "" then null else $cp end),
		  allow: ($hosts | split("\n") | map(select(. != "")))}' >"$TASK_TMP/init.json"
}

# ---- task sprite status ----

sprite_status() {
	[ $# -le 1 ] || usage_die "sprite status takes at most one project: task sprite status [PROJECT]"
	_cond="sprite_name != ''"
	if [ $# -eq 1 ]; then
		project_load "$1"
		[ -n "$(project_sprite)" ] || die "project \"$P_NAME\" has no sprite: task sprite init $P_NAME makes one"
		_cond="$_cond AND id = $P_ID"
	fi
	_rows=$(sql -json "SELECT name, sprite_name, sprite_status FROM projects WHERE $_cond ORDER BY name")
	[ -n "$_rows" ] || return 0
	backend_ready
	task_tmpdir
	sprite-list >"$TASK_TMP/list" 2>"$TASK_TMP/list.err" ||
		die "cannot reach the Sprites API: $(first_reason "$TASK_TMP/list.err" sprite-list)"
	printf '%s\n' "$_rows" | jq -c '.[]' >"$TASK_TMP/rows"
	while read -r _row; do
		_s=$(printf '%s' "$_row" | jq -r .sprite_name)
		_st=$(jq -r --arg n "$_s" 'select(.name == $n) | .status' "$TASK_TMP/list")
		: >"$TASK_TMP/windows"
		if [ "$_st" = running ]; then
			windows_of sprite "$_s" | grep -vx '#end' >"$TASK_TMP/windows"
		fi
		printf '%s\n' "$_row" | jq -c --arg st "${_st:-missing}" --rawfile w "$TASK_TMP/windows" \
			'{name, sprite: .sprite_name, status: $st, windows: ($w | split("\n") | map(select(. != ""))),
			  sprite_status}'
	done <"$TASK_TMP/rows"
}

# ---- task sprite sync ----

sprite_sync() {
	one_project sync "$@"
	db_init
	sprite_needed
	task_tmpdir
	git -C "$P_PATH" rev-parse -q --verify HEAD >/dev/null 2>&1 ||
		die "project \"$P_NAME\": $P_PATH is not a git repository with a commit"
	_bytes=$(code_in) || exit 1
	if [ "$_bytes" = 0 ]; then say "$S_NAME has all of $P_PATH's history"; else say "sent $_bytes bytes of history into $S_NAME"; fi
	_deps=$(deps) || exit 1
	jq -nc --arg project "$P_NAME" --arg sprite "$S_NAME" --argjson bytes "$_bytes" --arg deps "$_deps" \
		'{project: $project, sprite: $sprite, bundle_bytes: $bytes, dependencies: $deps}'
}

# ---- task sprite attach ----

sprite_attach() {
	project_args attach --task 'task id' '[--task ID]' "$@"
	_t=$_v
	project_load "$_p"
	if [ -n "$_t" ]; then
		task_load "$_t"
		[ "$T_PROJECT" = "$P_NAME" ] || die "task $T_ID is not of project \"$P_NAME\""
		agent_load
		[ -n "$A_WHERE" ] || die "task $T_ID has no agent: task execute $T_ID starts one"
		set -- attach -t "$A_TARGET"
		_where=$A_WHERE
		S_NAME=$A_SPRITE
	else
		set -- new-session -A -s "$TASK_SESSION" -c "$TASK_WORKSPACE"
		_where=$(execution_of "$P_NAME")
		[ "$_where" = sprite ] || set -- new-session -A -s "$TASK_SESSION" -c "$P_PATH"
		S_NAME=
	fi
	if [ "$_where" = local ]; then
		[ -z "$_t" ] || exec ltmux "$A_SOCKET" "$@"
		exec tmux "$@"
	fi
	[ -n "$S_NAME" ] || sprite_needed
	sprite_ready "$S_NAME"
	[ -n "$S_STATUS" ] || die "sprite \"$S_NAME\" does not exist: task sprite init $P_NAME makes it"
	exec sprite-exec -t -s "$S_NAME" -- tmux "$@"
}

# ---- checkpoints ----

sprite_checkpoint() {
	project_args checkpoint '-m|--comment' comment '[-m COMMENT]' "$@"
	_m=$_v
	project_load "$_p"
	sprite_needed
	sprite-checkpoint -s "$S_NAME" create -m "$_m" >"$TASK_TMP/cp" 2>"$TASK_TMP/cp.err" ||
		die "cannot checkpoint sprite \"$S_NAME\": $(first_reason "$TASK_TMP/cp.err" sprite-checkpoint)"
	sql "UPDATE projects SET sprite_status = 'checkpointed' WHERE id = $P_ID"
	say "checkpoint $(jq -r .id "$TASK_TMP/cp") of $S_NAME made"
	jq -c --arg project "$P_NAME" --arg sprite "$S_NAME" '{project: $project, sprite: $sprite} + .' "$TASK_TMP/cp"
}

# agents_gone_in SPRITE REASON: every running agent of SPRITE has gone (its
# sprite restored or destroyed): their tasks need review.
agents_gone_in() {
	sql -separator "$(printf '\t')" "SELECT substr(key, 20), value FROM settings
		WHERE substr(key, 1, 19) = 'sprite_tools.agent.' AND json_extract(value, '\$.where') = 'sprite'
		AND json_extract(value, '\$.sprite') = $(lit "$1") AND json_extract(value, '\$.state') = 'running'" |
		while IFS="$(printf '\t')" read -r _id _rec; do
			[ "$(agent_gone "$_id" "$_rec" "$2")" != 1 ] || say "task $_id: its agent stopped: it needs review"
		done
}

sprite_restore() {
	if [ $# -lt 1 ] || [ $# -gt 2 ]; then
		usage_die "sprite restore needs a project: task sprite restore PROJECT [CHECKPOINT]"
	fi
	project_load "$1"
	sprite_needed
	_cp=${2:-}
	if [ -z "$_cp" ]; then
		sprite-checkpoint -s "$S_NAME" list >"$TASK_TMP/cps" 2>"$TASK_TMP/cps.err" ||
			die "cannot list the checkpoints of sprite \"$S_NAME\": $(first_reason "$TASK_TMP/cps.err" sprite-checkpoint)"
		_cp=$(head -n 1 "$TASK_TMP/cps" | jq -r '.id // empty')
		[ -n "$_cp" ] || die "sprite \"$S_NAME\" has no checkpoint: task sprite checkpoint $P_NAME makes one"
	fi
	sprite-checkpoint -s "$S_NAME" restore "$_cp" 2>"$TASK_TMP/restore.err" ||
		die "cannot restore sprite \"$S_NAME\" to $_cp: $(first_reason "$TASK_TMP/restore.err" sprite-checkpoint)"
	say "$S_NAME restored to $_cp: its processes, agents included, were stopped"
	agents_gone_in "$S_NAME" "Agent stopped: sprite $S_NAME restored to $_cp"
	# shellcheck disable=SC2016 # expanded in the sprite
	sx "$S_NAME" -n -- sh -c 'cd /workspace 2>/dev/null || cd; tmux has-session -t "$1" 2>/dev/null ||
		tmux new-session -d -s "$1" -n main' sh "$TASK_SESSION" ||
		say "cannot start the tmux session $TASK_SESSION in $S_NAME again: task sprite init $P_NAME does"
	sql "UPDATE projects SET sprite_status = 'ready' WHERE id = $P_ID"
	jq -nc --arg project "$P_NAME" --arg sprite "$S_NAME" --arg cp "$_cp" \
		'{project: $project, sprite: $sprite, restored: $cp}'
}

# ---- task sprite destroy ----

sprite_destroy() {
	one_project destroy "$@"
	_s=$(project_sprite)
	[ -n "$_s" ] || die "project \"$P_NAME\" has no sprite"
	sprite_ready "$_s"
	if [ -n "$S_STATUS" ]; then
		sprite-destroy "$_s" 2>"$TASK_TMP/destroy.err" ||
			die "cannot destroy sprite \"$_s\": $(first_reason "$TASK_TMP/destroy.err" sprite-destroy)"
	else
		say "sprite $_s was gone already"
	fi
	agents_gone_in "$_s" "Agent stopped: sprite $_s destroyed"
	sql "UPDATE projects SET sprite_name = '', sprite_status = '' WHERE id = $P_ID;
		DELETE FROM hook_cursors WHERE source = $(lit "$_s:$TASK_HOOKS_SPRITE")"
	jq -nc --arg project "$P_NAME" --arg sprite "$_s" '{project: $project, sprite: $sprite, destroyed: true}'
}

# ---- task sprite token ----

# token_mask TOKEN: its first and last 4 characters, the rest hidden.
token_mask() {
	if [ "${#1}" -ge 12 ]; then
		printf '%s…%s' "${1%"${1#????}"}" "${1#"${1%????}"}"
	else
		printf '…'
	fi
}

sprite_token() {
	[ $# -le 1 ] || usage_die "sprite token takes at most one argument: task sprite token [TOKEN | -]"
	if [ $# -eq 0 ] && [ -t 0 ]; then
		[ -s "$TASK_TOKEN_FILE" ] ||
			die "no token stored: task sprite token - reads one from standard input (into $TASK_TOKEN_FILE)"
		_tok=$(head -n 1 "$TASK_TOKEN_FILE")
		jq -nc --arg t "$(token_mask "$_tok")" --arg f "$TASK_TOKEN_FILE" '{token: $t, file: $f}'
		return 0
	fi
	if [ $# -eq 0 ] || [ "$1" = - ]; then
		if [ -t 0 ]; then
			printf 'Sprites API token: ' >&2
			stty -echo 2>/dev/null
			trap 'stty echo 2>/dev/null; exit 130' INT
			IFS= read -r _tok || :
			stty echo 2>/dev/null
			trap - INT
			echo >&2
		else
			IFS= read -r _tok || :
		fi
	else
		_tok=$1
	fi
	# Whitespace around it (a CR, a newline) is not part of it.
	_tok=$(printf '%s' "$_tok" | tr -d '\r' | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')
	case $_tok in
	'') usage_die "no token given: task sprite token - reads it from standard input" ;;
	*[[:space:]]*) usage_die "a token has no spaces in it: check what was given" ;;
	esac
	_dir=$(dirname "$TASK_TOKEN_FILE")
	(umask 077 && mkdir -p "$_dir" && printf '%s\n' "$_tok" >"$TASK_TOKEN_FILE.tmp.$$" &&
		chmod 600 "$TASK_TOKEN_FILE.tmp.$$" && mv "$TASK_TOKEN_FILE.tmp.$$" "$TASK_TOKEN_FILE") ||
		die "cannot write $TASK_TOKEN_FILE"
	say "token stored in $TASK_TOKEN_FILE: the sprite commands of task use Fly.io's API with it"
	jq -nc --arg t "$(token_mask "$_tok")" --arg f "$TASK_TOKEN_FILE" '{token: $t, file: $f}'
}
