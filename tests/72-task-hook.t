#!/bin/sh
# task-hook, the hook writer: what it adds and drops, when it writes nothing,
# that it never prints on stdout and always exits 0, the file's mode, and
# whole lines under concurrent writers.  No spritesd.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

FIX=$TOP/tests/fixtures/claude-hooks
F=$T/hooks.jsonl
unset TASK_ID TASK_HOOKS_FILE
now_ms() { echo $(($(date +%s%N) / 1000000)); }
th() {  # th ID: task-hook with TASK_ID=ID (unset when ID is "-"), writing to $F; stdin as given
	if [ "$1" = - ]; then
		run env -u TASK_ID TASK_HOOKS_FILE="$F" task-hook
	else
		run env TASK_ID="$1" TASK_HOOKS_FILE="$F" task-hook
	fi
}
quiet() {  # quiet DESCRIPTION: the last run exited 0 and printed nothing at all
	is "$rc/$out/$err" "0//" "$1"
}
lines() { if [ -e "$F" ]; then wc -l <"$F" | tr -d ' '; else echo none; fi; }

# ---- what it adds ----
t0=$(now_ms)
th 42 <<'EOF'
{"session_id":"s1","hook_event_name":"Stop","stop_hook_active":false}
EOF
t1=$(now_ms)
quiet "an event: exit 0, nothing on stdout or stderr"
is "$(lines)" 1 "one line appended"
is "$(jq -c 'del(.ts)' "$F")" '{"session_id":"s1","hook_event_name":"Stop","stop_hook_active":false,"task_id":42}' \
	"the event as it came, with task_id added"
is "$(jq -r '.task_id | type' "$F")" number "task_id is an integer, not a string"
ts=$(jq -r .ts "$F")
is "$(printf '%s' "$ts" | tr -d 0-9 | wc -c | tr -d ' ')/${#ts}" "0/13" "ts: 13 digits"
ok "$([ "$ts" -ge "$t0" ] && [ "$ts" -le "$t1" ] && echo 0 || echo 1)" "ts is the time it ran, in ms ($t0 <= $ts <= $t1)"
is "$(jq -r '.ts | type' "$F")" number "ts is a number"
is "$(stat -c %a "$F")" 600 "the file is created 0600"
is "$(stat -c %a "$F.lock")" 600 "and its lock file"
th 7 <<'EOF'
{"hook_event_name":"UserPromptSubmit","prompt":"second"}
EOF
quiet "a second event"
is "$(lines)/$(jq -r .prompt "$F" | tail -n 1)" "2/second" "appended after the first"
rm -f "$F" "$F.lock"
(umask 000 && printf '{"hook_event_name":"Stop"}' | TASK_ID=1 TASK_HOOKS_FILE="$F" task-hook)
is "$(stat -c %a "$F")" 600 "0600 whatever the caller's umask"
th 999999999999999 <<'EOF'
{"hook_event_name":"Stop"}
EOF
is "$(tail -n 1 "$F" | jq -c .task_id)" 999999999999999 "15 digits: exact"

# ---- what it drops, what it keeps ----
rm -f "$F"
th 5 <<'EOF'
{"hook_event_name":"PostToolUse","tool_name":"Edit","tool_input":{"file_path":"/w/a","old_string":"OLD","new_string":"NEW","replace_all":false},"tool_response":{"filePath":"/w/a","originalFile":"BIG"},"tool_use_id":"t1"}
{"hook_event_name":"ignored: only the first value on stdin is taken"}
EOF
quiet "PostToolUse Edit"
is "$(jq -c 'del(.ts)' "$F")" \
	'{"hook_event_name":"PostToolUse","tool_name":"Edit","tool_input":{"file_path":"/w/a","replace_all":false},"tool_use_id":"t1","task_id":5}' \
	"tool_response, old_string and new_string dropped; the rest kept; one line only"
rm -f "$F"
while IFS= read -r line; do
	printf '%s\n' "$line" | TASK_ID=5 TASK_HOOKS_FILE=$F task-hook
