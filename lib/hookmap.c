/* hookmap.c: a Claude Code hook event's effect on a task (see hookmap.h and
 * task-workflow section 4). */
#include "hookmap.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The field that says what a tool call does.  Claude Code 2.1 calls the
 * subagent tool "Agent" where earlier versions said "Task": same input. */
static const struct {
	const char *tool, *field;
} details[] = {
	{ "Bash", "command" },    { "Read", "file_path" },  { "Write", "file_path" },
	{ "Edit", "file_path" },  { "Glob", "pattern" },    { "Grep", "pattern" },
	{ "Task", "description" }, { "Agent", "description" }, { "WebFetch", "url" },
	{ "WebSearch", "query" },
};

static enum hook_kind rule_kind(const char *name); /* from the table, below */

static const char *str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* A task id: a non-negative integer, or a string of at most 18 digits (so it
 * fits in 64 bits).  -1 when it is neither. */
static long long parse_task_id(json_t *v)
{
	if (json_is_integer(v))
		return json_integer_value(v) >= 0 ? (long long)json_integer_value(v) : -1;
	const char *s = json_string_value(v);
	if (!s || !*s || strlen(s) > 18)
		return -1;
	long long n = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		n = n * 10 + (*s - '0');
	}
	return n;
}

int hook_event_parse(json_t *obj, struct hook_event *ev, char *err, size_t errlen)
{
	memset(ev, 0, sizeof *ev);
	ev->name = str(obj, "hook_event_name");
	if (!ev->name) {
		snprintf(err, errlen, "not a hook event (no hook_event_name)");
		return -1;
	}
	json_t *id = json_object_get(obj, "task_id");
	if (!id) {
		snprintf(err, errlen, "%.60s event without task_id", ev->name);
		return -1;
	}
	ev->task_id = parse_task_id(id);
	if (ev->task_id < 0) {
		snprintf(err, errlen, "%.60s event with a bad task_id (want an integer or a string of digits)",
		         ev->name);
		return -1;
	}
	json_t *ts = json_object_get(obj, "ts");
	ev->ts = json_is_integer(ts) && json_integer_value(ts) >= 0 ? (long long)json_integer_value(ts) : -1;
	ev->kind = rule_kind(ev->name);
	ev->session_id = str(obj, "session_id");
	ev->prompt = str(obj, "prompt");
	ev->tool_name = str(obj, "tool_name");
	ev->notification_type = str(obj, "notification_type");
	ev->message = str(obj, "message");
	ev->reason = str(obj, "reason");
	ev->said = str(obj, "last_assistant_message");
	ev->error = str(obj, "error");
	ev->error_details = str(obj, "error_details");
	ev->agent_type = str(obj, "agent_type");
	ev->trigger = str(obj, "trigger");
	ev->tool_input = json_object_get(obj, "tool_input");
	if ((ev->kind == HOOK_PRE_TOOL || ev->kind == HOOK_POST_TOOL || ev->kind == HOOK_PERMISSION) &&
	    (!ev->tool_name || !*ev->tool_name)) {
		snprintf(err, errlen, "%s event without tool_name", ev->name);
		return -1;
	}
	return 0;
}

/* Length of the UTF-8 sequence at p (2-4) when it is one, else 1. */
static size_t seq_len(const unsigned char *p)
{
	size_t n = p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc2 && p[0] < 0xe0 ? 2 : 1;
	if (p[0] > 0xf4)
		n = 1;
	for (size_t i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 1;
	return n;
}

size_t utf8_prefix(const char *s, size_t max_chars)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = 0;
	for (size_t n = 0; n < max_chars && p[len]; n++)
		len += p[len] < 0x80 ? 1 : seq_len(p + len);
	return len;
}

