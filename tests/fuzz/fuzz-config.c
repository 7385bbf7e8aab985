/* fuzz-config: the files and variables a command reads its API URL and
 * token from (lib/config.c): the local spritesd's url and token files,
 * SPRITES_TOKEN_FILE, SPRITES_TOKEN, --api.  Input: a mode byte, then
 * the url file, the token file and a string, separated by NUL bytes. */
#include "config.h"
#include "util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64], url_path[96], token_path[96];

/* A part of the input: up to the next NUL (malloc'd, NUL-terminated). */
static char *part(const uint8_t **p, const uint8_t *end, size_t *len)
{
	const uint8_t *nul = memchr(*p, 0, (size_t)(end - *p));
	const uint8_t *stop = nul ? nul : end;
	*len = (size_t)(stop - *p);
	char *s = malloc(*len + 1);
	memcpy(s, *p, *len);
	s[*len] = '\0';
	*p = nul ? nul + 1 : end;
	return s;
}

static void put(const char *path, const char *s, size_t len)
{
	FILE *f = fopen(path, "w");
	if (!f || fwrite(s, 1, len, f) != len || fclose(f))
		abort();
}

static void cleanup(void)
{
	char sub[96];
	unlink(url_path);
	unlink(token_path);
	snprintf(sub, sizeof sub, "%s/spritesd", dir);
	rmdir(sub);
	rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!dir[0]) {
		/* Files in a directory of our own; no token from the environment. */
		snprintf(dir, sizeof dir, "/tmp/fuzz-config.XXXXXX");
		if (!mkdtemp(dir))
			abort();
		snprintf(url_path, sizeof url_path, "%s/spritesd", dir);
		mkdir(url_path, 0700);
		snprintf(url_path, sizeof url_path, "%s/spritesd/url", dir);
		snprintf(token_path, sizeof token_path, "%s/spritesd/token", dir);
		setenv("XDG_STATE_HOME", dir, 1);
		unsetenv("SPRITES_API_URL");
		unsetenv("SPRITE_TOKEN");
		atexit(cleanup);
	}
	if (!size)
		return 0;
	int mode = data[0] & 3;
	const uint8_t *p = data + 1, *end = data + size;
	size_t ulen, tlen, slen;
	char *url = part(&p, end, &ulen), *token = part(&p, end, &tlen), *s = part(&p, end, &slen);
	put(url_path, url, ulen);
	put(token_path, token, tlen);
	unsetenv("SPRITES_TOKEN");
	unsetenv("SPRITES_TOKEN_FILE");
	if (mode == 1)
		setenv("SPRITES_TOKEN_FILE", token_path, 1);
	if (mode == 2)
		setenv("SPRITES_TOKEN", s, 1);

	struct sprite_config cfg;
	char err[512];
	if (config_resolve(&cfg, mode == 3 ? s : NULL, err, sizeof err) == 0) {
		if (!cfg.api_url || !cfg.token)
			abort();
		free(config_ws_url(&cfg));
		config_free(&cfg);
	}
	(void)config_url_is_loopback(s);
	free(url);
	free(token);
	free(s);
	return 0;
}
