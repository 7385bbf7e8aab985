# shellcheck shell=sh
# sprite.sh: task sprite init, status, sync, env, attach, checkpoint,
# restore, destroy and token: a project's sprite, made ready for its agents
# (the code sent in as a git bundle, dependencies, hooks, the agent's
# environment, tmux, network policy, a checkpoint).  Sourced by bin/task
# after lib/task.sh; see task-sprite(1).

# shellcheck source=lib/task/agent.sh
. "$TASK_LIBDIR/task/agent.sh"

cmd_sprite() {
	[ $# -gt 0 ] || usage_die "sprite needs a command: init, status, sync, env, attach, checkpoint, restore, destroy or token"
	_c=$1
	shift
	case $_c in
	init | status | sync | env | attach | checkpoint | restore | destroy | token) "sprite_$_c" "$@" ;;
	*) usage_die "unknown sprite command \"$_c\": use init, status, sync, env, attach, checkpoint, restore, destroy or token" ;;
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
# names, "|" between; NOUN says what its value is.  --env, among them, is
# apart: its variable names, checked (env_name_check), in _envs.
project_args() {
	_what=$1 _opts=$2 _noun=$3
	_usage="task sprite $1 PROJECT $4"
	shift 4
	_p='' _v='' _vs='' _envs=''
	while [ $# -gt 0 ]; do
		_known=
		case $1 in
		*'|'*) ;; # in no option's name
		*) case "|$_opts|" in *"|$1|"*) _known=1 ;; esac ;;
		esac
		if [ "$_known/$1" = 1/--env ]; then
			[ $# -ge 2 ] || usage_die "--env needs a variable name: $_usage"
			env_name_check "$2"
			_envs="$_envs$2
"
			shift
		elif [ -n "$_known" ]; then
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

# ---- the agent's side: hooks, settings, environment, tmux ----

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
	echo "task: claude is not installed in sprite ${SPRITE_NAME:-}: install it there (in task sprite attach: npm install -g @anthropic-ai/claude-code), or set TASK_AGENT" >&2
fi
exit 0
SCRIPT
}

# sh_quote VALUE: VALUE in single quotes for sh (read back by the launcher),
# whatever it holds, final newlines included.
sh_quote() {
	_q=$(printf '%s.' "$1" | sed "s/'/'\\\\''/g")
	printf "'%s'" "${_q%.}"
}

# ---- the agent's environment ----

# The variables that task sprite init and sync carry from this environment
# into the sprite, those set and not empty: Claude Code's provider, model
# and certificate settings.  The one list: task-sprite(1) gives it again,
# tests/lib.sh unsets it.  A line each, NAME KIND [COPY]:
#   secret  task sprite env shows it masked
#   plain   shown whole
#   url     shown whole but for a user:password@; its host joins the
#           sprite's allow-list
#   file    the path of a file here, copied into the sprite as
#           ~/.config/task/COPY, which the variable names there
# No proxy variable: a sprite reaches the network through its own proxy.
AGENT_ENV='ANTHROPIC_API_KEY secret
CLAUDE_CODE_OAUTH_TOKEN secret
ANTHROPIC_AUTH_TOKEN secret
ANTHROPIC_CUSTOM_HEADERS secret
ANTHROPIC_BASE_URL url
ANTHROPIC_MODEL plain
ANTHROPIC_SMALL_FAST_MODEL plain
ANTHROPIC_DEFAULT_OPUS_MODEL plain
ANTHROPIC_DEFAULT_SONNET_MODEL plain
ANTHROPIC_DEFAULT_HAIKU_MODEL plain
CLAUDE_CODE_SUBAGENT_MODEL plain
CLAUDE_CODE_USE_BEDROCK plain
CLAUDE_CODE_SKIP_BEDROCK_AUTH plain
AWS_REGION plain
AWS_DEFAULT_REGION plain
AWS_ACCESS_KEY_ID secret
AWS_SECRET_ACCESS_KEY secret
AWS_SESSION_TOKEN secret
AWS_BEARER_TOKEN_BEDROCK secret
ANTHROPIC_BEDROCK_BASE_URL url
CLAUDE_CODE_USE_VERTEX plain
CLAUDE_CODE_SKIP_VERTEX_AUTH plain
CLOUD_ML_REGION plain
ANTHROPIC_VERTEX_PROJECT_ID plain
GOOGLE_CLOUD_PROJECT plain
GCLOUD_PROJECT plain
ANTHROPIC_VERTEX_BASE_URL url
GOOGLE_APPLICATION_CREDENTIALS file google/credentials.json
NODE_EXTRA_CA_CERTS file ca/extra-ca.pem'

