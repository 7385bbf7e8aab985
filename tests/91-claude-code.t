#!/bin/sh
# The real Claude Code CLI (pinned in tests/claude/package.json, installed by
# scripts/install-deps) as the agent of tasks in sprites, against our own
# scripted Anthropic API (tests/claude/fake-anthropic.mjs) on loopback.
# Reached two ways through the sprite's egress: as https://api.anthropic.com
# (CONNECT through spritesd's proxy to a TLS front whose certificate comes
# from a throwaway CA, trusted through NODE_EXTRA_CA_CERTS, which task
# sprite init copies in), and as a plain-HTTP gateway (ANTHROPIC_BASE_URL).
# Every way a turn ends reaches the board: Stop with what the agent said,
# StopFailure with the API's error, a question (AskUserQuestion) shown and
# answered by task reply, the agent killed.  task output shows its pane.
# And the CLI calls nothing but the model API.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

# shellcheck source=tests/claude/lib.sh
. "$TOP/tests/claude/lib.sh"
if ! claude_installed; then
	echo "1..1"
	echo "not ok 1 - the Claude Code CLI $CLAUDE_VERSION is installed in tests/claude (run scripts/install-deps)"
	exit 1
fi

unset TASK_AGENT TMUX XDG_DATA_HOME XDG_CONFIG_HOME CLAUDE_CONFIG_DIR
export TASK_DB="$T/tasks.db" HOME="$T/home" TMUX_TMPDIR="$T/tmux"
mkdir -p "$HOME" "$TMUX_TMPDIR"
q() { sqlite3 -batch -cmd '.timeout 10000' "$TASK_DB" "$@"; }
FAKE_PID='' DPID=''
trap '[ -z "$DPID" ] || kill "$DPID" 2>/dev/null; [ -z "$FAKE_PID" ] || kill "$FAKE_PID" 2>/dev/null; cleanup' EXIT

# ---- the fake API: api.anthropic.com over HTTPS, a gateway over HTTP ----
SCRIPT=$T/script.json
APILOG=$T/api.jsonl
cat >"$SCRIPT" <<'EOF'
{"rules": [
 {"match": "Make hello", "reply": {"text": "I will make it.", "tool": "Bash",
  "input": {"command": "echo hello > hello.txt && git add hello.txt && git -c user.name=a -c user.email=a@b commit -qm hello && echo HELLO-MADE", "description": "make hello.txt"}}},
 {"match": "HELLO-MADE", "reply": {"text": "Made hello.txt and committed it."}}
 ,{"match": "Pick the colours", "reply": {"text": "Two questions first.", "tool": "AskUserQuestion",
  "input": {"questions": [
   {"question": "Which color should the button be?", "header": "Color", "multiSelect": false,
    "options": [{"label": "Red", "description": "A warm color"}, {"label": "Blue", "description": "A cool color"}]},
   {"question": "Which extras?", "header": "Extras", "multiSelect": true,
    "options": [{"label": "Shadow", "description": "drop shadow"}, {"label": "Border", "description": "a border"},
                {"label": "Glow", "description": "a glow"}]}]}}}
 ,{"match": "Ask one thing", "reply": {"text": "One question.", "tool": "AskUserQuestion",
  "input": {"questions": [{"question": "Which size?", "header": "Size", "multiSelect": false,
    "options": [{"label": "Small", "description": ""}, {"label": "Large", "description": ""}]}]}}}
 ,{"match": "Too long a prompt", "reply": {"status": 400, "error": "invalid_request_error",
  "message": "prompt is too long: 250000 tokens > 200000 maximum"}}
 ,{"match": "Through the gateway", "reply": {"text": "Answered through the gateway."}}
 ,{"match": "Go on", "reply": {"text": "Going on."}}
 ],
 "default": {"text": "Thanks, noted."}}
EOF
fake_api_start "$SCRIPT" "$APILOG" || { echo "Bail out! the fake API cannot start"; exit 1; }
ca=$T/tls/ca.crt

# spritesd: api.anthropic.com and gateway.test are the fake's; the CLI is
# shared into every sprite, read-only, where it is on the host.
start_spritesd --resolve "api.anthropic.com=$API_IP" --resolve gateway.test=127.0.0.1 --share "$CLAUDE_DIR"

