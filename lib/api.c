/* api.c: the Sprites REST API over libcurl (see api.h). */
#include "api.h"
#include "util.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define CONNECT_TIMEOUT 10L
#define REQUEST_TIMEOUT 30L
#define LONG_TIMEOUT 120L
/* A stream that sends nothing for this long is dead (no overall timeout). */
#define STREAM_IDLE_TIMEOUT 120L
#define MAX_429_ATTEMPTS 5
#define MAX_429_WAIT 60L
#define MAX_BODY (64L * 1024 * 1024)
#define ERROR_TEXT_MAX 300

/* One transfer's state, passed to the curl callbacks. */
struct xfer {
	CURL *curl;
	struct api_response *resp;
	size_t cap;           /* of resp->body */
	int too_big;
	/* api_stream only: */
	void (*on_line)(json_t *line, const char *raw, void *arg);
	void *arg;
	char *line;
	size_t line_len, line_cap;
};

static void grow(char **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return;
	size_t n = *cap ? *cap : 256;
	while (n < need)
		n *= 2;
	*buf = xrealloc(*buf, n);
	*cap = n;
}

static void body_append(struct xfer *x, const char *p, size_t n)
{
	struct api_response *r = x->resp;
	grow(&r->body, &x->cap, r->body_len + n + 1);
	memcpy(r->body + r->body_len, p, n);
	r->body_len += n;
	r->body[r->body_len] = '\0';
}

/* Hand one complete NDJSON line (without '\n') to the caller. */
static void emit_line(struct xfer *x)
{
	char *s = x->line;
	size_t n = x->line_len;
	while (n && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	s[n] = '\0';
	x->line_len = 0;
	if (!n)
		return;
	json_t *j = json_loadb(s, n, 0, NULL);
	x->on_line(j, s, x->arg);
	json_decref(j);
}

static int is_2xx(long status) { return status >= 200 && status < 300; }

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb;
	long status = 0;
	curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status);
	if (x->on_line && is_2xx(status)) {
		for (size_t i = 0; i < n; i++) {
			if (p[i] == '\n') {
				grow(&x->line, &x->line_cap, x->line_len + 1);
				emit_line(x);
				continue;
			}
			if (x->line_len + 2 > MAX_BODY) {
				x->too_big = 1;
				return 0;
			}
			grow(&x->line, &x->line_cap, x->line_len + 2);
			x->line[x->line_len++] = p[i];
		}
		return n;
	}
	if (x->resp->body_len + n > MAX_BODY) {
		x->too_big = 1;
		return 0; /* makes curl fail with CURLE_WRITE_ERROR */
	}
	body_append(x, p, n);
	return n;
}

/* Header value as a trimmed, NUL-terminated copy if line is "name: value". */
static char *header_value(const char *line, size_t n, const char *name)
{
	size_t nl = strlen(name);
	if (n <= nl || strncasecmp(line, name, nl) || line[nl] != ':')
		return NULL;
	const char *v = line + nl + 1, *end = line + n;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	return strndup(v, (size_t)(end - v));
}

/* Retry-After is delta-seconds or an HTTP date; -1 when unusable. */
static long parse_retry_after(const char *v)
{
	char *e;
	errno = 0;
	long n = strtol(v, &e, 10);
	if (e != v && !*e && !errno)
		return n >= 0 ? n : -1;
	time_t t = curl_getdate(v, NULL);
	if (t < 0)
		return -1;
	time_t now = time(NULL);
	return t > now ? (long)(t - now) : 0;
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	struct api_response *r = x->resp;
	size_t n = size * nmemb;
	char *v;
	if (n >= 5 && !strncmp(line, "HTTP/", 5)) {
		/* A new response (after a 100 Continue, say): forget the last one's headers. */
		r->retry_after = -1;
		free(r->sprite_version);
		r->sprite_version = NULL;
	} else if ((v = header_value(line, n, "Retry-After"))) {
		r->retry_after = parse_retry_after(v);
		free(v);
	} else if ((v = header_value(line, n, "Sprite-Version"))) {
		free(r->sprite_version);
		r->sprite_version = v;
	}
	return n;
}

static void resp_init(struct api_response *r)
{
	memset(r, 0, sizeof *r);
	r->retry_after = -1;
}

void api_response_free(struct api_response *r)
{
	free(r->body);
	json_decref(r->json);
	free(r->sprite_version);
	resp_init(r);
}

