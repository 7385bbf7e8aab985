/* wsexec.c: the exec WebSocket client (see wsexec.h).  One lws context per
 * wsx_ctx; writes happen only from CLIENT_WRITEABLE, one queued message at a
 * time; stdin is read only while the send queue is short (flow control). */
#include "wsexec.h"
#include "query.h"
#include "util.h"

#include <errno.h>
#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OUTQ_HIGH (256 * 1024)   /* stop reading stdin above this much queued */

struct wsx_ctx {
	struct lws_context *lws;
	const struct sprite_config *cfg;
	char *address;               /* host */
	int port;
	int tls;
	char *base_path;             /* "" or "/prefix" */
	lws_dll2_owner_t watches;
};

struct out_msg {
	lws_dll2_t list;
	int text;
	size_t len;
	uint8_t buf[];               /* LWS_PRE headroom, then the message */
};

/* A message piece received before session_info, kept for an attach. */
struct early {
	lws_dll2_t list;
	int binary, last;
	size_t len;
	uint8_t data[];
};

struct wsx {
	struct wsx_ctx *ctx;
	struct lws *wsi, *stdin_wsi;
	struct wsx_handlers h;
	char sprite[64];
	char attach_id[64];
	enum wsx_stdin stdin_mode;
	int stdin_fd;
	int tty;
	lws_dll2_owner_t outq;
	size_t outq_bytes;
	struct frame_rx rx;
	lws_dll2_owner_t early;
	size_t early_bytes;
	int got_info, connected, done, exit_code, http_status, stdin_closed, stdin_paused, send_failed;
	char caps[128];
	char err[300];
};

struct watch {
	lws_dll2_t list;
	struct lws *wsi;
	int (*cb)(void *arg, int fd);
	void *arg;
};

static void fail(struct wsx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct wsx *x, const char *fmt, ...)
{
	if (x->done)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(x->err, sizeof x->err, fmt, ap);
	va_end(ap);
	x->done = 1;
	x->exit_code = -1;
}

static void queue_msg(struct wsx *x, int text, const void *a, size_t alen, const void *b, size_t blen)
{
	if (x->done || !x->wsi || x->send_failed)
		return;
	struct out_msg *m = xmalloc(sizeof *m + LWS_PRE + alen + blen);
	memset(&m->list, 0, sizeof m->list);
	m->text = text;
	m->len = alen + blen;
	if (alen)
		memcpy(m->buf + LWS_PRE, a, alen);
	if (blen)
		memcpy(m->buf + LWS_PRE + alen, b, blen);
	lws_dll2_add_tail(&m->list, &x->outq);
	x->outq_bytes += m->len;
	if (x->connected)
		lws_callback_on_writable(x->wsi);
}

static void free_queues(struct wsx *x)
{
	lws_start_foreach_dll_safe(struct lws_dll2 *, p, p1, lws_dll2_get_head(&x->outq)) {
		lws_dll2_remove(p);
		free(lws_container_of(p, struct out_msg, list));
	} lws_end_foreach_dll_safe(p, p1);
	lws_start_foreach_dll_safe(struct lws_dll2 *, p, p1, lws_dll2_get_head(&x->early)) {
		lws_dll2_remove(p);
		free(lws_container_of(p, struct early, list));
	} lws_end_foreach_dll_safe(p, p1);
	x->outq_bytes = x->early_bytes = 0;
}

static void start_stdin(struct wsx *x);

/* ---- receiving ---- */

static void on_data(void *arg, int stream, const uint8_t *buf, size_t len)
{
	struct wsx *x = arg;
	if (x->done)
		return;
	if (stream == -1)
		stream = STREAM_STDOUT;
	if (stream == STREAM_EXIT) {
		x->exit_code = len ? buf[0] : 0;
		x->done = 1;
		return;
	}
	if ((stream == STREAM_STDOUT || stream == STREAM_STDERR) && len && x->h.output)
		x->h.output(x->h.arg, stream, buf, len);
	/* Unknown stream ids are ignored, as the SDKs do. */
}

