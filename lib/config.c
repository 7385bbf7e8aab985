/* config.c: resolve the API URL and token (see config.h for the order). */
#include "config.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Token and URL files are a line each; anything bigger is not ours. */
#define SMALL_FILE_MAX 4096

/* An environment variable, treating "" as unset (as `VAR= cmd` means). */
static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

char *spritesd_default_statedir(void)
{
	const char *xdg = env("XDG_STATE_HOME");
	/* The XDG spec says relative values are invalid and must be ignored. */
	if (xdg && xdg[0] == '/')
		return xasprintf("%s/spritesd", xdg);
	const char *home = env("HOME");
	if (!home) {
		struct passwd *pw = getpwuid(getuid());
		home = pw && pw->pw_dir ? pw->pw_dir : "";
	}
	return xasprintf("%s/.local/state/spritesd", home);
}

/* The parts of an http(s) URL we compare; path points into the string. */
struct url {
	int https;
	char host[256];
	long port;
	const char *path;
};

static int url_split(const char *s, struct url *u)
{
	memset(u, 0, sizeof *u);
	if (!strncasecmp(s, "http://", 7)) {
		s += 7;
	} else if (!strncasecmp(s, "https://", 8)) {
		s += 8;
		u->https = 1;
	} else {
		return -1;
	}
	const char *end = s + strcspn(s, "/?#");
	const char *at = memchr(s, '@', (size_t)(end - s));
	if (at)
		s = at + 1;
	const char *hend;
	if (*s == '[') {
		hend = memchr(s, ']', (size_t)(end - s));
		if (!hend)
			return -1;
		s++;
	} else {
		hend = s + strcspn(s, ":/?#");
	}
	size_t hlen = (size_t)(hend - s);
	if (hlen == 0 || hlen >= sizeof u->host)
		return -1;
	for (size_t i = 0; i < hlen; i++)
		u->host[i] = (char)tolower((unsigned char)s[i]);
	const char *p = hend + (*hend == ']');
	u->port = u->https ? 443 : 80;
	if (*p == ':') {
		char *e;
		u->port = strtol(p + 1, &e, 10);
		if (e == p + 1 || u->port <= 0 || u->port > 65535)
			return -1;
		p = e;
	}
	if (*p && !strchr("/?#", *p))
		return -1;
	u->path = p;
	return 0;
}

static int host_is_loopback(const char *h)
{
	return !strcmp(h, "localhost") || !strncmp(h, "127.", 4) || !strcmp(h, "::1");
}

int config_url_is_loopback(const char *url)
{
	struct url u;
	return url_split(url, &u) == 0 && host_is_loopback(u.host);
}

/* Same server?  Loopback names count as one host: `--api http://localhost:7321`
 * must find the token of a spritesd that wrote http://127.0.0.1:7321. */
static int same_server(const char *a, const char *b)
{
	struct url ua, ub;
	if (url_split(a, &ua) < 0 || url_split(b, &ub) < 0)
		return 0;
	int hosts = !strcmp(ua.host, ub.host) ||
	            (host_is_loopback(ua.host) && host_is_loopback(ub.host));
	/* Paths compare without trailing '/': "http://h/" is "http://h". */
	size_t la = strlen(ua.path), lb = strlen(ub.path);
	while (la && ua.path[la - 1] == '/')
		la--;
	while (lb && ub.path[lb - 1] == '/')
		lb--;
	return hosts && ua.https == ub.https && ua.port == ub.port && la == lb &&
	       !memcmp(ua.path, ub.path, la);
}

/* Validate and store the base URL without trailing '/'. */
static int set_url(struct sprite_config *cfg, const char *url, const char *source,
                   char *err, size_t errlen)
{
	struct url u;
	if (url_split(url, &u) < 0) {
		snprintf(err, errlen, "%s \"%s\" is not an http:// or https:// URL (e.g. http://127.0.0.1:7321)",
		         source, url);
		return -1;
	}
	cfg->api_url = xstrdup(url);
	size_t n = strlen(cfg->api_url);
	while (n && cfg->api_url[n - 1] == '/')
		cfg->api_url[--n] = '\0';
	return 0;
}

/* A token goes into an HTTP header: refuse control characters (a second line
 * in a token file, a stray CR) rather than send a broken request. */
