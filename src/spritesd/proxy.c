/* proxy.c: a sprite's only way out: an HTTP proxy, served by spritesd.
 *
 * A sprite has its own network namespace, with nothing but loopback in it.
 * For each running sandbox spritesd makes a listening socket INSIDE that
 * namespace (127.0.0.1:PROXY_PORT, netns.c) and serves it from the event
 * loop.  Every exec is told about it (http_proxy and friends, proxy_env);
 * a program that ignores them has no network at all.  Outgoing connections
 * are made from spritesd's own namespace, to destinations the sprite's
 * policy allows (policy.c).  It takes (proxyreq.c parses them):
 *   CONNECT host:port            a tunnel (HTTPS, anything over TCP)
 *   GET http://host[:port]/path  plain HTTP: forwarded as "GET /path", with
 *                                "Connection: close" (one request per
 *                                connection, so a second request cannot go
 *                                to another host unchecked)
 * Denied: 403 with a one-line reason; unreachable: 502.  Names are resolved
 * on the host (resolve.c); an address that is private, loopback or
 * link-local is used only when a rule names the host exactly.  A policy
 * change applies to open tunnels at once (proxy_policy_changed).
 *
 * Each socket is ours (struct side fd); lws watches a duplicate, which it
 * may close on a hang-up while the socket still holds data to pass on.
 * Back-pressure: each direction has one buffer; a side is read only when
 * the buffer of what it sent is empty, i.e. once the other side has taken
 * it all. */
#include "spritesd.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PROXY_BUF (32 * 1024)         /* per direction of a tunnel */
#define HEAD_MAX (16 * 1024)          /* a request's head (its rewrite must fit PROXY_BUF) */
#define HEAD_TIMEOUT_S 30
#define RESOLVE_TIMEOUT_S 20
#define CONNECT_TIMEOUT_S 10          /* per address */
#define LINGER_MS 2000                /* after a refusal, for the client to read it */
#define WHY_MAX 1024                  /* a refusal's one line */

enum { CLIENT = 0, UPSTREAM = 1 };
enum tstate { T_HEAD, T_RESOLVE, T_CONNECT, T_RELAY, T_REFUSE };

struct side {
	int fd;                   /* ours; -1 when none */
	struct lws *wsi;          /* lws watching a duplicate of fd */
	int rx_on;                /* lws polls it for input */
	int eof;                  /* nothing more will be read from it */
	int shut;                 /* we shut down our writing to it */
	int want_write;
	uint8_t *buf;             /* read from this side, for the other */
	size_t len, off;
};

struct tunnel {
	lws_dll2_t list;          /* in proxy->tunnels */
	struct proxy *px;
	enum tstate state;
	int dead;                 /* closed; freed from the next kick */
	struct side s[2];
	struct lws *dns_wsi;      /* the lookup's answer arrives here */
	char method[16];
	char host[256];           /* normalized */
	int port;
	int forward;              /* plain HTTP (absolute URI), else CONNECT */
	struct resolved addrs;
	int next_addr, last_errno;
	int connect_failed;       /* retry with the next address from the kick */
	lws_sorted_usec_list_t sul_timeout, sul_kick;
};

struct proxy {
	struct sprite *sp;
	struct lws *listen_wsi;
	lws_dll2_owner_t tunnels;
};

static struct server *srv_of(struct tunnel *t) { return t->px->sp->srv; }

static void tlog(struct tunnel *t, int status, const char *why)
{
	struct server *srv = srv_of(t);
	if (!srv->log_requests)
		return;
	/* The method and host are the sprite's bytes: escaped, so that they
	 * cannot drive the terminal that reads the log. */
	char method[64], host[1024], reason[2048];
	log_safe(t->method, strlen(t->method), method, sizeof method);
	log_safe(t->host, strlen(t->host), host, sizeof host);
	fprintf(stderr, "spritesd: proxy %s: %s %s:%d %d%s%s\n", t->px->sp->name, method, host, t->port,
	        status, why ? " " : "", why ? log_safe(why, strlen(why), reason, sizeof reason) : "");
}

