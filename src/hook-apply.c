/* hook-apply: apply Claude Code hook events to the task database, exactly
 * once.  See hook-apply(1).
 *
 * Input lines are sprite-tail's (a cursor and the event) or bare hook events.
 * Whatever complete lines one read brings are applied in one transaction,
 * with the last cursor of each source, then committed, and only then are the
 * change lines printed: what was printed is in the database, and an event
 * whose cursor is stored is never applied again. */
#include "cli.h"
#include "hookmap.h"
#include "jsonl.h"
#include "taskdb.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The longest line; longer ones are reported and skipped without being
 * held.  TX_LINES: the most lines applied in one transaction. */
#define MAX_LINE (4 << 20)
#define TX_LINES 10000

/* A source of cursors (SPRITE:PATH) and where it stands: the cursor stored,
 * then the last one applied in this batch. */
struct source {
	char *name;
	char *file;
	long long epoch, offset;
	int have;            /* a cursor is known (stored, or applied) */
	json_t *cursor;      /* the cursor to store at commit (NULL: nothing new) */
	int cursor_in_batch; /* it is a value of the batch being applied */
	unsigned long batch; /* the batch it was loaded in */
};

/* v as compact JSON text, malloc'd (not by jansson's allocator, which may
 * be jsonl's arenas), then the character end unless it is 0. */
static char *json_text(const json_t *v, char end)
{
	size_t n = json_dumpb(v, NULL, 0, JSON_COMPACT);
	char *json = xmalloc(n + 2);
	json_dumpb(v, json, n, JSON_COMPACT);
	json[n] = end;
	json[n + (end != 0)] = '\0';
	return json;
}

/* A task as this batch knows it: read once per transaction, then kept in
 * step with what we write (nobody else can write until we commit). */
struct task {
	long long id;
	int used, exists, started;
	int question;       /* its agent waits on a question */
	char *status, *session;
	char *sprite;       /* its project's: the only sprite whose events it takes */
	char recent[3][16]; /* line types of its last rows, newest first */
	int nrecent, recent_loaded;
};

struct counts {
	unsigned long long applied, malformed, unknown, ignored, dups, refused;
};

struct app {
	const char *db_path;
	const char *sprite;  /* --sprite: where bare lines come from (NULL: refused) */
	long long now_ms;    /* wall clock at the batch's start, for implausible ts */
	struct taskdb *db;
	int in_tx;
	unsigned long batch;
	struct counts n;
	struct source *sources;
	size_t nsources;
	struct task *tasks;  /* open addressing on id, cap a power of two */
	size_t tcap, tused;
	char *out;           /* change lines waiting for the commit */
	size_t outlen, outcap;
	int out_gone;        /* stdout's reader went away: print nothing more */
};

static _Noreturn void db_fail(struct app *a)
{
	char msg[600];
	snprintf(msg, sizeof msg, "%s", taskdb_errmsg(a->db));
	taskdb_rollback(a->db);
	die(EXIT_FAIL, "cannot use the task database %s: %s", a->db_path, msg);
}

/* ---- output ---- */

static void out_grow(struct app *a, size_t n)
{
	if (a->outlen + n <= a->outcap)
		return;
	a->outcap = (a->outlen + n) * 2;
	a->out = xrealloc(a->out, a->outcap);
}

static void out_raw(struct app *a, const char *s, size_t n)
{
	out_grow(a, n);
	memcpy(a->out + a->outlen, s, n);
	a->outlen += n;
}

static void out_str(struct app *a, const char *s)
{
	out_raw(a, s, strlen(s));
}

/* Code points that a terminal may act on, or that reorder what it shows:
 * the C1 controls (U+0080-U+009F), bidi marks and overrides, the line and
 * paragraph separators.  Change lines are read on terminals (| cat, | jq),
 * so these go as \uXXXX escapes, which JSON readers take back unchanged. */
