/* policy.c: a sprite's network policy: parsing, the presets, matching.
 *
 * Pure (no I/O, no event loop) so that tests/unit/t-policy.c can drive it.
 * The document is the API's: {"rules":[{"domain":D,"action":"allow"|"deny"}
 * or {"include":PRESET}, ...]}.  A domain is an exact host (a name or an IP
 * address), "*.example.com" (any name ending in ".example.com", at any
 * depth, but not example.com itself) or "*" (any name).  The most specific
 * rule wins: exact, then the longest "*." suffix, then "*"; between equally
 * specific rules, deny wins.  With rules, what no rule allows is denied; an
 * IP address is matched only by a rule naming it exactly.  No rules at all
 * ({"rules":[]}, the default) means no enforcement.  Names compare without
 * case and without a trailing dot; IP addresses in their canonical form. */
#include "spritesd.h"
#include "util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* The "defaults" preset: where a coding agent's everyday traffic goes.
 * Documented in sprite-policy(1); keep the two in step. */
static const char *const preset_defaults[] = {
	/* GitHub: the site, its API, git over HTTPS, raw files, releases, packages */
	"github.com", "*.github.com", "*.githubusercontent.com", "ghcr.io",
	/* npm and yarn */
	"registry.npmjs.org", "registry.yarnpkg.com",
	/* PyPI */
	"pypi.org", "files.pythonhosted.org",
	/* Docker Hub: the registry, its token service, its blob storage */
	"docker.io", "registry-1.docker.io", "auth.docker.io", "production.cloudflare.docker.com",
	/* major AI APIs */
	"api.anthropic.com", "api.openai.com", "generativelanguage.googleapis.com",
	NULL,
};

static const struct {
	const char *name;
	const char *const *domains;
} presets[] = {
	{ "defaults", preset_defaults },
};

const char *const *policy_preset(const char *name)
{
	for (size_t i = 0; i < sizeof presets / sizeof *presets; i++)
		if (!strcmp(presets[i].name, name))
			return presets[i].domains;
	return NULL;
}

int policy_host_normalize(const char *in, char *out, size_t outlen, int *is_ip)
{
	size_t n = strlen(in);
	*is_ip = 0;
	if (n == 0 || n >= outlen || n > 255)
		return -1;
	/* An IPv6 address may come bracketed, as in a URL or "[::1]:443";
	 * only an IPv6 address may. */
	char buf[256];
	int bracketed = in[0] == '[' && n >= 2 && in[n - 1] == ']';
	if (bracketed) {
		n -= 2;
		memcpy(buf, in + 1, n);
		buf[n] = '\0';
	} else {
		memcpy(buf, in, n + 1);
	}
	if (n == 0)
		return -1;
	for (const char *p = buf; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("-._:", *p))
			return -1;
	unsigned char addr[16];
	if (inet_pton(AF_INET6, buf, addr) == 1) {
		*is_ip = 1;
		return inet_ntop(AF_INET6, addr, out, (socklen_t)outlen) ? 0 : -1;
	}
	if (bracketed || strchr(buf, ':'))
		return -1;
	/* The root's dot first, so that "127.1." is the address it names, as
	 * resolvers take it, and a second pass changes nothing. */
	if (buf[n - 1] == '.')
		buf[--n] = '\0';
	if (n == 0)
		return -1;
	/* inet_aton, not inet_pton: resolvers take "127.1", "2130706433" and
	 * "0x7f.0.0.1" as addresses too, and so must the policy. */
	struct in_addr a4;
	if (inet_aton(buf, &a4)) {
		*is_ip = 1;
		return inet_ntop(AF_INET, &a4, out, (socklen_t)outlen) ? 0 : -1;
	}
	if (n == 0 || n > 253)
		return -1;
	size_t label = 0;
	for (size_t i = 0; i <= n; i++) {
		if (buf[i] == '.' || buf[i] == '\0') {
			if (label == 0 || label > 63)
				return -1;
			label = 0;
		} else {
			label++;
		}
		out[i] = (char)tolower((unsigned char)buf[i]);
	}
	return 0;
}

/* Compile one domain pattern into a rule; -1 when it is not one. */
static int compile(const char *domain, int allow, struct policy_rule *r)
{
	char norm[256];
	int is_ip;
	r->allow = allow;
	if (!strcmp(domain, "*")) {
		r->kind = POLICY_ANY;
		r->pattern = xstrdup("*");
		return 0;
	}
	if (!strncmp(domain, "*.", 2)) {
		if (policy_host_normalize(domain + 2, norm, sizeof norm, &is_ip) < 0 || is_ip)
			return -1;
		r->kind = POLICY_SUFFIX;
		r->pattern = xasprintf(".%s", norm);
		return 0;
	}
	if (policy_host_normalize(domain, norm, sizeof norm, &is_ip) < 0)
		return -1;
	r->kind = POLICY_EXACT;
	r->pattern = xstrdup(norm);
	return 0;
}

static void add_rule(struct policy *p, const struct policy_rule *r)
{
	p->rules = xrealloc(p->rules, (p->n + 1) * sizeof *p->rules);
	p->rules[p->n++] = *r;
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		free(p->rules[i].pattern);
	free(p->rules);
	json_decref(p->doc);
	free(p);
}

struct policy *policy_empty(void)
{
	struct policy *p = xcalloc(1, sizeof *p);
	p->doc = json_pack("{s:[]}", "rules");
	return p;
}