/* curl_global_init is not thread-safe and must run once before any handle;
 * commands are single-threaded, so a process-wide once-flag is enough.  This
 * is the library's only mutable global. */
static void curl_init_once(void)
{
	static int done;
	if (!done) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			die(EXIT_FAIL, "cannot initialise libcurl");
		done = 1;
	}
}

/* The reason no response arrived, for "cannot reach URL: <reason>". */
static void reach_error(const struct sprite_config *cfg, CURL *c, CURLcode rc, const char *ebuf,
                        int too_big, char *err, size_t errlen)
{
	long oserr = 0;
	curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &oserr);
	if (too_big)
		snprintf(err, errlen, "the answer from %s is larger than %ld MiB", cfg->api_url,
		         MAX_BODY >> 20);
	else if (rc == CURLE_COULDNT_CONNECT && oserr)
		snprintf(err, errlen, "cannot reach %s: %s", cfg->api_url, strerror((int)oserr));
	else
		snprintf(err, errlen, "cannot reach %s: %s", cfg->api_url,
		         *ebuf ? ebuf : curl_easy_strerror(rc));
}

/* One request.  timeout 0 means a stream: no overall limit, idle limit instead. */
static int perform(const struct sprite_config *cfg, const char *method, const char *url,
                   const char *body, long timeout, struct xfer *x, char *err, size_t errlen)
{
	char ebuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *h = NULL;
	int rc = -1;

	curl_init_once();
	CURL *c = curl_easy_init();
	if (!c) {
		snprintf(err, errlen, "cannot reach %s: cannot create a libcurl handle", cfg->api_url);
		return -1;
	}
	x->curl = c;
	char *auth = xasprintf("Authorization: Bearer %s", cfg->token);
	h = curl_slist_append(h, auth);
	explicit_bzero(auth, strlen(auth));
	free(auth);
	h = curl_slist_append(h, "Accept: application/json");
	if (body) {
		h = curl_slist_append(h, "Content-Type: application/json");
		h = curl_slist_append(h, "Expect:"); /* no 100-continue round trip */
	}
	if (!h)
		die(EXIT_FAIL, "out of memory");

	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "sprite-tools/0.1");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout);
	if (!timeout) {
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, STREAM_IDLE_TIMEOUT);
	}
	/* A proxy from the environment cannot reach our loopback spritesd. */
	if (config_url_is_loopback(cfg->api_url))
		curl_easy_setopt(c, CURLOPT_PROXY, "");
	const char *ca = getenv("SSL_CERT_FILE");
	if (ca && *ca)
		curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, x);

	if (!strcmp(method, "GET"))
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	else if (!strcmp(method, "HEAD"))
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body || !strcmp(method, "POST") || !strcmp(method, "PUT")) {
		/* POST/PUT without a body still sends Content-Length: 0. */
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)(body ? strlen(body) : 0));
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
	}

	CURLcode cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &x->resp->status);
	if (cc != CURLE_OK) {
		reach_error(cfg, c, cc, ebuf, x->too_big, err, errlen);
		x->resp->status = 0;
	} else {
		rc = 0;
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return rc;
}

static char *build_url(const struct sprite_config *cfg, const char *path, const struct query *q)
{
	if (!q || !q->len)
		return xasprintf("%s%s", cfg->api_url, path);
	char *qs = query_encode(q);
	char *url = xasprintf("%s%s?%s", cfg->api_url, path, qs);
	free(qs);
	return url;
}