static int terminal_unsafe(unsigned cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0x61c || cp == 0x200e || cp == 0x200f ||
	       (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

/* A JSON string, escaped as jansson does (our strings are valid UTF-8),
 * and the code points above as escapes. */
static void out_json(struct app *a, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	out_grow(a, n * 6 + 2);
	char *o = a->out + a->outlen;
	*o++ = '"';
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		unsigned char c = *p;
		unsigned cp = 0;
		size_t len = 0;
		if (c == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			cp = p[1], len = 2;
		else if (c == 0xd8 && p[1] == 0x9c)
			cp = 0x61c, len = 2;
		else if (c == 0xe2 && (p[1] == 0x80 || p[1] == 0x81) && p[2] >= 0x80 && p[2] <= 0xbf)
			cp = 0x2000 | (unsigned)(p[1] & 0x3f) << 6 | (p[2] & 0x3f), len = 3;
		if (len && terminal_unsafe(cp)) {
			memcpy(o, "\\u", 2);
			o[2] = hex[cp >> 12 & 15], o[3] = hex[cp >> 8 & 15], o[4] = hex[cp >> 4 & 15], o[5] = hex[cp & 15];
			o += 6;
			p += len - 1;
			continue;
		}
		if (c >= 0x20 && c != '"' && c != '\\') {
			*o++ = (char)c;
			continue;
		}
		*o++ = '\\';
		switch (c) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '\b': *o++ = 'b'; break;
		case '\f': *o++ = 'f'; break;
		case '\n': *o++ = 'n'; break;
		case '\r': *o++ = 'r'; break;
		case '\t': *o++ = 't'; break;
		default:
			memcpy(o, "u00", 3);
			o[3] = hex[c >> 4];
			o[4] = hex[c & 15];
			o += 5;
		}
	}
	*o++ = '"';
	a->outlen = (size_t)(o - a->out);
}

static void out_flush(struct app *a)
{
	if (!a->outlen)
		return;
	/* When the reader is gone (| head), the change lines go nowhere but
	 * the events are still applied, to the end of the input. */
	if (!a->out_gone && write_all(1, a->out, a->outlen) < 0) {
		if (errno != EPIPE)
			die(EXIT_FAIL, "cannot write to standard output: %s", strerror(errno));
		a->out_gone = 1;
	}
	a->outlen = 0;
}

static void out_change(struct app *a, const struct hook_event *ev, const char *old_status,
                       const char *new_status, const struct hook_effect *eff, const char *source,
                       long long offset)
{
	char num[32];
	snprintf(num, sizeof num, "%lld", ev->task_id);
	out_str(a, "{\"task_id\":");
	out_str(a, num);
	out_str(a, ",\"event\":");
	out_json(a, ev->name);
	out_str(a, ",\"old_status\":");
	out_json(a, old_status);
	out_str(a, ",\"new_status\":");
	out_json(a, new_status);
	out_str(a, ",\"logs\":[");
	for (int i = 0; i < eff->nlogs; i++) {
		out_str(a, i ? ",{\"line_type\":" : "{\"line_type\":");
		out_json(a, eff->logs[i].line_type);
		out_str(a, ",\"content\":");
		out_json(a, eff->logs[i].content);
		out_str(a, "}");
	}
	out_str(a, "]");
	if (source) {
		snprintf(num, sizeof num, "%lld", offset);
		out_str(a, ",\"source\":");
		out_json(a, source);
		out_str(a, ",\"offset\":");
		out_str(a, num);
	}
	out_raw(a, "}\n", 2);
}

/* ---- the batch's tasks ---- */

static size_t task_slot(const struct app *a, long long id)
{
	size_t h = (size_t)((unsigned long long)id * 0x9E3779B97F4A7C15ULL >> 17) & (a->tcap - 1);
	while (a->tasks[h].used && a->tasks[h].id != id)
		h = (h + 1) & (a->tcap - 1);
	return h;
}

static void tasks_clear(struct app *a)
{
	for (size_t i = 0; i < a->tcap; i++) {
		free(a->tasks[i].status);
		free(a->tasks[i].session);
		free(a->tasks[i].sprite);
	}
	if (a->tasks) /* none yet: memset may not take NULL, even for 0 bytes */
		memset(a->tasks, 0, a->tcap * sizeof *a->tasks);
	a->tused = 0;
}

static struct task *task_get(struct app *a, long long id)
{
	if ((a->tused + 1) * 2 > a->tcap) {
		struct task *old = a->tasks;
		size_t oldcap = a->tcap;
		a->tcap = a->tcap ? a->tcap * 2 : 64;
		a->tasks = xcalloc(a->tcap, sizeof *a->tasks);
		for (size_t i = 0; i < oldcap; i++)
			if (old[i].used)
				a->tasks[task_slot(a, old[i].id)] = old[i];
		free(old);
	}
	struct task *t = &a->tasks[task_slot(a, id)];
	if (t->used)
		return t;
	struct taskdb_task row;
	int r = taskdb_get_task(a->db, id, &row);
	if (r < 0)
		db_fail(a);
	t->used = 1;
	t->id = id;
	t->exists = r;
	a->tused++;
	if (r) {
		t->started = row.started;
		/* It is printed in JSON: a status that is not UTF-8 is not ours to
		 * keep as is. */
		t->status = utf8_lossy(row.status);
		t->session = row.session_id;
		t->sprite = row.sprite;
		t->question = row.question;
		free(row.status);
	}
	return t;
}

static void task_recent(struct app *a, struct task *t)
{
	if (t->recent_loaded)
		return;
	int n = taskdb_recent_logs(a->db, t->id, t->recent, 3);
	if (n < 0)
		db_fail(a);
	t->nrecent = n;
	t->recent_loaded = 1;
}

static void task_pushlog(struct task *t, const char *type)
{
	if (!t->recent_loaded)
		return; /* read from the database when needed, our rows included */
	memmove(t->recent[1], t->recent[0], sizeof t->recent[0] * 2);
	snprintf(t->recent[0], sizeof t->recent[0], "%s", type);
	if (t->nrecent < 3)
		t->nrecent++;
}

/* ---- sources and cursors ---- */

static struct source *source_get(struct app *a, const char *name)
{
	struct source *s = NULL;
	for (size_t i = 0; i < a->nsources && !s; i++)
		if (!strcmp(a->sources[i].name, name))
			s = &a->sources[i];
	if (!s) {
		a->sources = xrealloc(a->sources, (a->nsources + 1) * sizeof *a->sources);
		s = &a->sources[a->nsources++];
		memset(s, 0, sizeof *s);
		s->name = xstrdup(name);
	}
	if (s->batch == a->batch && a->batch)
		return s;
	/* Read again in each transaction: another hook-apply may have moved it. */
	s->batch = a->batch;
	s->have = 0;
	json_decref(s->cursor);
	s->cursor = NULL;
	s->cursor_in_batch = 0;
	char *text;
	if (taskdb_get_cursor(a->db, name, &text) < 0)
		db_fail(a);
	json_t *c = text ? json_loads(text, 0, NULL) : NULL;
	const char *file = json_string_value(json_object_get(c, "file"));
	json_t *epoch = json_object_get(c, "epoch"), *offset = json_object_get(c, "offset");
	if (file && json_is_integer(epoch) && json_is_integer(offset)) {
		free(s->file);
		s->file = xstrdup(file);
		s->epoch = json_integer_value(epoch);
		s->offset = json_integer_value(offset);
		s->have = 1;
	}
	json_decref(c);
	free(text);
	return s;
}

static void batch_begin(struct app *a)
{
	if (taskdb_begin(a->db) < 0)
		db_fail(a);
	a->in_tx = 1;
	a->batch++;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	a->now_ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Store each source's last cursor with the effects before it, commit, and
 * only then print the change lines. */
static void batch_end(struct app *a)
{
	if (!a->in_tx)
		return;
	for (size_t i = 0; i < a->nsources; i++) {
		struct source *s = &a->sources[i];
		if (s->batch != a->batch || !s->cursor)
			continue;
		char *json = json_text(s->cursor, 0);
		if (taskdb_put_cursor(a->db, s->name, json) < 0)
			db_fail(a);
		free(json);
		json_decref(s->cursor);
		s->cursor = NULL;
	}
	if (taskdb_commit(a->db) < 0)
		db_fail(a);
	a->in_tx = 0;
	tasks_clear(a);
	out_flush(a);
}

/* ---- one line ---- */

/* Where a line came from, made into text only for a message. */
struct pos {
	const char *source;     /* NULL: a bare line, known by its number */
	long long offset;
	unsigned long long lineno;
};

static const char *pos_text(const struct pos *p, char *buf, size_t len)
{
	char safe[400];
	if (p->source)
		snprintf(buf, len, "%s:%lld", log_safe(p->source, strlen(p->source), safe, sizeof safe), p->offset);
	else
		snprintf(buf, len, "stdin line %llu", p->lineno);
	return buf;
}

static void malformed(struct app *a, const struct pos *p, const char *what)
{
	char buf[600];
	a->n.malformed++;
	warnx_("%s: %s", pos_text(p, buf, sizeof buf), what);
}

/* What a line says, read from its JSON in a parser thread (see
 * jsonl_prepare_fn): the main thread only applies it. */
struct line_info {
	int tailed;             /* sprite-tail's: a cursor and the line */
	int cursor_ok;
	const char *source, *file;
	long long epoch, offset;
	json_t *cursor;
	json_t *event;          /* the hook event object, or NULL */
	const char *not_event;  /* why there is none (a tailed line) */
	int parsed;             /* hook_event_parse took it: ev is set */
	struct hook_event ev;
};

static void prepare_line(struct jsonl_item *it)
{
	struct line_info *li = it->user;
	json_t *cursor = json_object_get(it->root, "cursor");
	if (json_is_object(cursor)) {
		li->tailed = 1;
		li->cursor = cursor;
		li->source = json_string_value(json_object_get(cursor, "source"));
		li->file = json_string_value(json_object_get(cursor, "file"));
		json_t *epoch = json_object_get(cursor, "epoch"), *offset = json_object_get(cursor, "offset");
		li->cursor_ok = li->source && *li->source && li->file && json_is_integer(epoch) &&
		                json_integer_value(epoch) >= 0 && json_is_integer(offset) &&
		                json_integer_value(offset) >= 0;
		li->epoch = json_integer_value(epoch);
		li->offset = json_integer_value(offset);
		json_t *ev = json_object_get(it->root, "line");
		if (!ev)
			li->not_event = "the line is not JSON";
		else if (!json_is_object(ev))
			li->not_event = "the line is not a JSON object";
		else
			li->event = ev;
	} else {
		li->event = it->root;
	}
	/* The reason for a refusal is made again when it is reported. */
	char no_message[1];
	if (li->event)
		li->parsed = hook_event_parse(li->event, &li->ev, no_message, sizeof no_message) == 0;
}

/* Events from a sprite touch only its own project's tasks: a sprite that
 * writes another task's id into its hook file must not steer that task.
 * The line's sprite is its cursor's (SPRITE:PATH), or --sprite for bare
 * lines. */
static int sprite_may(struct app *a, const struct task *t, const struct pos *p, const char *event)
{
	const char *line_sprite = p->source ? p->source : a->sprite;
	size_t n = line_sprite ? (p->source ? strcspn(p->source, ":") : strlen(line_sprite)) : 0;
	if (line_sprite && t->sprite && *t->sprite && strlen(t->sprite) == n && !strncmp(t->sprite, line_sprite, n))
		return 1;
	char buf[600], mine[200], theirs[200], name[64];
	a->n.refused++;
	log_safe(event, strlen(event), name, sizeof name);
	if (!line_sprite)
		warnx_("%s: refused: a bare line names no sprite (use --sprite NAME for lines without a cursor)",
		       pos_text(p, buf, sizeof buf));
	else
		warnx_("%s: refused: task %lld is %s's, not sprite %s's (%s event)", pos_text(p, buf, sizeof buf),
		       t->id, t->sprite && *t->sprite ? log_safe(t->sprite, strlen(t->sprite), mine, sizeof mine)
		                                      : "no sprite",
		       log_safe(line_sprite, n, theirs, sizeof theirs), name);
	return 0;
}

/* When the hook fired, as the line says: a time before this tool existed,
 * or ahead of this machine's clock, is no time at all (-1: now). */
#define TS_EARLIEST_MS 1735689600000LL /* 2025-01-01 */
#define TS_AHEAD_MS (10 * 60 * 1000)

static void apply_event(struct app *a, const struct line_info *li, const struct pos *p)
{
	const struct hook_event *ev = &li->ev;
	if (!li->parsed) {
		struct hook_event scratch;
		char err[200];
		hook_event_parse(li->event, &scratch, err, sizeof err);
		malformed(a, p, err);
		return;
	}
	struct task *t = task_get(a, ev->task_id);
	if (!t->exists) {
		char buf[600];
		a->n.unknown++;
		char name[64];
		warnx_("%s: unknown task %lld (%s event)", pos_text(p, buf, sizeof buf), ev->task_id,
		       log_safe(ev->name, strlen(ev->name), name, sizeof name));
		return;
	}
	if (!sprite_may(a, t, p, ev->name))
		return;
	if (!t->started) {
		a->n.ignored++;
		return;
	}
	a->n.applied++;
	if (ev->kind == HOOK_QUIET)
		return;
	struct hook_task ht = { .status = t->status, .session_id = t->session };
	/* Only a blocked task's PostToolUse looks at its last rows. */
	if (ev->kind == HOOK_POST_TOOL && !strcmp(t->status, "blocked")) {
		task_recent(a, t);
		for (int i = 0; i < t->nrecent; i++)
			ht.recent[i] = t->recent[i];
		ht.nrecent = t->nrecent;
	}
	struct hook_effect eff;
	hook_map(ev, &ht, &eff);
	if (eff.question) {
		char *json = json_text(eff.question, 0);
		if (taskdb_set_question(a->db, t->id, json) < 0)
			db_fail(a);
		free(json);
		t->question = 1;
	} else if (eff.question_clear && t->question) {
		if (taskdb_set_question(a->db, t->id, NULL) < 0)
			db_fail(a);
		t->question = 0;
	}
	hook_effect_done(&eff);
	if (!eff.new_status && !eff.set_session && !eff.nlogs)
		return;
	char *old_status = t->status;
	if (eff.new_status && strcmp(eff.new_status, t->status)) {
		if (taskdb_set_status(a->db, t->id, eff.new_status) < 0)
			db_fail(a);
		t->status = xstrdup(eff.new_status);
	}
	if (eff.set_session) {
		if (taskdb_set_session(a->db, t->id, eff.set_session) < 0)
			db_fail(a);
		free(t->session);
		t->session = xstrdup(eff.set_session);
	}
	long long ts = ev->ts >= TS_EARLIEST_MS && ev->ts <= a->now_ms + TS_AHEAD_MS ? ev->ts : -1;
	for (int i = 0; i < eff.nlogs; i++) {
		if (taskdb_add_log(a->db, t->id, eff.logs[i].line_type, eff.logs[i].content, ts) < 0)
			db_fail(a);
		task_pushlog(t, eff.logs[i].line_type);
	}
	out_change(a, ev, old_status, t->status, &eff, p->source, p->offset);
	if (old_status != t->status)
		free(old_status);
}

/* A sprite-tail line: {"cursor":{...},"line":EVENT} (or "text"/"text_base64"
 * when the file's line was not JSON). */
static void apply_tailed(struct app *a, const struct line_info *li, unsigned long long lineno)
{
	struct pos p = { NULL, 0, lineno };
	if (!li->cursor_ok) {
		malformed(a, &p, "bad cursor (want source, file, epoch and offset, as sprite-tail prints them)");
		return;
	}
	p.source = li->source;
	p.offset = li->offset;
	struct source *s = source_get(a, li->source);
	if (s->have && !strcmp(s->file, li->file) && s->epoch == li->epoch && li->offset <= s->offset) {
		a->n.dups++;
		return;
	}
	/* Past this line from now on, whatever it holds: a bad line is
	 * reported once, not at every restart. */
	if (!s->file || strcmp(s->file, li->file)) {
		free(s->file);
		s->file = xstrdup(li->file);
	}
	s->epoch = li->epoch;
	s->offset = li->offset;
	s->have = 1;
	json_decref(s->cursor);
	s->cursor = json_incref(li->cursor); /* stored as it came, at the commit */
	s->cursor_in_batch = 1;
	if (!li->event)
		malformed(a, &p, li->not_event);
	else
		apply_event(a, li, &p);
}

/* ---- input ---- */

static void apply_item(struct app *a, const struct jsonl_item *it)
{
	struct pos p = { NULL, 0, it->lineno };
	if (!it->root) {
		malformed(a, &p, it->err);
		return;
	}
	const struct line_info *li = it->user;
	if (li->tailed)
		apply_tailed(a, li, it->lineno);
	else
		apply_event(a, li, &p);
}

/* A batch's values go when it is given back: the cursors still to be
 * stored are copied out of it first. */
static void keep_cursors(struct app *a)
{
	for (size_t i = 0; i < a->nsources; i++) {
		struct source *s = &a->sources[i];
		if (!s->cursor_in_batch)
			continue;
		json_t *copy = json_deep_copy(s->cursor);
		if (!copy)
			die(EXIT_FAIL, "out of memory");
		json_decref(s->cursor);
		s->cursor = copy;
		s->cursor_in_batch = 0;
	}
}

/* Batches come as reads brought them: a transaction takes the batches that
 * were waiting together (up to TX_LINES lines), and commits as soon as no
 * more was waiting, so that a lone event is in the database at once. */
static void apply_stream(struct app *a)
{
	struct jsonl_reader *r = jsonl_start(0, MAX_LINE, sizeof(struct line_info), prepare_line);
	size_t tx_lines = 0;
	for (int eof = 0; !eof;) {
		struct jsonl_batch *b = jsonl_next(r);
		eof = b->eof;
		if (b->n && !a->in_tx) {
			batch_begin(a);
			tx_lines = 0;
		}
		for (size_t i = 0; i < b->n; i++)
			apply_item(a, &b->items[i]);
		tx_lines += b->n;
		keep_cursors(a);
		int more = b->more, read_errno = b->read_errno;
		jsonl_done(r, b);
		if (!more || eof || tx_lines >= TX_LINES)
			batch_end(a);
		if (read_errno)
			die(EXIT_FAIL, "cannot read standard input: %s (what came before is applied)",
			    strerror(read_errno));
	}
	jsonl_stop(r);
}

static void summary(const struct app *a)
{
	const struct counts *n = &a->n;
	if (!n->malformed && !n->unknown && !n->ignored && !n->dups && !n->refused)
		return;
	char refused[96] = "";
	if (n->refused)
		snprintf(refused, sizeof refused, ", %llu refused (another sprite's task, or no sprite)", n->refused);
	warnx_("%llu event%s applied, %llu malformed, %llu unknown task%s, %llu ignored (task not started), "
	       "%llu duplicate%s%s",
	       n->applied, n->applied == 1 ? "" : "s", n->malformed, n->unknown, n->unknown == 1 ? "" : "s",
	       n->ignored, n->dups, n->dups == 1 ? "" : "s", refused);
}

/* ---- main ---- */

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: %s [--db PATH] [--sprite NAME]  apply hook events read on stdin\n"
	        "       %s [--db PATH] --cursor SOURCE  print the cursor stored for SOURCE\n"
	        "       %s --settings COMMAND  print Claude Code's settings: a hook running\n"
	        "                   COMMAND for every event this applies\n"
	        "  --db PATH        the task database (default: $TASK_DB, else\n"
	        "                   $XDG_DATA_HOME/task/tasks.db, else\n"
	        "                   ~/.local/share/task/tasks.db)\n"
	        "  --sprite NAME    the sprite that bare lines (without a cursor) come from;\n"
	        "                   an event applies only to a task of that sprite's project\n"
	        "  --cursor SOURCE  SPRITE:PATH, as in sprite-tail's cursors\n",
	        progname(), progname(), progname());
}

