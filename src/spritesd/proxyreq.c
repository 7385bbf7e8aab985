/* proxyreq.c: what a program in a sprite asks of its proxy (proxy.c), read
 * from the head of its request.  Pure: bytes in, a struct out.
 *   CONNECT host:port HTTP/1.1            a tunnel to host:port
 *   GET http://host[:port]/path HTTP/1.1  plain HTTP, any method: the head is
 *                                         rewritten for the origin server */
#include "spritesd.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

size_t proxyreq_head_end(const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\n')
			return i + 2;
		if (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* Split "host:port" or "[v6]:port" (port default_port when absent and
 * default_port > 0); 0, or -1 when malformed. */
static int split_hostport(const char *s, size_t n, int default_port, char *host, size_t hl, int *port)
{
	const char *colon = NULL;
	if (n && s[0] == '[') {
		const char *rb = memchr(s, ']', n);
		if (!rb)
			return -1;
		colon = rb + 1 < s + n ? rb + 1 : NULL;
		if (colon && *colon != ':')
			return -1;
	} else {
		for (const char *p = s + n; p > s; p--)
			if (p[-1] == ':') {
				colon = p - 1;
				break;
			}
	}
	size_t h = colon ? (size_t)(colon - s) : n;
	if (h == 0 || h >= hl)
		return -1;
	memcpy(host, s, h);
	host[h] = '\0';
	if (!colon) {
		*port = default_port;
		return default_port > 0 ? 0 : -1;
	}
	long p = 0;
	const char *q = colon + 1;
	if (q == s + n)
		return -1;
	for (; q < s + n; q++)
		if (*q < '0' || *q > '9' || (p = p * 10 + (*q - '0')) > 65535)
			return -1;
	*port = (int)p;
	return p > 0 ? 0 : -1;
}

/* Does header line [p, e) have this name? */
static int header_is(const char *p, const char *e, const char *name)
{
	size_t n = strlen(name);
	return (size_t)(e - p) > n && !strncasecmp(p, name, n) && p[n] == ':';
}

/* The head for the origin server: the path alone on the request line,
 * hop-by-hop and proxy headers dropped, "Connection: close" added (one
 * request per connection: a second one, perhaps for another host, must
 * come through the proxy's checks again). */
static void rewrite(const char *buf, size_t head, struct proxy_request *r, const char *path, size_t path_len,
                    const char *version, size_t version_len, const char *hostport, size_t hp_len)
{
	/* Lines may grow by a '\r' each; Host and Connection are added. */
	size_t cap = 2 * head + hp_len + 64;
	char *out = xmalloc(cap);
	/* "http://host?q" asks for "/?q" */
	const char *slash = path_len && path[0] == '/' ? "" : "/";
	size_t o = (size_t)snprintf(out, cap, "%s %s%.*s %.*s\r\n", r->method, slash, (int)path_len, path,
	                            (int)version_len, version);
	const char *end = buf + head;
	int has_host = 0;
	for (const char *p = (const char *)memchr(buf, '\n', head) + 1; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		const char *le = e > p && e[-1] == '\r' ? e - 1 : e;
		if (le == p)
			break; /* the blank line */
		has_host |= header_is(p, le, "host");
		if (!header_is(p, le, "proxy-connection") && !header_is(p, le, "proxy-authorization") &&
		    !header_is(p, le, "connection") && !header_is(p, le, "keep-alive")) {
			memcpy(out + o, p, (size_t)(le - p));
			o += (size_t)(le - p);
			out[o++] = '\r';
			out[o++] = '\n';
		}
		p = e + 1;
	}
	if (!has_host)
		o += (size_t)snprintf(out + o, cap - o, "Host: %.*s\r\n", (int)hp_len, hostport);
	o += (size_t)snprintf(out + o, cap - o, "Connection: close\r\n\r\n");
	r->head = out;
	r->head_len = o;
}

int proxyreq_parse(const uint8_t *ubuf, size_t head, struct proxy_request *r, char *why, size_t whylen)
{
	const char *buf = (const char *)ubuf;
	memset(r, 0, sizeof *r);
	strcpy(r->method, "?");
	strcpy(r->host, "-");
	const char *eol = memchr(buf, '\n', head);
	size_t ll = eol ? (size_t)(eol - buf) : head;
	if (ll && buf[ll - 1] == '\r')
		ll--;
	const char *sp1 = memchr(buf, ' ', ll);
	const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', ll - (size_t)(sp1 + 1 - buf)) : NULL;
	if (!eol || !sp1 || !sp2 || sp1 == buf || (size_t)(sp1 - buf) >= sizeof r->method ||
	    ll - (size_t)(sp2 + 1 - buf) < 6 || strncmp(sp2 + 1, "HTTP/1", 6)) {
		snprintf(why, whylen, "not an HTTP/1 request: this is an HTTP proxy "
		         "(CONNECT host:port, or GET http://host/path)");
		return -1;
	}
	snprintf(r->method, sizeof r->method, "%.*s", (int)(sp1 - buf), buf);
	const char *target = sp1 + 1;
	size_t tl = (size_t)(sp2 - target);
	const char *version = sp2 + 1;
	size_t vl = ll - (size_t)(version - buf);
	if (!strcmp(r->method, "CONNECT")) {
		if (split_hostport(target, tl, 0, r->host, sizeof r->host, &r->port) < 0) {
			strcpy(r->host, "-");
			snprintf(why, whylen, "CONNECT needs host:port");
			return -1;
		}
		return 0;
	}
	if (tl < 7 || strncasecmp(target, "http://", 7)) {
		snprintf(why, whylen, "%s", tl && target[0] == '/'
		         ? "this is an HTTP proxy: ask for an absolute URI (GET http://host/path) or CONNECT host:port"
		         : "only http:// URIs are forwarded: use CONNECT host:port for https and the rest");
		return -1;
	}
	const char *auth = target + 7, *tend = target + tl, *pe = auth;
	while (pe < tend && *pe != '/' && *pe != '?')
		pe++;
	for (const char *at = pe; at > auth; at--)
		if (at[-1] == '@') { /* user:password@ is not for the origin's request line */
			auth = at;
			break;
		}
	if (split_hostport(auth, (size_t)(pe - auth), 80, r->host, sizeof r->host, &r->port) < 0) {
		strcpy(r->host, "-");
		snprintf(why, whylen, "bad host in the URI");
		return -1;
	}
	r->forward = 1;
	rewrite(buf, head, r, pe, (size_t)(tend - pe), version, vl, auth, (size_t)(pe - auth));
	return 0;
}
