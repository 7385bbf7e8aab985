/* hookmap.c: a Claude Code hook event's effect on a task (see hookmap.h and
 * task-workflow section 4). */
#include "hookmap.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	enum hook_kind kind;
} kinds[] = {
	{ "SessionStart", HOOK_SESSION_START },
	{ "UserPromptSubmit", HOOK_PROMPT },
	{ "PreToolUse", HOOK_PRE_TOOL },
	{ "PostToolUse", HOOK_POST_TOOL },
	{ "PermissionRequest", HOOK_PERMISSION },
	{ "Notification", HOOK_NOTIFICATION },
	{ "Stop", HOOK_STOP },
	{ "SessionEnd", HOOK_SESSION_END },
};

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
	ev->kind = HOOK_QUIET;
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (!strcmp(ev->name, kinds[i].name))
			ev->kind = kinds[i].kind;
	ev->session_id = str(obj, "session_id");
	ev->prompt = str(obj, "prompt");
	ev->tool_name = str(obj, "tool_name");
	ev->notification_type = str(obj, "notification_type");
	ev->message = str(obj, "message");
	ev->reason = str(obj, "reason");
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
	if (n > HOOK_TEXT_MAX - 1 - *len)
		n = HOOK_TEXT_MAX - 1 - *len; /* cannot happen with our cuts; never overflow */
	memcpy(buf + *len, s, n);
	*len += n;
	buf[*len] = '\0';
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
	if (d) {
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

/* Statuses: only processing <-> blocked moves here.  Logs are written for a
 * started task whatever its status, so a done or archived task (which hooks
 * never move: only the user sets done) still shows what its agent did; the
 * caller has already left out tasks that never started. */
void hook_map(const struct hook_event *ev, const struct hook_task *t, struct hook_effect *eff)
{
	int processing = !strcmp(t->status, "processing");
	int blocked = !strcmp(t->status, "blocked");
	size_t len;
	char *b;

	eff->new_status = NULL;
	eff->set_session = NULL;
	eff->nlogs = 0;
	switch (ev->kind) {
	case HOOK_SESSION_START: {
		if (!ev->session_id || !*ev->session_id)
			break;
		/* Once per id: /clear and restarts bring new ids, /compact the same. */
		size_t n = utf8_prefix(ev->session_id, HOOK_CUT);
		if (strlen(t->session_id) == n && !strncmp(t->session_id, ev->session_id, n))
			break;
		b = add_log(eff, "system", &len);
		put(b, &len, "Claude session: ", SIZE_MAX);
		put(b, &len, ev->session_id, HOOK_CUT);
		eff->set_session = b + strlen("Claude session: ");
		break;
	}
	case HOOK_PROMPT:
		if (blocked)
			eff->new_status = "processing";
		if (ev->prompt && *ev->prompt) {
			b = add_log(eff, "user", &len);
			put(b, &len, ev->prompt, HOOK_CUT);
		}
		break;
	case HOOK_PRE_TOOL:
		if (blocked) {
			eff->new_status = "processing";
			log_text(eff, "system", "Agent resumed working");
		}
		b = add_log(eff, "pending_tool", &len);
		hook_tool_detail(ev->tool_name, ev->tool_input, HOOK_CUT, b, HOOK_TEXT_MAX);
		break;
	case HOOK_POST_TOOL:
		b = add_log(eff, "tool", &len);
		put_summary(b, &len, ev, !strcmp(ev->tool_name, "Bash") ? HOOK_CUT_BASH_POST : HOOK_CUT);
		/* A question (the task app's "needs input", our "Task needs review")
		 * keeps the task blocked: the tool ending does not answer it. */
		if (blocked && !question_in_last3(eff, t))
			eff->new_status = "processing";
		break;
	case HOOK_PERMISSION:
		/* The dialog is on screen now: block at once, without waiting ~6 s
		 * for the permission_prompt Notification. */
		if (processing)
			eff->new_status = "blocked";
		b = add_log(eff, "system", &len);
		put(b, &len, "Waiting for permission: ", SIZE_MAX);
		put_summary(b, &len, ev, HOOK_CUT);
		break;
	case HOOK_NOTIFICATION: {
		const char *nt = ev->notification_type ? ev->notification_type : "";
		int perm = !strcmp(nt, "permission_prompt");
		if (!perm && strcmp(nt, "idle_prompt") && strcmp(nt, "elicitation_dialog"))
			break; /* other notifications say nothing about the task */
		if (blocked)
			break; /* already waiting, and already said why */
		if (processing)
			eff->new_status = "blocked";
		if (!perm) {
			log_text(eff, "system", "Waiting for user input");
		} else {
			b = add_log(eff, "system", &len);
			put(b, &len, "Waiting for permission", SIZE_MAX);
			if (ev->message && *ev->message) {
				put(b, &len, ": ", SIZE_MAX);
				put(b, &len, ev->message, HOOK_CUT);
			}
		}
		break;
	}
	case HOOK_STOP:
		/* The end of every turn (Claude Code sends no stop_reason). */
		if (processing)
			eff->new_status = "blocked";
		log_text(eff, "system", "Waiting for user input");
		break;
	case HOOK_SESSION_END: {
		const char *reason = ev->reason && *ev->reason ? ev->reason : "unknown";
		if (!strcmp(reason, "clear"))
			break; /* /clear: a new session follows at once; the agent is still there */
		b = add_log(eff, "system", &len);
		put(b, &len, "Agent exited (", SIZE_MAX);
		put(b, &len, reason, HOOK_CUT);
		put(b, &len, ")", SIZE_MAX);
		if (processing || blocked) {
			if (processing)
				eff->new_status = "blocked";
			log_text(eff, "question", "Task needs review");
		}
		break;
	}
	case HOOK_QUIET:
		break;
	}
}