done <<'EOF'
{"hook_event_name":"PreToolUse","tool_name":"Write","tool_input":{"file_path":"/w/b","content":"SECRET"}}
{"hook_event_name":"PreToolUse","tool_name":"MultiEdit","tool_input":{"file_path":"/w/c","edits":[{"old_string":"x","new_string":"y"}]}}
{"hook_event_name":"PreToolUse","tool_name":"NotebookEdit","tool_input":{"notebook_path":"/w/n.ipynb","new_source":"print(1)"}}
{"hook_event_name":"Stop","stop_hook_active":false,"last_assistant_message":"the answer"}
{"hook_event_name":"SubagentStop","agent_id":"a1","last_assistant_message":"a long answer"}
{"hook_event_name":"StopFailure","error":"rate_limit","error_details":"429 x","last_assistant_message":"API Error"}
{"hook_event_name":"PostToolBatch","tool_calls":[{"tool_name":"Write","tool_input":{"file_path":"/w/b","content":"SECRET"},"tool_use_id":"t2","tool_response":"done"}]}
{"hook_event_name":"UserPromptSubmit","prompt":"content, old_string and new_string stay elsewhere","content":"top-level content is kept"}
EOF
jq -c 'del(.ts)' "$F" >"$T/got"
cat >"$T/want" <<'EOF'
{"hook_event_name":"PreToolUse","tool_name":"Write","tool_input":{"file_path":"/w/b"},"task_id":5}
{"hook_event_name":"PreToolUse","tool_name":"MultiEdit","tool_input":{"file_path":"/w/c"},"task_id":5}
{"hook_event_name":"PreToolUse","tool_name":"NotebookEdit","tool_input":{"notebook_path":"/w/n.ipynb"},"task_id":5}
{"hook_event_name":"Stop","stop_hook_active":false,"last_assistant_message":"the answer","task_id":5}
{"hook_event_name":"SubagentStop","agent_id":"a1","task_id":5}
{"hook_event_name":"StopFailure","error":"rate_limit","error_details":"429 x","last_assistant_message":"API Error","task_id":5}
{"hook_event_name":"PostToolBatch","tool_calls":[{"tool_name":"Write","tool_input":{"file_path":"/w/b"},"tool_use_id":"t2"}],"task_id":5}
{"hook_event_name":"UserPromptSubmit","prompt":"content, old_string and new_string stay elsewhere","content":"top-level content is kept","task_id":5}
EOF
cmp -s "$T/want" "$T/got"
ok $? "Write content, MultiEdit edits, NotebookEdit new_source, a subagent's last_assistant_message, a batch's tool_response and contents dropped; the turn's last message and error kept; nothing else"
diff "$T/want" "$T/got" | sed 's/^/# /'
rm -f "$F"
# What the agent said, and an error's details, cut to 4096 characters.
rm -f "$F"
jq -nc '{hook_event_name: "StopFailure", error: "x", error_details: ("é" * 5000), last_assistant_message: ("a" * 5000)}' |
	TASK_ID=5 TASK_HOOKS_FILE=$F task-hook
is "$(jq -r '"\(.last_assistant_message | length) \(.error_details | length)"' "$F")" "4096 4096" \
	"last_assistant_message and error_details cut to 4096 characters"
rm -f "$F"
th 9 <<'EOF'
{"hook_event_name":"TaskCreated","task_id":"1","task_subject":"Fake task"}
EOF
quiet "TaskCreated (Claude's own task_id)"
is "$(jq -c 'del(.ts)' "$F")" '{"hook_event_name":"TaskCreated","task_id":9,"task_subject":"Fake task","claude_task_id":"1"}' \
	"Claude's task_id is kept as claude_task_id; task_id is ours"

# The real events: each comes out as it went in, less what is dropped.
rm -f "$F"
for fx in print-tools tmux-permission; do
	while IFS= read -r line; do
		printf '%s\n' "$line" | TASK_ID=7 TASK_HOOKS_FILE=$F task-hook
	done <"$FIX/$fx.jsonl"
