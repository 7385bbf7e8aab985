/* netpolicy.c: a sprite's network policy as the server keeps it: on disk
 * (STATEDIR/sprites/NAME/policy.json, so it survives restarts), in memory
 * (sprite->policy, loaded on first use), in the sandbox (read-only at
 * /.sprite/policy/network.json), and over the API
 * (GET|POST /v1/sprites/NAME/policy/network).  Parsing and matching are
 * policy.c's; enforcing it is proxy.c's. */
#include "spritesd.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *policy_path(struct sprite *sp)
{
	return xasprintf("%s/policy.json", sp->dir);
}

struct policy *netpolicy_get(struct sprite *sp)
{
	if (sp->policy)
		return sp->policy;
	char *path = policy_path(sp);
	json_error_t jerr;
	json_t *doc = json_load_file(path, 0, &jerr);
	char err[300] = "";
	if (doc)
		sp->policy = policy_parse(doc, err, sizeof err);
	else if (access(path, F_OK) == 0 || errno != ENOENT)
		snprintf(err, sizeof err, "%s", jerr.text);
	else
		sp->policy = policy_empty();
	json_decref(doc);
	if (!sp->policy) {
		/* Fail closed: a policy we cannot read allows nothing. */
		fprintf(stderr, "spritesd: cannot read %s (%s): sprite \"%s\" gets no network until a policy "
		        "is set (sprite-policy -s %s set)\n", path, err, sp->name, sp->name);
		json_t *deny = json_pack("{s:[{s:s, s:s}]}", "rules", "domain", "*", "action", "deny");
		sp->policy = policy_parse(deny, err, sizeof err);
		json_decref(deny);
	}
	free(path);
	return sp->policy;
}


char *netpolicy_publish(struct sprite *sp, char *err, size_t errlen)
{
	/* A directory is bound into the sandbox, not the file: a rename into
	 * it shows inside, where a file bind would keep the old inode. */
	char *dir = xasprintf("%s/policy", sp->dir);
	char *file = xasprintf("%s/network.json", dir);
	int r = mkdir(dir, 0755) < 0 && errno != EEXIST ? -1 : write_json_atomic(file, netpolicy_get(sp)->doc);
	if (r < 0) {
		snprintf(err, errlen, "cannot write %s: %s", file, strerror(errno));
		free(dir);
		dir = NULL;
	}
	free(file);
	return dir;
}

static int set_policy(struct lws *wsi, struct conn *c, struct sprite *sp)
{
	json_error_t jerr;
	json_t *doc = json_loadb(c->body ? c->body : "", c->body_len, 0, &jerr);
	char err[400];
	if (!doc) {
		snprintf(err, sizeof err, "invalid policy: not JSON (%s)", jerr.text);
		return http_respond_error(wsi, c, 400, "bad_request", err);
	}
	struct policy *p = policy_parse(doc, err, sizeof err);
	json_decref(doc);
	if (!p)
		return http_respond_error(wsi, c, 400, "bad_request", err);
	char *path = policy_path(sp);
	int r = write_json_atomic(path, p->doc);
	if (r < 0) {
		snprintf(err, sizeof err, "cannot save the policy in %s: %s", path, strerror(errno));
		free(path);
		policy_free(p);
		return http_respond_error(wsi, c, 500, "internal_error", err);
	}
	free(path);
	policy_free(sp->policy);
	sp->policy = p;
	char *dir = netpolicy_publish(sp, err, sizeof err);
	if (!dir)
		fprintf(stderr, "spritesd: sprite \"%s\": %s (/.sprite/policy/network.json is stale)\n", sp->name, err);
	free(dir);
	proxy_policy_changed(sp);
	return http_respond(wsi, c, 204, NULL, NULL);
}

int netpolicy_route(struct lws *wsi, struct conn *c, struct sprite *sp)
{
	if (!strcmp(c->method, "GET") || !strcmp(c->method, "HEAD"))
		return http_respond_json(wsi, c, 200, json_incref(netpolicy_get(sp)->doc));
	if (!strcmp(c->method, "POST"))
		return set_policy(wsi, c, sp);
	return http_respond_error(wsi, c, 405, "method_not_allowed", "use GET or POST on policy/network");
}
