/* exec_ws.c: the exec WebSocket protocol.  One connection is one client of a
 * session: it sends session_info, then the session's output from its own
 * place in the ring (scrollback first for attachers), then the exit; it
 * feeds stdin, EOF, resize and signal messages to the session. */
#include "spritesd.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#include "query.h"

struct exec_target {
	char name[64];
	char id[32];  /* session to attach to, or "" to start a command */
};

/* 0: an exec endpoint (t filled); -1: some other path. */
static int parse_target(struct lws *wsi, const struct query *q, struct exec_target *t)
{
	char path[512];
	if (lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI) <= 0)
		return -1;
	memset(t, 0, sizeof *t);
	const char *rest = route_sprite(path, t->name, sizeof t->name);
	if (!rest)
		return -1;
	if (!strcmp(rest, "exec") || !strcmp(rest, "exec/")) {
		const char *id = query_get(q, "id", 0);
		if (id)
			snprintf(t->id, sizeof t->id, "%s", id);
		return 0;
	}
	if (!strncmp(rest, "exec/", 5) && !strchr(rest + 5, '/')) {
		snprintf(t->id, sizeof t->id, "%s", rest + 5);
		return 0;
	}
	return -1;
}

/* The longest duration taken: a century, far inside a long long of ms. */
#define DURATION_MAX_MS (100.0 * 365 * 24 * 3600 * 1000)

long long parse_duration_ms(const char *s)
{
	if (!s || !*s)
		return -1;
	char *end;
	double total = 0;
	const char *p = s;
	if (!strcmp(s, "0"))
		return 0;
	double v = strtod(p, &end);
	if (!*end) {
		total = v * 1000;
	} else {
		while (*p) {
			v = strtod(p, &end);
			if (end == p || !(v >= 0))
				return -1;
			p = end;
			if (!strncmp(p, "ms", 2)) total += v, p += 2;
			else if (*p == 's') total += v * 1000, p++;
			else if (*p == 'm') total += v * 60000, p++;
			else if (*p == 'h') total += v * 3600000, p++;
			else return -1;
		}
	}
	/* Negative, NaN, infinite or absurd: not a duration (and the cast
	 * below would be undefined). */
	if (!(total >= 0 && total <= DURATION_MAX_MS))
		return -1;
	return (long long)total;
}

static int is_true(const char *v)
{
	return v && (!strcmp(v, "true") || !strcmp(v, "1"));
}

/* Build the exec request from the query; NULL message on success. */
static const char *parse_request(const struct query *q, struct exec_request *req)
{
	memset(req, 0, sizeof *req);
	req->argc = query_count(q, "cmd");
	req->argv = xcalloc(req->argc + 1, sizeof *req->argv);
	for (size_t i = 0; i < req->argc; i++)
		req->argv[i] = xstrdup(query_get(q, "cmd", i));
	req->envc = query_count(q, "env");
	req->env = xcalloc(req->envc + 1, sizeof *req->env);
	for (size_t i = 0; i < req->envc; i++)
		req->env[i] = xstrdup(query_get(q, "env", i));
	const char *path = query_get(q, "path", 0);
	req->path = path && *path ? xstrdup(path) : NULL;
	const char *dir = query_get(q, "dir", 0);
	req->dir = dir && *dir ? xstrdup(dir) : NULL;
	req->tty = is_true(query_get(q, "tty", 0));
	const char *rows = query_get(q, "rows", 0), *cols = query_get(q, "cols", 0);
	req->rows = rows ? atoi(rows) : 24;
	req->cols = cols ? atoi(cols) : 80;
	if (req->tty && (req->rows <= 0 || req->rows > 65535 || req->cols <= 0 || req->cols > 65535))
		return "rows and cols must be 1-65535";
	const char *in = query_get(q, "stdin", 0);
	req->stdin_enabled = in ? is_true(in) : req->tty;
	const char *mrad = query_get(q, "max_run_after_disconnect", 0);
	req->max_run_after_disconnect_ms = req->tty ? 0 : 10000;
	if (mrad) {
		req->max_run_after_disconnect_ms = parse_duration_ms(mrad);
		if (req->max_run_after_disconnect_ms < 0)
			return "max_run_after_disconnect must be a duration like 10s or 0";
	}
	return NULL;
}

