#!/bin/sh
# examples/demo-agent, the stand-in for Claude Code: run in a real tmux (a
# private server) in a task's git worktree, driven as task reply and
# sprite-sendkeys drive the real CLI (text as a bracketed paste, then Enter
# apart; keys as keys).  The hook events it fires, in order; their payloads
# against the real CLI's (tests/fixtures/claude-hooks); matchers; its
# commits; no Stop after a denied permission; and what hook-apply makes of
# its events.  No spritesd.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

AGENT=$TOP/examples/demo-agent
FIX=$TOP/tests/fixtures/claude-hooks
TS=$T/tmux.sock
HF=$T/hooks.jsonl # what task-hook writes
RAW=$T/raw.jsonl  # the payloads, as the hooks got them on stdin
M=$T/matched      # a word per hook with a matcher that ran
H=$T/home
unset TASK_DB TASK_ID TASK_HOOKS_FILE CLAUDE_CONFIG_DIR
unset DEMO_AGENT_ASK DEMO_AGENT_NOTIFY_DELAY DEMO_AGENT_IDLE_DELAY DEMO_AGENT_DELAY DEMO_AGENT_FILE
export XDG_DATA_HOME="$T/data"
tmux_() { tmux -S "$TS" "$@"; }
trap 'tmux -S "$TS" kill-server 2>/dev/null; cleanup' EXIT

# ---- usage ----
run "$AGENT" --help
is "$rc" 0 "--help: exit 0"
like "$out" "usage: demo-agent [--dangerously-skip-permissions] [--settings FILE|JSON] [PROMPT]" "and the usage"
run "$AGENT" --verbose "a prompt"
is "$rc/$out" "2/" "an unknown option: exit 2"
stderr_is 'demo-agent: unknown option "--verbose" (demo-agent -h)' "and says which"
run env DEMO_AGENT_NOTIFY_DELAY=soon "$AGENT" prompt
is "$rc" 2 "a delay that is not a number: exit 2"
stderr_is 'demo-agent: DEMO_AGENT_NOTIFY_DELAY must be a number of seconds, not "soon"' "and says so"

# ---- settings: every event through task-hook and a recorder; matchers ----
mkdir -p "$H/.claude"
jq -n --arg th "$TOP/bin/task-hook" --arg raw "cat >>'$RAW'" --arg m "$M" '
	def c($s): {type: "command", command: $s};
	def all: {hooks: [c($th), c($raw)]};
	def mark($matcher; $word): {matcher: $matcher, hooks: [c("echo " + $word + " >>\u0027" + $m + "\u0027")]};
	{skipDangerousModePermissionPrompt: true, hooks: {
		SessionStart: [all + {matcher: "startup|resume|clear|compact"}, mark("resume"; "start-resume"),
			mark("clear"; "start-clear")],
		UserPromptSubmit: [all, mark("ignored"; "prompt")],
		PreToolUse: [all, mark("Write"; "pre-Write"), mark("Edit|Read"; "pre-EditRead"), mark("*"; "pre-any")],
		PostToolUse: [all, mark("^B.*h$"; "post-Bash"), mark("[invalid"; "post-invalid")],
		PermissionRequest: [all, mark("Bash"; "permission-Bash")],
		Notification: [all + {matcher: "permission_prompt|idle_prompt|elicitation_dialog"},
			mark("idle_prompt"; "notify-idle")],
		Stop: [all, all],
		SubagentStop: [all],
		SessionEnd: [all, mark("prompt_input_exit"; "end-exit")]}}' >"$H/.claude/settings.json"

# ---- a project, and the task's worktree ----
R=$T/repo
if ! { git init -q "$R" && git -C "$R" -c user.name=t -c user.email=t@localhost commit -q --allow-empty -m init &&
	git -C "$R" worktree add -q -b task/7-demo "$R/.task-worktrees/7-demo" 2>/dev/null; }; then
	echo "Bail out! cannot make a git worktree"
	exit 1
fi
WT=$(cd "$R/.task-worktrees/7-demo" && pwd -P)

