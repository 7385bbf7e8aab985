#!/bin/sh
# task sprite, execute, reply, keys, fetch and daemon: the whole story
# against a real spritesd, with examples/demo-agent standing in for Claude
# Code (in the sprite, and here for --local), asserting the database at each
# step: init (sprite, code, hooks, credentials, tmux, policy, checkpoint),
# sync, execute, the daemon bringing statuses home, reply, keys, fetch, an
# agent gone, a title full of shell metacharacters reaching the agent
# intact, local execution, exactly-once across a daemon restart,
# checkpoint/restore/destroy, the token, and the errors.
# What runs in the sprite, or in the agent's shell, is expanded there:
# shellcheck disable=SC2016
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

unset TASK_AGENT ANTHROPIC_API_KEY CLAUDE_CODE_OAUTH_TOKEN TMUX XDG_DATA_HOME XDG_CONFIG_HOME CLAUDE_CONFIG_DIR
unset DEMO_AGENT_ASK DEMO_AGENT_NOTIFY_DELAY DEMO_AGENT_IDLE_DELAY DEMO_AGENT_DELAY DEMO_AGENT_FILE
export TASK_DB="$T/tasks.db" HOME="$T/home" TMUX_TMPDIR="$T/tmux"
mkdir -p "$HOME" "$TMUX_TMPDIR"
DPID=
stop_daemon() {
	[ -z "$DPID" ] || { kill -TERM "$DPID" 2>/dev/null; wait "$DPID"; }
	DRC=$?
	DPID=
}
start_daemon() {
	task daemon --interval 0.3 >>"$T/daemon.out" 2>>"$T/daemon.err" &
	DPID=$!
}
trap 'stop_daemon; tmux kill-server 2>/dev/null; cleanup' EXIT

q() { sqlite3 -batch -cmd '.timeout 10000' "$TASK_DB" "$@"; }
S=task-web
in_sprite() { sprite-exec -s "$S" -- sh -c "$@"; }

# logged ID TYPE CONTENT: how many such log rows task ID has.
logged() { q "SELECT count(*) FROM task_logs WHERE task_id = $1 AND line_type = '$2' AND content = '$3'"; }
wait_log() { wait_query "SELECT count(*) > 0 FROM task_logs WHERE task_id = $1 AND line_type = '$2' AND content = '$3'" 1 "$4"; }
# wait_err TEXT: the daemon said TEXT within 10 s.
wait_err() {
	i=0
	while ! grep -qF -- "$1" "$T/daemon.err" && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	grep -qF -- "$1" "$T/daemon.err"
	ok $? "$2"
}

# The agent: the demo agent, the prompt it was given (its last argument)
# kept byte for byte in ~/argv-ID.  Its settings: ~/.claude (in the sprite)
# or the file task gives it here (TASK_CLAUDE_SETTINGS).
cat >"$T/agent-wrap" <<'EOF'
for a; do last=$a; done
printf '%s' "$last" >"$HOME/argv-$TASK_ID"
exec sh "$HOME/demo-agent" "$@"
EOF
cp "$T/agent-wrap" "$TOP/examples/demo-agent" "$HOME/"
AGENT='env DEMO_AGENT_DELAY=0 DEMO_AGENT_IDLE_DELAY=0 DEMO_AGENT_NOTIFY_DELAY=0 CLAUDE_CONFIG_DIR="${TASK_CLAUDE_SETTINGS%/*}" sh "$HOME/agent-wrap" --dangerously-skip-permissions'

# The project: a repository with a setup script (which counts its runs in
# the sprite's home) and a Cargo.toml (cargo is not in the sprite).
R=$T/repo
git init -q -b main "$R"
mkdir "$R/bin"
printf '#!/bin/sh\necho run >>"$HOME/setup-runs"\n' >"$R/bin/setup"
chmod 755 "$R/bin/setup"
printf '[package]\nname = "x"\n' >"$R/Cargo.toml"
echo hello >"$R/README"
gitc() {
	_d=$1
	shift
	git -C "$_d" -c user.name=Tess -c user.email=tess@example.com "$@"
}
if ! { git -C "$R" add -A && gitc "$R" commit -q -m 'the first commit'; }; then
	echo "Bail out! cannot make a git repository"
	exit 1
fi

start_spritesd

