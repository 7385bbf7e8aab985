/* t-api: error text, retry delay, and api_call/api_stream against a forked
 * one-connection-per-response HTTP server on loopback. */
#include "api.h"
#include "tap.h"
#include "util.h"

#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define SECRET "org/id/SeCrEt-7f3a9"
/* In a canned response: flush what came before and pause, to split the body. */
#define PAUSE "\x01"

static const char *etext(long status, const char *body)
{
	static char buf[512];
	return api_error_text(status, body, strlen(body), buf, sizeof buf);
}

/* A listening loopback socket; *port gets its port. */
static int listen_any(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 8) ||
	    getsockname(fd, (struct sockaddr *)&a, &len))
		die(1, "cannot listen on loopback");
	*port = ntohs(a.sin_port);
	return fd;
}

struct server {
	pid_t pid;
	int log;
	struct sprite_config cfg;
};

/* Read one request (head and Content-Length body) from c into the log. */
static void log_request(int c, int log)
{
	char buf[65536];
	size_t len = 0;
	char *end = NULL;
	while (!end && len < sizeof buf - 1) {
		ssize_t n = read(c, buf + len, sizeof buf - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
	}
	if (end) {
		char *cl = strcasestr(buf, "\r\nContent-Length:");
		size_t want = (size_t)(end + 4 - buf) + (cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0);
		while (len < want && len < sizeof buf - 1) {
			ssize_t n = read(c, buf + len, sizeof buf - 1 - len);
			if (n <= 0)
				break;
			len += (size_t)n;
		}
	}
	(void)write_all(log, buf, len);
	(void)write_all(log, "\n--END--\n", 9);
}

/* Serve responses[0..n) in order, one connection each, in a child. */
static void server_start(struct server *s, const char *const *responses, size_t n)
{
	int port, p[2];
	int lfd = listen_any(&port);
	if (pipe(p))
		die(1, "pipe");
	fflush(stdout);
	s->pid = fork();
	if (s->pid == 0) {
		alarm(20); /* never outlive a broken test */
		close(p[0]);
		for (size_t i = 0; i < n; i++) {
			int c = accept(lfd, NULL, NULL);
			if (c < 0)
				_exit(1);
			log_request(c, p[1]);
			for (const char *r = responses[i]; *r;) {
				size_t k = strcspn(r, PAUSE);
				(void)write_all(c, r, k);
				r += k;
				if (*r) {
					usleep(50000);
					r++;
				}
			}
			close(c);
		}
		_exit(0);
	}
	close(p[1]);
	close(lfd);
	s->log = p[0];
	memset(&s->cfg, 0, sizeof s->cfg);
	s->cfg.api_url = xasprintf("http://127.0.0.1:%d", port);
	s->cfg.token = xstrdup(SECRET);
	s->cfg.token_source = "SPRITES_TOKEN";
}

/* Wait for the server; returns everything it was sent (malloc'd). */
static char *server_finish(struct server *s)
{
	char *log = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len + 4096 > cap)
			log = xrealloc(log, cap = cap * 2 + 8192);
		ssize_t n = read(s->log, log + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	log[len] = '\0';
	close(s->log);
	kill(s->pid, SIGTERM);
	waitpid(s->pid, NULL, 0);
	config_free(&s->cfg);
	return log;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

struct lines {
	int n, json;
	char text[256];
};

static void on_line(json_t *line, const char *raw, void *arg)
{
	struct lines *l = arg;
	l->n++;
	l->json += line != NULL;
	size_t used = strlen(l->text);
	snprintf(l->text + used, sizeof l->text - used, "%s|", raw);
}

#define HDR200 "HTTP/1.1 200 OK\r\nConnection: close\r\n"

static void test_calls(void)
{
	struct server s;
	struct api_response r;
	char err[512];
	char *log;

	static const char *const list[] = {
		HDR200 "Sprite-Version: v0.0.1\r\nContent-Length: 14\r\n\r\n{\"sprites\":[]}",
	};
	server_start(&s, list, 1);
	struct query q;
	query_init(&q);
	query_add(&q, "prefix", "a b");
	query_add(&q, "max_results", "100");
	int rc = api_call(&s.cfg, "GET", "/v1/sprites", &q, NULL, API_IDEMPOTENT, &r, err, sizeof err);
	query_free(&q);
	is_int(rc, 0, "GET: a response arrived");
	is_int(r.status, 200, "status 200");
	ok(json_is_array(json_object_get(r.json, "sprites")), "body parsed as JSON");
	is_str(r.sprite_version, "v0.0.1", "Sprite-Version captured");
	is_int(r.retry_after, -1, "no Retry-After");
	api_response_free(&r);
	log = server_finish(&s);
	ok(strstr(log, "GET /v1/sprites?max_results=100&prefix=a+b HTTP/1.1\r\n") != NULL,
	   "request line with sorted, form-encoded query");
	ok(strstr(log, "\r\nAuthorization: Bearer " SECRET "\r\n") != NULL, "bearer token sent");
	ok(!strstr(log, "Content-Type"), "no Content-Type without a body");
	free(log);

	static const char *const create[] = {
		"HTTP/1.1 201 Created\r\nConnection: close\r\n\r\n{\"name\":\"web\"}",
	};
	server_start(&s, create, 1);
	json_t *body = json_pack("{s:s}", "name", "web");
	rc = api_call(&s.cfg, "POST", "/v1/sprites", NULL, body, API_LONG, &r, err, sizeof err);
	json_decref(body);
	is_int(r.status, 201, "POST: 201, body read to close");
	is_str(json_string_value(json_object_get(r.json, "name")), "web", "POST answer parsed");
	api_response_free(&r);
	log = server_finish(&s);
	ok(strstr(log, "POST /v1/sprites HTTP/1.1\r\n") && strstr(log, "\r\nContent-Type: application/json\r\n"),
	   "POST with JSON Content-Type");
	ok(strstr(log, "\r\n\r\n{\"name\":\"web\"}") != NULL, "compact JSON body sent");
	free(log);

	static const char *const limited[] = {
		"HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\nretry-after: 7\r\n\r\n"
		"{\"error\":\"rate_limited\",\"message\":\"slow down\",\"retry_after_seconds\":0}",
		HDR200 "\r\n{}",
	};
	server_start(&s, limited, 2);
	rc = api_call(&s.cfg, "DELETE", "/v1/sprites/x", NULL, NULL, API_IDEMPOTENT, &r, err, sizeof err);
	is_int(r.status, 200, "429 retried for an idempotent call (retry_after_seconds 0)");
	api_response_free(&r);
	log = server_finish(&s);
	is_int(count(log, "--END--"), 2, "two requests");
	free(log);

	server_start(&s, limited, 1);
	rc = api_call(&s.cfg, "POST", "/v1/sprites", NULL, NULL, 0, &r, err, sizeof err);
	is_int(r.status, 429, "429 not retried for a non-idempotent call");
	is_int(r.retry_after, 7, "Retry-After captured case-insensitively");
	is_int(api_retry_delay(r.body, r.body_len, r.retry_after), 0, "JSON delay preferred");
	api_response_free(&r);
	free(server_finish(&s));

	static const char *const busy[] = {
		"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\nbusy",
		HDR200 "\r\n{}",
	};
	server_start(&s, busy, 2);
	long long t0 = now_ms();
	rc = api_call(&s.cfg, "GET", "/v1/sprites/x", NULL, NULL, API_IDEMPOTENT, &r, err, sizeof err);
	long long dt = now_ms() - t0;
	is_int(r.status, 200, "503 on an idempotent GET retried");
	ok(dt >= 450, "after a 0.5 s backoff (%lld ms)", dt);
	api_response_free(&r);
	free(server_finish(&s));

	server_start(&s, busy, 1);
	rc = api_call(&s.cfg, "DELETE", "/v1/sprites/x", NULL, NULL, API_IDEMPOTENT, &r, err, sizeof err);
	is_int(r.status, 503, "503 not retried for a non-GET");
	is_str(r.body, "busy", "non-JSON body kept");
	ok(r.json == NULL, "and not parsed");
	api_response_free(&r);
	free(server_finish(&s));

	static const char *const stream[] = {
		HDR200 "Content-Type: application/x-ndjson\r\n\r\n{\"a\":1}\n\n{\"b\"" PAUSE ":2}\r\nnot json\n" PAUSE
		"{\"c\":3}",
	};
	server_start(&s, stream, 1);
	struct lines l = { 0 };
	rc = api_stream(&s.cfg, "POST", "/v1/sprites/x/checkpoint", NULL, NULL, on_line, &l, &r, err,
	                sizeof err);
	is_int(rc, 0, "stream: response arrived");
	is_int(l.n, 4, "four non-empty lines, one split across reads, last without newline");
	is_int(l.json, 3, "three of them JSON");
	is_str(l.text, "{\"a\":1}|{\"b\":2}|not json|{\"c\":3}|", "lines in order, CR stripped");
	is_int(r.body_len, 0, "2xx stream body not buffered");
	api_response_free(&r);
	free(server_finish(&s));

	static const char *const refused[] = {
		"HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n{\"error\":\"not_found\",\"message\":\"no such sprite\"}\n",
	};
	server_start(&s, refused, 1);
	memset(&l, 0, sizeof l);
	rc = api_stream(&s.cfg, "POST", "/v1/sprites/x/checkpoint", NULL, NULL, on_line, &l, &r, err,
	                sizeof err);
	is_int(r.status, 404, "stream: non-2xx status");
	is_int(l.n, 0, "on_line not called for a non-2xx answer");
	ok(json_is_object(r.json), "non-2xx body buffered and parsed");
	api_response_free(&r);
	free(server_finish(&s));
}

static void test_unreachable(void)
{
	int port;
	close(listen_any(&port)); /* a port nobody listens on now */
	struct sprite_config cfg = { .token = SECRET, .token_source = "SPRITES_TOKEN" };
	cfg.api_url = xasprintf("http://127.0.0.1:%d", port);
	struct api_response r;
	char err[512] = "";
	int rc = api_call(&cfg, "GET", "/v1/sprites", NULL, NULL, API_IDEMPOTENT, &r, err, sizeof err);
	is_int(rc, -1, "closed port: no response");
	is_int(r.status, 0, "status 0");
	char *want = xasprintf("cannot reach %s: Connection refused", cfg.api_url);
	is_str(err, want, "says it cannot reach the URL");
	ok(!strstr(err, SECRET), "token not in the message");
	ok(r.body && !r.json, "response left empty and freeable");
	api_response_free(&r);
	free(want);
	free(cfg.api_url);
}

int main(void)
{
	is_str(etext(429, "{\"error\":\"sprite_creation_rate_limited\",\"message\":\"too many\","
	                  "\"retry_after_seconds\":30}"),
	       "too many (sprite_creation_rate_limited)", "structured error: message (code)");
	is_str(etext(400, "{\"message\":\"name taken\"}"), "name taken", "message only");
	is_str(etext(401, "{\"error\":\"unauthorized\"}"), "unauthorized", "error only");
	is_str(etext(400, "{\"error\":\"same\",\"message\":\"same\"}"), "same", "code equal to message not repeated");
	is_str(etext(500, "{\"message\":\"two\\nlines\"}"), "two lines", "message made one line");
	is_str(etext(502, "\n  Bad Gateway  \r\nnginx\n"), "Bad Gateway", "non-JSON: first line, trimmed");
	is_str(etext(502, ""), "API error (status 502)", "empty body");
	is_str(etext(502, " \n "), "API error (status 502)", "blank body");
	char big[1000];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	is_int(strlen(etext(500, big)), 300, "non-JSON body cut at 300 bytes");
	memcpy(big + 299, "\xc3\xa9", 2);
	is_int(strlen(etext(500, big)), 299, "cut before a split UTF-8 character");

	const char *rl = "{\"retry_after_seconds\":30}";
	is_int(api_retry_delay(rl, strlen(rl), 5), 30, "retry delay: JSON first");
	is_int(api_retry_delay("{}", 2, 5), 5, "retry delay: header fallback");
	is_int(api_retry_delay("oops", 4, -1), 1, "retry delay: default 1");
	is_int(api_retry_delay(NULL, 0, 0), 0, "retry delay: header 0 honoured");

	test_unreachable();
	test_calls();

	plan(tap_n);
	return done_testing();
}