# Claude Code's documented switches for an agent left alone (its reference
# of environment variables), so that it calls nothing but the model's API:
# no updates, telemetry, error reports, feedback command
# (DISABLE_BUG_COMMAND is its older name, for older versions) or terminal
# titles (their request to the small model included).  And no automatic
# install of Anthropic's official plugin marketplace: the real CLI (2.1.197)
# fetches it at start from downloads.claude.ai, then github.com, despite
# the switches above (seen in tests/91).  Set in the sprite's
# ~/.claude/settings.json "env": they hold however claude starts there.
AGENT_UNATTENDED='{"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1",
	"DISABLE_TELEMETRY": "1", "DISABLE_ERROR_REPORTING": "1", "DISABLE_FEEDBACK_COMMAND": "1",
	"DISABLE_BUG_COMMAND": "1", "CLAUDE_CODE_DISABLE_TERMINAL_TITLE": "1",
	"CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL": "1"}'

# jq's mask: a secret's first and last 4 characters, the rest hidden (all of
# it under 12 characters); unpass: a URL without its user:password@.  Run
# here for the Fly.io token, and in the sprite for the agent's variables,
# so that only masked values come back.
TASK_MASK_JQ='def mask: if length >= 12 then .[:4] + "…" + .[-4:] else "…" end;
def unpass: sub("^(?<s>[A-Za-z][A-Za-z0-9+.-]*://)[^/@]*@"; "\(.s)…@");'

# env_name_check NAME: NAME is a variable --env may carry, or exit 2 saying
# why not.
env_name_check() {
	case $1 in
	'' | [0-9]* | *[!A-Za-z0-9_]*)
		usage_die "--env \"$1\": not a variable name (letters, digits and _, not starting with a digit)"
		;;
	PATH | HOME | TASK_*) usage_die "--env $1: the sprite sets its own: not carried" ;;
	esac
	case $(printf '%s' "$1" | tr '[:upper:]' '[:lower:]') in
	http_proxy | https_proxy | all_proxy | no_proxy)
		usage_die "--env $1: a sprite reaches the network through its own proxy, which this would bypass: not carried"
		;;
	esac
}

# env_get NAME: _val, the value of variable NAME (a checked name).
env_get() {
	_val=
	eval "_val=\${$1-}"
}

# env_set NAME: whether variable NAME is set, not empty.
env_set() {
	env_get "$1"
	[ -n "$_val" ]
}

# env_on NAME: whether the switch NAME is on, as Claude Code reads one.
env_on() {
	env_get "$1"
	case $(printf '%s' "$_val" | tr '[:upper:]' '[:lower:]') in 1 | true | yes | on) return 0 ;; esac
	return 1
}

# env_given NAMES: every --env name (a line each) is set here, or exit 2.
env_given() {
	for _n in $1; do
		env_set "$_n" || usage_die "--env $_n: $_n is not set here (or is empty): export it, or leave --env $_n out"
	done
}

# The --env names that the loaded project's sprite carries (not those of
# AGENT_ENV), in the settings table as a JSON array: names, never values.
env_key() { printf "'sprite_tools.env.%s'" "$P_ID"; }
env_remembered() {
	sql "SELECT value FROM settings WHERE key = $(env_key)" | jq -r '.[]? | strings' 2>/dev/null |
		grep -x '[A-Za-z_][A-Za-z0-9_]*'
}
env_remember() {
	if [ -s "$TASK_TMP/env.names" ]; then
		sql "INSERT OR REPLACE INTO settings (key, value)
			VALUES ($(env_key), $(lit "$(jq -Rsc 'split("\n") | map(select(. != ""))' "$TASK_TMP/env.names")"))"
	else
		sql "DELETE FROM settings WHERE key = $(env_key)"
	fi
}