static int reject(struct lws *wsi, int status, const char *code, const char *msg)
{
	struct server *srv = server_of(wsi);
	char path[256] = "";
	lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI);
	char safe[1024];
	if (srv->log_requests)
		fprintf(stderr, "spritesd: WS %s %d\n", log_safe(path, strlen(path), safe, sizeof safe), status);
	char *body = code ? error_body(code, "%s", msg) : NULL;
	int r = http_respond_now(wsi, status, "application/json", body, body ? strlen(body) : 0, msg);
	free(body);
	return r < 0 ? -1 : 1;
}

int exec_confirm_upgrade(struct lws *wsi, struct server *srv)
{
	if (!authorized(wsi, srv))
		return reject(wsi, 401, "unauthorized", "missing or invalid token (Authorization: Bearer <token>)");
	struct query q;
	query_init(&q);
	int nul = http_args(wsi, &q) < 0;
	struct exec_target t;
	int r = 0;
	if (nul) {
		r = reject(wsi, 400, "bad_request", "a query value holds a NUL byte, which no argument or variable can");
		goto out;
	}
	if (parse_target(wsi, &q, &t) < 0) {
		/* /control and everything else: plain 404, so SDKs use /exec. */
		r = reject(wsi, 404, NULL, NULL);
		goto out;
	}
	struct sprite *sp = store_find(srv, t.name);
	if (!sp) {
		char msg[128];
		snprintf(msg, sizeof msg, "sprite \"%s\" not found", t.name);
		r = reject(wsi, 404, "not_found", msg);
		goto out;
	}
	if (*t.id) {
		/* Unknown session: 404 with an empty body (Go's attach fallback). */
		if (!session_find(sp, t.id))
			r = reject(wsi, 404, NULL, NULL);
		goto out;
	}
	struct exec_request req;
	const char *bad = parse_request(&q, &req);
	exec_request_free(&req);
	if (bad) {
		r = reject(wsi, 400, "bad_request", bad);
		goto out;
	}
	char err[256];
	if (session_room(sp, err, sizeof err) < 0)
		r = reject(wsi, 503, "too_many_sessions", err);
	else if (sandbox_ensure(sp, err, sizeof err) < 0)
		r = reject(wsi, 500, "sandbox_failed", err);
out:
	query_free(&q);
	return r;
}

/* ---- the connection ---- */

static void on_data(void *arg, int stream, const uint8_t *buf, size_t len)
{
	struct conn *c = arg;
	struct session *s = c->ec.sess;
	if (!s || !c->ec.stdin_enabled)
		return;
	if (stream == -1 || stream == STREAM_STDIN)
		session_stdin(s, buf, len);
	else if (stream == STREAM_STDIN_EOF)
		session_stdin_eof(s);
}

static void on_text(void *arg, const char *msg, size_t len)
{
	struct conn *c = arg;
	struct session *s = c->ec.sess;
	struct frame_text t;
	if (!s || !msg)
		return;
	const char *type = frame_parse_text(msg, len, &t);
	if (!type)
		return;
	if (!strcmp(type, "resize"))
		session_resize(s, t.cols, t.rows);
	else if (!strcmp(type, "signal")) {
		int sig = signal_from_name(t.signal);
		if (sig > 0)
			session_signal(s, sig);
	}
}

void exec_clients_wake(struct session *s)
{
	lws_start_foreach_dll(struct lws_dll2 *, p, lws_dll2_get_head(&s->clients)) {
		struct exec_conn *ec = lws_container_of(p, struct exec_conn, list);
		lws_callback_on_writable(ec->wsi);
	} lws_end_foreach_dll(p);
}

void exec_clients_stdin_drained(struct session *s)
{
	if (session_stdin_full(s))
		return;
	lws_start_foreach_dll(struct lws_dll2 *, p, lws_dll2_get_head(&s->clients)) {
		struct exec_conn *ec = lws_container_of(p, struct exec_conn, list);
		if (ec->rx_paused) {
			ec->rx_paused = 0;
			lws_rx_flow_control(ec->wsi, 1);
		}
	} lws_end_foreach_dll(p);
}