/* The default database, as the task app finds it; its directory is made
 * (private: the database holds prompts) when make_dir. */
static char *default_db(int make_dir)
{
	const char *env = getenv("TASK_DB");
	if (env && *env)
		return xstrdup(env);
	const char *data = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
	char *dir;
	if (data && *data == '/')
		dir = xasprintf("%s/task", data);
	else if (home && *home)
		dir = xasprintf("%s/.local/share/task", home);
	else
		die(EXIT_USAGE, "where is the task database? use --db PATH or set TASK_DB");
	for (char *p = strchr(dir + 1, '/'); make_dir; p = strchr(p + 1, '/')) {
		if (p)
			*p = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			die(EXIT_FAIL, "cannot create %s for the task database: %s", dir, strerror(errno));
		if (!p)
			break;
		*p = '/';
	}
	char *path = xasprintf("%s/tasks.db", dir);
	free(dir);
	return path;
}

/* The hooks that feed us, from the mapping's own table: task installs them
 * in the agent's Claude Code settings. */
static int print_settings(const char *command)
{
	json_t *settings = hook_settings_json(command);
	if (!settings)
		die(EXIT_FAIL, "cannot make the settings (is the command valid UTF-8?)");
	char *json = json_text(settings, '\n');
	if (write_all(1, json, strlen(json)) < 0 && errno != EPIPE)
		die(EXIT_FAIL, "cannot write to standard output: %s", strerror(errno));
	free(json);
	json_decref(settings);
	return EXIT_OK;
}

