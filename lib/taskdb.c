/* taskdb.c: open, create and migrate the task database, and the statements
 * hook events need (see taskdb.h).  The task app's tables are created exactly
 * as task-workflow section 3 gives them, so that its TUI can open the file. */
#include "taskdb.h"
#include "util.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const create_sql[] = {
	"CREATE TABLE IF NOT EXISTS tasks (id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL,"
	" body TEXT DEFAULT '', status TEXT DEFAULT 'backlog', type TEXT DEFAULT '', project TEXT DEFAULT '',"
	" worktree_path TEXT DEFAULT '', branch_name TEXT DEFAULT '', claude_session_id TEXT DEFAULT '',"
	" daemon_session TEXT DEFAULT '', tmux_window_id TEXT DEFAULT '', permission_mode TEXT DEFAULT '',"
	" created_at DATETIME DEFAULT CURRENT_TIMESTAMP, updated_at DATETIME DEFAULT CURRENT_TIMESTAMP,"
	" started_at DATETIME, completed_at DATETIME)",
	"CREATE TABLE IF NOT EXISTS projects (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE,"
	" path TEXT NOT NULL, sprite_name TEXT DEFAULT '', sprite_status TEXT DEFAULT '',"
	" created_at DATETIME DEFAULT CURRENT_TIMESTAMP)",
	"CREATE TABLE IF NOT EXISTS task_logs (id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" task_id INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE, line_type TEXT DEFAULT 'output',"
	" content TEXT NOT NULL, created_at DATETIME DEFAULT CURRENT_TIMESTAMP)",
	"CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
	/* The task app makes the same index (same name): "the last rows of a
	 * task" must not scan every task's logs. */
	"CREATE INDEX IF NOT EXISTS idx_task_logs_task_id ON task_logs(task_id)",
	/* Ours. */
	("CREATE TABLE IF NOT EXISTS hook_cursors (source TEXT PRIMARY KEY, cursor TEXT NOT NULL,"
	 " updated_at DATETIME DEFAULT CURRENT_TIMESTAMP)"),
};

/* Every column, and how to add it to an older table.  ALTER TABLE cannot add
 * a key, a UNIQUE, a NOT NULL without a default or a CURRENT_TIMESTAMP
 * default: those become the closest it can add (our writes always set the
 * timestamps themselves).  NULL: a table without it is not a task table. */
static const struct column {
	const char *table, *name, *add;
} columns[] = {
	{ "tasks", "id", NULL },
	{ "tasks", "title", "TEXT NOT NULL DEFAULT ''" },
	{ "tasks", "body", "TEXT DEFAULT ''" },
	{ "tasks", "status", "TEXT DEFAULT 'backlog'" },
	{ "tasks", "type", "TEXT DEFAULT ''" },
	{ "tasks", "project", "TEXT DEFAULT ''" },
	{ "tasks", "worktree_path", "TEXT DEFAULT ''" },
	{ "tasks", "branch_name", "TEXT DEFAULT ''" },
	{ "tasks", "claude_session_id", "TEXT DEFAULT ''" },
	{ "tasks", "daemon_session", "TEXT DEFAULT ''" },
	{ "tasks", "tmux_window_id", "TEXT DEFAULT ''" },
	{ "tasks", "permission_mode", "TEXT DEFAULT ''" },
	{ "tasks", "created_at", "DATETIME" },
	{ "tasks", "updated_at", "DATETIME" },
	{ "tasks", "started_at", "DATETIME" },
	{ "tasks", "completed_at", "DATETIME" },
	{ "projects", "id", NULL },
	{ "projects", "name", "TEXT NOT NULL DEFAULT ''" },
	{ "projects", "path", "TEXT NOT NULL DEFAULT ''" },
	{ "projects", "sprite_name", "TEXT DEFAULT ''" },
	{ "projects", "sprite_status", "TEXT DEFAULT ''" },
	{ "projects", "created_at", "DATETIME" },
	{ "task_logs", "id", NULL },
	{ "task_logs", "task_id", NULL },
	{ "task_logs", "line_type", "TEXT DEFAULT 'output'" },
	{ "task_logs", "content", "TEXT NOT NULL DEFAULT ''" },
	{ "task_logs", "created_at", "DATETIME" },
	{ "settings", "key", NULL },
	{ "settings", "value", "TEXT NOT NULL DEFAULT ''" },
	{ "hook_cursors", "source", NULL },
	{ "hook_cursors", "cursor", "TEXT NOT NULL DEFAULT ''" },
	{ "hook_cursors", "updated_at", "DATETIME" },
};