# env_plan MODE NAMES: what task sprite MODE (init or sync) carries into the
# loaded project's sprite: the variables of AGENT_ENV set here, and NAMES
# (--env's, checked by env_given), with, for sync, the names remembered.
# In $TASK_TMP: env (NAME KIND [COPY] lines), env.names (those not of
# AGENT_ENV), provider (provider_hosts).  Fails on a remembered name not set
# (exit 2), a file that cannot be read, a base URL without a host (exit 1).
env_plan() {
	printf '%s\n' "$AGENT_ENV" >"$TASK_TMP/env.all"
	: >"$TASK_TMP/env"
	while read -r _n _k _c; do
		env_set "$_n" || continue
		if [ "$_k" = file ]; then
			env_get "$_n"
			{ [ -f "$_val" ] && [ -r "$_val" ]; } ||
				die "$_n names $_val, which is not a file that can be read here: set it to one, or unset it"
		fi
		echo "$_n $_k $_c" >>"$TASK_TMP/env"
	done <"$TASK_TMP/env.all"
	{ [ "$1" != sync ] || env_remembered; printf '%s' "$2"; } | awk 'NF && !seen[$0]++' >"$TASK_TMP/env.given"
	: >"$TASK_TMP/env.names"
	while read -r _n; do
		grep -q "^$_n " "$TASK_TMP/env.all" && continue # carried whenever set
		env_set "$_n" || usage_die "$_n is not set here (or is empty), and task sprite init $P_NAME --env $_n carries it: export it, or run task sprite init $P_NAME without --env $_n"
		echo "$_n" >>"$TASK_TMP/env.names"
		echo "$_n secret" >>"$TASK_TMP/env"
	done <"$TASK_TMP/env.given"
	provider_hosts
}

# url_host URL: the host of URL, lowercased, without user, port or path;
# fails when it has none.
url_host() {
	_h=${1#*://}
	[ "$_h" != "$1" ] || return 1
	_h=${_h%%[/?#]*}
	_h=${_h##*@}
	case $_h in
	\[*\]*)
		_h=${_h#\[}
		_h=${_h%%\]*}
		;;
	*) _h=${_h%:*} ;;
	esac
	_h=$(printf '%s' "$_h" | tr '[:upper:]' '[:lower:]')
	case $_h in '' | *[!a-z0-9.:-]*) return 1 ;; esac
	printf '%s\n' "$_h"
}

# region VALUE... DEFAULT: the first VALUE shaped like a region, else
# DEFAULT (Claude Code passes over one with a dot, a slash or a space).
region() {
	while [ $# -gt 1 ]; do
		case $1 in '' | *[!a-z0-9-]*) ;; *) printf '%s\n' "$1"; return 0 ;; esac
		shift
	done
	printf '%s\n' "$1"
}