/* Check rule number i (1-based, as the messages count) and add what it says. */
static int parse_rule(struct policy *p, json_t *rule, size_t i, char *err, size_t errlen)
{
	if (!json_is_object(rule)) {
		snprintf(err, errlen, "invalid policy: rule %zu is not an object", i);
		return -1;
	}
	const char *key;
	json_t *v;
	json_object_foreach(rule, key, v) {
		if (strcmp(key, "domain") && strcmp(key, "action") && strcmp(key, "include")) {
			snprintf(err, errlen,
			         "invalid policy: rule %zu has an unknown field \"%.40s\" "
			         "(a rule has \"domain\" and \"action\", or \"include\")", i, key);
			return -1;
		}
		if (!json_is_string(v)) {
			snprintf(err, errlen, "invalid policy: rule %zu: \"%s\" must be a string", i, key);
			return -1;
		}
	}
	const char *domain = json_string_value(json_object_get(rule, "domain"));
	const char *action = json_string_value(json_object_get(rule, "action"));
	const char *include = json_string_value(json_object_get(rule, "include"));
	if (include && (domain || action)) {
		snprintf(err, errlen,
		         "invalid policy: rule %zu has both \"include\" and \"domain\"/\"action\": "
		         "use one or the other", i);
		return -1;
	}
	if (include) {
		const char *const *list = policy_preset(include);
		if (!list) {
			snprintf(err, errlen, "invalid policy: rule %zu: unknown include \"%.60s\" (known: \"defaults\")",
			         i, include);
			return -1;
		}
		for (; *list; list++) {
			struct policy_rule r;
			if (compile(*list, 1, &r) == 0)
				add_rule(p, &r);
		}
		return 0;
	}
	if (!domain || !action) {
		snprintf(err, errlen, "invalid policy: rule %zu needs \"domain\" and \"action\", or \"include\"", i);
		return -1;
	}
	if (strcmp(action, "allow") && strcmp(action, "deny")) {
		snprintf(err, errlen, "invalid policy: rule %zu: action \"%.40s\" is neither \"allow\" nor \"deny\"",
		         i, action);
		return -1;
	}
	struct policy_rule r;
	if (compile(domain, !strcmp(action, "allow"), &r) < 0) {
		snprintf(err, errlen,
		         "invalid policy: rule %zu: domain \"%.100s\" is not a host name, an IP address, "
		         "\"*.\" and a domain, or \"*\"", i, domain);
		return -1;
	}
	add_rule(p, &r);
	return 0;
}

struct policy *policy_parse(json_t *doc, char *err, size_t errlen)
{
	if (!json_is_object(doc)) {
		snprintf(err, errlen, "invalid policy: the document must be a JSON object {\"rules\":[...]}");
		return NULL;
	}
	const char *key;
	json_t *v;
	json_object_foreach(doc, key, v) {
		if (strcmp(key, "rules")) {
			snprintf(err, errlen, "invalid policy: unknown field \"%.40s\" (a policy has only \"rules\")", key);
			return NULL;
		}
	}
	json_t *rules = json_object_get(doc, "rules");
	if (!json_is_array(rules)) {
		snprintf(err, errlen, "invalid policy: \"rules\" must be an array");
		return NULL;
	}
	struct policy *p = xcalloc(1, sizeof *p);
	size_t i;
	json_t *rule;
	json_array_foreach(rules, i, rule) {
		if (parse_rule(p, rule, i + 1, err, errlen) < 0) {
			policy_free(p);
			return NULL;
		}
	}
	p->doc = json_incref(doc);
	return p;
}

/* How specifically rule r names host (0: not at all); wildcards never
 * match an IP address. */
static size_t specificity(const struct policy_rule *r, const char *host, int is_ip)
{
	size_t hl = strlen(host), pl = strlen(r->pattern);
	switch (r->kind) {
	case POLICY_EXACT:
		return strcmp(r->pattern, host) ? 0 : (size_t)-1;
	case POLICY_SUFFIX:
		return !is_ip && hl > pl && !strcmp(host + hl - pl, r->pattern) ? 1 + pl : 0;
	case POLICY_ANY:
		return is_ip ? 0 : 1;
	}
	return 0;
}

void policy_decide(const struct policy *p, const char *host, struct policy_verdict *v)
{
	char h[256];
	int is_ip;
	memset(v, 0, sizeof *v);
	if (policy_host_normalize(host, h, sizeof h, &is_ip) < 0) {
		snprintf(v->why, sizeof v->why, "not a valid host name");
		return;
	}
	if (!p || p->n == 0) {
		v->allow = 1;
		snprintf(v->why, sizeof v->why, "there is no policy");
		return;
	}
	const struct policy_rule *best = NULL;
	size_t best_s = 0;
	for (size_t i = 0; i < p->n; i++) {
		size_t s = specificity(&p->rules[i], h, is_ip);
		if (s && (s > best_s || (s == best_s && !p->rules[i].allow))) {
			best = &p->rules[i];
			best_s = s;
		}
	}
	if (!best) {
		snprintf(v->why, sizeof v->why, "%s", is_ip ? "an IP address is allowed only when a rule names it"
		                                            : "no rule allows it");
		return;
	}
	v->allow = best->allow;
	v->exact = best->kind == POLICY_EXACT;
	snprintf(v->why, sizeof v->why, "the rule for \"%s%s\" %s it", best->kind == POLICY_SUFFIX ? "*" : "",
	         best->pattern, best->allow ? "allows" : "denies");
}