enum {
	S_BEGIN, S_COMMIT, S_ROLLBACK, S_GET_TASK, S_RECENT, S_SET_STATUS, S_SET_SESSION, S_ADD_LOG,
	S_GET_CURSOR, S_PUT_CURSOR, S_SET_QUESTION, S_CLEAR_QUESTION, S_COUNT
};

/* Prepared once, on first use, and reused: hook-apply runs them for every
 * event. */
static const char *const stmt_sql[S_COUNT] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	/* Where the task's agent runs, whose hook events are the task's: the
	 * sprite its agent record names (settings sprite_tools.agent.ID, kept by
	 * task execute), "local" for an agent run on this machine, else its
	 * project's sprite as task names it (sprite_name, else task-PROJECT);
	 * NULL when there is none of these. */
	[S_GET_TASK] = "SELECT t.status, t.started_at IS NOT NULL, t.claude_session_id, coalesce("
	               " (SELECT CASE json_extract(value, '$.where') WHEN 'local' THEN 'local'"
	               "  ELSE nullif(json_extract(value, '$.sprite'), '') END"
	               "  FROM settings WHERE key = 'sprite_tools.agent.' || t.id AND json_valid(value)),"
	               " CASE WHEN coalesce(p.sprite_name, '') = '' THEN 'task-' || p.name ELSE p.sprite_name END),"
	               " EXISTS (SELECT 1 FROM settings WHERE key = 'sprite_tools.question.' || t.id)"
	               " FROM tasks t LEFT JOIN projects p ON p.name = t.project WHERE t.id = ?1",
	[S_RECENT] = "SELECT line_type FROM task_logs WHERE task_id = ?1 ORDER BY id DESC LIMIT ?2",
	[S_SET_STATUS] = "UPDATE tasks SET status = ?2, updated_at = CURRENT_TIMESTAMP WHERE id = ?1",
	[S_SET_SESSION] = "UPDATE tasks SET claude_session_id = ?2, updated_at = CURRENT_TIMESTAMP WHERE id = ?1",
	[S_ADD_LOG] = "INSERT INTO task_logs (task_id, line_type, content, created_at)"
	              " VALUES (?1, ?2, ?3, COALESCE(?4, CURRENT_TIMESTAMP))",
	[S_GET_CURSOR] = "SELECT cursor FROM hook_cursors WHERE source = ?1",
	[S_PUT_CURSOR] = "INSERT INTO hook_cursors (source, cursor, updated_at) VALUES (?1, ?2, CURRENT_TIMESTAMP)"
	                 " ON CONFLICT(source) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at",
	/* The question a task's agent waits on (task reply answers it). */
	[S_SET_QUESTION] = "INSERT OR REPLACE INTO settings (key, value) VALUES ('sprite_tools.question.' || ?1, ?2)",
	[S_CLEAR_QUESTION] = "DELETE FROM settings WHERE key = 'sprite_tools.question.' || ?1",
};

struct taskdb {
	sqlite3 *h;
	sqlite3_stmt *st[S_COUNT];
	char err[512];
	/* The last created_at made, kept: events come many to a second. */
	long long stamp_sec;
	char stamp[24];
};

const char *taskdb_errmsg(struct taskdb *db)
{
	return db->err[0] ? db->err : sqlite3_errmsg(db->h);
}

static int fail(struct taskdb *db)
{
	snprintf(db->err, sizeof db->err, "%s", sqlite3_errmsg(db->h));
	return -1;
}

static sqlite3_stmt *stmt(struct taskdb *db, int i)
{
	if (!db->st[i] &&
	    sqlite3_prepare_v3(db->h, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &db->st[i], NULL) != SQLITE_OK) {
		fail(db);
		return NULL;
	}
	sqlite3_reset(db->st[i]);
	sqlite3_clear_bindings(db->st[i]);
	return db->st[i];
}

/* Step a statement that returns no rows. */
static int run(struct taskdb *db, sqlite3_stmt *s)
{
	if (!s)
		return -1;
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : fail(db);
}

