/* fuzz-api: a response body from an API server, as the client turns it
 * into a message or a retry delay.  Input: two bytes of status, the body. */
#include "api.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	long status = data[0] << 8 | data[1];
	/* api.c's bodies are NUL-terminated (and may hold NULs). */
	char *body = malloc(size - 1);
	memcpy(body, data + 2, size - 2);
	body[size - 2] = '\0';
	char buf[512];
	const char *t = api_error_text(status, body, size - 2, buf, sizeof buf);
	if (strlen(t) >= sizeof buf)
		abort();
	if (api_retry_delay(body, size - 2, status % 7 - 1) < 0)
		abort();
	free(body);
	return 0;
}