/* Append to a log text: s cut to max_chars characters, within the room left. */
static void put(char *buf, size_t *len, const char *s, size_t max_chars)
{
	size_t n = utf8_prefix(s, max_chars);
	if (n > HOOK_TEXT_MAX - 1 - *len) {
		/* Out of room (a long message of 4-byte characters after an
		 * error kind): cut there, but never inside a character. */
		n = HOOK_TEXT_MAX - 1 - *len;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(buf + *len, s, n);
	*len += n;
	buf[*len] = '\0';
}

/* before, s cut to max_chars, then after; nothing when s is NULL or empty. */
static void put_part(char *buf, size_t *len, const char *before, const char *s, size_t max_chars,
                     const char *after)
{
	if (!s || !*s)
		return;
	put(buf, len, before, SIZE_MAX);
	put(buf, len, s, max_chars);
	put(buf, len, after, SIZE_MAX);
}

static const char *detail_field(const char *tool, json_t *input)
{
	for (size_t i = 0; i < sizeof details / sizeof details[0]; i++)
		if (!strcmp(tool, details[i].tool))
			return str(input, details[i].field);
	return NULL;
}

int hook_tool_detail(const char *tool, json_t *input, size_t max_chars, char *out, size_t outlen)
{
	const char *d = detail_field(tool, input);
	const char *s = d ? d : tool;
	size_t n = utf8_prefix(s, d ? max_chars : HOOK_CUT);
	if (n >= outlen)
		n = outlen ? outlen - 1 : 0;
	if (outlen) {
		memcpy(out, s, n);
		out[n] = '\0';
	}
	return d != NULL;
}

/* "<Tool>: <detail>" with the detail cut to max_chars, or the tool name
 * alone when it has no detail to show. */
static void put_summary(char *buf, size_t *len, const struct hook_event *ev, size_t max_chars)
{
	const char *d = detail_field(ev->tool_name, ev->tool_input);
	put(buf, len, ev->tool_name, HOOK_CUT);
	if (d) { /* an empty detail too: "Bash: " */
		put(buf, len, ": ", 2);
		put(buf, len, d, max_chars);
	}
}

/* Start a new log row; returns its text buffer, empty, with *len set to 0. */
static char *add_log(struct hook_effect *eff, const char *type, size_t *len)
{
	int i = eff->nlogs++;
	eff->logs[i].line_type = type;
	eff->logs[i].content = eff->text[i];
	eff->text[i][0] = '\0';
	*len = 0;
	return eff->text[i];
}

static void log_text(struct hook_effect *eff, const char *type, const char *text)
{
	size_t len;
	char *b = add_log(eff, type, &len);
	put(b, &len, text, SIZE_MAX);
}

/* Is there a 'question' among the task's last 3 rows, counting the rows this
 * event is adding (newest first)?  As the task app does, PostToolUse checks
 * after its own tool row is in. */
static int question_in_last3(const struct hook_effect *eff, const struct hook_task *t)
{
	int seen = 0;
	for (int i = eff->nlogs - 1; i >= 0 && seen < 3; i--, seen++)
		if (!strcmp(eff->logs[i].line_type, "question"))
			return 1;
	for (int i = 0; i < t->nrecent && seen < 3; i++, seen++)
		if (t->recent[i] && !strcmp(t->recent[i], "question"))
			return 1;
	return 0;
}

/* ---- each event's effect ----
 * Statuses: only processing <-> blocked moves here.  Logs are written for a
 * started task whatever its status, so a done or archived task (which hooks
 * never move: only the user sets done) still shows what its agent did; the
 * caller has already left out tasks that never started. */

static int is(const struct hook_task *t, const char *status)
{
	return !strcmp(t->status, status);
}

static void map_session_start(const struct hook_event *ev, const struct hook_task *t, struct hook_effect *eff)
{
	if (!ev->session_id || !*ev->session_id)
		return;
	/* Once per id: /clear and restarts bring new ids, /compact the same. */
	size_t n = utf8_prefix(ev->session_id, HOOK_CUT);
	if (strlen(t->session_id) == n && !strncmp(t->session_id, ev->session_id, n))
		return;
	size_t len;
	char *b = add_log(eff, "system", &len);
	put(b, &len, "Claude session: ", SIZE_MAX);
	put(b, &len, ev->session_id, HOOK_CUT);
	eff->set_session = b + strlen("Claude session: ");
}

static void map_prompt(const struct hook_event *ev, const struct hook_task *t, struct hook_effect *eff)
{
	if (is(t, "blocked"))
		eff->new_status = "processing";
	eff->question_clear = 1;
	if (ev->prompt && *ev->prompt) {
		size_t len;
		char *b = add_log(eff, "user", &len);
		put(b, &len, ev->prompt, HOOK_CUT);
	}
}

static int is_question_tool(const struct hook_event *ev)
{
	return !strcmp(ev->tool_name, "AskUserQuestion");
}

static void map_pre_tool(const struct hook_event *ev, const struct hook_task *t, struct hook_effect *eff)
{
	if (is(t, "blocked")) {
		eff->new_status = "processing";
		log_text(eff, "system", "Agent resumed working");
	}
	if (!is_question_tool(ev))
		eff->question_clear = 1;
	size_t len;
	char *b = add_log(eff, "pending_tool", &len);
	hook_tool_detail(ev->tool_name, ev->tool_input, HOOK_CUT, b, HOOK_TEXT_MAX);
}

static void map_post_tool(const struct hook_event *ev, const struct hook_task *t, struct hook_effect *eff)
{
	size_t len;
	char *b = add_log(eff, "tool", &len);
	put_summary(b, &len, ev, !strcmp(ev->tool_name, "Bash") ? HOOK_CUT_BASH_POST : HOOK_CUT);
	eff->question_clear = 1;
	/* A question (the task app's "needs input", our "Task needs review")
	 * keeps the task blocked: the tool ending does not answer it.  The
	 * end of AskUserQuestion is its answer. */
	if (is(t, "blocked") && (is_question_tool(ev) || !question_in_last3(eff, t)))
		eff->new_status = "processing";
}

/* s cut to max characters, on one line, as a new JSON string (NULL when s
 * is NULL): control characters (C0, DEL, C1) become spaces.  It is shown
 * on one line, and task reply builds its keys from it. */
static json_t *cut_string(const char *s, size_t max)
{
	if (!s)
		return NULL;
	size_t n = utf8_prefix(s, max);
	char *line = malloc(n + 1);
	if (!line)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		line[i] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
		if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 && (unsigned char)s[i + 1] <= 0x9f) {
			line[i] = ' '; /* U+0080-U+009F: two bytes, two spaces */
			line[++i] = ' ';
		}
	}
	json_t *str = json_stringn(line, n);
	free(line);
	return str;
}