void exec_clients_close(struct session *s)
{
	lws_start_foreach_dll_safe(struct lws_dll2 *, p, p1, lws_dll2_get_head(&s->clients)) {
		struct exec_conn *ec = lws_container_of(p, struct exec_conn, list);
		lws_dll2_remove(&ec->list);
		ec->sess = NULL;
		lws_set_timeout(ec->wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
	} lws_end_foreach_dll_safe(p, p1);
}

static int established(struct lws *wsi, struct conn *c)
{
	struct server *srv = server_of(wsi);
	struct query q;
	query_init(&q);
	http_args(wsi, &q);
	struct exec_target t;
	struct sprite *sp = NULL;
	struct session *s = NULL;
	char err[256] = "";
	int owner = 0;
	long long started = now_ms();

	if (parse_target(wsi, &q, &t) == 0)
		sp = store_find(srv, t.name);
	if (sp && *t.id) {
		s = session_find(sp, t.id);
	} else if (sp) {
		struct exec_request req;
		if (!parse_request(&q, &req))
			s = session_start(sp, &req, err, sizeof err);
		exec_request_free(&req);
		owner = 1;
	}
	const char *in = query_get(&q, "stdin", 0);
	int stdin_enabled = in ? is_true(in) : (s && s->tty);
	query_free(&q);

	char path[256] = "";
	lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI);
	char safe[1024];
	if (srv->log_requests)
		fprintf(stderr, "spritesd: WS %s 101 %s%s %lldms\n", log_safe(path, strlen(path), safe, sizeof safe),
		        s ? "session " : "", s ? s->id : err, now_ms() - started);
	if (!s) {
		/* The upgrade was accepted, so the failure goes out as the
		 * command's own: a message on stderr and exit 126. */
		c->is_ws = 1;
		c->ec.wsi = wsi;
		c->ec.failed_msg = xasprintf("sprite: cannot start the command: %s\n",
		                             *err ? err : "the sprite or session went away");
		lws_callback_on_writable(wsi);
		return 0;
	}
	c->is_ws = 1;
	c->ec.wsi = wsi;
	c->ec.sess = s;
	c->ec.is_owner = owner;
	c->ec.stdin_enabled = stdin_enabled;
	c->ec.tail = s->hist_tail;
	frame_rx_init(&c->rx, s->tty);
	lws_dll2_add_tail(&c->ec.list, &s->clients);
	session_client_attached(s);
	lws_callback_on_writable(wsi);
	return 0;
}

static int write_text(struct lws *wsi, const char *msg)
{
	struct server *srv = server_of(wsi);
	size_t len = strlen(msg);
	if (len > FRAME_CHUNK)
		return -1;
	memcpy(srv->scratch + LWS_PRE, msg, len);
	return lws_write(wsi, srv->scratch + LWS_PRE, len, LWS_WRITE_TEXT) < 0 ? -1 : 0;
}

static int write_binary(struct lws *wsi, int stream, const uint8_t *data, size_t len)
{
	struct server *srv = server_of(wsi);
	uint8_t *p = srv->scratch + LWS_PRE;
	size_t n = 0;
	if (stream >= 0)
		p[n++] = (uint8_t)stream;
	memcpy(p + n, data, len);
	return lws_write(wsi, p, n + len, LWS_WRITE_BINARY) < 0 ? -1 : 0;
}

