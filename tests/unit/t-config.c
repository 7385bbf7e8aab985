/* t-config: the resolution order of config.h, driven through the environment. */
#include "config.h"
#include "tap.h"
#include "util.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* Distinctive, so strstr finds any leak of it into a message. */
#define SECRET "org/id/SeCrEt-7f3a9"

static const char *const vars[] = {
	"SPRITES_API_URL", "SPRITES_TOKEN", "SPRITE_TOKEN", "SPRITES_TOKEN_FILE", "XDG_STATE_HOME",
};

static void clear_env(const char *state)
{
	for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
		unsetenv(vars[i]);
	setenv("XDG_STATE_HOME", state, 1);
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f))
		die(1, "cannot write %s", path);
}

/* Resolve; returns the rc and leaves the message in err. */
static int resolve(struct sprite_config *cfg, const char *api, char *err, size_t len)
{
	err[0] = '\0';
	return config_resolve(cfg, api, err, len);
}

int main(void)
{
	char tmpl[] = "/tmp/t-config.XXXXXX";
	char *tmp = mkdtemp(tmpl);
	if (!tmp)
		die(1, "mkdtemp failed");
	char *empty = xasprintf("%s/empty", tmp), *state = xasprintf("%s/state", tmp);
	char *sd = xasprintf("%s/spritesd", state), *tokfile = xasprintf("%s/tok", tmp);
	mkdir(empty, 0700);
	mkdir(state, 0700);
	mkdir(sd, 0700);
	char *p = xasprintf("%s/url", sd);
	put(p, "http://127.0.0.1:7321/\n");
	free(p);
	p = xasprintf("%s/token", sd);
	put(p, "local-tok\n");
	free(p);
	put(tokfile, SECRET "  \n\n");

	struct sprite_config cfg;
	char err[1024];

	clear_env(empty);
	setenv("SPRITES_TOKEN", "t1", 1);
	setenv("SPRITES_API_URL", "http://env.example", 1);
	is_int(resolve(&cfg, "http://flag.example:8080/", err, sizeof err), 0, "--api and token resolve");
	is_str(cfg.api_url, "http://flag.example:8080", "--api beats SPRITES_API_URL, trailing / stripped");
	config_free(&cfg);
	resolve(&cfg, NULL, err, sizeof err);
	is_str(cfg.api_url, "http://env.example", "SPRITES_API_URL without --api");
	config_free(&cfg);

	clear_env(empty);
	setenv("SPRITES_TOKEN", "t1", 1);
	setenv("SPRITE_TOKEN", "t2", 1);
	setenv("SPRITES_TOKEN_FILE", tokfile, 1);
	resolve(&cfg, NULL, err, sizeof err);
	is_str(cfg.token, "t1", "SPRITES_TOKEN beats SPRITE_TOKEN and the file");
	is_str(cfg.token_source, "SPRITES_TOKEN", "source named");
	is_str(cfg.api_url, SPRITES_DEFAULT_API, "token without URL means Fly.io");
	is_int(cfg.local, 0, "not local");
	config_free(&cfg);
	unsetenv("SPRITES_TOKEN");
	resolve(&cfg, NULL, err, sizeof err);
	is_str(cfg.token, "t2", "SPRITE_TOKEN beats the file");
	config_free(&cfg);
	unsetenv("SPRITE_TOKEN");
	is_int(resolve(&cfg, NULL, err, sizeof err), 0, "token file resolves");
	is_str(cfg.token, SECRET, "token file trimmed of trailing whitespace");
	is_str(cfg.token_source, "SPRITES_TOKEN_FILE", "file source named");
	config_free(&cfg);

	setenv("SPRITES_TOKEN_FILE", "/nonexistent/tok", 1);
	is_int(resolve(&cfg, NULL, err, sizeof err), -1, "missing token file fails");
	ok(strstr(err, "/nonexistent/tok") && strstr(err, "SPRITES_TOKEN_FILE"),
	   "message names the file and the variable: %s", err);
	ok(cfg.api_url == NULL && cfg.token == NULL, "failed resolve leaves cfg empty");

	p = xasprintf("%s/two", tmp);
	put(p, SECRET "\nsecond line\n");
	setenv("SPRITES_TOKEN_FILE", p, 1);
	is_int(resolve(&cfg, NULL, err, sizeof err), -1, "two-line token file fails");
	ok(!strstr(err, SECRET), "the token is not in the message: %s", err);
	free(p);

	clear_env(empty);
	setenv("SPRITES_TOKEN", SECRET, 1);
	is_int(resolve(&cfg, "ftp://x", err, sizeof err), -1, "non-http URL fails");
	ok(strstr(err, "--api") && !strstr(err, SECRET), "names --api, not the token: %s", err);
	setenv("SPRITES_API_URL", "nonsense", 1);
	is_int(resolve(&cfg, NULL, err, sizeof err), -1, "bad SPRITES_API_URL fails");
	ok(strstr(err, "SPRITES_API_URL") && !strstr(err, SECRET), "names the variable: %s", err);

	clear_env(empty);
	is_int(resolve(&cfg, NULL, err, sizeof err), -1, "nothing configured, no spritesd: error");
	ok(strstr(err, "spritesd &") && strstr(err, empty), "says to start spritesd, names the dir: %s", err);

	clear_env(empty);
	is_int(resolve(&cfg, "https://api.example", err, sizeof err), -1, "URL without token: error");
	ok(strstr(err, "SPRITES_TOKEN") != NULL, "says to set SPRITES_TOKEN: %s", err);
	is_int(resolve(&cfg, "http://localhost:7321", err, sizeof err), -1, "loopback URL, no spritesd");
	ok(strstr(err, "spritesd &") != NULL, "says to start spritesd: %s", err);

	clear_env(state);
	is_int(resolve(&cfg, NULL, err, sizeof err), 0, "nothing configured: local spritesd");
	is_str(cfg.api_url, "http://127.0.0.1:7321", "local url, trimmed, slash stripped");
	is_str(cfg.token, "local-tok", "local token, trimmed");
	is_int(cfg.local, 1, "cfg.local set");
	char *ws = config_ws_url(&cfg);
	is_str(ws, "ws://127.0.0.1:7321", "config_ws_url http -> ws");
	free(ws);
	config_free(&cfg);

	is_int(resolve(&cfg, "http://localhost:7321/", err, sizeof err), 0, "--api of the local spritesd");
	is_str(cfg.token, "local-tok", "uses the local token (localhost = 127.0.0.1)");
	is_str(cfg.api_url, "http://localhost:7321", "keeps the URL as given");
	is_int(cfg.local, 1, "and is local");
	config_free(&cfg);
	is_int(resolve(&cfg, "http://127.0.0.1:9999", err, sizeof err), -1, "another port is not the local spritesd");
	ok(strstr(err, "SPRITES_TOKEN") != NULL, "says to set a token: %s", err);

	setenv("SPRITES_TOKEN", SECRET, 1);
	resolve(&cfg, NULL, err, sizeof err);
	is_int(cfg.local, 0, "a token means Fly.io even with a local spritesd");
	ws = config_ws_url(&cfg);
	is_str(ws, "wss://api.sprites.dev", "config_ws_url https -> wss");
	free(ws);
	config_free(&cfg);

	p = xasprintf("%s/token", sd);
	unlink(p);
	clear_env(state);
	is_int(resolve(&cfg, NULL, err, sizeof err), -1, "local url without token file fails");
	ok(strstr(err, p) != NULL, "names the missing token file: %s", err);
	free(p);

	clear_env(empty);
	unsetenv("XDG_STATE_HOME");
	setenv("HOME", "/home/u", 1);
	p = spritesd_default_statedir();
	is_str(p, "/home/u/.local/state/spritesd", "default state dir under HOME");
	free(p);
	setenv("XDG_STATE_HOME", "relative", 1);
	p = spritesd_default_statedir();
	is_str(p, "/home/u/.local/state/spritesd", "a relative XDG_STATE_HOME is ignored");
	free(p);

	ok(config_url_is_loopback("http://[::1]:7321") && config_url_is_loopback("http://127.0.0.1") &&
	   !config_url_is_loopback("https://api.sprites.dev"), "config_url_is_loopback");

	char *cmd = xasprintf("rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", tmp);
	free(cmd);
	free(empty), free(state), free(sd), free(tokfile);
	plan(tap_n);
	return done_testing();
}