/* AskUserQuestion's questions, as far as they make sense: each with its
 * question and at least one labelled option; NULL when none does.  The
 * input is the agent's, untrusted: only what we show is kept, cut. */
static json_t *questions_of(json_t *input)
{
	json_t *in = json_object_get(input, "questions"), *out = json_array();
	size_t i;
	json_t *q;
	json_array_foreach(in, i, q) {
		if (json_array_size(out) == HOOK_QUESTIONS_MAX)
			break;
		json_t *text = cut_string(str(q, "question"), HOOK_CUT), *opts = json_array();
		size_t j;
		json_t *o;
		json_array_foreach(json_object_get(q, "options"), j, o) {
			if (json_array_size(opts) == HOOK_OPTIONS_MAX)
				break;
			json_t *label = cut_string(str(o, "label"), 60);
			if (!label)
				continue;
			json_t *desc = cut_string(str(o, "description"), 80);
			json_array_append_new(opts, json_pack("{s:o,s:o}", "label", label, "description",
			                                      desc ? desc : json_string("")));
		}
		if (!text || !json_array_size(opts)) {
			json_decref(text);
			json_decref(opts);
			continue;
		}
		json_t *header = cut_string(str(q, "header"), 30);
		json_array_append_new(out, json_pack("{s:o,s:o,s:b,s:o}", "header", header ? header : json_string(""),
		                                     "question", text, "multiSelect",
		                                     json_is_true(json_object_get(q, "multiSelect")), "options", opts));
	}
	if (!json_array_size(out)) {
		json_decref(out);
		return NULL;
	}
	return json_pack("{s:o,s:i}", "questions", out, "next", 0);
}

/* "Question 1/2 (Color, choose one): Which color? 1. Red (warm); 2. Blue
 * (cool); or an answer of your own" */
