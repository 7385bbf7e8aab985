/* listen.c: spritesd's own listening socket, in front of libwebsockets.
 *
 * libwebsockets 4.1 decodes %0D and %0A in a request's URI before it looks
 * for the end of the line, so a query value holding a newline (any
 * multi-line `sh -c` script sent by an SDK or by sprite-exec) ends the
 * request line early and loses the rest of the query; %00 gets the
 * connection dropped.  So we accept connections ourselves and look at the
 * request line; when it has such an escape we read the head, rewrite the
 * three escapes into a private form lws passes through (%FF then 'r', 'n'
 * or '0'; a genuine %FF becomes %FF%FF), and hand the connection and the
 * head to lws (lws_adopt_socket_vhost_readbuf); other connections go to lws
 * untouched.
 * http_args() turns the private form back.  Over TLS lws listens itself:
 * the bytes are encrypted, and TLS serving is for tests.
 *
 * Nobody who reaches the port has authenticated yet, so every request's
 * head must be complete within SNIFF_TIMEOUT_S and REQUEST_HEAD_MAX before
 * lws sees it (a GET's is taken as it comes into a growing buffer; other
 * methods' are looked at, less and less often); and at most SNIFF_MAX
 * connections wait for their head, SNIFF_MAX_PEER of them from one
 * address: past that the oldest waiting
 * one is dropped, so that a client holding connections half-open
 * (slowloris) loses its own, not anybody else's.  Then the connection and
 * its head (rewritten, or as it came) go to lws; other methods go
 * untouched: lws 4.1 mishandles a request with a body handed over with
 * its head. */
#include "spritesd.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define REQUEST_HEAD_MAX (64 * 1024)
#define SNIFF_TIMEOUT_S 10
#define SNIFF_MAX 256
#define SNIFF_MAX_PEER 64
#define PEEK_WAIT_MAX_MS 320

struct sniff {
	struct server *srv;
	struct lws *wsi;
	char *buf;
	size_t len, cap;
	struct sockaddr_storage peer;
	int peeking;                 /* not a GET: looked at, never taken */
	unsigned wait_ms;            /* between looks at a head not yet complete */
	lws_dll2_t list;             /* in srv->sniffs, oldest first */
	lws_sorted_usec_list_t sul, sul_wait;
};

static void sniff_forget(struct sniff *sn)
{
	if (sn->list.owner)
		lws_dll2_remove(&sn->list);
}

static void sniff_free(struct sniff *sn)
{
	lws_sul_cancel(&sn->sul);
	lws_sul_cancel(&sn->sul_wait);
	sniff_forget(sn);
	free(sn->buf);
	free(sn);
}

/* Close a waiting connection from outside its callbacks. */
static void sniff_drop(struct sniff *sn)
{
	sniff_forget(sn);
	lws_set_timeout(sn->wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
}

static int is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* The most a request line grows by rewriting: a raw 0xFF byte becomes six. */
#define REWRITE_GROWTH 6

/* Rewrite the request line buf[0..line) into out (room for
 * line * REWRITE_GROWTH bytes); returns the new length. */
static size_t rewrite_line(const char *buf, size_t line, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < line; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (c == '%' && i + 2 < line && is_hex(buf[i + 1]) && is_hex(buf[i + 2])) {
			char hi = buf[i + 1], lo = buf[i + 2];
			const char *rep = NULL;
			if (hi == '0' && (lo == 'd' || lo == 'D'))
				rep = "%FFr";
			else if (hi == '0' && (lo == 'a' || lo == 'A'))
				rep = "%FFn";
			else if (hi == '0' && lo == '0')
				rep = "%FF0";
			else if ((hi == 'f' || hi == 'F') && (lo == 'f' || lo == 'F'))
				rep = "%FF%FF";
			if (rep) {
				memcpy(out + o, rep, strlen(rep));
				o += strlen(rep);
				i += 2;
				continue;
			}
		}
		if (c == 0xff) {
			memcpy(out + o, "%FF%FF", 6);
			o += 6;
			continue;
		}
		out[o++] = (char)c;
	}
	return o;
}

char *listen_rewrite_head(const char *buf, size_t head, size_t *len)
{
	char *nl = memchr(buf, '\n', head);
	size_t line = (size_t)(nl - buf);
	char *out = xmalloc(line * REWRITE_GROWTH + (head - line) + 1);
	size_t n = rewrite_line(buf, line, out);
	memcpy(out + n, buf + line, head - line);
	*len = n + head - line;
	return out;
}

/* Give the connection to lws: untouched when we took nothing, else with
 * the (GET's) head we took, rewritten when its request line needs it. */
