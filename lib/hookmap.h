/* hookmap.h: what a Claude Code hook event does to a task (task-workflow
 * section 4), as pure functions: no database, no I/O, so that the mapping
 * can be tested on its own and hook-apply only has to carry it out. */
#ifndef SPRITE_HOOKMAP_H
#define SPRITE_HOOKMAP_H

#include <stddef.h>
#include <jansson.h>

/* Quoted fields (prompts, tool details, messages) are cut to this many
 * characters; a Bash command in a PostToolUse log to HOOK_CUT_BASH_POST;
 * what the agent said at the end of a turn (or of a failed one) to
 * HOOK_CUT_SAID. */
#define HOOK_CUT 200
#define HOOK_CUT_BASH_POST 100
#define HOOK_CUT_SAID 2000

enum hook_kind {
	HOOK_QUIET,          /* accepted, no effect: InstructionsLoaded, PostToolBatch, ... */
	HOOK_SESSION_START,
	HOOK_PROMPT,         /* UserPromptSubmit */
	HOOK_PRE_TOOL,
	HOOK_POST_TOOL,
	HOOK_PERMISSION,     /* PermissionRequest */
	HOOK_NOTIFICATION,
	HOOK_STOP,
	HOOK_STOP_FAILURE,   /* the turn ended on an API error */
	HOOK_SUBAGENT_STOP,
	HOOK_PRE_COMPACT,
	HOOK_SESSION_END,
};

/* The events Claude Code is told to send (the hooks task installs), with
 * their matchers, in the order of task-workflow section 4: the table in
 * hookmap.c.  hook_settings_json builds Claude Code's settings from it. */
json_t *hook_settings_json(const char *command);

/* An event as read from its payload.  The strings point into the json_t it
 * was parsed from and live as long as it does; absent fields are NULL. */
struct hook_event {
	const char *name;       /* hook_event_name */
	enum hook_kind kind;
	long long task_id;
	long long ts;           /* Unix time in ms from the hook writer, or -1 */
	const char *session_id, *prompt, *tool_name, *notification_type, *message, *reason;
	const char *said;       /* last_assistant_message: Stop's, StopFailure's */
	const char *error, *error_details; /* StopFailure's */
	const char *agent_type, *trigger;  /* SubagentStop's, PreCompact's */
	json_t *tool_input;
};

/* Read an event object.  0, or -1 with a message in err ("no task_id", ...)
 * when it is not a hook event we can act on. */
int hook_event_parse(json_t *obj, struct hook_event *ev, char *err, size_t errlen);

/* The task, as the mapping needs to see it. */
struct hook_task {
	const char *status;          /* "processing", "blocked", "done", ... */
	const char *session_id;      /* claude_session_id ("" when none) */
	const char *recent[3];       /* line_type of its last task_logs rows, newest first */
	int nrecent;
};

/* AskUserQuestion: at most this many questions are shown, of at most
 * HOOK_OPTIONS_MAX options each (Claude Code asks 1-4 of 2-4). */
#define HOOK_QUESTIONS_MAX 4
#define HOOK_OPTIONS_MAX 8
#define HOOK_LOG_MAX (HOOK_QUESTIONS_MAX + 1)
#define HOOK_TEXT_MAX 8192   /* room for any log content we make (see hook_map) */

struct hook_log {
	const char *line_type;
	const char *content;         /* points into the effect's text[] */
};

struct hook_effect {
	const char *new_status;      /* NULL: unchanged */
	const char *set_session;     /* non-NULL: store it as claude_session_id */
	/* A question now pending (AskUserQuestion's dialog is on screen):
	 * {"questions":[{"header","question","multiSelect","options":[{"label",
	 * "description"}]}],"next":0}, owned by the effect (hook_effect_done
	 * frees it); or, question_clear, none pending any more. */
	json_t *question;
	int question_clear;
	int nlogs;                   /* rows to append to task_logs, in order */
	struct hook_log logs[HOOK_LOG_MAX];
	char text[HOOK_LOG_MAX][HOOK_TEXT_MAX];
};

/* What ev does to a started task t.  Only processing <-> blocked moves are
 * ever made; logs are made whatever the status (see hook_map in hookmap.c). */
void hook_map(const struct hook_event *ev, const struct hook_task *t, struct hook_effect *eff);
void hook_effect_done(struct hook_effect *eff);

/* Byte length of the first max_chars characters of the UTF-8 string s (all
 * of it when shorter).  A byte that does not start a valid sequence counts
 * as one character, so a cut never splits a valid character. */
size_t utf8_prefix(const char *s, size_t max_chars);

/* The detail of a tool call (Bash command, Read/Write/Edit file_path,
 * Glob/Grep pattern, Task/Agent description, WebFetch url, WebSearch query)
 * cut to max_chars, copied into out; the tool name alone (also cut) for other
 * tools, or when the field is missing.  Returns 1 when a detail was found, 0
 * when out holds the name. */
int hook_tool_detail(const char *tool, json_t *input, size_t max_chars, char *out, size_t outlen);

#endif