static void close_cb(lws_sorted_usec_list_t *sul)
{
	struct exec_conn *ec = lws_container_of(sul, struct exec_conn, sul_close);
	lws_set_timeout(ec->wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
}

/* After the exit: a close frame (1000), then the client closes.  Closing
 * the socket ourselves while the client may still be sending (stdin the
 * command never read) would reset it, and a reset makes the client's
 * kernel drop what it has not read yet: the end of the output, the exit.
 * So we keep reading (and discarding) until the client goes, and only
 * close ourselves if it has not done so after CLOSE_LINGER_MS. */
static int send_close(struct lws *wsi, struct conn *c)
{
	struct exec_conn *ec = &c->ec;
	if (ec->sent_close)
		return 0;
	ec->sent_close = 1;
	struct server *srv = server_of(wsi);
	uint8_t *p = srv->scratch + LWS_PRE;
	p[0] = LWS_CLOSE_STATUS_NORMAL >> 8;
	p[1] = LWS_CLOSE_STATUS_NORMAL & 0xff;
	/* lws_close_reason() + returning -1 would close the socket as soon as
	 * more data arrives; lws_write with its (ABI-stable, internally named)
	 * LWS_WRITE_CLOSE = 4 just sends the frame. */
	if (lws_write(wsi, p, 2, (enum lws_write_protocol)4) < 0)
		return -1;
	lws_sul_schedule(srv->context, 0, &ec->sul_close, close_cb,
	                 (lws_usec_t)CLOSE_LINGER_MS * LWS_US_PER_MS);
	return 0;
}

static int writeable(struct lws *wsi, struct conn *c)
{
	struct exec_conn *ec = &c->ec;
	struct session *s = ec->sess;

	if (ec->failed_msg) {
		/* Setup failed after the upgrade: stderr message, exit 126. */
		if (!ec->sent_info) {
			ec->sent_info = 1;
			char *info = frame_session_info("0", "", (long long)time(NULL), 0, 0, 1, 0);
			int r = write_text(wsi, info);
			free(info);
			lws_callback_on_writable(wsi);
			return r;
		}
		if (!ec->sent_exit) {
			ec->sent_exit = 1;
			uint8_t code = 126;
			if (write_binary(wsi, STREAM_STDERR, (const uint8_t *)ec->failed_msg,
			                 strlen(ec->failed_msg)) < 0 ||
			    write_binary(wsi, STREAM_EXIT, &code, 1) < 0)
				return -1;
			lws_callback_on_writable(wsi);
			return 0;
		}
		return send_close(wsi, c);
	}
	if (ec->sent_exit)
		return send_close(wsi, c);
	if (!s)
		return -1;
	if (!ec->sent_info) {
		ec->sent_info = 1;
		char *info = frame_session_info(s->id, s->command, (long long)s->created, s->cols,
		                                s->rows, ec->is_owner, s->tty);
		int r = write_text(wsi, info);
		free(info);
		lws_callback_on_writable(wsi);
		return r;
	}
	const struct chunk *ch = lws_ring_get_element(s->ring, &ec->tail);
	if (!ch)
		return 0;
	int r;
	if (ch->stream == STREAM_EXIT) {
		ec->sent_exit = 1;
		s->exit_delivered = 1;
		if (s->tty) {
			char *m = frame_exit_msg(ch->exit_code);
			r = write_text(wsi, m);
			free(m);
		} else {
			uint8_t code = (uint8_t)ch->exit_code;
			r = write_binary(wsi, STREAM_EXIT, &code, 1);
		}
	} else {
		r = write_binary(wsi, s->tty ? -1 : ch->stream, ch->data, ch->len);
	}
	lws_ring_consume(s->ring, &ec->tail, NULL, 1);
	session_consumed(s);
	lws_callback_on_writable(wsi);
	return r;
}

int exec_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, struct conn *c, void *in, size_t len)
{
	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED:
		return established(wsi, c);
	case LWS_CALLBACK_RECEIVE: {
		if (!c->ec.sess)
			return 0;
		struct frame_sink sink = { on_data, on_text, c };
		int last = lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);
		frame_rx_feed(&c->rx, &sink, in, len, lws_frame_is_binary(wsi), last);
		if (c->ec.sess && session_stdin_full(c->ec.sess) && !c->ec.rx_paused) {
			c->ec.rx_paused = 1;
			lws_rx_flow_control(wsi, 0);
		}
		return 0;
	}
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return writeable(wsi, c);
	case LWS_CALLBACK_CLOSED:
		lws_sul_cancel(&c->ec.sul_close);
		if (c->ec.sess) {
			struct session *s = c->ec.sess;
			lws_dll2_remove(&c->ec.list);
			c->ec.sess = NULL;
			session_client_detached(s);
		}
		frame_rx_free(&c->rx);
		free(c->ec.failed_msg);
		c->ec.failed_msg = NULL;
		return 0;
	default:
		return 0;
	}
}