/* ---- lifetime ---- */

static void detach(struct lws **w)
{
	if (*w) {
		lws_set_opaque_user_data(*w, NULL);
		lws_set_timeout(*w, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
		*w = NULL;
	}
}

static void side_close(struct side *s)
{
	detach(&s->wsi);
	if (s->fd >= 0) {
		shutdown(s->fd, SHUT_RDWR); /* the peer sees the end now, not when lws gets round to its dup */
		close(s->fd);
	}
	s->fd = -1;
	s->eof = s->shut = 1;
	s->rx_on = 0;
}

static void tunnel_free(struct tunnel *t)
{
	srv_of(t)->live_tunnels--;
	if (!srv_of(t)->context) {
		/* spritesd is stopping and lws is gone, our watches with it, its
		 * timers too: only our own fds and memory are left. */
		t->s[CLIENT].wsi = t->s[UPSTREAM].wsi = t->dns_wsi = NULL;
		for (int i = 0; i < 2; i++) {
			if (t->s[i].fd >= 0)
				close(t->s[i].fd);
			free(t->s[i].buf);
		}
		lws_dll2_remove(&t->list);
		free(t);
		return;
	}
	for (int i = 0; i < 2; i++) {
		side_close(&t->s[i]);
		free(t->s[i].buf);
	}
	detach(&t->dns_wsi);
	lws_sul_cancel(&t->sul_timeout);
	lws_sul_cancel(&t->sul_kick);
	lws_dll2_remove(&t->list);
	free(t);
}

static void kick_cb(lws_sorted_usec_list_t *sul);

static void kick(struct tunnel *t)
{
	lws_sul_schedule(srv_of(t)->context, 0, &t->sul_kick, kick_cb, 1);
}

/* Close everything now; the struct goes from the kick, so that callers up
 * the stack may still look at t->dead. */
static void tunnel_close(struct tunnel *t)
{
	if (t->dead)
		return;
	t->dead = 1;
	side_close(&t->s[CLIENT]);
	side_close(&t->s[UPSTREAM]);
	detach(&t->dns_wsi);
	lws_sul_cancel(&t->sul_timeout);
	kick(t);
}

static void timeout_cb(lws_sorted_usec_list_t *sul);

static void set_timeout(struct tunnel *t, long long ms)
{
	lws_sul_schedule(srv_of(t)->context, 0, &t->sul_timeout, timeout_cb, (lws_usec_t)ms * LWS_US_PER_MS);
}

static struct lws *watch(struct tunnel *t, int fd)
{
	lws_sock_file_fd_type fdt = { .filefd = fd };
	struct lws *w = lws_adopt_descriptor_vhost(srv_of(t)->vhost, LWS_ADOPT_RAW_FILE_DESC, fdt,
	                                           "sprite-proxy", NULL);
	if (!w) {
		close(fd);
		return NULL;
	}
	lws_set_opaque_user_data(w, t);
	return w;
}

/* Watch our socket fd through a duplicate; -1 if lws would not. */
static int side_watch(struct tunnel *t, struct side *s)
{
	int dup = fcntl(s->fd, F_DUPFD_CLOEXEC, 3);
	s->wsi = dup < 0 ? NULL : watch(t, dup);
	s->rx_on = 1;
	return s->wsi ? 0 : -1;
}

static void set_rx(struct side *s, int on)
{
	if (s->wsi && s->rx_on != on)
		lws_rx_flow_control(s->wsi, on);
	s->rx_on = on;
}

/* lws forgets a writable request made from its own writable callback: ask
 * from the kick instead. */
static void want_write(struct tunnel *t, int i)
{
	t->s[i].want_write = 1;
	kick(t);
}

/* ---- relaying ---- */

/* Bytes read from side d go to the other side, as far as both allow. */
static void pump(struct tunnel *t, int d)
{
	struct side *src = &t->s[d], *dst = &t->s[!d];
	for (int round = 0; round < 16 && !t->dead; round++) {
		if (src->off == src->len && !src->eof) {
			src->off = src->len = 0;
			if (src->fd < 0) {
				src->eof = 1;
			} else {
				ssize_t n = recv(src->fd, src->buf, PROXY_BUF, 0);
				if (n > 0)
					src->len = (size_t)n;
				else if (n < 0 && errno == EINTR)
					continue;
				else if (n < 0 && errno == EAGAIN && src->wsi)
					break;
				else
					src->eof = 1; /* the end, a reset, or hung up with nothing left */
			}
		}
		if (src->off < src->len) {
			ssize_t n = dst->fd < 0 || dst->shut ? -1
			            : send(dst->fd, src->buf + src->off, src->len - src->off, MSG_NOSIGNAL);
			if (n > 0) {
				src->off += (size_t)n;
				continue;
			}
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN && dst->fd >= 0 && !dst->shut) {
				want_write(t, !d);
				break;
			}
			/* The other side is gone: nothing more can be passed on. */
			tunnel_close(t);
			return;
		}
		if (src->eof) {
			if (!dst->shut && dst->fd >= 0)
				shutdown(dst->fd, SHUT_WR);
			dst->shut = 1;
			break;
		}
	}
	if (t->dead)
		return;
	set_rx(src, !src->eof && src->off == src->len);
	/* Stopped with bytes still to write (at the round limit: others get
	 * their turn): go on once the other side can take them. */
	if (src->off < src->len && !dst->want_write)
		want_write(t, !d);
	/* lws no longer watches a hung-up side: come back for the rest. */
	if (!src->wsi && !src->eof && src->off == src->len)
		kick(t);
}