/* Finish a response: NUL-terminated body (possibly empty) and its JSON. */
static void finish(struct api_response *r)
{
	if (!r->body)
		r->body = xstrdup("");
	if (r->body_len)
		r->json = json_loadb(r->body, r->body_len, 0, NULL);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int api_call(const struct sprite_config *cfg, const char *method, const char *path,
             const struct query *q, json_t *body, int flags,
             struct api_response *resp, char *err, size_t errlen)
{
	char *url = build_url(cfg, path, q);
	char *json = NULL;
	if (body && !(json = json_dumps(body, JSON_COMPACT)))
		die(EXIT_FAIL, "cannot encode the request body as JSON");
	long timeout = flags & API_LONG ? LONG_TIMEOUT : REQUEST_TIMEOUT;
	int idem = flags & API_IDEMPOTENT, get = !strcmp(method, "GET");
	static const long backoff_ms[] = { 500, 1000, 2000 };
	int n429 = 0;
	size_t n5xx = 0;
	int rc;

	resp_init(resp);
	for (;;) {
		struct xfer x = { .resp = resp };
		rc = perform(cfg, method, url, json, timeout, &x, err, errlen);
		finish(resp);
		if (rc < 0)
			break;
		long st = resp->status, wait_ms;
		if (st == 429 && idem && ++n429 < MAX_429_ATTEMPTS) {
			long d = api_retry_delay(resp->body, resp->body_len, resp->retry_after);
			wait_ms = (d > MAX_429_WAIT ? MAX_429_WAIT : d) * 1000;
			/* A wait of up to a minute needs saying, or the command looks hung. */
			if (wait_ms >= 2000)
				warnx_("rate limited by %s: retrying in %ld s", cfg->api_url, wait_ms / 1000);
		} else if ((st == 502 || st == 503 || st == 504) && idem && get &&
		           n5xx < sizeof backoff_ms / sizeof *backoff_ms) {
			wait_ms = backoff_ms[n5xx++];
		} else {
			break;
		}
		api_response_free(resp);
		sleep_ms(wait_ms);
	}
	if (rc < 0) {
		/* No response: leave an empty one, not a partial body. */
		api_response_free(resp);
		finish(resp);
	}
	free(json);
	free(url);
	return rc;
}

int api_stream(const struct sprite_config *cfg, const char *method, const char *path,
               const struct query *q, json_t *body,
               void (*on_line)(json_t *line, const char *raw, void *arg), void *arg,
               struct api_response *resp, char *err, size_t errlen)
{
	char *url = build_url(cfg, path, q);
	char *json = NULL;
	if (body && !(json = json_dumps(body, JSON_COMPACT)))
		die(EXIT_FAIL, "cannot encode the request body as JSON");
	resp_init(resp);
	struct xfer x = { .resp = resp, .on_line = on_line, .arg = arg };
	int rc = perform(cfg, method, url, json, 0, &x, err, errlen);
	/* A last line without '\n' still counts, if the stream ended cleanly. */
	if (rc == 0 && is_2xx(resp->status) && x.line_len)
		emit_line(&x);
	free(x.line);
	if (rc < 0)
		api_response_free(resp);
	finish(resp);
	free(json);
	free(url);
	return rc;
}

/* Copy at most max bytes of s[0..n) into buf as one printable line, cutting
 * at a UTF-8 character boundary. */
static void one_line(const char *s, size_t n, size_t max, char *buf, size_t len)
{
	if (!len)
		return;
	if (max > len - 1)
		max = len - 1;
	if (n > max) {
		n = max;
		while (n && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		buf[i] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
	}
	buf[n] = '\0';
}

static const char *json_str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s && *s ? s : NULL;
}

const char *api_error_text(long status, const char *body, size_t body_len, char *buf, size_t len)
{
	json_t *j = body && body_len ? json_loadb(body, body_len, 0, NULL) : NULL;
	const char *msg = json_str(j, "message"), *code = json_str(j, "error");
	if (msg && code && strcmp(msg, code)) {
		char *s = xasprintf("%s (%s)", msg, code);
		one_line(s, strlen(s), (size_t)-1, buf, len);
		free(s);
	} else if (msg || code) {
		const char *s = msg ? msg : code;
		one_line(s, strlen(s), (size_t)-1, buf, len);
	} else {
		/* Not the structured form: the body's first non-blank line. */
		const char *s = body ? body : "", *end = s + (body ? body_len : 0);
		while (s < end && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
			s++;
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *e = nl ? nl : end;
		while (e > s && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e > s)
			one_line(s, (size_t)(e - s), ERROR_TEXT_MAX, buf, len);
		else
			snprintf(buf, len, "API error (status %ld)", status);
	}
	json_decref(j);
	return buf;
}

long api_retry_delay(const char *body, size_t body_len, long retry_after_header)
{
	json_t *j = body && body_len ? json_loadb(body, body_len, 0, NULL) : NULL;
	json_t *v = json_object_get(j, "retry_after_seconds");
	long d = -1;
	if (json_is_integer(v) && json_integer_value(v) >= 0)
		d = (long)json_integer_value(v);
	json_decref(j);
	if (d >= 0)
		return d;
	return retry_after_header >= 0 ? retry_after_header : 1;
}