# The project: one commit.
R=$T/repo
if ! { git init -q -b main "$R" && echo start >"$R/README" && git -C "$R" add -A &&
	git -C "$R" -c user.name=t -c user.email=t@localhost commit -qm start; }; then
	echo "Bail out! cannot make a git repository"
	exit 1
fi
task project add cc "$R" >/dev/null || { echo "Bail out! task project add"; exit 1; }
S=task-cc
in_sprite() { sprite-exec -s "$1" -- sh -c "$2"; }

# ---- task sprite init, the CLI reachable in the sprite ----
KEY=sk-ant-api03-fake-0123456789abcdefghij
run env ANTHROPIC_API_KEY="$KEY" NODE_EXTRA_CA_CERTS="$ca" task sprite init cc
is "$rc" 0 "task sprite init, with the key and the CA: exit 0"
like "$err" "task: claude is not installed in sprite $S" "the CLI missing in the sprite: said"
is "$(printf '%s' "$err" | grep -c 'claude is not installed')" 1 "in one line"
like "$err" "npm install -g @anthropic-ai/claude-code" "saying how to install it"
task add cc 'Make hello' >/dev/null
run task execute 1
is "$rc" 1 "task execute with no CLI in the sprite: exit 1"
is "$(grep -v '^task: starting' "$T/err")" "task: claude is not installed on sprite $S: install it (npm install -g @anthropic-ai/claude-code, in task sprite attach), or set TASK_AGENT" \
	"one line saying how to install it"
is "$(q "SELECT status FROM tasks WHERE id = 1")" backlog "the task left as it was"
claude_in_sprite "$S"
# shellcheck disable=SC2016 # expanded in the sprite
is "$(in_sprite "$S" 'PATH=$HOME/.local/bin:$PATH claude --version')" "$CLAUDE_VERSION (Claude Code)" \
	"the pinned CLI runs in the sprite"

task daemon --interval 0.2 >"$T/daemon.out" 2>"$T/daemon.err" &
DPID=$!

WAIT_S=60 # the CLI starts in seconds, slower on a loaded machine
status_of() { q "SELECT status FROM tasks WHERE id = $1"; }
last_rows() { q "SELECT line_type || ':' || content FROM (SELECT * FROM task_logs WHERE task_id = $1 ORDER BY id DESC LIMIT $2) ORDER BY id"; }
requests() { wc -l <"$APILOG" | tr -d ' '; }

# ---- a turn with a tool, ended by Stop ----
run task execute 1
is "$rc" 0 "task execute 1: the real CLI starts"
wait_query "SELECT count(*) FROM task_logs WHERE task_id = 1 AND line_type = 'text'" 1 \
	"Stop: the closing message reaches the board"
is "$(status_of 1)" blocked "blocked at the end of the turn"
is "$(last_rows 1 2)" "text:Made hello.txt and committed it.
system:Waiting for user input" "with what the agent said, then waiting"
is "$(q "SELECT group_concat(line_type || ':' || content, ' | ') FROM task_logs WHERE task_id = 1 AND line_type IN ('user', 'pending_tool', 'tool')")" \
	"user:Make hello | pending_tool:echo hello > hello.txt && git add hello.txt && git -c user.name=a -c user.email=a@b commit -qm hello && echo HELLO-MADE | tool:Bash: echo hello > hello.txt && git add hello.txt && git -c user.name=a -c user.email=a@b commit -qm hello" \
	"the prompt and the tool, as the real CLI's hooks told"
is "$(in_sprite "$S" 'git -C /workspace log --format=%s task/1-make-hello -1')" hello "its commit is on the task's branch"
run task output 1
is "$rc" 0 "task output 1: exit 0"
like "$out" "Made hello.txt and committed it." "the pane as it is: what the agent said"
run task output 1 -n 3
is "$rc/$(printf '%s\n' "$out" | wc -l | tr -d ' ')" "0/3" "-n 3: three lines"
run task output 1 -n 0
is "$rc" 2 "-n 0: usage error"

# ---- bad replies send nothing ----
n=$(requests)
run task reply 1 2
is "$rc" 2 "an option number with no question pending: exit 2"
stderr_is "task: task 1's agent asks no question: nothing sent (to send \"2\" as text: echo 2 | task reply 1 -)" "and one line"