static void on_text(void *arg, const char *msg, size_t len)
{
	struct wsx *x = arg;
	struct frame_text t;
	if (x->done || !msg)
		return;
	const char *type = frame_parse_text(msg, len, &t);
	if (!type) {
		return;
	}
	if (!strcmp(type, "session_info")) {
		int first = !x->got_info;
		x->got_info = 1;
		if (x->attach_id[0])
			x->tty = t.tty;
		x->rx.tty = x->tty;
		/* Attaching, stdin waits for the session's mode (raw or framed). */
		if (first && x->attach_id[0])
			start_stdin(x);
		if (x->h.session_info)
			x->h.session_info(x->h.arg, &t, msg);
	} else if (!strcmp(type, "exit")) {
		x->exit_code = t.exit_code & 0xff;
		x->done = 1;
	} else if (x->h.text && strncmp(msg, "control:", 8)) {
		x->h.text(x->h.arg, msg, len);
	}
}

static void feed(struct wsx *x, const uint8_t *buf, size_t len, int binary, int last)
{
	struct frame_sink sink = { on_data, on_text, x };
	frame_rx_feed(&x->rx, &sink, buf, len, binary, last);
}

/* Attaching, we learn the session's TTY mode from session_info: binary
 * pieces that come before it wait (bounded) instead of being misread. */
static void receive(struct wsx *x, const uint8_t *buf, size_t len, int binary, int last)
{
	if (x->attach_id[0] && !x->got_info && binary) {
		if (x->early_bytes + len > 4 * 1024 * 1024) {
			fail(x, "the server sent too much output before session_info");
			return;
		}
		struct early *e = xmalloc(sizeof *e + len);
		memset(&e->list, 0, sizeof e->list);
		e->binary = binary;
		e->last = last;
		e->len = len;
		memcpy(e->data, buf, len);
		lws_dll2_add_tail(&e->list, &x->early);
		x->early_bytes += len;
		return;
	}
	feed(x, buf, len, binary, last);
	if (!x->got_info)
		return;
	lws_start_foreach_dll_safe(struct lws_dll2 *, p, p1, lws_dll2_get_head(&x->early)) {
		struct early *q = lws_container_of(p, struct early, list);
		lws_dll2_remove(p);
		feed(x, q->data, q->len, q->binary, q->last);
		free(q);
	} lws_end_foreach_dll_safe(p, p1);
	x->early_bytes = 0;
}

/* ---- stdin ---- */

static void stdin_flow(struct wsx *x)
{
	if (!x->stdin_wsi)
		return;
	int pause = x->outq_bytes > OUTQ_HIGH;
	if (pause != x->stdin_paused) {
		x->stdin_paused = pause;
		lws_rx_flow_control(x->stdin_wsi, !pause);
	}
}

static int stdin_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	(void)user, (void)in, (void)len;
	struct wsx *x = lws_get_opaque_user_data(wsi);
	if (!x)
		return reason == LWS_CALLBACK_RAW_RX_FILE ? -1 : 0;
	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE: {
		uint8_t buf[FRAME_CHUNK];
		ssize_t n = read(lws_get_socket_fd(wsi), buf, sizeof buf);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n > 0) {
			wsx_write(x, buf, (size_t)n);
			stdin_flow(x);
			return 0;
		}
		/* EOF (or an unreadable stdin): tell the command. */
		x->stdin_wsi = NULL;
		lws_set_opaque_user_data(wsi, NULL);
		wsx_close_stdin(x);
		return -1;
	}
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		if (x->stdin_wsi == wsi) {
			x->stdin_wsi = NULL;
			wsx_close_stdin(x);
		}
		return 0;
	default:
		return 0;
	}
}

static void start_stdin(struct wsx *x)
{
	if (x->stdin_mode == WSX_STDIN_NONE) {
		wsx_close_stdin(x);
		return;
	}
	if (x->stdin_mode != WSX_STDIN_FD)
		return;
	lws_sock_file_fd_type fdt = { .filefd = x->stdin_fd };
	x->stdin_wsi = lws_adopt_descriptor_vhost(lws_get_vhost_by_name(x->ctx->lws, "default"),
	                                          LWS_ADOPT_RAW_FILE_DESC, fdt, "sprite-stdin", NULL);
	if (x->stdin_wsi)
		lws_set_opaque_user_data(x->stdin_wsi, x);
	else
		wsx_close_stdin(x);
}