# ---- errors before any sprite ----
run task sprite init nope
is "$rc" 1 "init of an unknown project: exit 1"
stderr_is 'task: no project "nope" (task project list shows them; task project add NAME PATH makes one)' "and one line saying so"
run task execute 99
is "$rc" 1 "execute of an unknown task: exit 1"
stderr_is 'task: no task 99 (task list shows them)' "and one line"
task project add web "$R" >/dev/null || { echo "Bail out! task project add"; exit 1; }
run task add web 'Fix the login bug'
is "$(printf '%s' "$out" | jq -r .id)" 1 "task 1 added"
run task execute 1
is "$rc" 1 "execute before task sprite init: exit 1"
stderr_is 'task: project "web" has no sprite: run task sprite init web first' "and one line saying what to do"
is "$(q 'SELECT status, started_at IS NULL FROM tasks WHERE id = 1')" "backlog|1" "the task is left as it was"
run task sprite frob web
is "$rc" 2 "an unknown sprite command: exit 2"
run task sprite init
is "$rc" 2 "sprite init without a project: exit 2"
stderr_is 'task: sprite init needs a project: task sprite init PROJECT [--allow HOST]... [--env NAME]...' "and the usage, one line"
run task sprite init web --allow
is "$rc" 2 "--allow without a host: exit 2"
stderr_is 'task: --allow needs a host: task sprite init PROJECT [--allow HOST]... [--env NAME]...' "and one line"
run task sprite checkpoint web -x
is "$rc" 2 "an unknown option: exit 2"
stderr_is 'task: sprite checkpoint: unknown option "-x" (task sprite checkpoint PROJECT [-m COMMENT])' "and one line naming it"
run task sprite attach web --task 1 other
is "$rc" 2 "two projects: exit 2"
stderr_is 'task: sprite attach takes one project: task sprite attach PROJECT [--task ID]' "and one line"
run task execute x1
is "$rc" 2 "a task id that is not a number: exit 2"

# The daemon runs from now on: it picks up the sprite once it is made.
start_daemon

# ---- task sprite init ----
run env ANTHROPIC_API_KEY="sk-ant-test-0123456789-abcdefghij'k" task sprite init web
is "$rc" 0 "task sprite init web: exit 0"
is "$(printf '%s' "$out" | jq -c '[.sprite, .sprite_status, .checkpoint, .dependencies]')" \
	'["task-web","ready","v0","installed"]' "it prints the sprite, ready, its checkpoint and the dependencies installed"
like "$err" "task: Cargo.toml: cargo is not installed in the sprite: skipped" "a tool missing in the sprite is skipped, with a message"
is "$(q 'SELECT sprite_name, sprite_status FROM projects')" "task-web|ready" "the project's row: sprite_name, sprite_status ready"
is "$(sprite-list | jq -r .name)" "$S" "the sprite exists"
is "$(in_sprite 'git -C /workspace rev-parse HEAD; git -C /workspace symbolic-ref --short HEAD; cat /workspace/README')" \
	"$(git -C "$R" rev-parse HEAD)
main
hello" "/workspace holds the repository, main checked out"
is "$(in_sprite 'cat ~/setup-runs')" "run" "bin/setup ran once"
is "$(sprite-exec -s "$S" -- cat /home/sprite/.claude/settings.json | jq -c '[.skipDangerousModePermissionPrompt,
	(.hooks | keys), .hooks.SessionStart[0].matcher, .hooks.Notification[0].matcher,
	([.hooks[][] | select(has("matcher"))] | length), ([.hooks[][].hooks[].command] | unique)]')" '[true,["Notification","PermissionRequest","PostToolUse","PreCompact","PreToolUse","SessionEnd","SessionStart","Stop","StopFailure","SubagentStop","UserPromptSubmit"],"startup|resume|clear|compact","permission_prompt|idle_prompt|elicitation_dialog",2,["/home/sprite/.local/bin/task-hook"]]' \
	"settings.json: every hook of section 4 to the hook writer, the spec's matchers, dangerous mode's prompt skipped"
is "$(in_sprite 'stat -c %a ~/.local/bin/task-hook && cmp ~/.local/bin/task-hook -' <"$TOP/bin/task-hook" && echo same)" \
	"755
