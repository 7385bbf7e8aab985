/* resolve.c: name resolution for the proxy, off the event loop, and what
 * kind of address a destination is.
 *
 * getaddrinfo blocks (for seconds when a DNS server is slow), and the event
 * loop must not: each lookup runs in a short-lived detached thread which
 * writes its answer (a struct resolved) into one end of a socketpair and
 * exits.  The event loop watches the other end, so nothing is shared
 * between the thread and the loop but that socket.  spritesd --resolve
 * HOST=IP (for tests) answers at once instead. */
#include "spritesd.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct lookup {
	int fd;               /* the thread's end of the socketpair */
	int port;
	char host[];
};

static void set_port(struct sockaddr_storage *ss, int port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
	else if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
}

static void add_addr(struct resolved *r, const struct sockaddr *sa, socklen_t len, int port)
{
	if (r->n >= RESOLVE_MAX || len > sizeof r->addr[0])
		return;
	memset(&r->addr[r->n], 0, sizeof r->addr[0]);
	memcpy(&r->addr[r->n], sa, len);
	r->len[r->n] = len;
	set_port(&r->addr[r->n], port);
	r->n++;
}

int resolve_literal(const char *host, int port, struct resolved *r)
{
	memset(r, 0, sizeof *r);
	struct sockaddr_in a4 = { .sin_family = AF_INET };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6 };
	if (inet_pton(AF_INET, host, &a4.sin_addr) == 1)
		add_addr(r, (struct sockaddr *)&a4, sizeof a4, port);
	else if (inet_pton(AF_INET6, host, &a6.sin6_addr) == 1)
		add_addr(r, (struct sockaddr *)&a6, sizeof a6, port);
	return r->n ? 0 : -1;
}

static void *lookup_thread(void *arg)
{
	struct lookup *l = arg;
	struct resolved r;
	memset(&r, 0, sizeof r);
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
	                          .ai_flags = AI_ADDRCONFIG };
	struct addrinfo *ai = NULL;
	r.gai_err = getaddrinfo(l->host, NULL, &hints, &ai);
	for (struct addrinfo *a = ai; a; a = a->ai_next)
		if (a->ai_family == AF_INET || a->ai_family == AF_INET6)
			add_addr(&r, a->ai_addr, a->ai_addrlen, l->port);
	if (ai)
		freeaddrinfo(ai);
	if (!r.gai_err && !r.n)
		r.gai_err = EAI_NONAME;
	/* The loop may have given up on the lookup and closed its end:
	 * MSG_NOSIGNAL, and nobody to tell. */
	(void)!send(l->fd, &r, sizeof r, MSG_NOSIGNAL);
	close(l->fd);
	free(l);
	return NULL;
}

int resolve_start(struct server *srv, const char *host, int port, struct resolved *r, int *fd)
{
	const char *ip = json_string_value(json_object_get(srv->resolve, host));
	if (ip)
		return resolve_literal(ip, port, r) == 0 ? 1 : -1;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	size_t hl = strlen(host);
	struct lookup *l = xmalloc(sizeof *l + hl + 1);
	l->fd = sv[1];
	l->port = port;
	memcpy(l->host, host, hl + 1);
	pthread_attr_t attr;
	pthread_t tid;
	int e = pthread_attr_init(&attr);
	if (!e) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		e = pthread_create(&tid, &attr, lookup_thread, l);
		pthread_attr_destroy(&attr);
	}
	if (e) {
		close(sv[0]);
		close(sv[1]);
		free(l);
		errno = e;
		return -1;
	}
	*fd = sv[0];
	return 0;
}

int resolve_finish(int fd, struct resolved *r)
{
	ssize_t n;
	do
		n = recv(fd, r, sizeof *r, MSG_WAITALL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof *r)
		return 0;
	if (n < 0 && errno == EAGAIN)
		return 1;
	return -1;
}

int addr_is_private(const struct sockaddr *sa)
{
	uint32_t a;
	if (sa->sa_family == AF_INET6) {
		const uint8_t *b = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
		static const uint8_t zero[15] = { 0 };
		if (!memcmp(b, mapped, 12)) {
			a = (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15];
			goto v4;
		}
		if (!memcmp(b, zero, 15) && b[15] <= 1)  /* ::, ::1 */
			return 1;
		return (b[0] & 0xfe) == 0xfc ||             /* fc00::/7, unique local */
		       (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) || /* fe80::/10, link-local */
		       b[0] == 0xff;                        /* multicast */
	}
	if (sa->sa_family != AF_INET)
		return 1;
	a = ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);
v4:
	return (a >> 24) == 0 ||                 /* 0/8, "this network" */
	       (a >> 24) == 10 ||                /* 10/8 */
	       (a >> 24) == 127 ||               /* 127/8, loopback */
	       (a >> 22) == (100u << 2 | 1) ||   /* 100.64/10, carrier-grade NAT */
	       (a >> 16) == (169u << 8 | 254) || /* 169.254/16, link-local (cloud metadata) */
	       (a >> 20) == (172u << 4 | 1) ||   /* 172.16/12 */
	       (a >> 16) == (192u << 8 | 168) || /* 192.168/16 */
	       (a >> 28) >= 14;                  /* multicast, reserved, broadcast */
}

void addr_text(const struct sockaddr *sa, char *buf, size_t len)
{
	const void *a = sa->sa_family == AF_INET6 ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
	                                          : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;
	if (!inet_ntop(sa->sa_family, a, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}