static int exec(struct taskdb *db, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(db->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(db->err, sizeof db->err, "%s", msg ? msg : sqlite3_errmsg(db->h));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

int taskdb_begin(struct taskdb *db) { return run(db, stmt(db, S_BEGIN)); }
int taskdb_commit(struct taskdb *db) { return run(db, stmt(db, S_COMMIT)); }

void taskdb_rollback(struct taskdb *db)
{
	if (!sqlite3_get_autocommit(db->h))
		(void)run(db, stmt(db, S_ROLLBACK));
}

/* Does table have column? 1, 0, or -1. */
static int has_column(struct taskdb *db, const char *table, const char *column)
{
	char *sql = sqlite3_mprintf("SELECT 1 FROM pragma_table_info(%Q) WHERE name = %Q", table, column);
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(db->h, sql, -1, &s, NULL);
	sqlite3_free(sql);
	if (rc != SQLITE_OK)
		return fail(db);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : fail(db);
}

/* Our schema version as stored, 0 when none (or no settings table yet). */
static int stored_version(struct taskdb *db)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db->h, "SELECT value FROM settings WHERE key = '" TASKDB_VERSION_KEY "'", -1, &s,
	                       NULL) != SQLITE_OK)
		return 0;
	int v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
	sqlite3_finalize(s);
	return v;
}

/* Create what is missing, add missing columns, stamp our version: in one
 * write transaction, so that two hook-apply starting together cannot both
 * add the same column. */
static int migrate(struct taskdb *db)
{
	if (stored_version(db) >= TASKDB_VERSION)
		return 0; /* done before (a newer version's schema only adds) */
	if (exec(db, "BEGIN IMMEDIATE") < 0)
		return -1;
	for (size_t i = 0; i < sizeof create_sql / sizeof create_sql[0]; i++)
		if (exec(db, create_sql[i]) < 0)
			goto fail;
	for (size_t i = 0; i < sizeof columns / sizeof columns[0]; i++) {
		const struct column *c = &columns[i];
		int has = has_column(db, c->table, c->name);
		if (has < 0)
			goto fail;
		if (has)
			continue;
		if (!c->add) {
			snprintf(db->err, sizeof db->err, "its table %s has no %s column: it is not a task database",
			         c->table, c->name);
			goto fail;
		}
		char *sql = sqlite3_mprintf("ALTER TABLE %s ADD COLUMN %s %s", c->table, c->name, c->add);
		int r = exec(db, sql);
		sqlite3_free(sql);
		if (r < 0)
			goto fail;
	}
	char *sql = sqlite3_mprintf("INSERT OR REPLACE INTO settings (key, value) VALUES ('%q', '%d')",
	                            TASKDB_VERSION_KEY, TASKDB_VERSION);
	int r = exec(db, sql);
	sqlite3_free(sql);
	if (r < 0 || exec(db, "COMMIT") < 0)
		goto fail;
	return 0;
fail:;
	char keep[sizeof db->err];
	memcpy(keep, db->err, sizeof keep);
	sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
	memcpy(db->err, keep, sizeof keep);
	return -1;
}

struct taskdb *taskdb_open(const char *path, int create, char *err, size_t errlen)
{
	/* A command uses its database from one thread: no mutexes and no
	 * memory statistics to pay for at every statement.  (Refused, and
	 * harmless, once SQLite is initialised.) */
	sqlite3_config(SQLITE_CONFIG_SINGLETHREAD);
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	struct taskdb *db = xcalloc(1, sizeof *db);
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
	int rc = sqlite3_open_v2(path, &db->h, flags, NULL);
	if (rc != SQLITE_OK) {
		int e = db->h ? sqlite3_system_errno(db->h) : 0;
		snprintf(err, errlen, "cannot open the task database %s: %s%s%s%s", path,
		         db->h ? sqlite3_errmsg(db->h) : sqlite3_errstr(rc), e ? " (" : "", e ? strerror(e) : "",
		         e ? ")" : "");
		taskdb_close(db);
		return NULL;
	}
	sqlite3_extended_result_codes(db->h, 1);
	/* Several processes write it (hook-apply, the scripts, the TUI): wait
	 * for them rather than fail. */
	sqlite3_busy_timeout(db->h, 10000);
	/* WAL: readers never wait for a writer.  NORMAL: in WAL mode a commit
	 * is not synced, only checkpoints are; a power cut can lose the last
	 * commits but never corrupts, and the stored cursors go back with them,
	 * so the events are applied again. */
	if (exec(db, "PRAGMA journal_mode=WAL") < 0 || exec(db, "PRAGMA foreign_keys=ON") < 0 ||
	    exec(db, "PRAGMA synchronous=NORMAL") < 0 || (create && migrate(db) < 0)) {
		snprintf(err, errlen, "cannot use the task database %s: %s", path, db->err);
		taskdb_close(db);
		return NULL;
	}
	return db;
}