same" "the hook writer installed, executable"
is "$(in_sprite 'jq -c "[.hasCompletedOnboarding, .projects[\"/workspace\"].hasTrustDialogAccepted, .customApiKeyResponses.approved]" ~/.claude.json')" \
	"[true,true,[\"3456789-abcdefghij'k\"]]" "the sprite's .claude.json: onboarding done, /workspace trusted, the key's last 20 characters approved"
is "$(in_sprite 'stat -c %a ~/.config/task/agent.env; . ~/.config/task/agent.env; printf %s "$ANTHROPIC_API_KEY"')" \
	"600
sk-ant-test-0123456789-abcdefghij'k" "the key in a 0600 env file, read back exactly"
run grep -rl 0123456789-abcdefghij "$T/tasks.db" "$T/tasks.db-wal" "$T/daemon.err" "$T/daemon.out"
is "$out" "" "and nowhere in the database or the logs"
is "$(in_sprite 'tmux list-sessions -F "#{session_name}"')" "task-daemon" "tmux session task-daemon runs"
is "$(sprite-policy -s "$S" get | jq -c '[.rules[] | .domain + ":" + .action]')" \
	'["api.anthropic.com:allow","github.com:allow","crates.io:allow","static.crates.io:allow","index.crates.io:allow"]' \
	"the network: the API, GitHub, the registries of the marker files; nothing else"
is "$(sprite-checkpoint -s "$S" list | jq -r '"\(.id) \(.comment)"')" "v0 initial-setup" "checkpoint initial-setup made"
wait_err "following the hook events of sprite task-web" "the daemon, started before, follows the new sprite"

run task sprite status
is "$(printf '%s' "$out" | jq -c '[.name, .sprite, .status, .windows, .sprite_status]')" \
	'["web","task-web","running",["main"],"ready"]' "task sprite status: one line, the sprite running, its tmux windows"

# ---- task sprite attach: tmux in the sprite, on a terminal there ----
(
	i=0
	while [ "$i" -lt 100 ] && [ -z "$(sprite-exec -s "$S" -- tmux list-clients -t task-daemon 2>/dev/null)" ]; do
		sleep 0.1
		i=$((i + 1))
	done
	sprite-exec -s "$S" -- tmux detach-client -s task-daemon
) &
run task sprite attach web </dev/null
wait $!
is "$rc" 0 "task sprite attach: exit 0 once detached"
like "$out" "[detached (from session task-daemon)]" "it was tmux's client, attached to task-daemon in the sprite"

# ---- task sprite sync ----
run task sprite sync web
is "$(printf '%s' "$out" | jq -c '[.bundle_bytes, .dependencies]')" "[0,\"unchanged\"]" "sync with nothing new: no bundle, nothing installed"
echo 'echo run again >>"$HOME/setup-runs"' >>"$R/bin/setup"
gitc "$R" commit -q -am 'setup changed'
run task sprite sync web
is "$rc/$(printf '%s' "$out" | jq -r .dependencies)" "0/installed" "sync after a commit changing bin/setup: installed again"
is "$(in_sprite 'git -C /workspace rev-parse HEAD; wc -l <~/setup-runs')" "$(git -C "$R" rev-parse HEAD)
3" "the new commit is checked out in /workspace, and bin/setup ran again"

# ---- task execute ----
sprite-exec -s "$S" -- sh -c 'cat >~/agent-wrap' <"$T/agent-wrap"
sprite-exec -s "$S" -- sh -c 'cat >~/demo-agent' <"$TOP/examples/demo-agent"
export TASK_AGENT="$AGENT"
run task execute 1
is "$rc" 0 "task execute 1: exit 0"
is "$(printf '%s' "$out" | jq -c '[.id, .status, .where, .sprite, .target, .branch, .worktree]')" \
	'[1,"processing","sprite","task-web","task-daemon:task-1","task/1-fix-the-login-bug","/workspace/.task-worktrees/1-fix-the-login-bug"]' \
	"it prints where the agent runs"
is "$(q "SELECT started_at IS NOT NULL, worktree_path, branch_name, daemon_session, tmux_window_id LIKE '@%' FROM tasks WHERE id = 1")" \
	"1|/workspace/.task-worktrees/1-fix-the-login-bug|task/1-fix-the-login-bug|task-daemon|1" \
	"the row: started_at, worktree_path, branch_name, daemon_session, tmux_window_id"
is "$(in_sprite 'tmux list-windows -t task-daemon -F "#{window_name}" | grep -x task-1; git -C /workspace/.task-worktrees/1-fix-the-login-bug symbolic-ref --short HEAD')" \
	"task-1
task/1-fix-the-login-bug" "its tmux window exists, in the task's worktree and branch"
wait_log 1 system "Waiting for permission: Bash: git log --oneline -3" "the daemon brings the hooks home: waiting for permission"
is "$(q 'SELECT status FROM tasks WHERE id = 1')" blocked "blocked on the permission"
is "$(logged 1 user 'Fix the login bug')/$(q "SELECT count(*) FROM task_logs WHERE task_id = 1 AND content LIKE 'Claude session: %'")" \
	"1/1" "the session and the prompt are logged"
run task execute 1
is "$rc" 1 "execute while its agent runs: exit 1"
stderr_is "task: task 1's agent is already running (tmux window task-daemon:task-1): task reply 1 TEXT answers it" "and one line"

# ---- task reply: the permission given ----
run task reply 1 1
is "$rc/$out/$err" "0//" "task reply 1 1: exit 0, nothing printed"
wait_log 1 system "Waiting for user input" "the turn ends: Stop"
is "$(q 'SELECT status FROM tasks WHERE id = 1')" blocked "blocked at the end of the turn"
is "$(jq -r 'select(.task_id == 1 and .old_status != .new_status) | "\(.event):\(.old_status)>\(.new_status)"' "$T/daemon.out" | head -n 3)" \
	"PermissionRequest:processing>blocked
PostToolUse:blocked>processing
Stop:processing>blocked" "processing again once answered, blocked at Stop (the daemon's change lines)"

# ---- task fetch ----
run task fetch 1
is "$rc" 0 "task fetch 1: exit 0"
is "$(printf '%s' "$out" | jq -c '[.branch, .commits, .base]')" '["task/1-fix-the-login-bug",1,"main"]' "it prints the branch and its new commit"
is "$(git -C "$R" show task/1-fix-the-login-bug:NOTES.md)" "- Fix the login bug" "the agent's commit is in the local repository"

# ---- task keys: a second turn ----
run task reply 1 'Also the logout'
wait_query "SELECT count(*) FROM task_logs WHERE task_id = 1 AND content = 'Waiting for permission: Bash: git log --oneline -3'" 2 \
	"a second prompt: a second turn, a second permission"
run task keys 1 3
is "$rc/$out/$err" "0//" "task keys 1 3: exit 0"
sleep 0.5
is "$(q 'SELECT status FROM tasks WHERE id = 1')/$(logged 1 system 'Waiting for user input')" "blocked/1" \
	"denied: no Stop, the task stays blocked"
run task keys 1 'Esc;ape'
is "$rc" 2 "a key name with other characters: exit 2"

# ---- the agent gone, without a word ----
is "$(logged 1 question 'Task needs review')" 0 "while its agent runs, the daemon asks for no review"
in_sprite 'kill -KILL -"$(tmux display -p -t task-daemon:task-1 "#{pane_pid}")"'
wait_log 1 question "Task needs review" "its window gone: the daemon asks for a review"
is "$(q 'SELECT status FROM tasks WHERE id = 1')/$(logged 1 system 'Agent window task-daemon:task-1 is gone')/$(q "SELECT count(*) FROM task_logs WHERE task_id = 1 AND content LIKE 'Agent exited%'")" \
	"blocked/1/0" "blocked, with a system line saying so (no SessionEnd came)"
run task reply 1 hello
is "$rc" 1 "reply to a gone agent: exit 1"
stderr_is "task: task 1's agent is not running (no tmux window task-daemon:task-1): task execute 1 starts it again" "and one line"

# ---- untrusted text: a title, a reply ----
nasty="\$(touch /tmp/pwned $T/pwned) \`touch /tmp/pwned2\`; rm -rf /tmp/nothing & \"double\" 'single' \\ | > /tmp/x
second line	tab \$HOME \${IFS} * ?
third line"
run task add web "$nasty"
is "$(printf '%s' "$out" | jq -r .id)" 2 "task 2: a title full of shell metacharacters, quotes and newlines"
run task execute 2
is "$rc" 0 "task execute 2: exit 0"
like "$(q 'SELECT branch_name FROM tasks WHERE id = 2')" "task/2-touch-tmppwned-" "its branch is made of the slug"
wait_log 2 system "Waiting for permission: Bash: git log --oneline -3" "its agent runs"
printf '%s' "$nasty" >"$T/want"
sprite-exec -s "$S" -- cat /home/sprite/argv-2 >"$T/got"
cmp -s "$T/want" "$T/got"
ok $? "the agent got the title as its last argument, byte for byte"
is "$(in_sprite 'ls /tmp/pwned /tmp/pwned2 /tmp/x 2>/dev/null | wc -l')/$(ls "$T/pwned" 2>/dev/null)" "0/" "and nothing in it was executed, there or here"
task keys 2 Escape
reply="it's \"fine\"; \$(touch /tmp/pwned3) \`touch /tmp/pwned4\` & | > < \\ \$HOME"
printf '%s\n' "$reply" | task reply 2 -
wait_query "SELECT count(*) FROM task_logs WHERE task_id = 2 AND line_type = 'user' AND content = $(printf "'%s'" "$(printf '%s' "$reply" | sed "s/'/''/g")")" 1 \
	"a reply from stdin reaches the agent intact (its prompt, logged)"
is "$(in_sprite 'ls /tmp/pwned3 /tmp/pwned4 2>/dev/null | wc -l')" 0 "and executes nothing"

# ---- errors with a sprite ----
run env SPRITES_API_URL=http://127.0.0.1:1 SPRITES_TOKEN=x task execute 2
is "$rc" 1 "spritesd down: execute exits 1"
stderr_is 'task: cannot reach the Sprites API: cannot reach http://127.0.0.1:1: Connection refused (is spritesd running? start it with "spritesd &")' \
	"with one line"
run env SPRITES_API_URL=http://127.0.0.1:1 SPRITES_TOKEN=x task reply 2 hi
is "$rc/$(printf '%s\n' "$err" | wc -l)" "1/1" "spritesd down: reply exits 1, with one line"
like "$err" "task: cannot send to task 2's agent: cannot reach http://127.0.0.1:1" "saying why"

# ---- local execution ----
R2=$T/repo2
git init -q -b main "$R2" && echo two >"$R2/README" && git -C "$R2" add -A && gitc "$R2" commit -q -m one
task project add loc "$R2" >/dev/null && task project edit loc --execution local >/dev/null
task add loc 'Local change' >/dev/null
run task execute 3
is "$(printf '%s' "$out" | jq -c '[.where, .target, .worktree]')" \
	"[\"local\",\"task-daemon:task-3\",\"$R2/.task-worktrees/3-local-change\"]" "task execute 3 (a local project): on this machine"
is "$(tmux list-windows -t task-daemon -F '#{window_name}' | grep -x task-3)" task-3 "in a window of a local tmux session task-daemon"
wait_log 3 system "Waiting for permission: Bash: git log --oneline -3" "the daemon follows the local hook events"
wait_err "following the hook events of this machine's agents" "once they exist"
run task reply 3 1
wait_log 3 system "Waiting for user input" "answered locally: the turn ends"
is "$(git -C "$R2" show task/3-local-change:NOTES.md)" "- Local change" "the commit is in the project's repository already"
run task fetch 3
is "$rc/$(printf '%s' "$out" | jq -c '[.branch, .commits]')" '0/["task/3-local-change",1]' "task fetch 3: nothing to bring, the branch named"

run task sprite attach web --task 3
is "$rc" 1 "attach to a task of another project: exit 1"
stderr_is 'task: task 3 is not of project "web"' "and one line"

# Exactly once: the daemon stopped and started again applies nothing twice.
stop_daemon
is "$DRC" 0 "the daemon stops on SIGTERM, exit 0"
run sh -c "ps -eo args | grep -F -- '--db $TASK_DB' | grep -v grep"
is "$out" "" "its pipelines are gone with it"
before=$(q 'SELECT count(*) FROM task_logs')
start_daemon
run task reply 3 'Once more'
wait_query "SELECT count(*) FROM task_logs WHERE task_id = 3 AND content = 'Waiting for permission: Bash: git log --oneline -3'" 2 \
	"restarted, the daemon applies the new events"
sleep 0.5
is "$(q 'SELECT count(*) FROM task_logs WHERE task_id = 3 AND line_type = '\''user'\'' AND content = '\''Once more'\''')/$(q 'SELECT count(*) FROM task_logs')" \
	"1/$((before + 7))" "and only those, once"
is "$(logged 3 question 'Task needs review')" 0 "while the local agent runs, no review either"
kill -KILL -"$(tmux display -p -t task-daemon:task-3 '#{pane_pid}')"
wait_log 3 question "Task needs review" "a local agent gone: the daemon asks for a review"
is "$(logged 3 system 'Agent window task-daemon:task-3 is gone')/$(q 'SELECT status FROM tasks WHERE id = 3')" "1/blocked" \
	"blocked, with a system line saying so"

# ---- two executes of one task at once ----
task add web 'Started twice' >/dev/null
task execute 4 >"$T/x1.out" 2>"$T/x1.err" &
x1=$!
task execute 4 >"$T/x2.out" 2>"$T/x2.err" &
x2=$!
wait "$x1"
r1=$?
wait "$x2"
r2=$?
is "$(printf '%s\n' "$r1" "$r2" | sort | tr '\n' ' ')" "0 1 " "one starts the agent, the other exits 1"
like "$(cat "$T/x1.err" "$T/x2.err")" "task: task 4" "saying why"
# (blocked once its agent has ended the turn: in a loaded run it may have)
like "$(q "SELECT json_extract(value, '\$.state') || '|' || status FROM tasks, settings WHERE id = 4 AND key = 'sprite_tools.agent.4'")|" \
	"running|" "its agent recorded running"
case $(q "SELECT status FROM tasks WHERE id = 4") in
processing | blocked) ok 0 "the task is processing (or blocked, its turn over)" ;;
*) ok 1 "the task is processing (or blocked, its turn over)" ;;
esac
is "$(in_sprite 'tmux list-windows -t task-daemon -F "#{window_name}" | grep -c -x task-4')" 1 "one window runs it"
task project edit web --execution local >/dev/null
sleep 1.5
grep -q "runs no project's agents" "$T/daemon.err"
ok $((!$?)) "web switched to local while task 4's agent runs in its sprite: the daemon follows the sprite on"
task project edit web --execution sprite >/dev/null
run task keys 4 -X
is "$rc" 2 "a key that looks like an option: exit 2"
stderr_is 'task: "-X" is not a key name: use tmux'"'"'s (1, y, Enter, Escape, Up, C-c...)' "and one line"

# ---- checkpoint, restore, destroy ----
run task sprite checkpoint web -m 'before the cleanup'
is "$rc/$(printf '%s' "$out" | jq -c '[.id, .comment]')/$(q 'SELECT sprite_status FROM projects WHERE name = '\''web'\''')" \
	'0/["v1","before the cleanup"]/checkpointed' "task sprite checkpoint: v1, with its comment; the project checkpointed"
in_sprite 'touch /workspace/after'
run task sprite restore web
is "$rc/$(printf '%s' "$out" | jq -r .restored)" "0/v1" "task sprite restore: to the latest, v1"
is "$(in_sprite 'ls /workspace/after 2>/dev/null; tmux list-windows -t task-daemon -F "#{window_name}"')" "main" \
	"the files as they were, tmux session task-daemon there again, the agents stopped"
# (said by the restore, or by the daemon or the agent if they were first)
wait_log 2 question "Task needs review" "task 2, whose agent ran there, needs review"
is "$(q 'SELECT status FROM tasks WHERE id = 2')/$(logged 2 question 'Task needs review')" "blocked/1" "blocked, asked once"
sprite-destroy "$S"
run task execute 2
is "$rc" 1 "the sprite destroyed behind task's back: execute exits 1"
stderr_is 'task: sprite "task-web" of project "web" does not exist: run task sprite init web' "with one line"
run task sprite destroy web
is "$rc/$(printf '%s' "$out" | jq -c .destroyed)/$(q "SELECT sprite_name || '|' || sprite_status FROM projects WHERE name = 'web'")" \
	"0/true/|" "task sprite destroy: the project has no sprite any more"
wait_err "sprite task-web runs no project's agents any more" "the daemon stops following it"

# ---- task sprite token ----
run env XDG_CONFIG_HOME="$T/cfg" sh -c 'printf "abcd0123456789wxyz\n" | task sprite token'
is "$rc/$(printf '%s' "$out" | jq -r .token)" "0/abcd…wxyz" "task sprite token, from stdin: stored, shown masked"
is "$(stat -c %a "$T/cfg/sprite-tools/token"):$(cat "$T/cfg/sprite-tools/token")" "600:abcd0123456789wxyz" "in a 0600 file"
run env XDG_CONFIG_HOME="$T/cfg" task sprite token efgh0123456789stuv
is "$rc/$(printf '%s' "$out" | jq -r .token)/$(cat "$T/cfg/sprite-tools/token")" "0/efgh…stuv/efgh0123456789stuv" "and as an argument"
run env XDG_CONFIG_HOME="$T/cfg" script -qec "task sprite token" /dev/null </dev/null
like "$out" "efgh…stuv" "no argument, on a terminal: the stored token shown masked"
unlike "$out" "efgh0123456789stuv" "never in clear"
run env XDG_CONFIG_HOME="$T/cfg" task sprite token 'a b'
is "$rc" 2 "a token with a space: exit 2"

stop_daemon
plan "$tap_n"
done_testing