/* ---- the WebSocket ---- */

/* spritesd's reason for a refused upgrade, from its sprite-error header
 * (printable ASCII only: it is shown on a terminal); "" if none. */
static void server_reason(struct lws *wsi, char *why, size_t len)
{
	char raw[256];
	int n = lws_hdr_custom_copy(wsi, raw, (int)sizeof raw, "sprite-error:", 13);
	log_safe(raw, n > 0 ? (size_t)n : 0, why, len);
}

static const char *refusal(struct wsx *x, struct lws *wsi, int status, char *buf, size_t len)
{
	const struct sprite_config *cfg = x->ctx->cfg;
	switch (status) {
	case 401:
	case 403:
		snprintf(buf, len, "the API at %s refused the token from %s (%d): check it%s", cfg->api_url,
		         cfg->token_source ? cfg->token_source : "the configuration", status,
		         cfg->local ? ", or restart spritesd" : "");
		break;
	case 404:
		if (x->attach_id[0])
			snprintf(buf, len, "session %s not found in sprite \"%s\"", x->attach_id, x->sprite);
		else
			snprintf(buf, len, "sprite \"%s\" not found (sprite-list shows what exists)", x->sprite);
		break;
	case 400:
		snprintf(buf, len, "the server rejected the exec request (400 bad request)");
		break;
	default: {
		char why[256];
		server_reason(wsi, why, sizeof why);
		if (*why)
			snprintf(buf, len, "the server refused the exec (HTTP %d): %s", status, why);
		else
			snprintf(buf, len, "the server refused the exec (HTTP %d)", status);
	}
	}
	return buf;
}

/* No answer: say why as well as lws lets us know.  Only a failed connect to
 * a local server suggests starting spritesd; a TLS failure names the
 * certificate. */
static void connect_failed(struct wsx *x, const char *why)
{
	const struct sprite_config *cfg = x->ctx->cfg;
	if (!why || !*why)
		why = "connection failed";
	if (strstr(why, "SSL") || strstr(why, "ssl") || strstr(why, "tls"))
		fail(x, "cannot reach %s: the TLS handshake failed; is its certificate trusted? "
		        "(SSL_CERT_FILE names a private CA) [%s]", cfg->api_url, why);
	else if (strstr(why, "connect") && (cfg->local || config_url_is_loopback(cfg->api_url)))
		fail(x, "cannot reach %s: connection failed (is spritesd running? start it with \"spritesd &\")",
		     cfg->api_url);
	else
		fail(x, "cannot reach %s: %s", cfg->api_url, why);
}