done
is "$(lines)" 77 "the 77 fixture events: 77 lines"
jq -c 'del(.ts)' "$F" >"$T/got"
cat "$FIX/print-tools.jsonl" "$FIX/tmux-permission.jsonl" |
	jq -c 'del(.tool_response)
		| if .hook_event_name == "SubagentStop" then del(.last_assistant_message) else . end
		| if has("tool_calls") then .tool_calls |= map(del(.tool_response)) else . end
		| if has("task_id") then .claude_task_id = .task_id else . end
		| .task_id = 7' >"$T/want"
cmp -s "$T/want" "$T/got"
ok $? "each as it came, less tool_response and a subagent's last_assistant_message, with task_id 7"
is "$(grep -c '"tool_response"' "$F")/$(grep -c '"last_assistant_message"' "$F")" 0/5 \
	"no tool_response left; the 5 turns' last messages kept"

# A line still over 256 KiB has its strings cut to 1024 characters.
rm -f "$F"
head -c 300000 /dev/zero | tr '\0' p | jq -Rc '{hook_event_name: "UserPromptSubmit", prompt: ., session_id: "s"}' >"$T/big"
th 3 <"$T/big"
quiet "an event over 256 KiB"
is "$(jq -c '[(.prompt | length), .session_id, .task_id]' "$F")" '[1024,"s",3]' "its long strings cut to 1024 characters"

# Bytes count, not characters: 100,000 three-byte characters are 300 KB.
rm -f "$F"
head -c 100000 /dev/zero | tr '\0' x | sed 's/x/€/g' | jq -Rc '{hook_event_name: "UserPromptSubmit", prompt: ., session_id: "s"}' >"$T/big"
th 3 <"$T/big"
quiet "an event of 100,000 characters in 300 KB"
is "$(jq -c '[(.prompt | length), .session_id]' "$F")" '[1024,"s"]' "is over 256 KiB too: cut"

# Thousands of short strings: only the fields hook-apply reads are kept.
rm -f "$F"
jq -nc '{hook_event_name: "PreToolUse", session_id: "s", tool_name: "Bash", tool_input: {command: "make", junk: [range(40000) | "abcdefgh"]}, extra: "x"}' >"$T/big"
th 4 <"$T/big"
quiet "an event of 40,000 short strings"
is "$(jq -c 'del(.ts)' "$F")" '{"hook_event_name":"PreToolUse","session_id":"s","tool_name":"Bash","task_id":4,"tool_input":{"command":"make"}}' \
	"only what hook-apply reads is kept"
is "$(wc -l <"$F" | tr -d ' ')" 1 "one line"

# ---- when it writes nothing ----
rm -f "$F" "$F.lock"
for id in - "" abc 12a -1 " 1" 1.5 1234567890123456; do
	printf '{"hook_event_name":"Stop"}\n' | th "$id"
	is "$rc/$out/$err/$(lines)" "0///none" "TASK_ID '$id': nothing written, nothing said, exit 0"
done
printf 'not json\n' | th 4
is "$rc/$out/$(lines)" "0//none" "stdin not JSON: nothing written, exit 0"
stderr_is "task-hook: the event on stdin is not a JSON object (or jq is older than 1.6): nothing recorded" "said on stderr"
printf '[1,2]\n' | th 4
is "$rc/$out/$(lines)" "0//none" "a JSON array: nothing written"
stderr_is "task-hook: the event on stdin is not a JSON object (or jq is older than 1.6): nothing recorded" "said on stderr"
th 4 </dev/null
is "$rc/$out/$(lines)" "0//none" "empty stdin: nothing written"
printf '{"hook_event_name":"Stop","cut' | th 4
is "$rc/$out/$(lines)" "0//none" "a cut object: nothing written"
printf '{"hook_event_name":"Stop"}\n' | run env TASK_ID=4 TASK_HOOKS_FILE="$T/no/such/dir/h.jsonl" task-hook
is "$rc/$out" "0/" "the file cannot be created: exit 0, nothing on stdout"
stderr_is "task-hook: cannot create $T/no/such/dir/h.jsonl.lock: event not recorded" "said on stderr"