static int token_ok(const char *t)
{
	if (!*t)
		return 0;
	for (const unsigned char *p = (const unsigned char *)t; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

/* Read a one-line file, trimmed of trailing whitespace; NULL with errno set. */
static char *read_line_file(const char *path)
{
	char *s = read_file(path, SMALL_FILE_MAX, NULL);
	return s ? rtrim(s) : NULL;
}

static void wipe_free(char *s)
{
	if (s)
		explicit_bzero(s, strlen(s));
	free(s);
}

/* Token from SPRITES_TOKEN, SPRITE_TOKEN or SPRITES_TOKEN_FILE; none is fine. */
static int token_from_env(struct sprite_config *cfg, char *err, size_t errlen)
{
	static const char *const vars[] = { "SPRITES_TOKEN", "SPRITE_TOKEN" };
	for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
		const char *v = env(vars[i]);
		if (!v)
			continue;
		char *t = rtrim(xstrdup(v));
		if (!token_ok(t)) {
			wipe_free(t);
			snprintf(err, errlen, "%s holds an empty or multi-line token: set it to the token alone",
			         vars[i]);
			return -1;
		}
		cfg->token = t;
		cfg->token_source = vars[i];
		return 0;
	}
	const char *file = env("SPRITES_TOKEN_FILE");
	if (!file)
		return 0;
	char *t = read_line_file(file);
	if (!t) {
		snprintf(err, errlen, "cannot read token file %s (from SPRITES_TOKEN_FILE): %s", file,
		         strerror(errno));
		return -1;
	}
	if (!token_ok(t)) {
		wipe_free(t);
		snprintf(err, errlen, "token file %s (from SPRITES_TOKEN_FILE) is empty or has more than one line",
		         file);
		return -1;
	}
	cfg->token = t;
	cfg->token_source = "SPRITES_TOKEN_FILE";
	return 0;
}

/* No token configured: use the local spritesd's, if url (or any URL when
 * url is NULL) is the local spritesd's. */
static int use_local(struct sprite_config *cfg, const char *url, char *err, size_t errlen)
{
	char *dir = spritesd_default_statedir();
	char *path = xasprintf("%s/url", dir);
	char *local_url = read_line_file(path);
	int rc = -1;

	if (!url && (!local_url || !*local_url)) {
		snprintf(err, errlen,
		         "no Sprites API configured and no local spritesd found in %s "
		         "(start one with \"spritesd &\", or set SPRITES_TOKEN for Fly.io)",
		         dir);
		goto out;
	}
	if (url && (!local_url || !same_server(url, local_url))) {
		if (config_url_is_loopback(url) && !local_url)
			snprintf(err, errlen,
			         "no token for %s and no local spritesd found in %s "
			         "(start one with \"spritesd &\", or set SPRITES_TOKEN)",
			         url, dir);
		else
			snprintf(err, errlen, "no token for %s: set SPRITES_TOKEN (or SPRITE_TOKEN, SPRITES_TOKEN_FILE)",
			         url);
		goto out;
	}
	if (!url && set_url(cfg, local_url, path, err, errlen) < 0)
		goto out;

	free(path);
	path = xasprintf("%s/token", dir);
	char *t = read_line_file(path);
	if (!t || !token_ok(t)) {
		snprintf(err, errlen, "the local spritesd in %s has no usable token file (%s: %s): restart spritesd",
		         dir, path, t ? "empty or more than one line" : strerror(errno));
		wipe_free(t);
		goto out;
	}
	cfg->token = t;
	cfg->token_source = "the local spritesd";
	cfg->local = 1;
	rc = 0;
out:
	free(local_url);
	free(path);
	free(dir);
	return rc;
}

int config_resolve(struct sprite_config *cfg, const char *api_flag, char *err, size_t errlen)
{
	memset(cfg, 0, sizeof *cfg);
	/* An explicit --api "" is a mistake to report, not a request for the default. */
	const char *url = api_flag ? api_flag : env("SPRITES_API_URL");
	const char *url_source = api_flag ? "--api" : "SPRITES_API_URL";

	if (token_from_env(cfg, err, errlen) < 0)
		goto fail;
	if (url && set_url(cfg, url, url_source, err, errlen) < 0)
		goto fail;
	if (cfg->token) {
		if (!cfg->api_url)
			cfg->api_url = xstrdup(SPRITES_DEFAULT_API);
		return 0;
	}
	if (use_local(cfg, cfg->api_url, err, errlen) < 0)
		goto fail;
	return 0;
fail:
	config_free(cfg);
	return -1;
}

void config_free(struct sprite_config *cfg)
{
	free(cfg->api_url);
	wipe_free(cfg->token);
	memset(cfg, 0, sizeof *cfg);
}

char *config_ws_url(const struct sprite_config *cfg)
{
	const char *u = cfg->api_url;
	if (!strncasecmp(u, "https://", 8))
		return xasprintf("wss://%s", u + 8);
	if (!strncasecmp(u, "http://", 7))
		return xasprintf("ws://%s", u + 7);
	return xstrdup(u);
}
