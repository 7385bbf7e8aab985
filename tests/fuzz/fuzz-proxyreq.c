/* fuzz-proxyreq: a sprite's proxy request head, as proxy.c reads it. */
#include "../../src/spritesd/spritesd.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t head = proxyreq_head_end(data, size);
	if (head > size)
		abort();
	/* proxy.c parses only a whole head; parse the whole input too, so a
	 * head without its blank line is covered. */
	size_t lens[2] = { head, size };
	for (int i = 0; i < 2; i++) {
		if (!lens[i])
			continue;
		struct proxy_request r = { 0 };
		char why[200];
		if (proxyreq_parse(data, lens[i], &r, why, sizeof why) == 0 && r.forward && !r.head)
			abort();
		free(r.head);
	}
	return 0;
}
