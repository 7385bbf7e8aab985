/* fuzz-utf8: the UTF-8 helpers that make a sprite's bytes printable as
 * JSON (utf8_lossy) or cut them (utf8_prefix).  utf8_lossy's output must
 * be valid UTF-8: jansson refuses anything else. */
#include "hookmap.h"
#include "util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	char *out = utf8_lossy(s);
	json_t *j = json_string(out);
	if (!j) {
		fprintf(stderr, "fuzz-utf8: utf8_lossy made invalid UTF-8\n");
		abort();
	}
	json_decref(j);
	size_t len = strlen(s);
	for (size_t max = 0; max < 8; max++)
		if (utf8_prefix(s, max) > len)
			abort();
	free(out);
	free(s);
	return 0;
}