static int print_cursor(const char *path, const char *source)
{
	struct stat st;
	if (stat(path, &st) < 0 && errno == ENOENT)
		return EXIT_OK; /* no database yet: no cursor, start from the beginning */
	char err[1024], *json;
	struct taskdb *db = taskdb_open(path, 0, err, sizeof err); /* a read: nothing made */
	if (!db)
		die(EXIT_FAIL, "%s", err);
	if (taskdb_get_cursor(db, source, &json) < 0)
		die(EXIT_FAIL, "cannot read the task database %s: %s", path, taskdb_errmsg(db));
	if (json) {
		size_t n = strlen(json);
		json[n] = '\n';
		if (write_all(1, json, n + 1) < 0 && errno != EPIPE)
			die(EXIT_FAIL, "cannot write to standard output: %s", strerror(errno));
		free(json);
	}
	taskdb_close(db);
	return EXIT_OK;
}

int main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "cursor", required_argument, NULL, 'c' },
		{ "sprite", required_argument, NULL, 's' },
		{ "settings", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *db_opt = NULL, *cursor = NULL, *sprite = NULL, *settings = NULL;
	int c;

	set_progname(argv[0]);
	signal(SIGPIPE, SIG_IGN);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': db_opt = optarg; break;
		case 'c': cursor = optarg; break;
		case 's': sprite = optarg; break;
		case 'S': settings = optarg; break;
		case 'h': usage(stdout); return EXIT_OK;
		default:
			cli_option_error(c, argv);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		warnx_("unexpected argument \"%s\": events are read on stdin", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (settings) {
		if (!*settings)
			die(EXIT_USAGE, "--settings needs the hook's command (task-hook's path)");
		return print_settings(settings);
	}
	if (db_opt && !*db_opt)
		die(EXIT_USAGE, "--db needs a file name");
	if (cursor && !*cursor)
		die(EXIT_USAGE, "--cursor needs a source (SPRITE:PATH)");
	if (sprite && (!*sprite || strchr(sprite, ':')))
		die(EXIT_USAGE, "--sprite needs a sprite's name (sprite-list shows them)");
	char *path = db_opt ? xstrdup(db_opt) : default_db(!cursor);
	if (cursor) {
		int rc = print_cursor(path, cursor);
		free(path);
		return rc;
	}

	struct app a;
	memset(&a, 0, sizeof a);
	a.db_path = path;
	a.sprite = sprite;
	char err[1024];
	umask(077); /* a database made here holds prompts: for the user alone */
	a.db = taskdb_open(path, 1, err, sizeof err);
	if (!a.db)
		die(EXIT_FAIL, "%s", err);
	apply_stream(&a);
	summary(&a);
	taskdb_close(a.db);
	for (size_t i = 0; i < a.nsources; i++) {
		free(a.sources[i].name);
		free(a.sources[i].file);
		json_decref(a.sources[i].cursor);
	}
	free(a.sources);
	tasks_clear(&a);
	free(a.tasks);
	free(a.out);
	free(path);
	return EXIT_OK;
}
