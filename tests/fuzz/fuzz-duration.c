/* fuzz-duration: the durations an exec or a request names
 * (max_run_after_disconnect, timeout). */
#include "../../src/spritesd/spritesd.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[128];
	if (size >= sizeof s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	(void)parse_duration_ms(s);
	return 0;
}