static void relay(struct tunnel *t)
{
	pump(t, CLIENT);
	pump(t, UPSTREAM);
	if (t->dead)
		return;
	int done = 1;
	for (int i = 0; i < 2; i++)
		done &= t->s[i].eof && t->s[i].off == t->s[i].len;
	if (done)
		tunnel_close(t);
}

/* ---- refusing ---- */

/* Answer the client with status and a one-line reason, then close (after a
 * moment for it to read the answer: closing with its request unread would
 * reset the connection, and the answer with it). */
static void refuse(struct tunnel *t, int status, const char *why)
{
	static const struct { int status; const char *text; } texts[] = {
		{ 400, "Bad Request" }, { 403, "Forbidden" }, { 405, "Method Not Allowed" },
		{ 502, "Bad Gateway" }, { 503, "Service Unavailable" }, { 504, "Gateway Timeout" },
	};
	const char *text = "Error";
	for (size_t i = 0; i < sizeof texts / sizeof *texts; i++)
		if (texts[i].status == status)
			text = texts[i].text;
	tlog(t, status, why);
	char body[WHY_MAX + 32];
	int bl = snprintf(body, sizeof body, "spritesd proxy: %s\n", why);
	if (bl < 0 || bl >= (int)sizeof body)
		bl = (int)strlen(body);
	struct side *up = &t->s[UPSTREAM];
	side_close(up);
	detach(&t->dns_wsi);
	up->len = (size_t)snprintf((char *)up->buf, PROXY_BUF,
	                           "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
	                           "Connection: close\r\n\r\n%s", status, text, bl, body);
	up->off = 0;
	up->eof = 1;
	t->s[CLIENT].len = t->s[CLIENT].off = 0;
	t->state = T_REFUSE;
	set_timeout(t, LINGER_MS);
	pump(t, UPSTREAM);
	if (!t->dead)
		set_rx(&t->s[CLIENT], 1);
}

/* T_REFUSE: what the client still sends is read and dropped; its end, once
 * it has the answer, ends the tunnel. */
static void refuse_drain(struct tunnel *t)
{
	struct side *c = &t->s[CLIENT];
	for (int round = 0;; round++) {
		ssize_t n = c->fd < 0 ? 0 : recv(c->fd, c->buf, PROXY_BUF, 0);
		if (n > 0 && round < 16)
			continue;
		if ((n > 0 || (n < 0 && errno == EAGAIN)) && c->wsi)
			return; /* more later */
		if (n < 0 && errno == EINTR)
			continue;
		break;
	}
	c->eof = 1;
	set_rx(c, 0);
	if (t->s[UPSTREAM].off == t->s[UPSTREAM].len)
		tunnel_close(t);
}

