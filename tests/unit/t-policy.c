/* t-policy: spritesd's network policy (src/spritesd/policy.c): which
 * documents are policies, what each error says, and which rule decides. */
#include "../../src/spritesd/spritesd.h"
#include "tap.h"

#include <stdlib.h>

/* Parse a document given as JSON text; NULL with err set when refused. */
static struct policy *parse(const char *text, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *doc = json_loads(text, 0, &jerr);
	if (!doc) {
		snprintf(err, errlen, "(test bug: not JSON: %s)", jerr.text);
		return NULL;
	}
	struct policy *p = policy_parse(doc, err, errlen);
	json_decref(doc);
	return p;
}

/* The error for a document ("(accepted)" if it is a policy). */
static const char *error_of(const char *text)
{
	static char err[512];
	struct policy *p = parse(text, err, sizeof err);
	if (p) {
		policy_free(p);
		return "(accepted)";
	}
	return err;
}

/* "allow", "allow exact" or "deny" for host under the policy text. */
static const char *decide(const char *text, const char *host)
{
	static char err[512];
	struct policy *p = parse(text, err, sizeof err);
	if (!p)
		return err;
	struct policy_verdict v;
	policy_decide(p, host, &v);
	policy_free(p);
	return v.allow ? (v.exact ? "allow exact" : "allow") : "deny";
}

static const char *why(const char *text, const char *host)
{
	static char buf[512];
	char err[512];
	struct policy *p = parse(text, err, sizeof err);
	struct policy_verdict v;
	policy_decide(p, host, &v);
	snprintf(buf, sizeof buf, "%s", v.why);
	policy_free(p);
	return buf;
}

static const char *norm(const char *in)
{
	static char out[256];
	int is_ip;
	if (policy_host_normalize(in, out, sizeof out, &is_ip) < 0)
		return "(invalid)";
	if (is_ip)
		strcat(out, " (ip)");
	return out;
}

#define POL(rules) "{\"rules\":[" rules "]}"
#define ALLOW(d) "{\"domain\":\"" d "\",\"action\":\"allow\"}"
#define DENY(d) "{\"domain\":\"" d "\",\"action\":\"deny\"}"