static void hand_over(struct sniff *sn, int rewrite)
{
	int fd = lws_get_socket_fd(sn->wsi);
	int keep = fcntl(fd, F_DUPFD_CLOEXEC, 3); /* the raw wsi closes fd */
	if (keep < 0)
		return;
	if (!sn->len) {
		lws_adopt_socket_vhost(sn->srv->vhost, keep);
		return;
	}
	if (!rewrite) {
		lws_adopt_socket_vhost_readbuf(sn->srv->vhost, keep, sn->buf, sn->len);
		return;
	}
	size_t n;
	char *out = listen_rewrite_head(sn->buf, sn->len, &n);
	lws_adopt_socket_vhost_readbuf(sn->srv->vhost, keep, out, n);
	free(out);
}

/* Does the request line carry an escape lws would mangle? */
static int needs_rewrite(const char *line, size_t len)
{
	for (size_t i = 0; i + 2 < len; i++)
		if (line[i] == '%' && line[i + 1] == '0' &&
		    (line[i + 2] == '0' || line[i + 2] == 'a' || line[i + 2] == 'A' ||
		     line[i + 2] == 'd' || line[i + 2] == 'D'))
			return 1;
	return 0;
}

/* Room for twice as much of the head, up to REQUEST_HEAD_MAX. */
static void sniff_grow(struct sniff *sn)
{
	if (sn->cap >= REQUEST_HEAD_MAX)
		return;
	sn->cap = sn->cap * 2 < REQUEST_HEAD_MAX ? sn->cap * 2 : REQUEST_HEAD_MAX;
	sn->buf = xrealloc(sn->buf, sn->cap);
}

static int too_long(int fd)
{
	static const char msg[] = "HTTP/1.1 431 Request Header Fields Too Large\r\n"
	                          "content-length: 0\r\nconnection: close\r\n\r\n";
	(void)!write(fd, msg, sizeof msg - 1);
	return -1;
}

static void sniff_resume(lws_sorted_usec_list_t *sul)
{
	struct sniff *sn = lws_container_of(sul, struct sniff, sul_wait);
	lws_rx_flow_control(sn->wsi, 1);
}

static int sniff_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                          size_t len)
{
	(void)user, (void)in, (void)len;
	struct sniff *sn = lws_get_opaque_user_data(wsi);
	if (!sn)
		return reason == LWS_CALLBACK_RAW_RX_FILE ? -1 : 0;
	if (reason == LWS_CALLBACK_RAW_CLOSE_FILE) {
		lws_set_opaque_user_data(wsi, NULL);
		sniff_free(sn);
		return 0;
	}
	if (reason != LWS_CALLBACK_RAW_RX_FILE || !sn->list.owner)
		return 0; /* (a dropped one closes soon) */
	/* Peek at what came.  A GET (no body) has its head taken as it comes
	 * and handed over with the connection: nothing is left to wake us but
	 * new bytes.  Any other method is only looked at until its head is
	 * complete, then goes to lws untouched (lws 4.1 mishandles a body
	 * after a head handed over); the bytes stay readable, so between looks
	 * we stop reading for a while that doubles, up to PEEK_WAIT_MAX_MS. */
	if (sn->cap - sn->len < 4096)
		sniff_grow(sn);
	int fd = lws_get_socket_fd(wsi);
	ssize_t n = recv(fd, sn->buf + sn->len, sn->cap - sn->len, MSG_PEEK);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0)
		return -1;
	for (size_t i = sn->len; i < 4 && i < sn->len + (size_t)n && !sn->peeking; i++) {
		if (sn->buf[i] == "GET "[i])
			continue;
		if (sn->len)
			return -1; /* "GE" then something else: no request of ours */
		sn->peeking = 1;
	}
	if (sn->peeking) {
		if (proxyreq_head_end((const uint8_t *)sn->buf, (size_t)n)) {
			hand_over(sn, 0);
			return -1;
		}
		if ((size_t)n == REQUEST_HEAD_MAX)
			return too_long(fd);
		if ((size_t)n == sn->cap) { /* more may be there: a bigger look */
			sniff_grow(sn);
			return 0;
		}
		sn->wait_ms = sn->wait_ms ? (sn->wait_ms * 2 < PEEK_WAIT_MAX_MS ? sn->wait_ms * 2 : PEEK_WAIT_MAX_MS) : 5;
		lws_rx_flow_control(wsi, 0);
		lws_sul_schedule(sn->srv->context, 0, &sn->sul_wait, sniff_resume,
		                 (lws_usec_t)sn->wait_ms * LWS_US_PER_MS);
		return 0;
	}
	/* Only the new bytes, and the two before them, can end the head: a
	 * client sending a byte at a time costs a byte's work each time. */
	size_t from = sn->len > 2 ? sn->len - 2 : 0;
	size_t end = proxyreq_head_end((const uint8_t *)sn->buf + from, sn->len + (size_t)n - from);
	if (end)
		end += from;
	size_t take = end ? end - sn->len : (size_t)n;
	if (read(fd, sn->buf + sn->len, take) != (ssize_t)take)
		return -1;
	sn->len += take;
	if (end) {
		char *nl = memchr(sn->buf, '\n', sn->len);
		hand_over(sn, needs_rewrite(sn->buf, (size_t)(nl - sn->buf)));
		return -1; /* closes our fd; lws has its own now */
	}
	if (sn->len == REQUEST_HEAD_MAX)
		return too_long(fd);
	return 0;
}

