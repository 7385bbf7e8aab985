/* jsonl.c: JSON lines in batches, parsed in parallel, in order (jsonl.h).
 *
 * Batches go round a ring of slots: the reader thread fills the free slot
 * next in line, parser threads take filled slots in order and parse them,
 * the caller takes parsed slots in order and gives them back.  One mutex
 * guards them all: a slot carries hundreds of lines, so it is taken rarely.  Each role waits on a condition variable of its own, so
 * that a change wakes only those who can act on it. */
#include "jsonl.h"
#include "util.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_CHUNK (64 << 10)
#define ARENA_CHUNK (64 << 10)
#define ARENA_KEEP 16 /* chunks kept from batch to batch: no mmap churn */
#define ALIGN 16

/* ---- arenas, and jansson's allocator ---- */

struct chunk {
	struct chunk *next;
	size_t cap, used;
	_Alignas(ALIGN) char data[];
};

struct arena {
	struct chunk *head;  /* the chunk being used; older ones follow */
	struct chunk *spare; /* empty chunks, kept for the next batches */
};

/* The arena the values made by this thread go to: set by a parser thread
 * while it parses a batch, NULL everywhere else (malloc).  Thread-local
 * because jansson's allocator is process-wide. */
static _Thread_local struct arena *current_arena;

/* Every block starts with a header saying where it came from, so that one
 * free function serves both kinds. */
enum { FROM_MALLOC = 0, FROM_ARENA = 1 };
struct header {
	_Alignas(ALIGN) size_t from;
};

static void *arena_alloc(struct arena *a, size_t n)
{
	n = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
	struct chunk *c = a->head;
	if (!c || c->cap - c->used < n) {
		size_t cap = n > ARENA_CHUNK / 4 ? n : ARENA_CHUNK;
		struct chunk *nc = cap == ARENA_CHUNK ? a->spare : NULL;
		if (nc)
			a->spare = nc->next;
		else if (!(nc = malloc(sizeof *nc + cap)))
			return NULL;
		nc->cap = cap;
		nc->used = 0;
		if (c && cap != ARENA_CHUNK) {
			/* A big one: behind the current chunk, which stays in use. */
			nc->next = c->next;
			c->next = nc;
			nc->used = n;
			return nc->data;
		}
		nc->next = c;
		a->head = c = nc;
	}
	void *p = c->data + c->used;
	c->used += n;
	return p;
}

/* Drop everything; keep up to ARENA_KEEP ordinary chunks for the next
 * batches, so that a steady stream allocates nothing. */
static void arena_reset(struct arena *a)
{
	int kept = 0;
	for (struct chunk *c = a->spare; c; c = c->next)
		kept++;
	for (struct chunk *c = a->head, *next; c; c = next) {
		next = c->next;
		if (kept < ARENA_KEEP && c->cap == ARENA_CHUNK) {
			c->next = a->spare;
			a->spare = c;
			kept++;
		} else {
			free(c);
		}
	}
	a->head = NULL;
}

static void arena_free(struct arena *a)
{
	arena_reset(a);
	for (struct chunk *c = a->spare, *next; c; c = next) {
		next = c->next;
		free(c);
	}
	a->spare = NULL;
}

static void *json_alloc(size_t n)
{
	struct header *h;
	if (current_arena) {
		h = arena_alloc(current_arena, sizeof *h + n);
		if (h)
			h->from = FROM_ARENA;
	} else {
		h = malloc(sizeof *h + n);
		if (h)
			h->from = FROM_MALLOC;
	}
	return h ? h + 1 : NULL;
}

static void json_release(void *p)
{
	if (!p)
		return;
	struct header *h = (struct header *)p - 1;
	if (h->from == FROM_MALLOC)
		free(h);
	/* An arena's blocks go with the arena. */
}

static const char *arena_printf(struct arena *a, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	char *s = arena_alloc(a, strlen(buf) + 1);
	if (!s)
		return "out of memory";
	return strcpy(s, buf);
}

/* ---- slots ---- */

enum slot_state { SLOT_FREE, SLOT_FILLED, SLOT_PARSING, SLOT_PARSED };

struct line {
	size_t off, len;
	unsigned long long lineno;
	const char *err; /* set by the reader: a line too long to hold */
};

struct slot {
	enum slot_state state;
	char *raw; /* the lines' bytes */
	size_t rawlen, rawcap;
	struct line *lines;
	size_t nlines, linecap;
	size_t itemcap;
	struct arena arena;
	struct jsonl_batch batch;
};

struct jsonl_reader {
	int fd;
	size_t max_line;
	/* The reader thread's own: input not yet cut into lines. */
	char *buf;
	size_t len, start;
	int eof, skipping;
	unsigned long long lineno;

	pthread_mutex_t mu;
	pthread_cond_t freed, filled, parsed; /* a slot became free, filled, parsed */
	struct slot *slots;
	size_t nslots;
	unsigned long long next_fill, next_parse, next_take;
	int parsed_all; /* a parser took the last batch: the others stop */
	pthread_t reader;
	pthread_t *parsers;
	int nparsers;
	size_t user_size;
	jsonl_prepare_fn *prepare;
};

