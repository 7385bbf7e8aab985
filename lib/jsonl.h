/* jsonl.h: JSON lines read from a file descriptor in batches, parsed by
 * worker threads, handed out in input order.
 *
 * Parsing JSON is most of the work of a JSON-lines consumer such as
 * hook-apply: here a reader thread splits the input into batches (what one
 * read brought, at most JSONL_BATCH_LINES lines or about JSONL_BATCH_BYTES
 * bytes), parser threads (one per core) parse batches side by side, and the
 * caller gets them back in order.  The values of a batch live in an arena of
 * their own, dropped at once by jsonl_done(): no per-object malloc and free,
 * and no freeing across threads.
 *
 * jsonl_start() installs jansson allocation functions for the whole process:
 * call it before any JSON value is made.  Values made by other threads keep
 * using malloc and may be kept for as long as wanted; a batch's values must
 * not be used after jsonl_done(). */
#ifndef SPRITE_JSONL_H
#define SPRITE_JSONL_H

#include <stddef.h>
#include <jansson.h>

#define JSONL_BATCH_LINES 1000
#define JSONL_BATCH_BYTES (64 << 10)

/* A line: an object (root), or what was wrong with it (err; root NULL).
 * Empty lines are left out; a last line without its newline is a line. */
struct jsonl_item {
	unsigned long long lineno;  /* from 1 */
	json_t *root;
	const char *err;
	void *user;  /* with a root: the caller's prepare() result (zeroed first) */
};

/* Called in a parser thread for each line that is an object, to do the
 * caller's per-line work in parallel too (it->user has user_size bytes,
 * which live as long as the batch).  It must only read it->root and write
 * it->user. */
typedef void jsonl_prepare_fn(struct jsonl_item *it);

struct jsonl_batch {
	struct jsonl_item *items;
	size_t n;
	int more;       /* more input was already waiting when it was cut */
	int eof;        /* the last batch: end of input, or a read error */
	int read_errno; /* the error when reading failed, else 0 */
};

struct jsonl_reader;

/* Start reading fd.  Lines longer than max_line bytes are reported (an item
 * with err) and skipped without being held. */
struct jsonl_reader *jsonl_start(int fd, size_t max_line, size_t user_size, jsonl_prepare_fn *prepare);
/* The next batch, in input order; blocks until there is one.  After the one
 * with eof set, call jsonl_stop. */
struct jsonl_batch *jsonl_next(struct jsonl_reader *r);
/* Give a batch back: its values are gone. */
void jsonl_done(struct jsonl_reader *r, struct jsonl_batch *b);
/* Wait for the threads and free everything (after the eof batch). */
void jsonl_stop(struct jsonl_reader *r);

#endif
