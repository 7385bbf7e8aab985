/* query.h: application/x-www-form-urlencoded query strings, as the Sprites
 * API uses them (Go's url.Values: keys sorted, repeated keys kept in order,
 * space as '+', everything but [A-Za-z0-9-_.~] percent-encoded). */
#ifndef SPRITE_QUERY_H
#define SPRITE_QUERY_H

#include <stddef.h>

struct query_param {
	char *key;
	char *value;
};

struct query {
	struct query_param *params;
	size_t len, cap;
};

void query_init(struct query *q);
void query_free(struct query *q);
void query_add(struct query *q, const char *key, const char *value);

/* Encode as "k=v&k=v" (no leading '?'), keys sorted, repeated keys in the
 * order they were added.  Returns a malloc'd string. */
char *query_encode(const struct query *q);

/* Append the form-encoding of s to *buf (malloc'd, grown as needed). */
void form_escape(const char *s, char **buf, size_t *len, size_t *cap);

/* Percent-encode one URL path segment (space as %20, '/' as %2F). */
char *path_escape(const char *s);

/* Decode a form-encoded string in place ('+' is space, %XX a byte).
 * Returns the decoded length, or -1 on a malformed escape. */
long form_unescape(char *s);

/* Parse "k=v&k2=v2" (without '?') into q, decoding both halves.
 * Returns 0, or -1 on a malformed escape. */
int query_parse(struct query *q, const char *s);

/* The idx-th value for key (0-based), or NULL. */
const char *query_get(const struct query *q, const char *key, size_t idx);
size_t query_count(const struct query *q, const char *key);

#endif