static int exec_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	(void)user;
	struct wsx *x = lws_get_opaque_user_data(wsi);
	if (!x)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
		unsigned char **p = in, *end = *p + len;
		char *auth = xasprintf("Bearer %s", x->ctx->cfg->token);
		int r = lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
		                                     (unsigned char *)auth, (int)strlen(auth), p, end);
		explicit_bzero(auth, strlen(auth));
		free(auth);
		return r ? -1 : 0;
	}
	case LWS_CALLBACK_CLIENT_FILTER_PRE_ESTABLISH: {
		int n = lws_hdr_custom_length(wsi, "x-sprite-capabilities:", 22);
		if (n > 0 && (size_t)n < sizeof x->caps)
			lws_hdr_custom_copy(wsi, x->caps, sizeof x->caps, "x-sprite-capabilities:", 22);
		return 0;
	}
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		x->connected = 1;
		if (!x->attach_id[0])
			start_stdin(x);
		if (x->outq.count)
			lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
		char buf[600];
		x->wsi = NULL;
		x->http_status = (int)lws_http_client_http_response(wsi);
		if (x->http_status)
			fail(x, "%s", refusal(x, wsi, x->http_status, buf, sizeof buf));
		else
			connect_failed(x, in);
		return 0;
	}
	case LWS_CALLBACK_CLIENT_RECEIVE:
		receive(x, in, len, lws_frame_is_binary(wsi),
		        lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi));
		if (x->done)
			lws_cancel_service(x->ctx->lws);
		return 0;
	case LWS_CALLBACK_CLIENT_WRITEABLE: {
		struct lws_dll2 *head = lws_dll2_get_head(&x->outq);
		if (!head)
			return 0;
		struct out_msg *m = lws_container_of(head, struct out_msg, list);
		lws_dll2_remove(head);
		x->outq_bytes -= m->len;
		int r = lws_write(wsi, m->buf + LWS_PRE, m->len, m->text ? LWS_WRITE_TEXT : LWS_WRITE_BINARY);
		free(m);
		if (r < 0) {
			/* The command may have ended and the server closed its side:
			 * stop sending, but keep reading to the end (the exit may be
			 * on its way). */
			free_queues(x);
			x->send_failed = 1;
			return 0;
		}
		if (x->outq.count)
			lws_callback_on_writable(wsi);
		stdin_flow(x);
		return 0;
	}
	case LWS_CALLBACK_CLIENT_CLOSED:
	case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
		x->wsi = NULL;
		if (x->stdin_wsi) {
			lws_set_opaque_user_data(x->stdin_wsi, NULL);
			x->stdin_wsi = NULL;
		}
		if (!x->done)
			fail(x, x->connected ? "connection to %s lost before the command finished"
			                     : "connection to %s closed during the handshake",
			     x->ctx->cfg->api_url);
		lws_cancel_service(x->ctx->lws);
		return 0;
	default:
		return 0;
	}
}

static int watch_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	(void)user, (void)in, (void)len;
	struct watch *w = lws_get_opaque_user_data(wsi);
	if (w && w->cb && reason == LWS_CALLBACK_RAW_RX_FILE && w->cb(w->arg, lws_get_socket_fd(wsi)) < 0) {
		w->cb = NULL;
		return -1;
	}
	if (w && reason == LWS_CALLBACK_RAW_CLOSE_FILE) {
		/* A hang-up with nothing left to read closes without an RX: let
		 * the callback read its end of file all the same. */
		if (w->cb)
			w->cb(w->arg, lws_get_socket_fd(wsi));
		w->cb = NULL;
		w->wsi = NULL;
	}
	return 0;
}