static struct slot *slot_of(struct jsonl_reader *r, unsigned long long seq)
{
	return &r->slots[seq % r->nslots];
}

/* ---- the reader thread: input to filled slots ---- */

static void add_line(struct slot *s, const char *p, size_t len, unsigned long long lineno, const char *err)
{
	if (s->nlines == s->linecap) {
		s->linecap = s->linecap ? s->linecap * 2 : 256;
		s->lines = xrealloc(s->lines, s->linecap * sizeof *s->lines);
	}
	if (s->rawlen + len > s->rawcap) {
		s->rawcap = (s->rawlen + len) * 2;
		s->raw = xrealloc(s->raw, s->rawcap);
	}
	if (len) /* an empty first line: raw is still NULL, and memcpy's arguments may not be */
		memcpy(s->raw + s->rawlen, p, len);
	s->lines[s->nlines++] = (struct line){ s->rawlen, len, lineno, err };
	s->rawlen += len;
}

static int input_waiting(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, 0) > 0;
}

/* One read into the buffer; sets eof, or returns an errno. */
static int read_some(struct jsonl_reader *r)
{
	size_t room = r->max_line + 1 - r->len;
	ssize_t n;
	do
		n = read(r->fd, r->buf + r->len, room < READ_CHUNK ? room : READ_CHUNK);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno;
	if (n == 0)
		r->eof = 1;
	r->len += (size_t)n;
	if (r->skipping) {
		char *nl = memchr(r->buf, '\n', r->len);
		if (nl) {
			r->start = (size_t)(nl - r->buf) + 1;
			r->skipping = 0;
		} else {
			r->len = 0;
		}
	}
	return 0;
}

static void take_line(struct jsonl_reader *r, struct slot *s, size_t end)
{
	r->lineno++;
	if (end > r->start) /* an empty line says nothing */
		add_line(s, r->buf + r->start, end - r->start, r->lineno, NULL);
}

static void fill_slot(struct jsonl_reader *r, struct slot *s)
{
	struct jsonl_batch *b = &s->batch;
	s->rawlen = s->nlines = 0;
	b->more = b->eof = 0;
	b->read_errno = 0;
	for (;;) {
		char *nl;
		while (s->nlines < JSONL_BATCH_LINES && s->rawlen < JSONL_BATCH_BYTES &&
		       (nl = memchr(r->buf + r->start, '\n', r->len - r->start))) {
			size_t end = (size_t)(nl - r->buf);
			take_line(r, s, end);
			r->start = end + 1;
		}
		if (s->nlines >= JSONL_BATCH_LINES || s->rawlen >= JSONL_BATCH_BYTES) {
			b->more = r->start < r->len || input_waiting(r->fd);
			return;
		}
		if (r->eof) {
			/* A last line without its newline is a line (a cut one
			 * is not JSON, and says so). */
			take_line(r, s, r->len);
			r->start = r->len;
			b->eof = 1;
			return;
		}
		if (s->nlines && !input_waiting(r->fd))
			return; /* what has come so far, at once */
		memmove(r->buf, r->buf + r->start, r->len - r->start);
		r->len -= r->start;
		r->start = 0;
		if (r->len == r->max_line + 1) {
			r->lineno++;
			add_line(s, "", 0, r->lineno, "line too long: skipped");
			r->len = 0;
			r->skipping = 1;
		}
		int e = read_some(r);
		if (e) {
			b->read_errno = e;
			b->eof = 1;
			return;
		}
	}
}

static void *reader_main(void *arg)
{
	struct jsonl_reader *r = arg;
	for (int eof = 0; !eof;) {
		pthread_mutex_lock(&r->mu);
		struct slot *s = slot_of(r, r->next_fill);
		while (s->state != SLOT_FREE)
			pthread_cond_wait(&r->freed, &r->mu);
		pthread_mutex_unlock(&r->mu);
		fill_slot(r, s);
		eof = s->batch.eof;
		pthread_mutex_lock(&r->mu);
		s->state = SLOT_FILLED;
		r->next_fill++;
		pthread_cond_signal(&r->filled);
		pthread_mutex_unlock(&r->mu);
	}
	return NULL;
}

/* ---- parser threads: filled slots to parsed ones ---- */