# labels: the events so far, "Name" or "Name:detail", on one line.
labels() {
	[ -s "$HF" ] || return 0
	jq -r '.hook_event_name + ((.tool_name // .notification_type // .source // .reason)
		| if . then ":" + . else "" end)' "$HF" | tr '\n' ' ' | sed 's/ $//'
}
# upto WANT DESCRIPTION: wait (30 s at most) until the events so far are WANT.
upto() {
	i=0
	while [ "$(labels)" != "$1" ] && [ "$i" -lt 300 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	is "$(labels)" "$1" "$2"
}
# send TEXT: as task reply sends it: a bracketed paste, then Enter apart.
send() {
	printf '%s' "$1" | tmux_ load-buffer -b demo -
	tmux_ paste-buffer -p -d -b demo -t demo
	sleep 0.1
	tmux_ send-keys -t demo Enter
}
pane() { tmux_ capture-pane -p -J -S - -t demo; }
# shown TEXT: wait (30 s at most) until the pane shows TEXT.
shown() {
	i=0
	while ! pane | grep -qF -- "$1" && [ "$i" -lt 300 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	like "$(pane)" "$1" "the pane shows: $1"
}

TURN='UserPromptSubmit PreToolUse:Write PostToolUse:Write PreToolUse:Bash PostToolUse:Bash PreToolUse:Bash'
ASKED="$TURN PermissionRequest:Bash Notification:permission_prompt"
ALLOWED="$ASKED PostToolUse:Bash Stop Notification:idle_prompt"

# ---- turn 1: the prompt on the command line, allowed with the key 1 ----
# Its first line, cut to 60 characters, is the note.
L1="Say \"hi\" & \$(touch pwned) \`touch pwned2\`; rm -rf / 'q' \\ abc" # 60 characters
P1="$L1 long first line
and a second line"
# Run through sh, which records the agent's exit status.
# shellcheck disable=SC2016 # that sh expands them
tmux_ -f /dev/null new-session -d -s demo -x 200 -y 50 -c "$WT" -e TASK_ID=7 -e TASK_HOOKS_FILE="$HF" \
	-e HOME="$H" -e DEMO_AGENT_NOTIFY_DELAY=0.3 -e DEMO_AGENT_IDLE_DELAY=0.3 -e DEMO_AGENT_DELAY=0 \
	sh -c '"$@"; echo "$?" >"$0"' "$T/status" "$AGENT" --dangerously-skip-permissions "$P1"
tmux_ set-option -w -t demo remain-on-exit on
all="SessionStart:startup $ASKED"
upto "$all" "turn 1: SessionStart, the prompt, Write, Bash (the commit), Bash asking permission, the Notification"
shown "Do you want to proceed?"
shown "3. No, and tell demo-agent what to do differently (esc)"
tmux_ send-keys -t demo 1
all="SessionStart:startup $ALLOWED"
upto "$all" "1 allows: PostToolUse, Stop, then idle_prompt"
is "$(git -C "$WT" log -1 --format='%an <%ae>|%s' task/7-demo)" "demo-agent <demo-agent@localhost>|Note: $L1" \
	"a commit on the task's branch, by demo-agent, its subject the prompt's first line (60 characters)"
is "$(cat "$WT/NOTES.md")" "- $L1" "NOTES.md holds that line"
is "$(git -C "$WT" status --porcelain)" "" "nothing left uncommitted"
ls "$WT/pwned" "$WT/pwned2" >/dev/null 2>&1
is "$?" 2 "nothing in the prompt was executed"
shown "Done: noted"

# ---- turn 2: a pasted prompt, denied with 3: no Stop ----
send "second prompt"
all="$all $ASKED"
upto "$all" "turn 2, typed as a paste then Enter: up to the permission dialog"
tmux_ send-keys -t demo 3
shown "User rejected the command"
sleep 1.5
is "$(labels)" "$all" "3 denies: no PostToolUse, no Stop, no idle_prompt"

# ---- turn 3: a prompt of two lines, cancelled with Escape ----
send "third prompt
with a second line"
all="$all $ASKED"
upto "$all" "turn 3: a prompt of two lines, up to the dialog"
tmux_ send-keys -t demo Escape
sleep 1.5
is "$(labels)" "$all" "Escape denies: no Stop"

# ---- turns 4, 5, 6: answered as task reply would (a paste of 1, then Enter), with Enter, with 2 ----
send "fourth prompt"
all="$all $ASKED"
upto "$all" "turn 4: up to the dialog"
send 1
all="$all PostToolUse:Bash Stop Notification:idle_prompt"
upto "$all" "a paste of 1, then Enter, allows; the Enter left over submits nothing"
send "fifth prompt"
all="$all $ASKED"
upto "$all" "turn 5: up to the dialog"
send "no, do something else"
sleep 1.5
is "$(labels)" "$all" "other text pasted, then Enter: no answer"
tmux_ send-keys -t demo Enter
all="$all PostToolUse:Bash Stop Notification:idle_prompt"
upto "$all" "Enter allows"
send "sixth prompt"
all="$all $ASKED"
upto "$all" "turn 6: up to the dialog"
tmux_ send-keys -t demo 2
all="$all PostToolUse:Bash Stop Notification:idle_prompt"
upto "$all" "2 allows"
send "seventh prompt"
all="$all $TURN PostToolUse:Bash Stop Notification:idle_prompt"
upto "$all" "turn 7: after 2, the command runs without asking"

# ---- /clear, /exit ----
send /clear
all="$all SessionEnd:clear SessionStart:clear"
upto "$all" "/clear: SessionEnd (clear), SessionStart (clear)"
send /exit
all="$all SessionEnd:prompt_input_exit"
upto "$all" "/exit: SessionEnd (prompt_input_exit)"
i=0
while [ ! -s "$T/status" ] && [ "$i" -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
is "$(cat "$T/status" 2>/dev/null)" 0 "and it exits 0"

is "$(git -C "$WT" log --format=%s task/7-demo | sed -n '1p;7p;8p' | tr '\n' '|')" \
	"Note: seventh prompt|Note: $L1|init|" "a commit per turn, denied ones included (the commit comes before the dialog)"
is "$(sed -n 3p "$WT/NOTES.md")" "- third prompt" "a prompt's first line only"

# ---- the payloads ----
is "$(jq -r .hook_event_name "$RAW" | tr '\n' ' ')" "$(jq -r .hook_event_name "$HF" | tr '\n' ' ')" \
	"every hook command ran for every event, once (the same command twice runs once)"
jq -s 'reduce .[] as $e ({}; .[$e.hook_event_name] += [$e | keys]) | map_values(unique)' \
	"$FIX"/*.jsonl >"$T/fixkeys.json"
is "$(jq -r --slurpfile f "$T/fixkeys.json" '(keys) as $k | select(any($f[0][.hook_event_name][]?; . == $k) | not)
	| "\(.hook_event_name): \($k | join(","))"' "$RAW")" "" \
	"each payload has the fields of the real CLI's payload of the same event, no more, no fewer"
is "$(jq -c 'keys_unsorted' "$RAW" | sort -u | jq -sc 'map(select(.[0:3] != ["session_id","transcript_path","cwd"])) | length')" 0 \
	"each begins with session_id, transcript_path, cwd, as the real CLI's"
is "$(jq -r .cwd "$RAW" | sort -u)" "$WT" "cwd: the worktree"
is "$(jq -r '.permission_mode // empty' "$RAW" | sort -u)" bypassPermissions \
	"permission_mode: bypassPermissions (--dangerously-skip-permissions)"
is "$(jq -r .session_id "$RAW" | uniq | wc -l | tr -d ' ')" 2 "one session_id, a new one after /clear"
is "$(jq -r --arg h "$H" '(.cwd | gsub("[^A-Za-z0-9]"; "-")) as $d
	| select(.transcript_path != "\($h)/.claude/projects/\($d)/\(.session_id).jsonl") | .transcript_path' "$RAW")" "" \
	"transcript_path: ~/.claude/projects/DIR/SESSION.jsonl, as the real CLI's"
first_tp=$(jq -r 'select(.hook_event_name == "Stop") | .transcript_path' "$RAW" | head -n 1)
is "$(jq -s -c 'map([.type, .message.role]) | .[0:2]' "$first_tp" 2>/dev/null)/$(jq -s -j '.[0].message.content' "$first_tp" 2>/dev/null)" \
	'[["user","user"],["assistant","assistant"]]/'"$P1" "the transcript is written there: the prompt, the answer"
got=$(jq -j 'select(.hook_event_name == "UserPromptSubmit") | .prompt + "\u0000"' "$RAW" | tr '\0' '|')
is "$got" "$P1|second prompt|third prompt
with a second line|fourth prompt|fifth prompt|sixth prompt|seventh prompt|" \
	"the prompts, exactly as given (the command line's, then the pasted ones, newlines and all)"
is "$(jq -r 'select(.hook_event_name == "PreToolUse" and .tool_name == "Write") | .tool_input.file_path' "$RAW" | sort -u)" \
	"$WT/NOTES.md" "Write's file_path: NOTES.md in the worktree"
is "$(jq -r 'select(.hook_event_name == "PermissionRequest") | .tool_input.command' "$RAW" | sort -u)" \
	"git log --oneline -3" "the permission is asked for git log --oneline -3"
is "$(jq -r 'select(.hook_event_name == "PreToolUse") | .tool_input.command // empty' "$RAW" | sed -n 1p)" \
	"git add -- 'NOTES.md' && git -c user.name=demo-agent -c user.email=demo-agent@localhost commit -m $(jq -rn --arg s "Note: $L1" '$s | @sh')" \
	"the commit's command, the prompt quoted in it"
is "$(jq -s '[.[] | select(.hook_event_name | startswith("PostToolUse"))] as $post
	| [.[] | select(.hook_event_name == "PreToolUse") | .tool_use_id] as $pre
	| [($pre | unique | length) == ($pre | length), ($post | all(.tool_use_id as $i | $pre | index([$i])))]' -c "$RAW")" \
	"[true,true]" "tool_use_id: a new one per tool call, the same in its PostToolUse"
is "$(jq -s -c '[.[1:12][] | .prompt_id] | unique | length' "$RAW")" 1 \
	"turn 1's events share the prompt_id of its UserPromptSubmit"
is "$(jq -c 'select(.hook_event_name == "Stop") | [.stop_hook_active, .background_tasks, .session_crons]' "$RAW" | sort -u)" \
	"[false,[],[]]" "Stop: stop_hook_active false"
is "$(jq -c 'select(.hook_event_name == "Notification") | [.notification_type, .message]' "$RAW" | sort -u | tr '\n' ' ')" \
	'["idle_prompt","Claude is waiting for your input"] ["permission_prompt","Claude needs your permission"] ' \
	"Notification: the real CLI's messages"
is "$(jq -r .task_id "$HF" | sort -u)" 7 "task-hook recorded TASK_ID with every event"
is "$(sort "$M" | uniq -c | awk '{ printf "%s=%s ", $2, $1 }')" \
	"end-exit=1 notify-idle=5 permission-Bash=6 post-Bash=12 pre-Write=7 pre-any=21 prompt=7 start-clear=1 " \
	"matchers: exact names, lists, regexes, *; an invalid regex matches nothing; ignored where Claude ignores them"

# ---- hook-apply: the statuses the spec maps these events to ----
D=$T/db
hook-apply --db "$D" </dev/null
sqlite3 "$D" "INSERT INTO projects (name, path, sprite_name) VALUES ('demo', '/src/demo', 'demo');
	INSERT INTO tasks (id, title, status, project, started_at) VALUES (7, 'demo', 'processing', 'demo', CURRENT_TIMESTAMP)"
run hook-apply --db "$D" --sprite demo <"$HF"
is "$rc/$err" "0/" "hook-apply takes every event"
got=$(printf '%s\n' "$out" | jq -r 'select(.old_status != .new_status) | "\(.event):\(.new_status)"' | tr '\n' ' ')
t1="PermissionRequest:blocked PostToolUse:processing Stop:blocked "
allowed="UserPromptSubmit:processing $t1"
denied="UserPromptSubmit:processing PermissionRequest:blocked "
is "$got" "$t1$denied$denied$allowed$allowed${allowed}UserPromptSubmit:processing Stop:blocked " \
	"statuses: processing -> blocked (dialog) -> processing (allowed) -> blocked (Stop); a denial leaves it blocked"
is "$(sqlite3 "$D" "SELECT status FROM tasks WHERE id = 7")" blocked "the task ends blocked"
is "$(sqlite3 "$D" "SELECT line_type || ':' || content FROM task_logs WHERE task_id = 7 ORDER BY id DESC LIMIT 2" | tr '\n' '|')" \
	"question:Task needs review|system:Agent exited (prompt_input_exit)|" "for review, after its exit"
is "$(sqlite3 "$D" "SELECT count(*) FROM task_logs WHERE content = 'Waiting for permission: Bash: git log --oneline -3'")" 6 \
	"each dialog logged as Waiting for permission: Bash: git log --oneline -3"
is "$(sqlite3 "$D" "SELECT claude_session_id FROM tasks WHERE id = 7")" "$(jq -r .session_id "$RAW" | tail -n 1)" \
	"the task has the session after /clear"

# ---- killed with its window: SessionEnd, reason other ----
: >"$HF"
tmux_ new-window -d -t demo:9 -n two -c "$WT" -e TASK_ID=7 -e TASK_HOOKS_FILE="$HF" -e HOME="$H" "$AGENT"
upto "SessionStart:startup" "no prompt: SessionStart alone, then it waits"
tmux_ kill-window -t demo:9
upto "SessionStart:startup SessionEnd:other" "its window killed (SIGHUP): SessionEnd, reason other"

# ---- not in a terminal; the end of input; a failing tool; no settings ----
mkdir -p "$T/cfg" "$T/plain"
jq -n --arg th "$TOP/bin/task-hook" '{hooks: ({} | .[("SessionStart", "UserPromptSubmit", "PreToolUse",
	"PostToolUse", "PostToolUseFailure", "Stop", "SessionEnd")] = [{hooks: [{type: "command", command: $th}]}])}' \
	>"$T/cfg/settings.json"
: >"$HF"
extra=$(jq -nc --arg c "echo extra >>'$T/extra'" '{hooks: {Stop: [{hooks: [{type: "command", command: $c}]}]}}')
printf 'note this\n' | (cd "$T/plain" && env CLAUDE_CONFIG_DIR="$T/cfg" TASK_ID=8 TASK_HOOKS_FILE="$HF" \
	DEMO_AGENT_ASK='' DEMO_AGENT_DELAY=0 "$AGENT" --settings "$extra" >"$T/out" 2>"$T/err")
is "$?/$(cat "$T/err")" "0/" "stdin a pipe: exit 0 at its end"
is "$(cat "$T/extra" 2>/dev/null)" extra "--settings JSON: its hooks run too"
is "$(labels)" "SessionStart:startup UserPromptSubmit PreToolUse:Write PostToolUse:Write PreToolUse:Bash PostToolUseFailure:Bash Stop SessionEnd:prompt_input_exit" \
	"not a git repository: PostToolUseFailure; DEMO_AGENT_ASK empty: no dialog; the end of input: SessionEnd"
is "$(jq -r 'select(.hook_event_name == "PostToolUseFailure") | .error' "$HF" | head -n 1)" "Exit code 128" \
	"the failure's error, as the real CLI's"
is "$(jq -c 'select(.hook_event_name == "PostToolUseFailure") | keys' "$HF" | jq -c '. - ["task_id", "ts"]')" \
	"$(jq -c 'select(.hook_event_name == "PostToolUseFailure") | keys' "$FIX/print-tools.jsonl")" \
	"with the real CLI's fields"
printf '/exit\n' | (cd "$T/plain" && env HOME="$T/nohome" TASK_ID=8 "$AGENT" >/dev/null 2>"$T/err")
is "$?/$(cat "$T/err")" "0/" "no settings.json: no hooks, no complaint"

plan "$tap_n"
done_testing