# ---- a question: two, one choice then several ----
run task reply 1 'Pick the colours'
is "$rc" 0 "task reply 1: a prompt that makes the agent ask"
wait_query "SELECT count(*) FROM settings WHERE key = 'sprite_tools.question.1'" 1 "the question is pending"
wait_query "SELECT status FROM tasks WHERE id = 1" blocked "blocked on it"
is "$(last_rows 1 2)" "question:Question 1/2 (Color, choose one): Which color should the button be? 1. Red (A warm color); 2. Blue (A cool color); or an answer of your own
question:Question 2/2 (Extras, choose any): Which extras? 1. Shadow (drop shadow); 2. Border (a border); 3. Glow (a glow); or an answer of your own" \
	"each question in the log, its header, its options numbered, one or any"
unlike "$(q "SELECT group_concat(content) FROM task_logs WHERE task_id = 1")" "Waiting for permission: AskUserQuestion" \
	"not shown as a permission"
run task show 1
is "$(printf '%s' "$out" | jq -c '[.question.next, [.question.questions[] | [.header, .multiSelect, (.options | map(.label))]]]')" \
	'[0,[["Color",false,["Red","Blue"]],["Extras",true,["Shadow","Border","Glow"]]]]' "task show: the question, structured"
run task logs 1
like "$out" "question Question 2/2 (Extras, choose any): Which extras? 1. Shadow" "task logs shows it"
task watch >"$T/watch.out" 2>&1 &
wpid=$!
i=0
while ! grep -q 'BLOCKED (1)' "$T/watch.out" && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
kill "$wpid"
wait "$wpid" 2>/dev/null
like "$(cat "$T/watch.out")" "> Question 2/2 (Extras, choose any): Which extras?" \
	"task watch: the task waits on a question, not a permission"
n=$(requests)
run task reply 1 3
is "$rc" 2 "an option that does not exist: exit 2"
stderr_is "task: Color has no option 3: choose 1-2, or give your own text: nothing sent" "and one line"
run task reply 1 1,2
is "$rc" 2 "two choices where one is allowed: exit 2"
stderr_is "task: Color takes one choice: give one number (1-2), or your own text: nothing sent" "and one line"
run task reply 1 2
is "$rc/$err" "0/" "task reply 1 2: Blue"
is "$(q "SELECT json_extract(value, '\$.next') FROM settings WHERE key = 'sprite_tools.question.1'")" 1 \
	"the next question is the one to answer now"
