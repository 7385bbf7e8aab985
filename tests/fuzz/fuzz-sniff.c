/* fuzz-sniff: a request head as spritesd's listener rewrites it before
 * authentication (listen.c), on the condition sniff_callback checks:
 * a request line, and the whole head there. */
#include "../../src/spritesd/spritesd.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	size_t head = proxyreq_head_end(data, size);
	if (!head || !memchr(buf, '\n', head))
		return 0;
	size_t len;
	char *out = listen_rewrite_head(buf, head, &len);
	if (len < head)
		abort(); /* the rewrite only ever lengthens */
	free(out);
	return 0;
}