# It reads all of stdin, so that the hook's caller never writes into a closed pipe.
{
	head -c 2000000 /dev/zero
	echo $? >"$T/wrc"
} | run env -u TASK_ID TASK_HOOKS_FILE="$F" task-hook
is "$rc/$(cat "$T/wrc")" "0/0" "without TASK_ID, stdin is still read to its end"
{
	printf '{"hook_event_name":"Stop"}'
	head -c 2000000 /dev/zero | tr '\0' ' '
	echo $? >"$T/wrc"
} | th 4
is "$rc/$(cat "$T/wrc")/$(lines)" "0/0/1" "with one, too, after the event"

# Without jq, without flock.
mkdir "$T/path"
for c in sh date cat; do ln -s "$(command -v "$c")" "$T/path/$c"; done
rm -f "$F" "$F.lock"
printf '{"hook_event_name":"Stop"}\n' | run env PATH="$T/path" TASK_ID=4 TASK_HOOKS_FILE="$F" "$TOP/bin/task-hook"
is "$rc/$out/$(lines)" "0//none" "no jq: nothing written, exit 0"
stderr_is "task-hook: jq not found (install it in the sprite): nothing recorded" "said on stderr"
ln -s "$(command -v jq)" "$T/path/jq"
printf '{"hook_event_name":"Stop"}\n' | run env PATH="$T/path" TASK_ID=4 TASK_HOOKS_FILE="$F" "$TOP/bin/task-hook"
is "$rc/$out/$(jq -c 'del(.ts)' "$F")" '0//{"hook_event_name":"Stop","task_id":4}' "no flock: the line is appended all the same"
stderr_is "task-hook: flock not found: appending without a lock" "said on stderr"

# ---- concurrent writers: whole lines ----
# 8 writers (tasks 1-8) x 1000 events, each with a 20 KiB prompt of its
# task's letter and its own sequence number.
rm -f "$F" "$F.lock"
big=$(head -c 20480 /dev/zero | tr '\0' x)
t0=$(now_ms)
for w in 1 2 3 4 5 6 7 8; do
	(
		p=$(printf '%s' "$big" | tr x "$(echo abcdefgh | cut -c "$w")")
		i=0
		while [ "$i" -lt 1000 ]; do
			printf '{"hook_event_name":"UserPromptSubmit","seq":%d,"prompt":"%s"}\n' "$i" "$p" |
				TASK_ID=$w TASK_HOOKS_FILE=$F task-hook >>"$T/conc.out" 2>&1
			i=$((i + 1))
		done
	) &
done
wait
t1=$(now_ms)
diag "8 x 1000 task-hook runs: $((t1 - t0)) ms"
is "$(wc -c <"$T/conc.out" | tr -d ' ')" 0 "8 concurrent writers x 1000 events: nothing printed"
is "$(wc -l <"$F" | tr -d ' ')" 8000 "8000 lines"
jq -c . "$F" >"$T/parsed"
is "$?/$(wc -l <"$T/parsed" | tr -d ' ')" "0/8000" "every one of them valid JSON (jq -c . reads 8000 values)"
# One summary line per event: task, seq, prompt length, the prompt's letters.
jq -r '[.task_id, .seq, (.prompt | length), (.prompt[0:1] as $c | if (.prompt | test("^" + $c + "+$")) then $c else "mixed" end)] | @tsv' "$T/parsed" >"$T/summary"
is "$(awk -F '\t' '$3 != 20480 || $4 != substr("abcdefgh", $1, 1)' "$T/summary" | wc -l | tr -d ' ')" 0 \
	"each whole: a 20 KiB prompt of its writer's letter only"
is "$(cut -f 1,2 "$T/summary" | sort -u | wc -l | tr -d ' ')" 8000 "each (task, seq) once: none lost, none twice"
bad=0
for w in 1 2 3 4 5 6 7 8; do
	awk -F '\t' -v w="$w" '$1 == w { print $2 }' "$T/summary" >"$T/seq"
	seq 0 999 | cmp -s - "$T/seq" || bad=$((bad + 1))
done
is "$bad" 0 "each writer's events in the order it wrote them"

plan "$tap_n"
done_testing
