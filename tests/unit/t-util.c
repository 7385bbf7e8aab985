/* t-util: utf8_lossy keeps valid UTF-8 and replaces every byte of anything
 * else with U+FFFD, so that what it returns always encodes as JSON. */
#include "util.h"
#include "tap.h"

#include <jansson.h>
#include <stdlib.h>

/* utf8_lossy(in), and whether jansson takes the result as a JSON string. */
static void lossy(const char *in, const char *want, const char *what)
{
	char *got = utf8_lossy(in);
	is_str(got, want, "%s", what);
	json_t *j = json_string(got);
	ok(j != NULL, "%s: a valid JSON string", what);
	json_decref(j);
	free(got);
}

int main(void)
{
	lossy("plain ascii", "plain ascii", "ASCII is kept");
	lossy("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
	      "two-, three- and four-byte sequences are kept");
	lossy("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf", "U+10FFFF, the last code point, is kept");
	lossy("a\xf4\x90\x80\x80z", "a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz",
	      "F4 90 80 80 (above U+10FFFF) is four replacement characters");
	lossy("\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", "a surrogate (U+D800) is replaced");
	lossy("\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd", "an overlong '/' is replaced");
	lossy("\xe2\x82", "\xef\xbf\xbd\xef\xbf\xbd", "a truncated sequence is replaced");
	lossy("\xff\xfe", "\xef\xbf\xbd\xef\xbf\xbd", "bytes never in UTF-8 are replaced");
	plan(tap_n);
	return done_testing();
}
