/* fuzz-policy-host: host names as a sprite's CONNECT or a policy names
 * them.  Normalising must be idempotent: the policy compares normal forms. */
#include "../../src/spritesd/spritesd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char in[300], out[256], again[256];
	if (size >= sizeof in)
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	int is_ip, is_ip2;
	if (policy_host_normalize(in, out, sizeof out, &is_ip) < 0)
		return 0;
	if (policy_host_normalize(out, again, sizeof again, &is_ip2) < 0 || strcmp(out, again) ||
	    is_ip != is_ip2) {
		fprintf(stderr, "fuzz-policy-host: not idempotent: \"%s\" -> \"%s\" (ip %d) -> \"%s\" (ip %d)\n", in, out,
		        is_ip, again, is_ip2);
		abort();
	}
	return 0;
}