void taskdb_close(struct taskdb *db)
{
	if (!db)
		return;
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(db->st[i]);
	sqlite3_close(db->h);
	free(db);
}

static char *col_dup(sqlite3_stmt *s, int i)
{
	const unsigned char *v = sqlite3_column_text(s, i);
	return xstrdup(v ? (const char *)v : "");
}

int taskdb_get_task(struct taskdb *db, long long id, struct taskdb_task *t)
{
	sqlite3_stmt *s = stmt(db, S_GET_TASK);
	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		t->status = col_dup(s, 0);
		t->started = sqlite3_column_int(s, 1);
		t->session_id = col_dup(s, 2);
		t->sprite = col_dup(s, 3);
		t->question = sqlite3_column_int(s, 4);
	}
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : fail(db);
}

void taskdb_task_free(struct taskdb_task *t)
{
	free(t->status);
	free(t->session_id);
	free(t->sprite);
	t->status = t->session_id = t->sprite = NULL;
}

int taskdb_recent_logs(struct taskdb *db, long long id, char types[][16], int n)
{
	sqlite3_stmt *s = stmt(db, S_RECENT);
	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int(s, 2, n);
	int got = 0, rc;
	while (got < n && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		const unsigned char *v = sqlite3_column_text(s, 0);
		snprintf(types[got++], 16, "%s", v ? (const char *)v : "");
	}
	if (got < n && rc != SQLITE_DONE) {
		sqlite3_reset(s);
		return fail(db);
	}
	sqlite3_reset(s);
	return got;
}

int taskdb_set_status(struct taskdb *db, long long id, const char *status)
{
	sqlite3_stmt *s = stmt(db, S_SET_STATUS);
	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_text(s, 2, status, -1, SQLITE_STATIC);
	return run(db, s);
}

int taskdb_set_session(struct taskdb *db, long long id, const char *session_id)
{
	sqlite3_stmt *s = stmt(db, S_SET_SESSION);
	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_text(s, 2, session_id, -1, SQLITE_STATIC);
	return run(db, s);
}

int taskdb_add_log(struct taskdb *db, long long id, const char *line_type, const char *content, long long ts_ms)
{
	sqlite3_stmt *s = stmt(db, S_ADD_LOG);
	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_text(s, 2, line_type, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, content, -1, SQLITE_STATIC);
	if (ts_ms >= 0 && ts_ms / 1000 <= 253402300799LL) { /* up to 9999-12-31 */
		if (!db->stamp[0] || db->stamp_sec != ts_ms / 1000) {
			/* The task app's format, in UTC as CURRENT_TIMESTAMP is. */
			time_t t = (time_t)(ts_ms / 1000);
			struct tm tm;
			gmtime_r(&t, &tm);
			strftime(db->stamp, sizeof db->stamp, "%Y-%m-%d %H:%M:%S", &tm);
			db->stamp_sec = ts_ms / 1000;
		}
		sqlite3_bind_text(s, 4, db->stamp, -1, SQLITE_STATIC);
	}
	return run(db, s);
}

int taskdb_set_question(struct taskdb *db, long long id, const char *json)
{
	sqlite3_stmt *s = stmt(db, json ? S_SET_QUESTION : S_CLEAR_QUESTION);
	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	if (json)
		sqlite3_bind_text(s, 2, json, -1, SQLITE_STATIC);
	return run(db, s);
}

int taskdb_get_cursor(struct taskdb *db, const char *source, char **json)
{
	*json = NULL;
	/* A database hook-apply has never written to has no cursors table:
	 * no cursor, rather than an error (and no table made by a read). */
	int exists = 0;
	if (sqlite3_table_column_metadata(db->h, "main", "hook_cursors", NULL, NULL, NULL, NULL, NULL, NULL) ==
	    SQLITE_OK)
		exists = 1;
	if (!exists)
		return 0;
	sqlite3_stmt *s = stmt(db, S_GET_CURSOR);
	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, source, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*json = col_dup(s, 0);
	sqlite3_reset(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail(db);
}

int taskdb_put_cursor(struct taskdb *db, const char *source, const char *json)
{
	sqlite3_stmt *s = stmt(db, S_PUT_CURSOR);
	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, source, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, json, -1, SQLITE_STATIC);
	return run(db, s);
}