/* ---- the policy ---- */

/* May the tunnel go to address sa (NULL: before resolving)?  0, or -1
 * with why set. */
static int permitted(struct tunnel *t, const struct sockaddr *sa, char *why, size_t len)
{
	struct policy_verdict v;
	policy_decide(netpolicy_get(t->px->sp), t->host, &v);
	if (!v.allow) {
		snprintf(why, len, "%s: not allowed by the network policy of sprite \"%s\" (%s); "
		         "sprite-policy -s %s set changes it", t->host, t->px->sp->name, v.why, t->px->sp->name);
		return -1;
	}
	if (sa && !v.exact && addr_is_private(sa)) {
		char a[64];
		addr_text(sa, a, sizeof a);
		snprintf(why, len, "%s is %s, a private, loopback or link-local address: allowed only "
		         "when a rule names %s exactly", t->host, a, t->host);
		return -1;
	}
	return 0;
}

/* ---- connecting ---- */

static void connected(struct tunnel *t)
{
	struct side *up = &t->s[UPSTREAM];
	int one = 1;
	setsockopt(up->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	lws_sul_cancel(&t->sul_timeout);
	t->state = T_RELAY;
	tlog(t, 200, NULL);
	if (!t->forward) {
		static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
		memcpy(up->buf, ok, sizeof ok - 1);
		up->len = sizeof ok - 1;
		up->off = 0;
	}
	relay(t);
}

/* Connect to the next usable address; 502 when none is left. */
static void connect_next(struct tunnel *t)
{
	struct side *up = &t->s[UPSTREAM];
	char why[WHY_MAX] = "";
	side_close(up);
	up->eof = up->shut = 0;
	up->len = up->off = 0;
	while (t->next_addr < t->addrs.n) {
		struct sockaddr_storage *ss = &t->addrs.addr[t->next_addr];
		socklen_t sl = t->addrs.len[t->next_addr];
		t->next_addr++;
		if (permitted(t, (struct sockaddr *)ss, why, sizeof why) < 0)
			continue;
		int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			t->last_errno = errno;
			continue;
		}
		if (connect(fd, (struct sockaddr *)ss, sl) < 0 && errno != EINPROGRESS) {
			t->last_errno = errno;
			close(fd);
			continue;
		}
		up->fd = fd;
		if (side_watch(t, up) < 0) {
			t->last_errno = ENOMEM;
			side_close(up);
			continue;
		}
		set_rx(up, 0);
		t->state = T_CONNECT;
		set_timeout(t, CONNECT_TIMEOUT_S * 1000LL);
		want_write(t, UPSTREAM);
		return;
	}
	if (*why && !t->last_errno) {
		refuse(t, 403, why);
		return;
	}
	snprintf(why, sizeof why, "cannot connect to %s port %d: %s", t->host, t->port,
	         strerror(t->last_errno ? t->last_errno : EHOSTUNREACH));
	refuse(t, 502, why);
}