static void put_question(char *b, size_t *len, json_t *q, size_t i, size_t n)
{
	char num[48];
	snprintf(num, sizeof num, "Question %zu/%zu (", i + 1, n);
	put(b, len, num, SIZE_MAX);
	put_part(b, len, "", str(q, "header"), SIZE_MAX, ", ");
	put(b, len, json_is_true(json_object_get(q, "multiSelect")) ? "choose any" : "choose one", SIZE_MAX);
	put(b, len, "): ", SIZE_MAX);
	put(b, len, str(q, "question"), SIZE_MAX);
	size_t j;
	json_t *o;
	json_array_foreach(json_object_get(q, "options"), j, o) {
		snprintf(num, sizeof num, j ? "; %zu. " : " %zu. ", j + 1);
		put(b, len, num, SIZE_MAX);
		put(b, len, str(o, "label"), SIZE_MAX);
		put_part(b, len, " (", str(o, "description"), SIZE_MAX, ")");
	}
	put(b, len, "; or an answer of your own", SIZE_MAX);
}

static void map_permission(const struct hook_event *ev, const struct hook_task *t, struct hook_effect *eff)
{
	/* The dialog is on screen now: block at once, without waiting ~6 s
	 * for the permission_prompt Notification. */
	if (is(t, "processing"))
		eff->new_status = "blocked";
	json_t *qs = is_question_tool(ev) ? questions_of(ev->tool_input) : NULL;
	size_t len;
	if (qs) {
		/* A question, not a permission: each one, its options numbered,
		 * for task reply to answer. */
		json_t *list = json_object_get(qs, "questions");
		size_t i;
		json_t *q;
		json_array_foreach(list, i, q) {
			char *b = add_log(eff, "question", &len);
			put_question(b, &len, q, i, json_array_size(list));
		}
		eff->question = qs;
		return;
	}
	char *b = add_log(eff, "system", &len);
	put(b, &len, "Waiting for permission: ", SIZE_MAX);
	put_summary(b, &len, ev, HOOK_CUT);
}

static void map_notification(const struct hook_event *ev, const struct hook_task *t, struct hook_effect *eff)
{
	const char *nt = ev->notification_type ? ev->notification_type : "";
	int perm = !strcmp(nt, "permission_prompt");
	if (!perm && strcmp(nt, "idle_prompt") && strcmp(nt, "elicitation_dialog"))
		return; /* other notifications say nothing about the task */
	if (is(t, "blocked"))
		return; /* already waiting, and already said why */
	if (is(t, "processing"))
		eff->new_status = "blocked";
	size_t len;
	char *b = add_log(eff, "system", &len);
	put(b, &len, perm ? "Waiting for permission" : "Waiting for user input", SIZE_MAX);
	put_part(b, &len, ": ", ev->message, HOOK_CUT, "");
}

static void map_stop(const struct hook_event *ev, const struct hook_task *t, struct hook_effect *eff)
{
	/* The end of every turn (Claude Code sends no stop_reason), with what
	 * the agent said last. */
	if (is(t, "processing"))
		eff->new_status = "blocked";
	eff->question_clear = 1;
	if (ev->said && *ev->said) {
		size_t len;
		char *b = add_log(eff, "text", &len);
		put(b, &len, ev->said, HOOK_CUT_SAID);
	}
	log_text(eff, "system", "Waiting for user input");
}

static void map_stop_failure(const struct hook_event *ev, const struct hook_task *t, struct hook_effect *eff)
{
	/* The turn ended on an API error (a bad key, a prompt too long, the API
	 * overloaded after Claude Code's retries): the agent waits at its
	 * prompt.  The error as the CLI showed it, else as the API gave it. */
	if (is(t, "processing"))
		eff->new_status = "blocked";
	eff->question_clear = 1;
	size_t len;
	char *b = add_log(eff, "error", &len);
	put(b, &len, "API error", SIZE_MAX);
	put_part(b, &len, " (", ev->error, 60, ")");
	put_part(b, &len, ": ", ev->said && *ev->said ? ev->said : ev->error_details, HOOK_CUT_SAID, "");
}

static void map_subagent_stop(const struct hook_event *ev, const struct hook_task *t, struct hook_effect *eff)
{
	(void)t; /* not the end of the turn: no status */
	size_t len;
	char *b = add_log(eff, "system", &len);
	put(b, &len, "Subagent finished", SIZE_MAX);
	put_part(b, &len, ": ", ev->agent_type, 60, "");
}

