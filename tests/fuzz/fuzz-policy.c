/* fuzz-policy: a network policy document (POST .../policy/network), then
 * decisions about a few hosts under it. */
#include "../../src/spritesd/spritesd.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *doc = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	if (!doc)
		return 0;
	char err[300];
	struct policy *p = policy_parse(doc, err, sizeof err);
	json_decref(doc);
	if (!p)
		return 0;
	static const char *const hosts[] = { "example.com", "a.b.example.com", "127.0.0.1", "[::1]", "::1",
		                             "registry.npmjs.org", "x", "" };
	for (size_t i = 0; i < sizeof hosts / sizeof *hosts; i++) {
		struct policy_verdict v;
		policy_decide(p, hosts[i], &v);
	}
	policy_free(p);
	return 0;
}