static const struct lws_protocols protocols[] = {
	{ "sprite-exec", exec_callback, 0, 64 * 1024, 0, NULL, 0 },
	{ "sprite-stdin", stdin_callback, 0, 0, 0, NULL, 0 },
	{ "sprite-watch", watch_callback, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

/* 15 s pings, dead after 45 s without any sign of the peer (the SDKs' figures). */
static const lws_retry_bo_t keepalive = {
	.secs_since_valid_ping = 15,
	.secs_since_valid_hangup = 45,
};

struct wsx_ctx *wsx_ctx_new(const struct sprite_config *cfg, char *err, size_t errlen)
{
	struct wsx_ctx *ctx = xcalloc(1, sizeof *ctx);
	ctx->cfg = cfg;
	char *url = xstrdup(cfg->api_url);
	const char *prot, *addr, *path;
	int port;
	if (lws_parse_uri(url, &prot, &addr, &port, &path) || !*addr) {
		snprintf(err, errlen, "cannot parse the API URL %s", cfg->api_url);
		free(url);
		free(ctx);
		return NULL;
	}
	ctx->tls = !strcmp(prot, "https") || !strcmp(prot, "wss");
	if (!ctx->tls && strcmp(prot, "http") && strcmp(prot, "ws")) {
		snprintf(err, errlen, "the API URL %s must start with http:// or https://", cfg->api_url);
		free(url);
		free(ctx);
		return NULL;
	}
	ctx->address = xstrdup(addr);
	ctx->port = port;
	ctx->base_path = xasprintf("/%s", path);
	size_t bl = strlen(ctx->base_path);
	while (bl && ctx->base_path[bl - 1] == '/')
		ctx->base_path[--bl] = '\0';
	free(url);

	lws_set_log_level(0, NULL);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.user = ctx;
	info.pt_serv_buf_size = 64 * 1024;
	info.max_http_header_data = 65535; /* the upgrade request carries argv and env */
	info.fd_limit_per_thread = 64;
	info.options = ctx->tls ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0;
	if (ctx->tls && getenv("SSL_CERT_FILE"))
		info.client_ssl_ca_filepath = getenv("SSL_CERT_FILE");
	ctx->lws = lws_create_context(&info);
	if (!ctx->lws) {
		snprintf(err, errlen, "cannot create the WebSocket client");
		free(ctx->address);
		free(ctx->base_path);
		free(ctx);
		return NULL;
	}
	return ctx;
}

void wsx_ctx_free(struct wsx_ctx *ctx)
{
	if (!ctx)
		return;
	lws_context_destroy(ctx->lws);
	lws_start_foreach_dll_safe(struct lws_dll2 *, p, p1, lws_dll2_get_head(&ctx->watches)) {
		lws_dll2_remove(p);
		free(lws_container_of(p, struct watch, list));
	} lws_end_foreach_dll_safe(p, p1);
	free(ctx->address);
	free(ctx->base_path);
	free(ctx);
}

static char *exec_path(struct wsx_ctx *ctx, const struct wsx_opts *o)
{
	struct query q;
	query_init(&q);
	if (!o->attach_id && o->argv && o->argv[0]) {
		for (char *const *a = o->argv; *a; a++)
			query_add(&q, "cmd", *a);
		query_add(&q, "path", o->argv[0]);
	}
	for (char *const *e = o->env; e && *e; e++)
		query_add(&q, "env", *e);
	if (o->dir)
		query_add(&q, "dir", o->dir);
	if (o->tty && !o->attach_id) {
		char n[16];
		query_add(&q, "tty", "true");
		snprintf(n, sizeof n, "%d", o->rows > 0 ? o->rows : 24);
		query_add(&q, "rows", n);
		snprintf(n, sizeof n, "%d", o->cols > 0 ? o->cols : 80);
		query_add(&q, "cols", n);
	}
	query_add(&q, "stdin", o->stdin_mode == WSX_STDIN_NONE ? "false" : "true");
	if (o->max_run_after_disconnect)
		query_add(&q, "max_run_after_disconnect", o->max_run_after_disconnect);
	char *qs = query_encode(&q);
	query_free(&q);
	char *name = path_escape(o->sprite);
	char *id = o->attach_id ? path_escape(o->attach_id) : NULL;
	char *path = xasprintf("%s/v1/sprites/%s/exec%s%s?%s", ctx->base_path, name, id ? "/" : "",
	                       id ? id : "", qs);
	free(qs);
	free(name);
	free(id);
	return path;
}

struct wsx *wsx_open(struct wsx_ctx *ctx, const struct wsx_opts *o, const struct wsx_handlers *h)
{
	struct wsx *x = xcalloc(1, sizeof *x);
	x->ctx = ctx;
	x->h = *h;
	snprintf(x->sprite, sizeof x->sprite, "%s", o->sprite);
	if (o->attach_id)
		snprintf(x->attach_id, sizeof x->attach_id, "%s", o->attach_id);
	x->stdin_mode = o->stdin_mode;
	x->stdin_fd = o->stdin_fd;
	x->tty = o->tty;
	x->exit_code = -1;
	frame_rx_init(&x->rx, o->tty);

	char *path = exec_path(ctx, o);
	if (strlen(path) > WSX_MAX_PATH) {
		fail(x, "the command line is too long for one exec: %zu bytes once URL-encoded, at most %d "
		        "(pass long data on stdin)", strlen(path), WSX_MAX_PATH);
		free(path);
		return x;
	}
	char *host = ctx->port == (ctx->tls ? 443 : 80) ? xstrdup(ctx->address)
	                                                : xasprintf("%s:%d", ctx->address, ctx->port);
	struct lws_client_connect_info ci;
	memset(&ci, 0, sizeof ci);
	ci.context = ctx->lws;
	ci.address = ctx->address;
	ci.port = ctx->port;
	ci.ssl_connection = ctx->tls ? LCCSCF_USE_SSL : 0;
	ci.path = path;
	ci.host = host;
	ci.origin = host;
	ci.protocol = NULL;          /* no subprotocol, as the SDKs */
	ci.local_protocol_name = "sprite-exec";
	ci.opaque_user_data = x;
	ci.retry_and_idle_policy = &keepalive;
	ci.pwsi = &x->wsi;
	if (!lws_client_connect_via_info(&ci) && !x->done)
		fail(x, "cannot connect to %s", ctx->cfg->api_url);
	free(path);
	free(host);
	return x;
}

void wsx_free(struct wsx *x)
{
	if (!x)
		return;
	if (x->wsi) {
		lws_set_opaque_user_data(x->wsi, NULL);
		lws_set_timeout(x->wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
	}
	if (x->stdin_wsi) {
		lws_set_opaque_user_data(x->stdin_wsi, NULL);
		lws_set_timeout(x->stdin_wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
	}
	free_queues(x);
	frame_rx_free(&x->rx);
	free(x);
}

void wsx_service(struct wsx_ctx *ctx)
{
	lws_service(ctx->lws, 0);
}

int wsx_done(const struct wsx *x) { return x->done; }
int wsx_exit_code(const struct wsx *x) { return x->exit_code; }
const char *wsx_error(const struct wsx *x) { return x->err; }
int wsx_http_status(const struct wsx *x) { return x->http_status; }
int wsx_connected(const struct wsx *x) { return x->connected; }
size_t wsx_pending(const struct wsx *x) { return x->outq_bytes; }

int wsx_has_capability(const struct wsx *x, const char *cap)
{
	char buf[sizeof x->caps];
	snprintf(buf, sizeof buf, "%s", x->caps);
	char *save = NULL;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		while (*t == ' ' || *t == '\t')
			t++;
		rtrim(t);
		if (!strcasecmp(t, cap))
			return 1;
	}
	return 0;
}

void wsx_write(struct wsx *x, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint8_t id = STREAM_STDIN;
	while (len) {
		size_t n = len > FRAME_CHUNK ? FRAME_CHUNK : len;
		if (x->tty)
			queue_msg(x, 0, p, n, NULL, 0);
		else
			queue_msg(x, 0, &id, 1, p, n);
		p += n;
		len -= n;
	}
}

void wsx_close_stdin(struct wsx *x)
{
	if (x->stdin_closed)
		return;
	x->stdin_closed = 1;
	/* A TTY has no EOF frame: the line discipline sees ^D when the user types it. */
	if (!x->tty) {
		uint8_t id = STREAM_STDIN_EOF;
		queue_msg(x, 0, &id, 1, NULL, 0);
	}
}

void wsx_resize(struct wsx *x, int cols, int rows)
{
	char *m = frame_resize_msg(cols, rows);
	queue_msg(x, 1, m, strlen(m), NULL, 0);
	free(m);
}

int wsx_signal(struct wsx *x, const char *signame)
{
	if (!wsx_has_capability(x, "signal"))
		return -1;
	char *m = frame_signal_msg(signame);
	queue_msg(x, 1, m, strlen(m), NULL, 0);
	free(m);
	return 0;
}

int wsx_watch_fd(struct wsx_ctx *ctx, int fd, int (*cb)(void *arg, int fd), void *arg)
{
	struct watch *w = xcalloc(1, sizeof *w);
	w->cb = cb;
	w->arg = arg;
	lws_sock_file_fd_type fdt = { .filefd = fd };
	w->wsi = lws_adopt_descriptor_vhost(lws_get_vhost_by_name(ctx->lws, "default"),
	                                    LWS_ADOPT_RAW_FILE_DESC, fdt, "sprite-watch", NULL);
	if (!w->wsi) {
		free(w);
		return -1;
	}
	lws_set_opaque_user_data(w->wsi, w);
	lws_dll2_add_tail(&w->list, &ctx->watches);
	return 0;
}