# provider_hosts: the hosts the planned environment ($TASK_TMP/env) adds to
# the allow-list, as VARIABLE HOST lines in $TASK_TMP/provider: each base
# URL's; Bedrock's runtime and control endpoints, Vertex's endpoint and
# Google's token exchange, for their region.  AGENT_CLOUD names Bedrock or
# Vertex when the agent reaches its model there, not at api.anthropic.com.
provider_hosts() {
	AGENT_CLOUD=
	: >"$TASK_TMP/provider"
	while read -r _n _k _c; do
		[ "$_k" = url ] || continue
		env_get "$_n"
		_h=$(url_host "$_val") || die "$_n is not a URL with a host: set it as https://HOST[:PORT]/..., or unset it"
		echo "$_n $_h" >>"$TASK_TMP/provider"
	done <"$TASK_TMP/env"
	if env_on CLAUDE_CODE_USE_BEDROCK; then
		AGENT_CLOUD=Bedrock
		_r=$(region "${AWS_REGION:-}" "${AWS_DEFAULT_REGION:-}" us-east-1)
		printf 'CLAUDE_CODE_USE_BEDROCK %s\n' "bedrock-runtime.$_r.amazonaws.com" "bedrock.$_r.amazonaws.com" \
			>>"$TASK_TMP/provider"
	fi
	if env_on CLAUDE_CODE_USE_VERTEX; then
		AGENT_CLOUD=${AGENT_CLOUD:+$AGENT_CLOUD and }Vertex
		_r=$(region "${CLOUD_ML_REGION:-}" us-east5)
		case $_r in
		global) _h=aiplatform.googleapis.com ;;
		us | eu) _h=aiplatform.$_r.rep.googleapis.com ;;
		*) _h=$_r-aiplatform.googleapis.com ;;
		esac
		printf 'CLAUDE_CODE_USE_VERTEX %s\n' "$_h" oauth2.googleapis.com >>"$TASK_TMP/provider"
	fi
}

# env_file: the sprite's ~/.config/task/agent.env for the planned
# environment: an assignment and an export a variable, each value
# sh-quoted; a copied file's variable names the copy.
env_file() {
	echo "# The agent's environment, written by task sprite init and sync from the user's: for the agent alone."
	while read -r _n _k _c; do
		if [ "$_k" = file ]; then
			# shellcheck disable=SC2016 # $HOME: the sprite's, when the file is read
			printf '%s="$HOME"/%s\n' "$_n" "$(sh_quote ".config/task/$_c")"
		else
			env_get "$_n"
			printf '%s=%s\n' "$_n" "$(sh_quote "$_val")"
		fi
		printf 'export %s\n' "$_n"
	done <"$TASK_TMP/env"
}

# agent_env_put MODE: carry the planned environment into sprite S_NAME,
# all through stdin: the files, then ~/.config/task/agent.env (0600) in one
# piece; copies no variable names any more are removed.  With nothing to
# carry, the file there is left as it is.  The --env names are remembered.
# Says when the agent gets no credential (on sync, only when the file is
# written: one logged in by hand is not told so each time).
agent_env_put() {
	env_remember || die "cannot record the --env names of project \"$P_NAME\" in $DB"
	if [ -z "${TASK_AGENT:-}" ] && [ -z "$AGENT_CLOUD" ] && { [ "$1" = init ] || [ -s "$TASK_TMP/env" ]; } &&
		! grep -qE '^(ANTHROPIC_API_KEY|CLAUDE_CODE_OAUTH_TOKEN|ANTHROPIC_AUTH_TOKEN) ' "$TASK_TMP/env"; then
		say "no credential for the agent is set here (ANTHROPIC_API_KEY, CLAUDE_CODE_OAUTH_TOKEN, ANTHROPIC_AUTH_TOKEN, Bedrock or Vertex): log it in (task sprite attach $P_NAME), or set one and run task sprite sync $P_NAME"
	fi
	[ -s "$TASK_TMP/env" ] || return 0
	set --
	while read -r _n _k _c; do
		[ "$_k" = file ] || continue
		if grep -q "^$_n " "$TASK_TMP/env"; then
			env_get "$_n"
			sprite_put "$S_NAME" ".config/task/$_c" <"$_val" || exit 1
		else
			set -- "$@" ".config/task/$_c"
		fi
	done <"$TASK_TMP/env.all"
	# shellcheck disable=SC2016 # expanded in the sprite
	env_file | sx "$S_NAME" -- sh -c 'umask 077 && cd && mkdir -p .config/task &&
		cat >.config/task/agent.env.new && mv -f .config/task/agent.env.new .config/task/agent.env &&
		rm -f -- "$@"' sh "$@" || exit 1
}

