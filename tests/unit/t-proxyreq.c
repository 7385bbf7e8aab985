/* t-proxyreq: what spritesd's proxy reads from a request's head
 * (src/spritesd/proxyreq.c): CONNECT targets, absolute URIs and the head
 * rewritten for the origin server, and the requests it refuses. */
#include "../../src/spritesd/spritesd.h"
#include "tap.h"

#include <stdlib.h>

static struct proxy_request r;
static char why[300];

/* Parse head text (all of it the head); returns proxyreq_parse's result. */
static int parse(const char *head)
{
	free(r.head);
	r.head = NULL;
	return proxyreq_parse((const uint8_t *)head, strlen(head), &r, why, sizeof why);
}

/* "host port forward" of the last parse. */
static const char *target(void)
{
	static char buf[400];
	snprintf(buf, sizeof buf, "%s %d %s", r.host, r.port, r.forward ? "forward" : "tunnel");
	return buf;
}

static const char *rewritten(void)
{
	static char buf[2000];
	snprintf(buf, sizeof buf, "%.*s", (int)r.head_len, r.head ? r.head : "");
	return buf;
}

int main(void)
{
	plan(28);
	const uint8_t partial[] = "CONNECT a:1 HTTP/1.1\r\nHost: a\r\n";
	is_int(proxyreq_head_end(partial, sizeof partial - 1), 0, "no blank line yet: not all there");
	const uint8_t full[] = "CONNECT a:1 HTTP/1.1\r\nHost: a\r\n\r\nextra";
	is_int(proxyreq_head_end(full, sizeof full - 1), sizeof full - 1 - 5, "the head ends after its blank line");
	const uint8_t bare[] = "CONNECT a:1 HTTP/1.0\n\nx";
	is_int(proxyreq_head_end(bare, sizeof bare - 1), sizeof bare - 2, "bare newlines too");

	is_int(parse("CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n\r\n"), 0, "CONNECT host:port");
	is_str(target(), "api.example.com 443 tunnel", "host, port, a tunnel");
	is_str(r.method, "CONNECT", "method");
	ok(r.head == NULL && r.head_len == 0, "nothing to rewrite for a tunnel");
	is_int(parse("CONNECT [2001:db8::1]:8443 HTTP/1.1\r\n\r\n"), 0, "CONNECT [v6]:port");
	is_str(target(), "[2001:db8::1] 8443 tunnel", "the address keeps its brackets (the policy takes them off)");
	is_int(parse("CONNECT example.com HTTP/1.1\r\n\r\n"), -1, "CONNECT without a port");
	is_str(why, "CONNECT needs host:port", "says so");
	is_int(parse("CONNECT example.com:0 HTTP/1.1\r\n\r\n") + parse("CONNECT example.com:65536 HTTP/1.1\r\n\r\n") +
	       parse("CONNECT example.com:44x HTTP/1.1\r\n\r\n"), -3, "ports 0, 65536 and 44x are refused");

	is_int(parse("GET http://example.com/a/b?c=d HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n"
	             "Proxy-Connection: Keep-Alive\r\nProxy-Authorization: Basic eA==\r\nConnection: keep-alive\r\n"
	             "Keep-Alive: 5\r\nAccept: */*\r\n\r\n"), 0, "GET http://host/path");
	is_str(target(), "example.com 80 forward", "port 80 by default, forwarded");
	is_str(rewritten(), "GET /a/b?c=d HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\nAccept: */*\r\n"
	                    "Connection: close\r\n\r\n",
	       "rewritten: the path alone, proxy and hop-by-hop headers gone, Connection: close");
	is_int(parse("POST http://user:pw@Example.com:8080 HTTP/1.0\nContent-Length: 3\n\n"), 0,
	       "POST http://user:pw@host:port, no path, bare newlines");
	is_str(target(), "Example.com 8080 forward", "userinfo is not the host");
	is_str(rewritten(), "POST / HTTP/1.0\r\nContent-Length: 3\r\nHost: Example.com:8080\r\nConnection: close\r\n\r\n",
	       "path /, a Host added when there was none, CRLF throughout");
	is_int(parse("GET http://example.com?q=1 HTTP/1.1\r\n\r\n"), 0, "a query with no path");
	is_str(rewritten(), "GET /?q=1 HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n", "asks for /?q=1");
	is_int(parse("get HTTP://[::1]:81/x HTTP/1.1\r\n\r\n"), 0, "the scheme without case, an IPv6 host");
	is_str(target(), "[::1] 81 forward", "host and port");

	is_int(parse("GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n"), -1, "a request for a path alone");
	is_str(why, "this is an HTTP proxy: ask for an absolute URI (GET http://host/path) or CONNECT host:port",
	       "is not for a proxy");
	is_int(parse("GET https://example.com/ HTTP/1.1\r\n\r\n"), -1, "https:// in the request line");
	is_str(why, "only http:// URIs are forwarded: use CONNECT host:port for https and the rest", "wants CONNECT");
	is_int(parse("\x16\x03\x01\x02\x00\r\n\r\n") + parse("GET http://a/ SPDY/3\r\n\r\n") +
	       parse("GET\r\n\r\n"), -3, "TLS bytes, another protocol, a bare method: refused");
	is_str(why, "not an HTTP/1 request: this is an HTTP proxy (CONNECT host:port, or GET http://host/path)",
	       "as not HTTP/1");
	free(r.head);
	return done_testing();
}
