/* t-query: form encoding as Go's url.Values does it (spec section 1.1). */
#include "query.h"
#include "tap.h"

#include <stdlib.h>

/* Encode one key=value pair. */
static char *enc1(const char *k, const char *v)
{
	struct query q;
	query_init(&q);
	query_add(&q, k, v);
	char *s = query_encode(&q);
	query_free(&q);
	return s;
}

/* Decode a copy; returns the result (static buffer) or "(malformed)". */
static const char *unesc(const char *s)
{
	static char buf[256];
	snprintf(buf, sizeof buf, "%s", s);
	return form_unescape(buf) < 0 ? "(malformed)" : buf;
}

int main(void)
{
	struct query q;
	char *s;

	query_init(&q);
	query_add(&q, "path", "echo");
	query_add(&q, "cmd", "echo");
	query_add(&q, "cmd", "hello");
	query_add(&q, "stdin", "false");
	s = query_encode(&q);
	is_str(s, "cmd=echo&cmd=hello&path=echo&stdin=false", "keys sorted, repeated keys in order");
	free(s);
	query_free(&q);

	query_init(&q);
	s = query_encode(&q);
	is_str(s, "", "empty query encodes to an empty string");
	free(s);

#define ENC(v, want, what)                  \
	s = enc1("k", v);                       \
	is_str(s, "k=" want, what);             \
	free(s)
	ENC("a b", "a+b", "space is +");
	ENC("a=b", "a%3Db", "= in a value is %%3D");
	ENC("a&b", "a%26b", "& is %%26");
	ENC("a/b", "a%2Fb", "/ is %%2F");
	ENC("a+b", "a%2Bb", "+ is %%2B");
	ENC("caf\xc3\xa9", "caf%C3%A9", "UTF-8 bytes percent-encoded, upper-case hex");
	ENC("a~b-c_d.e", "a~b-c_d.e", "unreserved ~-_. kept");
	ENC("", "", "empty value");
	s = enc1("a key", "v");
	is_str(s, "a+key=v", "keys are escaped too");
	free(s);

	is_str(unesc("a+b"), "a b", "+ decodes to space");
	is_str(unesc("a%3Db"), "a=b", "%%3D decodes to =");
	is_str(unesc("a%2bb"), "a+b", "lower-case hex %%2b decodes to +");
	is_str(unesc("%zz"), "(malformed)", "%%zz is malformed");
	is_str(unesc("abc%4"), "(malformed)", "trailing %%4 is malformed");
	is_str(unesc("abc%"), "(malformed)", "trailing %% is malformed");
	char buf[] = "caf%C3%A9";
	is_int(form_unescape(buf), 5, "decoded length counts bytes");

	query_init(&q);
	is_int(query_parse(&q, "cmd=echo&path=%2Fbin%2Fecho&cmd=hello+world&tty"), 0, "query_parse ok");
	is_int(query_count(&q, "cmd"), 2, "two cmd values");
	is_str(query_get(&q, "cmd", 0), "echo", "first cmd");
	is_str(query_get(&q, "cmd", 1), "hello world", "second cmd, + decoded");
	is_str(query_get(&q, "cmd", 2), NULL, "no third cmd");
	is_str(query_get(&q, "path", 0), "/bin/echo", "path decoded");
	is_str(query_get(&q, "tty", 0), "", "key without = has an empty value");
	is_int(query_count(&q, "nope"), 0, "absent key counts 0");
	s = query_encode(&q);
	is_str(s, "cmd=echo&cmd=hello+world&path=%2Fbin%2Fecho&tty=", "round trip re-encodes sorted");
	query_free(&q);
	query_init(&q);
	is_int(query_parse(&q, s), 0, "parse the re-encoding");
	is_str(query_get(&q, "cmd", 1), "hello world", "round trip keeps values");
	is_int(query_count(&q, "cmd"), 2, "round trip keeps repeated keys");
	free(s);
	query_free(&q);

	query_init(&q);
	is_int(query_parse(&q, "a=%zz"), -1, "query_parse rejects a malformed escape");
	query_free(&q);

	s = path_escape("my sprite/name");
	is_str(s, "my%20sprite%2Fname", "path_escape: space %%20, / %%2F");
	free(s);
	s = path_escape("web-1");
	is_str(s, "web-1", "path_escape keeps a plain name");
	free(s);

	plan(tap_n);
	return done_testing();
}