# agent_setup: install the hook writer, settings, the agent's environment
# and tmux in sprite S_NAME.
agent_setup() {
	_hook=$(command -v task-hook) || die "task-hook not found next to task"
	sprite_put "$S_NAME" .local/bin/task-hook <"$_hook" || exit 1
	# Made first: without them the agent would run with no hooks at all.
	_settings=$(hooks_settings task-hook | jq -c --argjson env "$AGENT_UNATTENDED" '. + {env: $env}')
	case $_settings in
	'{'*) ;;
	*) die "cannot make Claude Code's settings (hook-apply --settings failed: run make)" ;;
	esac
	printf '%s\n' "$_settings" | sprite_put "$S_NAME" .config/task/claude-settings.json || exit 1
	agent_env_put init
	agent_setup_script | sx "$S_NAME" -- sh -s -- "$([ -n "${TASK_AGENT:-}" ] && echo 1 || echo 0)" || exit 1
}

# policy_add: the hosts of $TASK_TMP/provider that sprite S_NAME's policy
# has no rule for join it (task sprite sync: nothing leaves it; a policy
# with no rules, which enforces nothing, is left so).
policy_add() {
	[ -s "$TASK_TMP/provider" ] || return 0
	sprite-policy -s "$S_NAME" get >"$TASK_TMP/policy" 2>"$TASK_TMP/policy.err" ||
		die "cannot read the network policy of sprite \"$S_NAME\": $(first_reason "$TASK_TMP/policy.err" sprite-policy)"
	jq -e '.rules | length > 0' "$TASK_TMP/policy" >/dev/null 2>&1 || return 0
	: >"$TASK_TMP/provider.new"
	while read -r _n _h; do
		jq -e --arg h "$_h" 'any(.rules[]; .domain == $h)' "$TASK_TMP/policy" >/dev/null ||
			grep -qx "$_h" "$TASK_TMP/provider.new" || { say "$_n: $_h joins the allow-list"; echo "$_h" >>"$TASK_TMP/provider.new"; }
	done <"$TASK_TMP/provider"
	[ -s "$TASK_TMP/provider.new" ] || return 0
	jq -c --rawfile new "$TASK_TMP/provider.new" \
		'.rules += ($new | split("\n") | map(select(. != "") | {domain: ., action: "allow"}))' "$TASK_TMP/policy" |
		sprite-policy -s "$S_NAME" set 2>"$TASK_TMP/policy.err" ||
		die "cannot set the network policy of sprite \"$S_NAME\": $(first_reason "$TASK_TMP/policy.err" sprite-policy)"
}

# policy_hosts: the hosts the loaded project's agent may reach: the API
# (unless it goes to Bedrock or Vertex), the package registries its marker
# files call for, GitHub.
policy_hosts() {
	[ -n "${AGENT_CLOUD:-}" ] || echo api.anthropic.com
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
	project_args init '--allow|--env' host '[--allow HOST]... [--env NAME]...' "$@"
	_extra=$_vs
	env_given "$_envs"
	db_init
	project_load "$_p"
	git -C "$P_PATH" rev-parse -q --verify HEAD >/dev/null 2>&1 ||
		die "project \"$P_NAME\": $P_PATH is not a git repository with a commit: commit something, then task sprite init $P_NAME"
	task_tmpdir
	env_plan init "$_envs"
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
	{
		policy_hosts
		while read -r _n _h; do
			say "$_n: $_h joins the allow-list"
			echo "$_h"
		done <"$TASK_TMP/provider"
		printf '%s\n' "$1"
	} | awk 'NF && !seen[$0]++' >"$TASK_TMP/hosts"
	[ -z "$AGENT_CLOUD" ] ||
		say "api.anthropic.com stays out of the allow-list: the agent reaches its model through $AGENT_CLOUD (--allow api.anthropic.com lets it in)"
	set --
	while read -r _h; do set -- "$@" --allow "$_h"; done <"$TASK_TMP/hosts"
	say "network policy of $S_NAME: $(tr '\n' ' ' <"$TASK_TMP/hosts")and nothing else"
	sprite-policy -s "$S_NAME" set "$@" 2>"$TASK_TMP/policy.err" ||
		die "cannot set the network policy of sprite \"$S_NAME\": $(first_reason "$TASK_TMP/policy.err" sprite-policy)"
	say "sending $P_PATH into $S_NAME:/workspace as a git bundle"
	_bytes=$(code_in) || exit 1
	say "installing the hook writer, Claude Code's settings and the agent's environment"
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
		--argjson env "$(env_names_json)" \
		'{bundle_bytes: $bytes, dependencies: $deps, checkpoint: (if $cp == "" then null else $cp end),
		  allow: ($hosts | split("\n") | map(select(. != ""))), env: $env}' >"$TASK_TMP/init.json"
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
	project_args sync --env '' '[--env NAME]...' "$@"
	env_given "$_envs"
	db_init
	project_load "$_p"
	sprite_needed
	task_tmpdir
	git -C "$P_PATH" rev-parse -q --verify HEAD >/dev/null 2>&1 ||
		die "project \"$P_NAME\": $P_PATH is not a git repository with a commit"
	env_plan sync "$_envs"
	policy_add
	agent_env_put sync
	_bytes=$(code_in) || exit 1
	if [ "$_bytes" = 0 ]; then say "$S_NAME has all of $P_PATH's history"; else say "sent $_bytes bytes of history into $S_NAME"; fi
	_deps=$(deps) || exit 1
	jq -nc --arg project "$P_NAME" --arg sprite "$S_NAME" --argjson bytes "$_bytes" --arg deps "$_deps" \
		--argjson env "$(env_names_json)" \
		'{project: $project, sprite: $sprite, bundle_bytes: $bytes, dependencies: $deps, env: $env}'
}