run task reply 1 1,3
is "$rc/$err" "0/" "task reply 1 1,3: Shadow and Glow, then submitted"
wait_query "SELECT count(*) FROM settings WHERE key = 'sprite_tools.question.1'" 0 "the question is answered"
i=0
while ! grep -q 'Your questions have been answered' "$APILOG" && [ "$i" -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
is "$(jq -r 'select(.last_user | tostring | contains("have been answered")) | .last_user[] | select(.type == "tool_result") | .content' "$APILOG" | head -n 1)" \
	'Your questions have been answered: "Which color should the button be?"="Blue", "Which extras?"="Shadow, Glow". You can now continue with these answers in mind.' \
	"the CLI's next request carries the chosen labels in its tool_result"
wait_query "SELECT content FROM task_logs WHERE task_id = 1 AND line_type = 'text' ORDER BY id DESC LIMIT 1" "Thanks, noted." \
	"the turn goes on to its end"
is "$(q "SELECT group_concat(content, ' | ') FROM task_logs WHERE task_id = 1 AND content LIKE 'Answer to %'")" \
	"Answer to Color: Blue | Answer to Extras: Shadow, Glow" "each answer logged"

# one question, answered with text of one's own
run task reply 1 'Ask one thing'
wait_query "SELECT count(*) FROM settings WHERE key = 'sprite_tools.question.1'" 1 "a single question is pending"
run task reply 1 "Medium, with 'quotes' and \$HOME"
is "$rc/$err" "0/" "answered with text of one's own"
i=0
while ! grep -q 'Which size' "$APILOG" && [ "$i" -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
wait_query "SELECT count(*) FROM settings WHERE key = 'sprite_tools.question.1'" 0 "answered"
is "$(jq -r '.last_user[]? | select(.type == "tool_result") | .content' "$APILOG" | grep 'Which size' | head -n 1)" \
	"Your questions have been answered: \"Which size?\"=\"Medium, with 'quotes' and \$HOME\". You can now continue with these answers in mind." \
	"the text reaches the CLI as it was typed"

# ---- a turn that fails: StopFailure ----
run task reply 1 'Too long a prompt'
wait_query "SELECT count(*) FROM task_logs WHERE task_id = 1 AND line_type = 'error'" 1 "StopFailure: the error reaches the board"
is "$(status_of 1)" blocked "blocked"
like "$(q "SELECT content FROM task_logs WHERE task_id = 1 AND line_type = 'error'")" "API error (invalid_request): " \
	"the log says an API error, of which kind"
like "$(q "SELECT content FROM task_logs WHERE task_id = 1 AND line_type = 'error'")" "Prompt is too long" "and what the CLI showed"
run task show 1
like "$(printf '%s' "$out" | jq -r .error)" "Prompt is too long" "task show: the error"
run task reply 1 'Go on'
wait_query "SELECT content FROM task_logs WHERE task_id = 1 AND line_type = 'text' ORDER BY id DESC LIMIT 1" "Going on." \
	"the next turn works"
run task show 1
is "$(printf '%s' "$out" | jq -c '[.error, .question]')" "[null,null]" "task show: no error, no question once past"

# ---- the agent killed: not processing for ever ----
in_sprite "$S" 'pkill -KILL -f "dangerously-skip-permission[s]"'
wait_query "SELECT count(*) FROM task_logs WHERE task_id = 1 AND content = 'Task needs review'" 1 \
	"the agent killed: its task needs review"
is "$(status_of 1)" blocked "blocked"

# ---- nothing but the model API: from the sprite's proxy and the API ----
is "$(grep "spritesd: proxy $S:" "$T/spritesd.log" | grep -v " api.anthropic.com:443 " | head -n 3)" "" \
	"the sprite's proxy saw nothing but api.anthropic.com:443"
is "$(jq -r '"\(.method) \(.path)"' "$APILOG" | sort -u | grep -v -e '^POST /v1/messages$' -e '^HEAD /$' \
	-e '^GET /api/claude_code/policy_limits$' -e '^GET /api/claude_code/settings$')" "" \
	"the API saw messages, a HEAD / and the organisation's settings asked for, nothing else"
is "$(jq -r .auth "$APILOG" | sort -u)" "x-api-key" "every request carried the key, as x-api-key"
run grep -rl "$KEY" "$TASK_DB" "$T/daemon.err" "$T/daemon.out" "$T/spritesd.log"
is "$out" "" "the key is nowhere in the database or the logs"

# ---- a plain-HTTP gateway (ANTHROPIC_BASE_URL) ----
task project add gw "$R" >/dev/null
run env ANTHROPIC_AUTH_TOKEN=gw-token-0123456789 ANTHROPIC_BASE_URL="http://gateway.test:$GW_PORT" task sprite init gw
is "$rc" 0 "task sprite init with ANTHROPIC_BASE_URL: exit 0"
like "$err" "gateway.test joins the allow-list" "the gateway's host joins the allow-list"
claude_in_sprite task-gw
task add gw 'Through the gateway' >/dev/null
http_before=$(jq -r 'select(.scheme == "http")' "$APILOG" | wc -l)
run task execute 2
is "$rc" 0 "task execute 2 in the gateway's sprite"
wait_query "SELECT content FROM task_logs WHERE task_id = 2 AND line_type = 'text'" "Answered through the gateway." \
	"the turn, through the gateway, reaches the board"
is "$(jq -r 'select(.scheme == "http" and .path == "/v1/messages") | .auth' "$APILOG" | sort -u)" "authorization" \
	"the gateway got the requests, with ANTHROPIC_AUTH_TOKEN as a bearer"
is "$(($(jq -r 'select(.scheme == "http")' "$APILOG" | wc -l) > http_before))" 1 "over plain HTTP"

# ---- /compact and /exit, as the real CLI reports them ----
run task reply 2 /compact
wait_query "SELECT count(*) FROM task_logs WHERE task_id = 2 AND content = 'Compacting the conversation (manual)'" 1 \
	"/compact: PreCompact logged, with its trigger"
run task reply 2 /exit
wait_query "SELECT group_concat(line_type || ':' || content, ' | ') FROM (SELECT * FROM task_logs WHERE task_id = 2
	AND line_type IN ('system', 'question') ORDER BY id DESC LIMIT 2)" \
	"question:Task needs review | system:Agent exited (prompt_input_exit)" "/exit: SessionEnd, the task needs review"
is "$(status_of 2)" blocked "blocked"

plan "$tap_n"
done_testing