int main(void)
{
	plan(70);

	/* ---- what is a policy ---- */
	is_str(error_of(POL("")), "(accepted)", "no rules is a policy");
	is_str(error_of(POL(ALLOW("example.com") "," ALLOW("*.example.com") "," DENY("*") ","
	                    "{\"include\":\"defaults\"}")),
	       "(accepted)", "exact, *.domain, * and an include");
	is_str(error_of(POL(ALLOW("10.0.0.1") "," ALLOW("::1") "," ALLOW("[fe80::1]") "," ALLOW("Example.COM."))),
	       "(accepted)", "IP addresses, bracketed IPv6, upper case and a trailing dot");
	is_str(error_of("[]"), "invalid policy: the document must be a JSON object {\"rules\":[...]}",
	       "an array is not a policy");
	is_str(error_of("{}"), "invalid policy: \"rules\" must be an array", "no rules");
	is_str(error_of("{\"rules\":{}}"), "invalid policy: \"rules\" must be an array", "rules not an array");
	is_str(error_of("{\"rules\":[],\"extra\":1}"),
	       "invalid policy: unknown field \"extra\" (a policy has only \"rules\")", "extra top-level junk");
	is_str(error_of(POL("\"example.com\"")), "invalid policy: rule 1 is not an object", "a rule that is a string");
	is_str(error_of(POL(ALLOW("a.com") ",{}")),
	       "invalid policy: rule 2 needs \"domain\" and \"action\", or \"include\"", "an empty rule (counted from 1)");
	is_str(error_of(POL("{\"domain\":\"a.com\"}")),
	       "invalid policy: rule 1 needs \"domain\" and \"action\", or \"include\"", "domain without action");
	is_str(error_of(POL("{\"action\":\"allow\"}")),
	       "invalid policy: rule 1 needs \"domain\" and \"action\", or \"include\"", "action without domain");
	is_str(error_of(POL("{\"domain\":\"a.com\",\"action\":\"permit\"}")),
	       "invalid policy: rule 1: action \"permit\" is neither \"allow\" nor \"deny\"", "a bad action");
	is_str(error_of(POL("{\"domain\":\"a.com\",\"action\":\"ALLOW\"}")),
	       "invalid policy: rule 1: action \"ALLOW\" is neither \"allow\" nor \"deny\"", "actions are lower case");
	is_str(error_of(POL("{\"domain\":\"a.com\",\"action\":\"allow\",\"port\":\"443\"}")),
	       "invalid policy: rule 1 has an unknown field \"port\" (a rule has \"domain\" and \"action\", or \"include\")",
	       "an unknown field in a rule");
	is_str(error_of(POL("{\"domain\":5,\"action\":\"allow\"}")),
	       "invalid policy: rule 1: \"domain\" must be a string", "a domain that is not a string");
	is_str(error_of(POL("{\"include\":\"defaults\",\"domain\":\"a.com\",\"action\":\"allow\"}")),
	       "invalid policy: rule 1 has both \"include\" and \"domain\"/\"action\": use one or the other",
	       "include with a domain");
	is_str(error_of(POL("{\"include\":\"everything\"}")),
	       "invalid policy: rule 1: unknown include \"everything\" (known: \"defaults\")", "an unknown preset");
	static const char *const bad[] = { "", "exa mple.com", "a..com", "*.", "*.*.com", "a.*.com", "ex*ample.com",
	                                   "*.10.0.0.1", "http://a.com", "a.com/path", "a.com:443", "**" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char doc[200], want[300];
		snprintf(doc, sizeof doc, POL("{\"domain\":\"%s\",\"action\":\"deny\"}"), bad[i]);
		snprintf(want, sizeof want, "invalid policy: rule 1: domain \"%s\" is not a host name, an IP address, "
		         "\"*.\" and a domain, or \"*\"", bad[i]);
		is_str(error_of(doc), want, "bad domain \"%s\"", bad[i]);
	}

	/* ---- host names ---- */
	is_str(norm("Example.COM."), "example.com", "names lose case and a trailing dot");
	is_str(norm("[::0001]"), "::1 (ip)", "IPv6 addresses take their canonical form");
	is_str(norm("127.1"), "127.0.0.1 (ip)", "\"127.1\" is an address, as resolvers take it");
	is_str(norm("2130706433"), "127.0.0.1 (ip)", "and so is a bare number");
	is_str(norm("a_b.example"), "a_b.example", "underscores pass");
	is_str(norm("a b"), "(invalid)", "spaces do not");
	is_str(norm("[]"), "(invalid)", "empty brackets are nothing (once read before the buffer)");
	is_str(norm("["), "(invalid)", "a lone bracket is nothing");
	is_str(norm("."), "(invalid)", "nor is the root alone");
	is_str(norm("[example.com]"), "(invalid)", "only an IPv6 address is bracketed");
	is_str(norm("127.1."), "127.0.0.1 (ip)", "\"127.1.\" is the address too, not a name");
	/* Normalising twice changes nothing: a second look sees what the first did. */
	{
		static const char *const hosts[] = { "Example.COM.", "127.1.", "1.2.3.4.", "[::0001]", "0x7f.1",
		                                     "a_b.example", "1.2.3.999", "xn--bcher-kva.example." };
		int same = 1;
		for (size_t i = 0; i < sizeof hosts / sizeof *hosts; i++) {
			char once[256], twice[256];
			int ip1, ip2;
			if (policy_host_normalize(hosts[i], once, sizeof once, &ip1) < 0 ||
			    policy_host_normalize(once, twice, sizeof twice, &ip2) < 0 || strcmp(once, twice) || ip1 != ip2) {
				printf("# not idempotent: %s\n", hosts[i]);
				same = 0;
			}
		}
		ok(same, "normalising is idempotent");
	}

	/* ---- matching ---- */
	const char *p = POL(ALLOW("*.example.com") "," DENY("bad.example.com") "," ALLOW("*.eu.example.com") ","
	                    DENY("*.private.example.com"));
	is_str(decide(p, "www.example.com"), "allow", "*.example.com allows www.example.com");
	is_str(decide(p, "a.b.example.com"), "allow", "at any depth");
	is_str(decide(p, "example.com"), "deny", "but not example.com itself");
	is_str(decide(p, "badexample.com"), "deny", "nor a name that merely ends the same");
	is_str(decide(p, "bad.example.com"), "deny", "the exact rule beats the wildcard");
	is_str(decide(p, "x.private.example.com"), "deny", "the longest suffix wins (deny)");
	is_str(decide(p, "x.eu.example.com"), "allow", "the longest suffix wins (allow)");
	is_str(decide(p, "WWW.Example.Com."), "allow", "without case or trailing dot");
	is_str(decide(p, "other.org"), "deny", "with rules, what none allows is denied");
	is_str(why(p, "other.org"), "no rule allows it", "and says so");
	is_str(why(p, "bad.example.com"), "the rule for \"bad.example.com\" denies it", "a deny names its rule");
	is_str(why(p, "x.private.example.com"), "the rule for \"*.private.example.com\" denies it",
	       "a wildcard rule is named as written");

	const char *star = POL(ALLOW("*") "," DENY("*.ads.com") "," ALLOW("good.ads.com"));
	is_str(decide(star, "anything.org"), "allow", "* allows any name");
	is_str(decide(star, "x.ads.com"), "deny", "*.x beats *");
	is_str(decide(star, "good.ads.com"), "allow exact", "an exact rule beats both, and says it is exact");
	is_str(decide(star, "1.2.3.4"), "deny", "* does not allow an IP address");
	is_str(why(star, "1.2.3.4"), "an IP address is allowed only when a rule names it", "and says why");
	is_str(decide(POL(ALLOW("1.2.3.4")), "1.2.3.4"), "allow exact", "a rule naming the address does");
	is_str(decide(POL(ALLOW("::1")), "[0::1]"), "allow exact", "IPv6 addresses compare in canonical form");
	is_str(decide(POL(ALLOW("a.com") "," DENY("a.com")), "a.com"), "deny", "between equals, deny wins");
	is_str(decide(POL(DENY("a.com") "," ALLOW("a.com")), "a.com"), "deny", "whatever their order");
	is_str(decide(POL(""), "anything.org"), "allow", "no rules: no enforcement");
	is_str(decide(POL(""), "10.1.2.3"), "allow", "not even for addresses (the proxy refuses private ones)");
	is_str(decide(POL(ALLOW("*")), "exa mple"), "deny", "a name that is not one is denied");

	/* ---- the defaults preset ---- */
	const char *d = POL("{\"include\":\"defaults\"}");
	is_str(decide(d, "api.anthropic.com"), "allow exact", "defaults: api.anthropic.com");
	is_str(decide(d, "codeload.github.com"), "allow", "defaults: *.github.com");
	ok(!strcmp(decide(d, "registry.npmjs.org"), "allow exact") && !strcmp(decide(d, "pypi.org"), "allow exact") &&
	   !strcmp(decide(d, "files.pythonhosted.org"), "allow exact") &&
	   !strcmp(decide(d, "registry-1.docker.io"), "allow exact"),
	   "defaults: npm, PyPI, Docker Hub");
	is_str(decide(d, "example.com"), "deny", "defaults: nothing else");
	is_str(decide(POL("{\"include\":\"defaults\"}," DENY("api.openai.com")), "api.openai.com"), "deny",
	       "a deny overrides a preset's allow for the same host");
	return done_testing();
}
