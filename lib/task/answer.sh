# shellcheck shell=sh
# answer.sh: task reply to a question the agent asked (Claude Code's
# AskUserQuestion).  hook-apply stores the pending question in settings,
# under sprite_tools.question.ID: its questions, each with its options and
# whether several may be chosen, and "next", the one to answer now.  Each
# reply answers that one, by the keys Claude Code's dialog takes (observed
# with the real CLI, 2.1.x):
#   one choice:  the option's number (with one question, that submits);
#                own text: the number after the options, the text, Enter.
#   any number:  each option's number (each toggles), then Right; own
#                text: Down to the line after the options, the text, then
#                Tab and Enter.
#   after the last of several questions (or of one that takes several), a
#   review screen: 1 submits.
# Sourced by agent.sh.

question_key() { printf "'sprite_tools.question.%s'" "$1"; }

# question_plan JSON ANSWER: what to send for ANSWER to the question JSON:
# a first line "A SUMMARY" (the answer, as the log shows it) or "E MESSAGE"
# (refused), then one line a step: "K KEY" (a key), "T" (the text), or "P"
# (a longer pause: the next screen is drawn).
question_plan() {
	# The A and E lines hold the agent's text and the user's: cleaned, so
	# that each is one line (no step can ride in them) and harmless on a
	# terminal.
	printf '%s' "$1" | jq -r --arg a "$2" "$TASK_JQ_DEFS"'
		.questions as $qs | (.next // 0) as $i | $qs[$i] as $q | ($q.options | length) as $n
		| [if $i + 1 == ($qs | length) and (($qs | length) > 1 or $q.multiSelect) then "P", "K 1" else empty end] as $review
		| ($q.header // "" | if . == "" then "question \($i + 1)" else . end) as $name
		| if $q == null then "E the question was answered already"
		  elif ($a | test("^[0-9]+(,[0-9]+)*$")) then
			($a | split(",") | map(tonumber) | unique) as $ns
			| [$ns[] | select(. < 1 or . > $n)] as $bad
			| if ($ns | length) > 1 and ($q.multiSelect | not) then
				"E \($name | clean) takes one choice: give one number (1-\($n)), or your own text"
			  elif ($bad | length) > 0 then
				"E \($name | clean) has no option \($bad[0]): choose 1-\($n)\(if $q.multiSelect then " (several: 1,3)" else "" end), or give your own text"
			  else
				"A \("\($name): \([$ns[] | $q.options[. - 1].label] | join(", "))" | clean)",
				($ns[] | "K \(.)"),
				(if $q.multiSelect then "K Right" else empty end),
				$review[]
			  end
		  else
			"A \("\($name): \($a)" | clean)",
			(if $q.multiSelect then (range($n) | "K Down"), "T", "K Tab", "K Enter"
			 else "K \($n + 1)", "T", "K Enter" end),
			$review[]
		  end'
}

# question_step STEP: press a key (K KEY) or type the answer's text (T,
# from $TASK_TMP/text) in the loaded task's agent, one step at a time: the
# dialog takes a burst of keys for a paste.
question_step() {
	case $1 in
	P) sleep 0.4; return 0 ;;
	T) agent_paste "$TASK_TMP/text" ;;
	K*) agent_keys "${1#K }" ;;
	esac
	sleep 0.15
}

# question_answer ID ANSWER JSON: answer the question JSON pending for task
# ID (loaded by agent_target) with ANSWER: option numbers, or text.
question_answer() {
	task_tmpdir
	question_plan "$3" "$2" >"$TASK_TMP/plan" || die "cannot read task $1's question"
	IFS= read -r _first <"$TASK_TMP/plan"
	case $_first in
	E\ *) usage_die "${_first#E }: nothing sent" ;;
	A\ *) ;;
	*) die "cannot read task $1's question" ;;
	esac
	printf '%s' "$2" >"$TASK_TMP/text"
	agent_target "$1"
	sed 1d "$TASK_TMP/plan" >"$TASK_TMP/steps"
	while IFS= read -r _step; do
		question_step "$_step"
	done <"$TASK_TMP/steps"
	# The next question is the one to answer now (the last one's answer
	# ends it: hook-apply drops it when the tool returns).
	sql "UPDATE settings SET value = json_set(value, '\$.next', json_extract(value, '\$.next') + 1)
		WHERE key = $(question_key "$T_ID") AND value = $(lit "$3");
		INSERT INTO task_logs(task_id, line_type, content) VALUES ($T_ID, 'user', $(lit "Answer to ${_first#A }"))" ||
		die "the answer was sent, but cannot record it in $DB"
}