# env_names_json: the names carried, as a JSON array; null when there were
# none (the sprite's file was left as it was).
env_names_json() {
	jq -Rsc 'split("\n") | map(select(. != "") | split(" ")[0]) | if . == [] then null else . end' "$TASK_TMP/env"
}

# ---- task sprite env ----

# The script that lists the agent's environment in the sprite (sh -s, with
# TASK_MASK_JQ, then the names shown whole): a JSON line, by name, for each
# variable ~/.config/task/agent.env sets, its value masked there, so that
# no secret comes back whole.  Exit 3: no such file.
agent_env_list_script() {
	cat <<'SCRIPT'
set -u
f=$HOME/.config/task/agent.env
[ -f "$f" ] || exit 3
defs=$1
shift
# What a shell's environment is without the file and with it: the
# difference is what the file sets.
envof() { env -i HOME="$HOME" PATH="$PATH" sh -c "$1"' && exec jq -nc env' sh "$f"; }
base=$(envof :) && got=$(envof '. "$1"') || { echo "task: cannot read $f in the sprite" >&2; exit 1; }
jq -nc --argjson base "$base" --argjson got "$got" "$defs"'
	$got | to_entries | sort_by(.key)[] | select($base[.key] != .value) | .key as $k
	| {name: $k, value: (.value | if $ARGS.positional | any(. == $k) then unpass else mask end)}' --args "$@"
SCRIPT
}

sprite_env() {
	one_project env "$@"
	sprite_needed
	set --
	while read -r _n _k _c; do [ "$_k" = secret ] || set -- "$@" "$_n"; done <<EOF
$AGENT_ENV
EOF
	agent_env_list_script | sx "$S_NAME" -- sh -s -- "$TASK_MASK_JQ" "$@" >"$TASK_TMP/env.list"
	case $? in
	0) ;;
	3)
		say "sprite $S_NAME has no agent environment (~/.config/task/agent.env): task sprite sync $P_NAME writes it"
		return 0
		;;
	*) exit 1 ;;
	esac
	# (What a sprite sends is not trusted: names and values as strings.)
	jq -c '{name: (.name | tostring), value: (.value | tostring)}' "$TASK_TMP/env.list" 2>/dev/null ||
		die "sprite $S_NAME listed its agent environment in a form not understood"
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

# token_mask TOKEN: its first and last 4 characters, the rest hidden
# (TASK_MASK_JQ's mask; the token in jq's environment, not its arguments).
token_mask() {
	TASK_SECRET=$1 jq -nr "$TASK_MASK_JQ"'$ENV.TASK_SECRET | mask'
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