/* The upstream socket is writable: connected, or failed. */
static void connect_done(struct tunnel *t)
{
	int e = 0;
	socklen_t el = sizeof e;
	if (getsockopt(t->s[UPSTREAM].fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
		e = errno;
	if (e) {
		t->last_errno = e;
		t->connect_failed = 1;
		kick(t);
		return;
	}
	connected(t);
}

static void resolved(struct tunnel *t)
{
	if (t->addrs.gai_err) {
		char why[WHY_MAX];
		snprintf(why, sizeof why, "cannot resolve %s: %s", t->host, gai_strerror(t->addrs.gai_err));
		refuse(t, 502, why);
		return;
	}
	t->next_addr = 0;
	connect_next(t);
}

static void dns_answer(struct tunnel *t)
{
	int fd = lws_get_socket_fd(t->dns_wsi);
	int r = resolve_finish(fd, &t->addrs);
	if (r > 0)
		return;
	detach(&t->dns_wsi);
	if (r < 0) {
		memset(&t->addrs, 0, sizeof t->addrs);
		t->addrs.gai_err = EAI_SYSTEM;
	}
	resolved(t);
}

/* ---- the request ---- */

/* The head is complete: what is asked, is it allowed; then resolve. */
static void request(struct tunnel *t, size_t head)
{
	struct side *c = &t->s[CLIENT];
	struct proxy_request r;
	char why[WHY_MAX];
	int bad = proxyreq_parse(c->buf, head, &r, why, sizeof why);
	snprintf(t->method, sizeof t->method, "%s", r.method);
	snprintf(t->host, sizeof t->host, "%s", r.host);
	t->port = r.port;
	t->forward = r.forward;
	/* What follows the head (a body, or a tunnel's first bytes) goes after
	 * the head the origin gets, if any. */
	size_t rest = c->len - head;
	if (!bad && r.head_len + rest > PROXY_BUF) {
		snprintf(why, sizeof why, "request head too large");
		bad = 1;
	}
	if (!bad) {
		memmove(c->buf + r.head_len, c->buf + head, rest);
		if (r.head_len) /* a tunnel has no head (NULL) to put back */
			memcpy(c->buf, r.head, r.head_len);
		c->len = r.head_len + rest;
		c->off = 0;
	}
	free(r.head);
	if (bad) {
		refuse(t, 400, why);
		return;
	}
	int is_ip;
	if (policy_host_normalize(r.host, t->host, sizeof t->host, &is_ip) < 0) {
		snprintf(why, sizeof why, "\"%.200s\" is not a valid host name", r.host);
		refuse(t, 400, why);
		return;
	}
	if (permitted(t, NULL, why, sizeof why) < 0) {
		refuse(t, 403, why);
		return;
	}
	set_rx(c, 0); /* until connected */
	t->state = T_RESOLVE;
	set_timeout(t, RESOLVE_TIMEOUT_S * 1000LL);
	if (is_ip) {
		resolve_literal(t->host, t->port, &t->addrs);
		resolved(t);
		return;
	}
	int fd = -1;
	int rr = resolve_start(srv_of(t), t->host, t->port, &t->addrs, &fd);
	if (rr > 0) {
		resolved(t);
	} else if (rr < 0 || !(t->dns_wsi = watch(t, fd))) {
		snprintf(why, sizeof why, "cannot resolve %s: %s", t->host, strerror(rr < 0 ? errno : ENOMEM));
		refuse(t, 502, why);
	}
}

static void read_head(struct tunnel *t)
{
	struct side *c = &t->s[CLIENT];
	for (;;) {
		ssize_t n = recv(c->fd, c->buf + c->len, HEAD_MAX - c->len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			tunnel_close(t); /* gone before asking for anything */
			return;
		}
		c->len += (size_t)n;
		size_t head = proxyreq_head_end(c->buf, c->len);
		if (head) {
			request(t, head);
			return;
		}
		if (c->len == HEAD_MAX) {
			refuse(t, 400, "request head too large");
			return;
		}
	}
}

/* ---- timers ---- */

static void timeout_cb(lws_sorted_usec_list_t *sul)
{
	struct tunnel *t = lws_container_of(sul, struct tunnel, sul_timeout);
	char why[WHY_MAX];
	switch (t->state) {
	case T_HEAD:
	case T_REFUSE:
		tunnel_close(t);
		break;
	case T_RESOLVE:
		snprintf(why, sizeof why, "cannot resolve %s: no answer in %d s", t->host, RESOLVE_TIMEOUT_S);
		refuse(t, 502, why);
		break;
	case T_CONNECT:
		t->last_errno = ETIMEDOUT;
		connect_next(t);
		break;
	case T_RELAY:
		break;
	}
}

static void kick_cb(lws_sorted_usec_list_t *sul)
{
	struct tunnel *t = lws_container_of(sul, struct tunnel, sul_kick);
	if (t->dead) {
		tunnel_free(t);
		return;
	}
	for (int i = 0; i < 2; i++)
		if (t->s[i].want_write) {
			t->s[i].want_write = 0;
			if (t->s[i].wsi)
				lws_callback_on_writable(t->s[i].wsi);
		}
	if (t->connect_failed) {
		t->connect_failed = 0;
		connect_next(t);
	} else if (t->state == T_RELAY) {
		relay(t);
	} else if (t->state == T_HEAD && !t->s[CLIENT].wsi) {
		read_head(t); /* hung up while asking */
	} else if (t->state == T_REFUSE) {
		pump(t, UPSTREAM);
		if (!t->dead && t->s[UPSTREAM].off == t->s[UPSTREAM].len && t->s[CLIENT].eof)
			tunnel_close(t);
	}
}

/* ---- the lws callbacks ---- */

int proxy_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	(void)user, (void)in, (void)len;
	struct tunnel *t = lws_get_opaque_user_data(wsi);
	if (!t || t->dead)
		return reason == LWS_CALLBACK_RAW_RX_FILE ? -1 : 0;
	int side = wsi == t->s[CLIENT].wsi ? CLIENT : wsi == t->s[UPSTREAM].wsi ? UPSTREAM : -1;
	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		if (wsi == t->dns_wsi)
			dns_answer(t);
		else if (t->state == T_HEAD && side == CLIENT)
			read_head(t);
		else if (t->state == T_REFUSE && side == CLIENT)
			refuse_drain(t);
		else if (t->state == T_RELAY && side >= 0)
			relay(t);
		else if (side >= 0)
			set_rx(&t->s[side], 0); /* not now: connecting */
		return 0;
	case LWS_CALLBACK_RAW_WRITEABLE_FILE:
		if (side == UPSTREAM && t->state == T_CONNECT)
			connect_done(t);
		else if (side >= 0 && t->state == T_RELAY)
			relay(t);
		else if (side == CLIENT && t->state == T_REFUSE)
			kick(t);
		return 0;
	case LWS_CALLBACK_RAW_CLOSE_FILE: {
		/* lws closed its watch (a hang-up, or spritesd is stopping):
		 * our own fd still holds whatever is left to read. */
		int was_dns = wsi == t->dns_wsi;
		if (was_dns)
			t->dns_wsi = NULL;
		if (side >= 0)
			t->s[side].wsi = NULL;
		if (srv_of(t)->stopping)
			return 0;
		if (was_dns) {
			if (t->state == T_RESOLVE)
				refuse(t, 502, "the name lookup failed");
			return 0;
		}
		if (side == UPSTREAM && t->state == T_CONNECT) {
			int e = 0;
			socklen_t el = sizeof e;
			getsockopt(t->s[UPSTREAM].fd, SOL_SOCKET, SO_ERROR, &e, &el);
			t->last_errno = e ? e : ECONNREFUSED;
			t->connect_failed = 1;
		}
		kick(t);
		return 0;
	}
	default:
		return 0;
	}
}