static void parse_slot(struct jsonl_reader *r, struct slot *s)
{
	struct jsonl_batch *b = &s->batch;
	if (s->nlines > s->itemcap) {
		s->itemcap = s->nlines;
		b->items = xrealloc(b->items, s->itemcap * sizeof *b->items);
	}
	current_arena = &s->arena;
	for (size_t i = 0; i < s->nlines; i++) {
		const struct line *l = &s->lines[i];
		struct jsonl_item *it = &b->items[i];
		json_error_t jerr;
		it->lineno = l->lineno;
		it->root = NULL;
		it->err = NULL;
		it->user = NULL;
		if (l->err)
			it->err = arena_printf(&s->arena, "line longer than %zu bytes: skipped", r->max_line);
		else if (!(it->root = json_loadb(s->raw + l->off, l->len, 0, &jerr)))
			it->err = arena_printf(&s->arena, "not JSON (%s)", jerr.text);
		else if (!json_is_object(it->root)) {
			it->root = NULL; /* in the arena: nothing to free */
			it->err = "not a JSON object";
		} else if (r->prepare) {
			if (!(it->user = arena_alloc(&s->arena, r->user_size)))
				die(EXIT_FAIL, "out of memory");
			memset(it->user, 0, r->user_size);
			r->prepare(it);
		}
	}
	current_arena = NULL;
	b->n = s->nlines;
}

static void *parser_main(void *arg)
{
	struct jsonl_reader *r = arg;
	pthread_mutex_lock(&r->mu);
	for (;;) {
		struct slot *s = slot_of(r, r->next_parse);
		while (!r->parsed_all && s->state != SLOT_FILLED) {
			pthread_cond_wait(&r->filled, &r->mu);
			s = slot_of(r, r->next_parse);
		}
		if (r->parsed_all)
			break;
		s->state = SLOT_PARSING;
		r->next_parse++;
		if (s->batch.eof) {
			r->parsed_all = 1;
			pthread_cond_broadcast(&r->filled); /* the other parsers stop */
		} else if (slot_of(r, r->next_parse)->state == SLOT_FILLED) {
			pthread_cond_signal(&r->filled); /* more for another parser */
		}
		pthread_mutex_unlock(&r->mu);
		parse_slot(r, s);
		pthread_mutex_lock(&r->mu);
		s->state = SLOT_PARSED;
		pthread_cond_signal(&r->parsed);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

/* ---- the caller's side ---- */

struct jsonl_reader *jsonl_start(int fd, size_t max_line, size_t user_size, jsonl_prepare_fn *prepare)
{
	struct jsonl_reader *r = xcalloc(1, sizeof *r);
	r->user_size = user_size;
	r->prepare = prepare;
	r->fd = fd;
	r->max_line = max_line;
	r->buf = xmalloc(max_line + 1);
	json_set_alloc_funcs(json_alloc, json_release);
	/* Objects are made in several threads: seed jansson's hashing first. */
	json_object_seed(0);
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	r->nparsers = cores < 1 ? 1 : cores > 4 ? 4 : (int)cores;
	/* One being filled, one per parser, one being used, and as many
	 * again to even out the pace of the three. */
	r->nslots = 2 * ((size_t)r->nparsers + 2);
	r->slots = xcalloc(r->nslots, sizeof *r->slots);
	r->parsers = xcalloc((size_t)r->nparsers, sizeof *r->parsers);
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->freed, NULL);
	pthread_cond_init(&r->filled, NULL);
	pthread_cond_init(&r->parsed, NULL);
	int e = pthread_create(&r->reader, NULL, reader_main, r);
	for (int i = 0; !e && i < r->nparsers; i++)
		e = pthread_create(&r->parsers[i], NULL, parser_main, r);
	if (e)
		die(EXIT_FAIL, "cannot start a thread: %s", strerror(e));
	return r;
}

struct jsonl_batch *jsonl_next(struct jsonl_reader *r)
{
	pthread_mutex_lock(&r->mu);
	struct slot *s = slot_of(r, r->next_take);
	while (s->state != SLOT_PARSED)
		pthread_cond_wait(&r->parsed, &r->mu);
	pthread_mutex_unlock(&r->mu);
	return &s->batch;
}

void jsonl_done(struct jsonl_reader *r, struct jsonl_batch *b)
{
	struct slot *s = (struct slot *)((char *)b - offsetof(struct slot, batch));
	arena_reset(&s->arena);
	/* A long line made these big: do not keep that for ever. */
	if (s->rawcap > 2 * JSONL_BATCH_BYTES) {
		free(s->raw);
		s->raw = NULL;
		s->rawcap = 0;
	}
	pthread_mutex_lock(&r->mu);
	s->state = SLOT_FREE;
	r->next_take++;
	pthread_cond_signal(&r->freed);
	pthread_mutex_unlock(&r->mu);
}

void jsonl_stop(struct jsonl_reader *r)
{
	pthread_join(r->reader, NULL);
	for (int i = 0; i < r->nparsers; i++)
		pthread_join(r->parsers[i], NULL);
	for (size_t i = 0; i < r->nslots; i++) {
		struct slot *s = &r->slots[i];
		arena_free(&s->arena);
		free(s->raw);
		free(s->lines);
		free(s->batch.items);
	}
	pthread_cond_destroy(&r->freed);
	pthread_cond_destroy(&r->filled);
	pthread_cond_destroy(&r->parsed);
	pthread_mutex_destroy(&r->mu);
	free(r->slots);
	free(r->parsers);
	free(r->buf);
	free(r);
}
