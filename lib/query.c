/* query.c: form-encoded query strings (see query.h). */
#include "query.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

void query_init(struct query *q) { memset(q, 0, sizeof *q); }

void query_free(struct query *q)
{
	for (size_t i = 0; i < q->len; i++) {
		free(q->params[i].key);
		free(q->params[i].value);
	}
	free(q->params);
	query_init(q);
}

void query_add(struct query *q, const char *key, const char *value)
{
	if (q->len == q->cap) {
		q->cap = q->cap ? q->cap * 2 : 8;
		q->params = xrealloc(q->params, q->cap * sizeof *q->params);
	}
	q->params[q->len].key = xstrdup(key);
	q->params[q->len].value = xstrdup(value ? value : "");
	q->len++;
}

static void append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (*len + n + 1 > *cap) {
		while (*len + n + 1 > *cap)
			*cap = *cap ? *cap * 2 : 64;
		*buf = xrealloc(*buf, *cap);
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = '\0';
}

static int unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.' || c == '~';
}

static void escape(const char *s, int space_plus, char **buf, size_t *len, size_t *cap)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (unreserved(*p)) {
			append(buf, len, cap, (const char *)p, 1);
		} else if (*p == ' ' && space_plus) {
			append(buf, len, cap, "+", 1);
		} else {
			char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };
			append(buf, len, cap, e, 3);
		}
	}
}

void form_escape(const char *s, char **buf, size_t *len, size_t *cap)
{
	escape(s, 1, buf, len, cap);
}

char *path_escape(const char *s)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	append(&buf, &len, &cap, "", 0);
	escape(s, 0, &buf, &len, &cap);
	return buf;
}

/* Stable order: by key, then by insertion index. */
static int cmp_param(const void *a, const void *b)
{
	const struct query_param *const *pa = a, *const *pb = b;
	int c = strcmp((*pa)->key, (*pb)->key);
	if (c)
		return c;
	return *pa < *pb ? -1 : *pa > *pb;
}

char *query_encode(const struct query *q)
{
	const struct query_param **order = xcalloc(q->len, sizeof *order);
	for (size_t i = 0; i < q->len; i++)
		order[i] = &q->params[i];
	qsort(order, q->len, sizeof *order, cmp_param);

	char *buf = NULL;
	size_t len = 0, cap = 0;
	append(&buf, &len, &cap, "", 0);
	for (size_t i = 0; i < q->len; i++) {
		if (i)
			append(&buf, &len, &cap, "&", 1);
		escape(order[i]->key, 1, &buf, &len, &cap);
		append(&buf, &len, &cap, "=", 1);
		escape(order[i]->value, 1, &buf, &len, &cap);
	}
	free(order);
	return buf;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

long form_unescape(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		if (*r == '+') {
			*w++ = ' ';
		} else if (*r == '%') {
			int hi = hexval(r[1]), lo = hi < 0 ? -1 : hexval(r[2]);
			if (hi < 0 || lo < 0)
				return -1;
			*w++ = (char)(hi << 4 | lo);
			r += 2;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
	return w - s;
}

int query_parse(struct query *q, const char *s)
{
	char *copy = xstrdup(s ? s : "");
	int rc = 0;
	char *save = NULL;
	for (char *pair = strtok_r(copy, "&", &save); pair; pair = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(pair, '=');
		/* A bare key ("tty") has an empty value: point at pair's own NUL, which
		 * form_unescape may write, not at a read-only "" literal. */
		char *value = pair + strlen(pair);
		if (eq) {
			*eq = '\0';
			value = eq + 1;
		}
		if (form_unescape(pair) < 0 || form_unescape(value) < 0) {
			rc = -1;
			break;
		}
		query_add(q, pair, value);
	}
	free(copy);
	return rc;
}

const char *query_get(const struct query *q, const char *key, size_t idx)
{
	for (size_t i = 0; i < q->len; i++)
		if (!strcmp(q->params[i].key, key) && idx-- == 0)
			return q->params[i].value;
	return NULL;
}

size_t query_count(const struct query *q, const char *key)
{
	size_t n = 0;
	for (size_t i = 0; i < q->len; i++)
		n += !strcmp(q->params[i].key, key);
	return n;
}