/* The listening socket: a new connection from the sprite. */
int proxy_listen_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                          size_t len)
{
	(void)user, (void)in, (void)len;
	struct proxy *px = lws_get_opaque_user_data(wsi);
	if (reason == LWS_CALLBACK_RAW_CLOSE_FILE) {
		if (px)
			px->listen_wsi = NULL;
		return 0;
	}
	if (reason != LWS_CALLBACK_RAW_RX_FILE)
		return 0;
	if (!px)
		return -1;
	for (;;) {
		int fd = accept4(lws_get_socket_fd(wsi), NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return 0; /* EAGAIN, or a transient error (EMFILE...): poll again */
		/* The descriptor budget (main.c): this sprite's share, and all
		 * sprites' together. */
		struct server *srv = px->sp->srv;
		if (px->tunnels.count >= srv->fds.tunnels_sprite || srv->live_tunnels >= srv->fds.tunnels_total) {
			static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\n"
			                           "connection: close\r\ncontent-length: 61\r\n\r\n"
			                           "spritesd proxy: too many connections open: close some first\n\n";
			(void)!write(fd, busy, sizeof busy - 1);
			close(fd);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		struct tunnel *t = xcalloc(1, sizeof *t);
		t->px = px;
		t->s[CLIENT].fd = fd;
		t->s[UPSTREAM].fd = -1;
		t->s[CLIENT].buf = xmalloc(PROXY_BUF);
		t->s[UPSTREAM].buf = xmalloc(PROXY_BUF);
		strcpy(t->method, "-");
		strcpy(t->host, "-");
		lws_dll2_add_tail(&t->list, &px->tunnels);
		srv->live_tunnels++;
		if (side_watch(t, &t->s[CLIENT]) < 0) {
			tunnel_free(t);
			continue;
		}
		set_timeout(t, HEAD_TIMEOUT_S * 1000LL);
	}
}

int proxy_start(struct sprite *sp, char *err, size_t errlen)
{
	struct sandbox *sb = &sp->sb;
	proxy_free(sb->proxy);
	sb->proxy = NULL;
	char why[300];
	int fd = netns_listen(sb, PROXY_PORT, why, sizeof why);
	if (fd < 0) {
		snprintf(err, errlen, "cannot start the network proxy of sprite \"%s\": %s", sp->name, why);
		return -1;
	}
	struct proxy *px = xcalloc(1, sizeof *px);
	px->sp = sp;
	lws_sock_file_fd_type fdt = { .filefd = fd };
	px->listen_wsi = lws_adopt_descriptor_vhost(sp->srv->vhost, LWS_ADOPT_RAW_FILE_DESC, fdt,
	                                            "sprite-proxy-listen", NULL);
	if (!px->listen_wsi) {
		close(fd);
		free(px);
		snprintf(err, errlen, "cannot watch the proxy's socket");
		return -1;
	}
	lws_set_opaque_user_data(px->listen_wsi, px);
	sb->proxy = px;
	return 0;
}

void proxy_free(struct proxy *px)
{
	if (!px)
		return;
	lws_start_foreach_dll_safe(struct lws_dll2 *, p, p1, lws_dll2_get_head(&px->tunnels)) {
		tunnel_free(lws_container_of(p, struct tunnel, list));
	} lws_end_foreach_dll_safe(p, p1);
	if (px->sp->srv->context)
		detach(&px->listen_wsi);
	free(px);
}

void proxy_policy_changed(struct sprite *sp)
{
	struct proxy *px = sp->sb.proxy;
	if (!px)
		return;
	lws_start_foreach_dll_safe(struct lws_dll2 *, p, p1, lws_dll2_get_head(&px->tunnels)) {
		struct tunnel *t = lws_container_of(p, struct tunnel, list);
		char why[WHY_MAX];
		if (t->dead || t->state == T_HEAD || t->state == T_REFUSE) {
			/* nothing asked yet, or already refused */
		} else if (t->state == T_RELAY) {
			struct sockaddr_storage ss;
			socklen_t sl = sizeof ss;
			if (getpeername(t->s[UPSTREAM].fd, (struct sockaddr *)&ss, &sl) < 0 ||
			    permitted(t, (struct sockaddr *)&ss, why, sizeof why) < 0) {
				tlog(t, 403, "closed: the policy changed");
				tunnel_close(t);
			}
		} else if (permitted(t, t->state == T_CONNECT ? (struct sockaddr *)&t->addrs.addr[t->next_addr - 1]
		                                              : NULL, why, sizeof why) < 0) {
			refuse(t, 403, why);
		}
	} lws_end_foreach_dll_safe(p, p1);
}

size_t proxy_env(char **env)
{
	static const char *const names[] = { "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY",
	                                      "ALL_PROXY" };
	size_t n = 0;
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		env[n++] = xasprintf("%s=http://127.0.0.1:%d", names[i], PROXY_PORT);
	env[n++] = xstrdup("no_proxy=localhost,127.0.0.1,::1");
	env[n++] = xstrdup("NO_PROXY=localhost,127.0.0.1,::1");
	return n;
}