static void map_pre_compact(const struct hook_event *ev, const struct hook_task *t, struct hook_effect *eff)
{
	(void)t;
	size_t len;
	char *b = add_log(eff, "system", &len);
	put(b, &len, "Compacting the conversation", SIZE_MAX);
	put_part(b, &len, " (", ev->trigger, 20, ")");
}

static void map_session_end(const struct hook_event *ev, const struct hook_task *t, struct hook_effect *eff)
{
	const char *reason = ev->reason && *ev->reason ? ev->reason : "unknown";
	if (!strcmp(reason, "clear"))
		return; /* /clear: a new session follows at once; the agent is still there */
	eff->question_clear = 1;
	size_t len;
	char *b = add_log(eff, "system", &len);
	put_part(b, &len, "Agent exited (", reason, HOOK_CUT, ")");
	if (is(t, "processing") || is(t, "blocked")) {
		if (is(t, "processing"))
			eff->new_status = "blocked";
		log_text(eff, "question", "Task needs review");
	}
}

/* ---- the mapping: task-workflow section 4, as one table ----
 * Every event task installs a hook for, with the hook's matcher (NULL: all
 * of the event), and what it does to a task; indexed by its kind, so that
 * an event's name is looked up once, when it is parsed.  Other events
 * (InstructionsLoaded, PostToolBatch, PostCompact, what later versions
 * add) are HOOK_QUIET: accepted and counted, and they do nothing. */
struct hook_rule {
	const char *name;
	const char *matcher;
	void (*map)(const struct hook_event *, const struct hook_task *, struct hook_effect *);
};

static const struct hook_rule rules[] = {
	[HOOK_SESSION_START] = { "SessionStart", "startup|resume|clear|compact", map_session_start },
	[HOOK_PROMPT] = { "UserPromptSubmit", NULL, map_prompt },
	[HOOK_PRE_TOOL] = { "PreToolUse", NULL, map_pre_tool },
	[HOOK_POST_TOOL] = { "PostToolUse", NULL, map_post_tool },
	[HOOK_PERMISSION] = { "PermissionRequest", NULL, map_permission },
	[HOOK_NOTIFICATION] = { "Notification", "permission_prompt|idle_prompt|elicitation_dialog", map_notification },
	[HOOK_STOP] = { "Stop", NULL, map_stop },
	[HOOK_STOP_FAILURE] = { "StopFailure", NULL, map_stop_failure },
	[HOOK_SUBAGENT_STOP] = { "SubagentStop", NULL, map_subagent_stop },
	[HOOK_PRE_COMPACT] = { "PreCompact", NULL, map_pre_compact },
	[HOOK_SESSION_END] = { "SessionEnd", NULL, map_session_end },
};

static enum hook_kind rule_kind(const char *name)
{
	for (size_t k = HOOK_QUIET + 1; k < sizeof rules / sizeof rules[0]; k++)
		if (!strcmp(name, rules[k].name))
			return (enum hook_kind)k;
	return HOOK_QUIET;
}

void hook_map(const struct hook_event *ev, const struct hook_task *t, struct hook_effect *eff)
{
	eff->new_status = NULL;
	eff->set_session = NULL;
	eff->question = NULL;
	eff->question_clear = 0;
	eff->nlogs = 0;
	if (ev->kind != HOOK_QUIET)
		rules[ev->kind].map(ev, t, eff);
}

void hook_effect_done(struct hook_effect *eff)
{
	json_decref(eff->question);
	eff->question = NULL;
}

json_t *hook_settings_json(const char *command)
{
	json_t *hooks = json_object();
	for (size_t k = HOOK_QUIET + 1; k < sizeof rules / sizeof rules[0]; k++) {
		json_t *entry = json_pack("{s:[{s:s,s:s}]}", "hooks", "type", "command", "command", command);
		if (rules[k].matcher)
			json_object_set_new(entry, "matcher", json_string(rules[k].matcher));
		json_object_set_new(hooks, rules[k].name, json_pack("[o]", entry));
	}
	/* Dangerous mode without its warning dialog (task-workflow section 5). */
	return json_pack("{s:b,s:o}", "skipDangerousModePermissionPrompt", 1, "hooks", hooks);
}
