/* http.c: the REST side of the "sprites" protocol: routing, auth, bodies and
 * responses.  WebSocket connections on the same protocol go to exec_ws.c. */
#include "spritesd.h"
#include "util.h"

#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"

char *error_body(const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	json_t *o = json_pack("{s:s, s:s}", "error", code, "message", msg);
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

const char *route_sprite(const char *path, char *name, size_t namelen)
{
	static const char prefix[] = "/v1/sprites/";
	if (strncmp(path, prefix, sizeof prefix - 1))
		return NULL;
	const char *p = path + sizeof prefix - 1;
	const char *slash = strchr(p, '/');
	size_t n = slash ? (size_t)(slash - p) : strlen(p);
	if (n == 0 || n >= namelen)
		return NULL;
	memcpy(name, p, n);
	name[n] = '\0';
	return slash ? slash + 1 : "";
}

int authorized(struct lws *wsi, struct server *srv)
{
	char hdr[1024];
	int n = lws_hdr_copy(wsi, hdr, sizeof hdr, WSI_TOKEN_HTTP_AUTHORIZATION);
	if (n <= 7 || strncasecmp(hdr, "Bearer ", 7))
		return 0;
	const char *tok = hdr + 7;
	size_t want = strlen(srv->token), got = strlen(tok);
	/* Constant time in the token's contents. */
	unsigned char diff = (unsigned char)(want != got);
	for (size_t i = 0; i < want; i++)
		diff |= (unsigned char)(srv->token[i] ^ (i < got ? tok[i] : 0));
	return diff == 0;
}

static void log_request(struct lws *wsi, const char *method, const char *path, int status, long long started)
{
	struct server *srv = server_of(wsi);
	if (!srv->log_requests)
		return;
	/* The path only: query strings carry argv and env, which may be secret.
	 * Escaped: a client's bytes must not drive the terminal reading the log. */
	char m[64], p[1024];
	fprintf(stderr, "spritesd: %s %s %d %lldms\n", log_safe(method, strlen(method), m, sizeof m),
	        log_safe(path, strlen(path), p, sizeof p), status, now_ms() - started);
}

int http_respond_now(struct lws *wsi, int status, const char *type, const char *body, size_t len,
                     const char *reason)
{
	uint8_t buf[LWS_PRE + 2048], *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf - 1;
	/* A WebSocket client sees a refused upgrade's status and headers but
	 * seldom its body: the reason goes in a header too, as printable ASCII. */
	char why[256] = "";
	if (reason)
		log_safe(reason, strlen(reason), why, sizeof why);
	if (lws_add_http_common_headers(wsi, (unsigned int)status, len ? type : NULL, len, &p, end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"sprite-version:",
	                                (const unsigned char *)SPRITESD_VERSION,
	                                (int)strlen(SPRITESD_VERSION), &p, end) ||
	    (*why && lws_add_http_header_by_name(wsi, (const unsigned char *)"sprite-error:",
	                                         (const unsigned char *)why, (int)strlen(why), &p, end)) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	if (len) {
		uint8_t *out = xmalloc(LWS_PRE + len);
		memcpy(out + LWS_PRE, body, len);
		int w = lws_write(wsi, out + LWS_PRE, len, LWS_WRITE_HTTP_FINAL);
		free(out);
		if (w < 0)
			return -1;
	}
	return 0;
}

static void free_http(struct conn *c)
{
	free(c->body);
	c->body = NULL;
	c->body_len = 0;
	c->body_too_big = 0;
	lws_buflist_destroy_all_segments(&c->out);
	c->out_done = c->streaming = 0;
}

/* Responses: the headers go at once; the body is queued in c->out and
 * written from HTTP_WRITEABLE.  A streamed (NDJSON) response has no length:
 * lines are queued as they happen and the connection closes after the last. */
static int send_headers(struct lws *wsi, struct conn *c, int status, const char *type,
                        lws_filepos_t len)
{
	c->status = status;
	log_request(wsi, c->method, c->path, status, c->started_ms);
	uint8_t buf[LWS_PRE + 2048], *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf - 1;
	if (lws_add_http_common_headers(wsi, (unsigned int)status, type, len, &p, end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"sprite-version:",
	                                (const unsigned char *)SPRITESD_VERSION,
	                                (int)strlen(SPRITESD_VERSION), &p, end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	return 0;
}

int http_respond(struct lws *wsi, struct conn *c, int status, const char *type, char *body)
{
	size_t len = body ? strlen(body) : 0;
	int r = send_headers(wsi, c, status, len ? type : NULL, len);
	if (r == 0 && len && strcmp(c->method, "HEAD") &&
	    lws_buflist_append_segment(&c->out, (const uint8_t *)body, len) < 0)
		r = -1;
	free(body);
	if (r < 0)
		return -1;
	c->out_done = 1;
	if (!lws_buflist_total_len(&c->out))
		return c->close_after || lws_http_transaction_completed(wsi) ? -1 : 0;
	lws_callback_on_writable(wsi);
	return 0;
}

int http_respond_json(struct lws *wsi, struct conn *c, int status, json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return http_respond(wsi, c, status, "application/json", s);
}

int http_respond_error(struct lws *wsi, struct conn *c, int status, const char *code, const char *msg)
{
	return http_respond(wsi, c, status, "application/json", error_body(code, "%s", msg));
}

int http_stream_begin(struct lws *wsi, struct conn *c, int status)
{
	c->wsi = wsi;
	c->streaming = 1;
	return send_headers(wsi, c, status, "application/x-ndjson", LWS_ILLEGAL_HTTP_CONTENT_LEN);
}

void http_stream_line(struct conn *c, json_t *line)
{
	char *s = json_dumps(line, JSON_COMPACT);
	json_decref(line);
	if (!s)
		return;
	size_t n = strlen(s);
	s[n] = '\n';
	if (lws_buflist_append_segment(&c->out, (const uint8_t *)s, n + 1) >= 0)
		lws_callback_on_writable(c->wsi);
	free(s);
}

void http_stream_end(struct conn *c)
{
	c->out_done = 1;
	lws_callback_on_writable(c->wsi);
}

/* HTTP_WRITEABLE: the next piece of the body; done, end the transaction. */
static int write_body(struct lws *wsi, struct conn *c)
{
	struct server *srv = server_of(wsi);
	uint8_t *seg;
	size_t len = lws_buflist_next_segment_len(&c->out, &seg);
	if (len) {
		if (len > FRAME_CHUNK)
			len = FRAME_CHUNK;
		memcpy(srv->scratch + LWS_PRE, seg, len);
		lws_buflist_use_segment(&c->out, len);
		int last = c->out_done && !c->streaming && !lws_buflist_total_len(&c->out);
		if (lws_write(wsi, srv->scratch + LWS_PRE, len, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < 0)
			return -1;
	}
	if (lws_buflist_total_len(&c->out)) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	if (!c->out_done)
		return 0;
	/* A stream has no length: only the close ends it, even when lws would
	 * keep the connection (a POST without Content-Length, as curl -X POST). */
	int stream = c->streaming, close_after = c->close_after;
	free_http(c);
	return stream || close_after || lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int not_found_sprite(struct lws *wsi, struct conn *c, const char *name)
{
	char msg[160];
	snprintf(msg, sizeof msg, "sprite \"%s\" not found", name);
	return http_respond_error(wsi, c, 404, "not_found", msg);
}

/* Undo listen.c's escapes: 0xFF then 'r', 'n', '0' or 0xFF.  Returns the
 * new length, or -1 for a NUL. */
static long unescape_private(char *s, size_t len)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] == 0xff && i + 1 < len) {
			char n = s[i + 1];
			if (n == '0')
				return -1;
			if (n == 'r' || n == 'n' || (unsigned char)n == 0xff) {
				s[o++] = n == 'r' ? '\r' : n == 'n' ? '\n' : (char)0xff;
				i++;
				continue;
			}
		}
		s[o++] = s[i];
	}
	s[o] = '\0';
	return (long)o;
}

int http_args(struct lws *wsi, struct query *q)
{
	int rc = 0;
	for (int i = 0;; i++) {
		int len = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
		if (len <= 0 && lws_hdr_copy_fragment(wsi, (char[1]){ 0 }, 1, WSI_TOKEN_HTTP_URI_ARGS, i) < 0)
			break;
		char *frag = xmalloc((size_t)len + 1);
		if (lws_hdr_copy_fragment(wsi, frag, len + 1, WSI_TOKEN_HTTP_URI_ARGS, i) < 0) {
			free(frag);
			break;
		}
		if (unescape_private(frag, strlen(frag)) < 0)
			rc = -1;
		char *eq = strchr(frag, '=');
		if (eq)
			*eq = '\0';
		query_add(q, frag, eq ? eq + 1 : "");
		free(frag);
	}
	return rc;
}

/* ---- routes ---- */

static int list_sprites(struct lws *wsi, struct conn *c, struct server *srv)
{
	struct query q;
	query_init(&q);
	http_args(wsi, &q);
	const char *prefix = query_get(&q, "prefix", 0);
	const char *after = query_get(&q, "continuation_token", 0);
	const char *max_s = query_get(&q, "max_results", 0);
	long max = max_s ? strtol(max_s, NULL, 10) : 50;
	if (max < 1)
		max = 50;
	if (max > 500)
		max = 500;

	/* The token is the last name returned; names sort bytewise. */
	struct sprite **all = xcalloc(srv->sprites.count + 1, sizeof *all);
	size_t n = 0;
	lws_start_foreach_dll(struct lws_dll2 *, p, lws_dll2_get_head(&srv->sprites)) {
		struct sprite *sp = lws_container_of(p, struct sprite, list);
		if ((!prefix || !strncmp(sp->name, prefix, strlen(prefix))) &&
		    (!after || !*after || strcmp(sp->name, after) > 0))
			all[n++] = sp;
	} lws_end_foreach_dll(p);
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(all[j - 1]->name, all[j]->name) > 0; j--) {
			struct sprite *t = all[j];
			all[j] = all[j - 1];
			all[j - 1] = t;
		}
	int running = 0, cold = 0;
	lws_start_foreach_dll(struct lws_dll2 *, p, lws_dll2_get_head(&srv->sprites)) {
		struct sprite *sp = lws_container_of(p, struct sprite, list);
		if (sp->sb.init_pid)
			running++;
		else
			cold++;
	} lws_end_foreach_dll(p);

	json_t *arr = json_array();
	size_t shown = n < (size_t)max ? n : (size_t)max;
	for (size_t i = 0; i < shown; i++)
		json_array_append_new(arr, sprite_json(all[i]));
	int more = n > shown;
	json_t *o = json_pack("{s:o, s:b, s:s, s:{s:s, s:i, s:i, s:i, s:i, s:i}, "
	                      "s:s, s:i, s:i, s:i, s:i, s:i}",
	                      "sprites", arr, "has_more", more,
	                      "next_continuation_token", more ? all[shown - 1]->name : "",
	                      "org", "name", "local", "running", running, "warm", 0, "cold", cold,
	                      "running_limit", 1000, "warm_limit", 1000,
	                      "name", "local", "running", running, "warm", 0, "cold", cold,
	                      "running_limit", 1000, "warm_limit", 1000);
	free(all);
	query_free(&q);
	return http_respond_json(wsi, c, 200, o);
}

static int create_sprite(struct lws *wsi, struct conn *c, struct server *srv)
{
	json_error_t jerr;
	json_t *req = json_loadb(c->body ? c->body : "", c->body_len, 0, &jerr);
	if (!json_is_object(req)) {
		json_decref(req);
		char msg[300];
		snprintf(msg, sizeof msg, "request body must be a JSON object with \"name\" (%s)", jerr.text);
		return http_respond_error(wsi, c, 400, "bad_request", msg);
	}
	const char *name = json_string_value(json_object_get(req, "name"));
	if (!name) {
		json_decref(req);
		return http_respond_error(wsi, c, 400, "bad_request", "\"name\" is required");
	}
	int status = 500;
	char err[300];
	struct sprite *sp = store_create(srv, name, req, &status, err, sizeof err);
	json_decref(req);
	if (!sp)
		return http_respond_error(wsi, c, status, status == 400 ? "bad_request" : "internal_error", err);
	return http_respond_json(wsi, c, 201, sprite_json(sp));
}

static int update_sprite(struct lws *wsi, struct conn *c, struct sprite *sp)
{
	json_t *req = json_loadb(c->body ? c->body : "", c->body_len, 0, NULL);
	if (!json_is_object(req)) {
		json_decref(req);
		return http_respond_error(wsi, c, 400, "bad_request", "request body must be a JSON object");
	}
	json_t *labels = json_object_get(req, "labels");
	if (json_is_true(json_object_get(req, "clear_labels")))
		json_object_del(sp->meta, "labels");
	if (json_is_array(labels))
		json_object_set(sp->meta, "labels", labels);
	json_t *us = json_object_get(req, "url_settings");
	if (json_is_object(us))
		json_object_update(json_object_get(sp->meta, "url_settings"), us);
	char now[32];
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_object_set_new(sp->meta, "updated_at", json_string(now));
	json_decref(req);
	store_save(sp);
	return http_respond_json(wsi, c, 200, sprite_json(sp));
}

static int list_sessions(struct lws *wsi, struct conn *c, struct sprite *sp)
{
	json_t *arr = json_array();
	lws_start_foreach_dll(struct lws_dll2 *, p, lws_dll2_get_head(&sp->sessions)) {
		json_array_append_new(arr, session_json(lws_container_of(p, struct session, list)));
	} lws_end_foreach_dll(p);
	return http_respond_json(wsi, c, 200, json_pack("{s:o}", "sessions", arr));
}

/* exec/ID/kill: signal from the query or a JSON body, with or without SIG;
 * timeout as "10s" or 10 (default 10 s). */
static int kill_route(struct lws *wsi, struct conn *c, struct sprite *sp, const char *idpath)
{
	char id[32];
	size_t n = (size_t)(strchr(idpath, '/') - idpath);
	if (n == 0 || n >= sizeof id)
		return http_respond_error(wsi, c, 404, "not_found", "no such session");
	memcpy(id, idpath, n);
	id[n] = '\0';
	struct session *s = session_find(sp, id);
	if (!s) {
		char msg[96];
		snprintf(msg, sizeof msg, "session %s not found", id);
		return http_respond_error(wsi, c, 404, "not_found", msg);
	}
	struct query q;
	query_init(&q);
	http_args(wsi, &q);
	json_t *body = c->body_len ? json_loadb(c->body, c->body_len, 0, NULL) : NULL;
	const char *sig = query_get(&q, "signal", 0);
	if (!sig)
		sig = json_string_value(json_object_get(body, "signal"));
	char tbuf[32] = "";
	const char *t = query_get(&q, "timeout", 0);
	json_t *jt = json_object_get(body, "timeout");
	if (!t && json_is_integer(jt))
		snprintf(tbuf, sizeof tbuf, "%lld", (long long)json_integer_value(jt)), t = tbuf;
	else if (!t && json_is_string(jt))
		t = json_string_value(jt);
	int signo = sig ? signal_from_name(sig) : SIGTERM;
	long long timeout = t ? parse_duration_ms(t) : 10000;
	int r;
	if (signo <= 0)
		r = http_respond_error(wsi, c, 400, "bad_request", "unknown signal: use TERM, INT, KILL, HUP, ...");
	else if (timeout < 0)
		r = http_respond_error(wsi, c, 400, "bad_request", "timeout must be a duration like 10s, or seconds");
	else
		r = kill_request(wsi, c, s, signo, timeout);
	json_decref(body);
	query_free(&q);
	return r;
}

static int handle(struct lws *wsi, struct conn *c)
{
	struct server *srv = server_of(wsi);
	const char *m = c->method;
	if (!authorized(wsi, srv)) {
		/* Nothing more for whoever lacks the token: the connection goes
		 * too, rather than wait for another try under lws's keep-alive. */
		c->close_after = 1;
		return http_respond_error(wsi, c, 401, "unauthorized",
		                          "missing or invalid token (Authorization: Bearer <token>)");
	}
	if (c->body_too_big)
		return http_respond_error(wsi, c, 413, "payload_too_large", "request body too large");

	if (!strcmp(c->path, "/v1/sprites") || !strcmp(c->path, "/v1/sprites/")) {
		if (!strcmp(m, "GET") || !strcmp(m, "HEAD"))
			return list_sprites(wsi, c, srv);
		if (!strcmp(m, "POST"))
			return create_sprite(wsi, c, srv);
		return http_respond_error(wsi, c, 405, "method_not_allowed", "use GET or POST on /v1/sprites");
	}
	char name[64];
	const char *rest = route_sprite(c->path, name, sizeof name);
	if (!rest)
		return http_respond_error(wsi, c, 404, "not_found", "no such endpoint");
	/* Fly's control socket is optional: a plain 404 sends SDKs to /exec. */
	if (!strcmp(rest, "control"))
		return http_respond(wsi, c, 404, NULL, NULL);
	struct sprite *sp = store_find(srv, name);
	if (!sp)
		return not_found_sprite(wsi, c, name);

	if (!*rest) {
		if (!strcmp(m, "GET") || !strcmp(m, "HEAD"))
			return http_respond_json(wsi, c, 200, sprite_json(sp));
		if (!strcmp(m, "PUT"))
			return update_sprite(wsi, c, sp);
		if (!strcmp(m, "DELETE")) {
			if (store_destroy(sp) < 0)
				return http_respond_error(wsi, c, 500, "internal_error",
				                     "sprite stopped but its files could not all be removed");
			return http_respond(wsi, c, 204, NULL, NULL);
		}
		return http_respond_error(wsi, c, 405, "method_not_allowed", "use GET, PUT or DELETE");
	}
	if (!strcmp(rest, "exec")) {
		if (!strcmp(m, "HEAD"))
			return http_respond(wsi, c, 200, NULL, NULL);
		if (!strcmp(m, "GET"))
			return list_sessions(wsi, c, sp);
		return http_respond_error(wsi, c, 501, "not_implemented",
		                     "exec over plain HTTP is not supported here: use the WebSocket endpoint");
	}
	if (!strncmp(rest, "exec/", 5) && strchr(rest + 5, '/') && !strcmp(strchr(rest + 5, '/'), "/kill")) {
		if (strcmp(m, "POST"))
			return http_respond_error(wsi, c, 405, "method_not_allowed", "use POST to kill a session");
		return kill_route(wsi, c, sp, rest + 5);
	}
	if (!strcmp(rest, "checkpoint") || !strncmp(rest, "checkpoints", 11))
		return checkpoint_route(wsi, c, sp, rest);
	if (!strcmp(rest, "policy/network"))
		return netpolicy_route(wsi, c, sp);
	if (!strcmp(rest, "upgrade") && !strcmp(m, "POST"))
		return http_respond(wsi, c, 204, NULL, NULL);
	return http_respond_error(wsi, c, 404, "not_found", "no such endpoint");
}

static const struct {
	enum lws_token_indexes tok;
	const char *name;
} methods[] = {
	{ WSI_TOKEN_GET_URI, "GET" },       { WSI_TOKEN_POST_URI, "POST" },
	{ WSI_TOKEN_PUT_URI, "PUT" },       { WSI_TOKEN_DELETE_URI, "DELETE" },
	{ WSI_TOKEN_HEAD_URI, "HEAD" },     { WSI_TOKEN_PATCH_URI, "PATCH" },
	{ WSI_TOKEN_OPTIONS_URI, "OPTIONS" },
};


int sprites_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct conn *c = user;
	struct server *srv = server_of(wsi);

	switch (reason) {
	case LWS_CALLBACK_HTTP: {
		free_http(c);
		c->started_ms = now_ms();
		snprintf(c->path, sizeof c->path, "%s", (const char *)in);
		strcpy(c->method, "GET");
		for (size_t i = 0; i < sizeof methods / sizeof *methods; i++)
			if (lws_hdr_total_length(wsi, methods[i].tok))
				strcpy(c->method, methods[i].name);
		/* lws hands us a body (BODY_COMPLETION) for POST with a
		 * Content-Length, even 0, and for PUT and PATCH with a non-zero
		 * one, or chunked.  Without either header a request has no body
		 * (HTTP/1.1), though lws would wait for one: answer now. */
		char cl[32] = "";
		int has_cl = lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0;
		int chunked = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0;
		int body_method = !strcmp(c->method, "POST") || !strcmp(c->method, "PUT") ||
		                  !strcmp(c->method, "PATCH");
		if (body_method && (chunked || (has_cl && (atoll(cl) > 0 || !strcmp(c->method, "POST")))))
			return 0;
		return handle(wsi, c);
	}
	case LWS_CALLBACK_HTTP_BODY:
		if (c->body_too_big || c->body_len + len > REQUEST_BODY_MAX) {
			c->body_too_big = 1;
			return 0;
		}
		c->body = xrealloc(c->body, c->body_len + len + 1);
		if (len) /* an empty body's piece comes with in NULL, which memcpy may not take */
			memcpy(c->body + c->body_len, in, len);
		c->body_len += len;
		c->body[c->body_len] = '\0';
		return 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		return handle(wsi, c);
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return write_body(wsi, c);
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		if (c) {
			kill_request_closed(c);
			checkpoint_request_closed(c);
			free_http(c);
		}
		return 0;
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		return exec_confirm_upgrade(wsi, srv);
	case LWS_CALLBACK_ADD_HEADERS: {
		/* Only the WebSocket handshake asks us for headers. */
		struct lws_process_html_args *args = in;
		if (lws_add_http_header_by_name(wsi, (const unsigned char *)"x-sprite-capabilities:",
		                                (const unsigned char *)"signal", 6,
		                                (unsigned char **)&args->p,
		                                (unsigned char *)args->p + args->max_len))
			return 1;
		return 0;
	}
	default:
		return c ? exec_ws_callback(wsi, reason, c, in, len) : 0;
	}
}