static void sniff_timeout(lws_sorted_usec_list_t *sul)
{
	sniff_drop(lws_container_of(sul, struct sniff, sul));
}

static int same_peer(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr == ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, &((const struct sockaddr_in6 *)b)->sin6_addr,
		               sizeof(struct in6_addr));
	return 1;
}

/* Room for one more waiting connection from peer: drop the oldest waiting
 * one from the same address when it has SNIFF_MAX_PEER, else the oldest of
 * all when there are SNIFF_MAX. */
static void make_room(struct server *srv, const struct sockaddr_storage *peer)
{
	struct sniff *oldest_peer = NULL;
	unsigned from_peer = 0;
	lws_start_foreach_dll(struct lws_dll2 *, p, lws_dll2_get_head(&srv->sniffs)) {
		struct sniff *sn = lws_container_of(p, struct sniff, list);
		if (same_peer(&sn->peer, peer)) {
			from_peer++;
			if (!oldest_peer)
				oldest_peer = sn;
		}
	} lws_end_foreach_dll(p);
	if (from_peer >= SNIFF_MAX_PEER)
		sniff_drop(oldest_peer);
	else if (srv->sniffs.count >= SNIFF_MAX)
		sniff_drop(lws_container_of(lws_dll2_get_head(&srv->sniffs), struct sniff, list));
}

static int listen_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                           size_t len)
{
	(void)user, (void)in, (void)len;
	if (reason != LWS_CALLBACK_RAW_RX_FILE)
		return 0;
	struct server *srv = server_of(wsi);
	for (;;) {
		struct sockaddr_storage peer;
		socklen_t peer_len = sizeof peer;
		int fd = accept4(lws_get_socket_fd(wsi), (struct sockaddr *)&peer, &peer_len,
		                 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return 0; /* EAGAIN, or a transient error (EMFILE...): poll again */
		/* As lws's own accept does: small frames (the exit, the close)
		 * must not wait for the peer's delayed ACK. */
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		make_room(srv, &peer);
		struct sniff *sn = xcalloc(1, sizeof *sn);
		sn->srv = srv;
		sn->peer = peer;
		sn->cap = 4096;
		sn->buf = xmalloc(sn->cap);
		lws_sock_file_fd_type fdt = { .filefd = fd };
		sn->wsi = lws_adopt_descriptor_vhost(srv->vhost, LWS_ADOPT_RAW_FILE_DESC, fdt,
		                                     "sprite-sniff", NULL);
		if (!sn->wsi) {
			close(fd);
			sniff_free(sn);
			continue;
		}
		lws_set_opaque_user_data(sn->wsi, sn);
		lws_dll2_add_tail(&sn->list, &srv->sniffs);
		lws_sul_schedule(srv->context, 0, &sn->sul, sniff_timeout,
		                 (lws_usec_t)SNIFF_TIMEOUT_S * LWS_US_PER_SEC);
	}
}

int listen_fd_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	return listen_callback(wsi, reason, user, in, len);
}

int sniff_fd_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	return sniff_callback(wsi, reason, user, in, len);
}

int listen_start(struct server *srv, const char *addr, int port, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
	struct addrinfo *ai;
	char service[16];
	snprintf(service, sizeof service, "%d", port);
	int r = getaddrinfo(addr, service, &hints, &ai);
	if (r) {
		snprintf(err, errlen, "cannot resolve %s: %s", addr, gai_strerror(r));
		return -1;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0) {
		snprintf(err, errlen, "cannot listen on %s:%d: %s", addr, port, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	srv->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
	                                          : ((struct sockaddr_in *)&ss)->sin_port);
	lws_sock_file_fd_type fdt = { .filefd = fd };
	if (!lws_adopt_descriptor_vhost(srv->vhost, LWS_ADOPT_RAW_FILE_DESC, fdt, "sprite-listen", NULL)) {
		snprintf(err, errlen, "cannot watch the listening socket");
		close(fd);
		return -1;
	}
	return 0;
}
