/* taskdb.h: the task database (task-workflow section 3), shared with the task
 * app's own TUI: opening it the way every writer must, creating or migrating
 * its tables, and the few reads and writes that hook events make. */
#ifndef SPRITE_TASKDB_H
#define SPRITE_TASKDB_H

#include <stddef.h>

/* Our own schema's version, kept in the settings table under
 * TASKDB_VERSION_KEY (PRAGMA user_version is left to the task app). */
#define TASKDB_VERSION 1
#define TASKDB_VERSION_KEY "sprite_tools.hook_apply_schema"

struct taskdb;

/* Open path with journal_mode=WAL, foreign_keys=ON, a 10 s busy timeout and
 * synchronous=NORMAL.  With create, a missing file is created and the tables
 * are created or migrated; without it the file must exist and is left as it
 * is (for reads).  NULL with a message naming the file in err on failure.
 * The first call sets SQLite up for use from one thread only: a process
 * uses its databases from one thread. */
struct taskdb *taskdb_open(const char *path, int create, char *err, size_t errlen);
void taskdb_close(struct taskdb *db);

/* The last error, for messages. */
const char *taskdb_errmsg(struct taskdb *db);

/* A write transaction (BEGIN IMMEDIATE: the write lock is taken at once, so
 * what is read inside stays true until the commit).  0 or -1. */
int taskdb_begin(struct taskdb *db);
int taskdb_commit(struct taskdb *db);
void taskdb_rollback(struct taskdb *db);

/* A task as hook events see it; strings are malloc'd. */
struct taskdb_task {
	char *status;           /* "" when NULL */
	char *session_id;       /* claude_session_id, "" when NULL */
	int started;            /* started_at is set */
	char *sprite;           /* its project's sprite; "" when it has no project */
	int question;           /* its agent waits on a question (settings sprite_tools.question.ID) */
};
/* 1 found, 0 no such task, -1 error. */
int taskdb_get_task(struct taskdb *db, long long id, struct taskdb_task *t);
void taskdb_task_free(struct taskdb_task *t);

/* The line_type of the task's last n (at most 3) task_logs rows, newest
 * first, copied into types[i] (each at least 16 bytes; longer types are
 * cut, which is harmless: only "question" is looked for).  Returns how many,
 * or -1. */
int taskdb_recent_logs(struct taskdb *db, long long id, char types[][16], int n);

/* Writes; each 0 or -1.  Status and session changes stamp updated_at.  A log
 * row's created_at is ts_ms (Unix ms, when the hook fired) when >= 0, else
 * the current time. */
int taskdb_set_status(struct taskdb *db, long long id, const char *status);
int taskdb_set_session(struct taskdb *db, long long id, const char *session_id);
int taskdb_add_log(struct taskdb *db, long long id, const char *line_type, const char *content,
                   long long ts_ms);
/* The question the task's agent waits on, as JSON (see struct hook_effect),
 * or none (json NULL). */
int taskdb_set_question(struct taskdb *db, long long id, const char *json);

/* hook_cursors: the stored cursor of source (malloc'd JSON text; *json NULL
 * when there is none), and storing one.  0 or -1. */
int taskdb_get_cursor(struct taskdb *db, const char *source, char **json);
int taskdb_put_cursor(struct taskdb *db, const char *source, const char *json);

#endif
